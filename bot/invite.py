"""`growmies invite`: the OAuth2 URL that adds the bot to a server with exactly what it needs.

The client id is the bot's user id, which is the first dot-separated segment of the token,
base64-encoded: no network is needed. A token that does not decode falls back to Discord's
`GET /oauth2/applications/@me` (the application endpoint), and `--client-id` skips both.

Permissions are the union of what the core and each enabled plugin use, never Administrator:
an admin sees (and can refuse) every bit, and a leaked token cannot do more than the bot does.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from urllib.parse import urlencode

import aiohttp
import nextcord

SCOPES = ("bot", "applications.commands")
AUTHORIZE_URL = "https://discord.com/oauth2/authorize"

# Each permission the bot asks for, who needs it, and why (printed by `growmies invite`).
# Keys are nextcord.Permissions flag names.
NEEDS: dict[str, dict[str, str]] = {
    "core": {
        "view_channel": "see the channels it answers in",
        "send_messages": "post replies and notices",
        "embed_links": "show embeds (/help, /plugins list, cards)",
        "read_message_history": "reply to and edit its own earlier messages",
    },
    "compliance": {
        "manage_roles": "give the verified role and level rewards (its role must sit above them)",
        "attach_files": "send the audit CSV, a member's data export and rank cards",
    },
    "music": {
        "connect": "join a voice channel",
        "speak": "play audio",
        "attach_files": "send podcast transcripts",
    },
    "llm": {
        "create_private_threads": "open a 21+ conversation only the member and staff can read",
        "create_public_threads": "open a general-chat conversation",
        "send_messages_in_threads": "answer inside those threads",
    },
    "ui": {},
}


def client_id_from_token(token: str) -> int | None:
    """The bot's user id encoded in the token's first segment, or None if it does not decode."""
    first = token.strip().split(".", 1)[0]
    if not first:
        return None
    try:
        text = base64.b64decode(first + "=" * (-len(first) % 4), altchars=b"-_",
                                validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return int(text) if text.isdigit() and 15 <= len(text) <= 21 else None


async def client_id_from_api(token: str, api_base: str) -> int:
    """Ask Discord which application this token belongs to (needs the network)."""
    url = f"{api_base.rstrip('/')}/oauth2/applications/@me"
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(
        url, headers={"Authorization": f"Bot {token}"}
    ) as resp:
        if resp.status == 401:
            raise nextcord.LoginFailure("token rejected")
        resp.raise_for_status()
        data = await resp.json()
    return int(data["id"])


def needed(plugins: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """Each permission flag needed by the core and these plugins, with (who, why) pairs."""
    found: dict[str, list[tuple[str, str]]] = {}
    for owner in ("core", *sorted(plugins)):
        for flag, why in NEEDS.get(owner, {}).items():
            found.setdefault(flag, []).append((owner, why))
    return found


def permission_value(plugins: Iterable[str]) -> int:
    return nextcord.Permissions(**dict.fromkeys(needed(plugins), True)).value


def invite_url(client_id: int, plugins: Iterable[str]) -> str:
    query = urlencode({"client_id": client_id, "scope": " ".join(SCOPES),
                       "permissions": permission_value(plugins)})
    return f"{AUTHORIZE_URL}?{query}"


def explain(client_id: int, plugins: Iterable[str]) -> str:
    """What `growmies invite` prints: the URL, then every permission and why."""
    plugins = sorted(plugins)
    lines = [invite_url(client_id, plugins), "",
             f"scopes: {' '.join(SCOPES)} (the bot user, and its slash commands)",
             f"permissions: {permission_value(plugins)} (no Administrator), for plugins: "
             f"{', '.join(plugins) or 'none'}"]
    for flag, reasons in sorted(needed(plugins).items()):
        why = "; ".join(f"{owner}: {text}" for owner, text in reasons)
        lines.append(f"  {flag.replace('_', ' ')}: {why}")
    unknown = [p for p in plugins if p not in NEEDS]
    if unknown:
        lines.append(f"note: no permission list for {', '.join(unknown)}; check their "
                     "documentation and add what they need in the server's role settings")
    lines.append("After adding it: drag the bot's role above the verified role, the level "
                 "reward roles and the DJ role (Server Settings > Roles).")
    return "\n".join(lines)
