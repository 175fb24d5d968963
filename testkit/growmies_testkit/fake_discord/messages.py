"""Message storage: what the bot posted (and members said), with edits and deletes applied."""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ._util import deep_copy, iso_now
from .errors import DiscordAPIError, FormErrors
from .limits import MESSAGE_FLAG_COMPONENTS_V2, MESSAGE_FLAG_EPHEMERAL, MESSAGE_FLAG_LOADING
from .permissions import Permission

if TYPE_CHECKING:
    from .world import FakeChannel, FakeGuild, FakeMember, FakeRole, FakeUser

__all__ = ["MessageStore", "UploadedFile", "text_of"]

_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")
_CHANNEL_MENTION = re.compile(r"<#(\d+)>")

# Flags a bot may set on create/edit; everything else is computed by Discord.
_SETTABLE_FLAGS = (1 << 2) | (1 << 12) | (1 << 13) | MESSAGE_FLAG_COMPONENTS_V2


@dataclass(slots=True)
class UploadedFile:
    """One ``files[n]`` part of a multipart request."""

    field: str
    filename: str
    content_type: str | None
    data: bytes

    @property
    def index(self) -> int | None:
        """``n`` of a ``files[n]`` field (``None`` for other field names)."""
        m = re.fullmatch(r"files\[(\d+)\]", self.field)
        return int(m.group(1)) if m else None


class MessageHost(Protocol):
    """What the store needs from :class:`FakeDiscord`."""

    bot_user: FakeUser

    @property
    def http_root(self) -> str: ...

    def _new_id(self) -> int: ...

    def get_guild(self, guild_id: int) -> FakeGuild | None: ...

    def get_user(self, user_id: int) -> FakeUser | None: ...


def text_of(message: dict[str, Any] | None) -> str:
    """Everything a human would read in ``message``, newline-joined, for easy asserting:
    content, embed titles, descriptions, field names and values, footers and author names,
    and Components V2 text displays."""
    if not message:
        return ""
    parts: list[str] = []
    if message.get("content"):
        parts.append(message["content"])
    for embed in message.get("embeds") or []:
        if (embed.get("author") or {}).get("name"):
            parts.append(embed["author"]["name"])
        for key in ("title", "description"):
            if embed.get(key):
                parts.append(str(embed[key]))
        for fld in embed.get("fields") or []:
            parts.append(f"{fld.get('name', '')}\n{fld.get('value', '')}")
        if (embed.get("footer") or {}).get("text"):
            parts.append(embed["footer"]["text"])

    def walk(components: Iterable[Any]) -> None:
        for comp in components:
            if not isinstance(comp, dict):
                continue
            if comp.get("type") == 10 and comp.get("content"):
                parts.append(comp["content"])
            walk(comp.get("components") or [])

    walk(message.get("components") or [])
    return "\n".join(parts)


def _number_components(components: list[Any]) -> list[Any]:
    """Copy components, giving each one without an ``id`` a sequential id like Discord."""
    out = deep_copy(components)
    used = set()
    stack = list(out)
    while stack:
        comp = stack.pop()
        if isinstance(comp, dict):
            if isinstance(comp.get("id"), int):
                used.add(comp["id"])
            stack.extend(comp.get("components") or [])
            for key in ("accessory", "component"):
                if isinstance(comp.get(key), dict):
                    stack.append(comp[key])
    counter = 0

    def assign(items: list[Any]) -> None:
        nonlocal counter
        for comp in items:
            if not isinstance(comp, dict):
                continue
            if not isinstance(comp.get("id"), int):
                counter += 1
                while counter in used:
                    counter += 1
                comp["id"] = counter
            assign(comp.get("components") or [])
            for key in ("accessory", "component"):
                if isinstance(comp.get(key), dict):
                    assign([comp[key]])

    assign(out)
    return out


def iter_components(components: Iterable[Any]) -> Iterable[dict[str, Any]]:
    """Every component in a (nested) component list, depth first."""
    for comp in components:
        if not isinstance(comp, dict):
            continue
        yield comp
        yield from iter_components(comp.get("components") or [])
        for key in ("accessory", "component"):
            if isinstance(comp.get(key), dict):
                yield from iter_components([comp[key]])


class MessageStore:
    """All messages by id, plus per-channel ordering and attachment bytes.

    Message dicts are live: edits update them in place, so a dict a test holds always shows the
    current state. Ephemeral messages are stored (they can be clicked) but belong to no channel
    listing.
    """

    def __init__(self, host: MessageHost) -> None:
        self.host = host
        self.by_id: dict[int, dict[str, Any]] = {}
        self._channels: dict[int, list[int]] = {}
        self._attachment_bytes: dict[int, bytes] = {}
        self._reactions: dict[tuple[int, str], list[int]] = {}

    # -- lookups -------------------------------------------------------------------------------

    def get(self, message_id: int | str) -> dict[str, Any] | None:
        return self.by_id.get(int(message_id))

    def channel_messages(self, channel_id: int) -> list[dict[str, Any]]:
        return [self.by_id[m] for m in self._channels.get(int(channel_id), [])]

    def attachment_bytes(self, attachment_id: int) -> bytes | None:
        return self._attachment_bytes.get(int(attachment_id))

    def attachment_url(self, channel_id: int, attachment_id: int, filename: str) -> str:
        return f"{self.host.http_root}/attachments/{channel_id}/{attachment_id}/{filename}"

    # -- building ------------------------------------------------------------------------------

    def _new_attachment(
        self, channel_id: int, upload: UploadedFile, meta: dict[str, Any] | None
    ) -> dict[str, Any]:
        aid = self.host._new_id()
        filename = (meta or {}).get("filename") or upload.filename
        ctype = upload.content_type
        if not ctype or ctype == "application/octet-stream":
            ctype = mimetypes.guess_type(filename)[0] or ctype or "application/octet-stream"
        self._attachment_bytes[aid] = upload.data
        url = self.attachment_url(channel_id, aid, filename)
        att: dict[str, Any] = {
            "id": str(aid),
            "filename": filename,
            "size": len(upload.data),
            "url": url,
            "proxy_url": url,
            "content_type": ctype,
        }
        if (meta or {}).get("description"):
            att["description"] = meta["description"]  # type: ignore[index]
        return att

    def build_attachments(
        self,
        channel_id: int,
        listed: list[dict[str, Any]] | None,
        files: list[UploadedFile],
        existing: list[dict[str, Any]],
        errors: FormErrors,
    ) -> list[dict[str, Any]]:
        """Resolve a payload's ``attachments`` against uploaded ``files[n]`` parts (new) and the
        message's ``existing`` attachments (kept). Unlisted uploads are attached too."""
        by_index = {f.index: f for f in files if f.index is not None}
        used: set[int] = set()
        result: list[dict[str, Any]] = []
        if listed is None:
            result = list(existing)
        else:
            existing_by_id = {str(a["id"]): a for a in existing}
            for i, meta in enumerate(listed):
                raw = meta.get("id") if isinstance(meta, dict) else None
                key = str(raw)
                idx = int(raw) if isinstance(raw, int | str) and key.isdigit() else None
                if idx is not None and idx in by_index and idx not in used:
                    used.add(idx)
                    result.append(self._new_attachment(channel_id, by_index[idx], meta))
                elif key in existing_by_id:
                    result.append(existing_by_id[key])
                else:
                    errors.add(
                        ("attachments", i, "id"),
                        "ATTACHMENT_NOT_FOUND",
                        f"Unknown attachment id {raw!r}",
                    )
        for upload in files:
            if upload.index is None or upload.index not in used:
                result.append(self._new_attachment(channel_id, upload, None))
        return result

    def _resolve_embed_urls(
        self, embeds: list[dict[str, Any]], attachments: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        urls = {f"attachment://{a['filename']}": a["url"] for a in attachments}
        out = []
        for embed in deep_copy(embeds):
            embed.setdefault("type", "rich")
            for key, sub in (("image", "url"), ("thumbnail", "url"), ("footer", "icon_url")):
                part = embed.get(key)
                if isinstance(part, dict) and part.get(sub) in urls:
                    part[sub] = urls[part[sub]]
            author = embed.get("author")
            if isinstance(author, dict) and author.get("icon_url") in urls:
                author["icon_url"] = urls[author["icon_url"]]
            out.append(embed)
        return out

    def compute_mentions(
        self,
        guild: FakeGuild | None,
        content: str,
        allowed: dict[str, Any] | None,
        *,
        author_member: FakeMember | None,
        replied_to: dict[str, Any] | None,
        extra: Iterable[FakeMember | FakeUser | FakeRole] = (),
    ) -> tuple[list[dict[str, Any]], list[str], bool]:
        """``mentions``, ``mention_roles`` and ``mention_everyone`` the way Discord derives them
        from content, ``allowed_mentions`` (absent = parse everything) and a reply."""
        from .world import FakeMember, FakeRole

        parse = (
            {"users", "roles", "everyone"} if allowed is None else set(allowed.get("parse") or [])
        )
        allowed_users = {str(u) for u in (allowed or {}).get("users") or []}
        allowed_roles = {str(r) for r in (allowed or {}).get("roles") or []}
        replied_user = True if allowed is None else bool(allowed.get("replied_user"))

        user_ids: list[int] = []
        for m in _USER_MENTION.finditer(content or ""):
            if "users" in parse or m.group(1) in allowed_users:
                user_ids.append(int(m.group(1)))
        role_ids: list[int] = []
        for m in _ROLE_MENTION.finditer(content or ""):
            if "roles" in parse or m.group(1) in allowed_roles:
                role_ids.append(int(m.group(1)))
        for item in extra:
            if isinstance(item, FakeRole):
                role_ids.append(item.id)
            else:
                user_ids.append(item.id)
        if replied_to is not None and replied_user:
            user_ids.append(int(replied_to["author"]["id"]))

        everyone = False
        if "everyone" in parse and ("@everyone" in (content or "") or "@here" in (content or "")):
            everyone = author_member is None or bool(
                author_member.permissions & Permission.MENTION_EVERYONE
            )

        mentions: list[dict[str, Any]] = []
        seen: set[int] = set()
        for uid in user_ids:
            if uid in seen:
                continue
            seen.add(uid)
            member = guild.members.get(uid) if guild else None
            if member is not None:
                entry = member.user.payload()
                entry["member"] = member.payload(with_user=False)
                mentions.append(entry)
            else:
                user = self.host.get_user(uid)
                if user is not None:
                    mentions.append(user.payload())
        roles = []
        for rid in dict.fromkeys(role_ids):
            if guild is None or rid not in guild.roles:
                continue
            role = guild.roles[rid]
            if isinstance(author_member, FakeMember) and not (
                role.mentionable or author_member.permissions & Permission.MENTION_EVERYONE
            ):
                continue
            roles.append(str(rid))
        return mentions, roles, everyone

    def create(
        self,
        channel: FakeChannel,
        author: FakeUser,
        payload: dict[str, Any],
        files: list[UploadedFile] = (),  # type: ignore[assignment]
        *,
        member: FakeMember | None = None,
        webhook_id: int | None = None,
        ephemeral: bool = False,
        loading: bool = False,
        message_type: int = 0,
        interaction_metadata: dict[str, Any] | None = None,
        extra_mentions: Iterable[FakeMember | FakeUser | FakeRole] = (),
    ) -> dict[str, Any]:
        """Store a new message built from a create payload; returns the live message dict.

        The caller has validated ``payload`` against the limits already. Raises
        :class:`DiscordAPIError` for an unknown ``message_reference``.
        """
        errors = FormErrors()
        guild = channel.guild
        mid = self.host._new_id()
        attachments = self.build_attachments(
            channel.id, payload.get("attachments"), list(files), [], errors
        )
        reference = payload.get("message_reference")
        referenced: dict[str, Any] | None = None
        if isinstance(reference, dict) and reference.get("message_id") is not None:
            referenced = self.get(reference["message_id"])
            if referenced is None and reference.get("fail_if_not_exists", True):
                errors.add(
                    ("message_reference",),
                    "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                    "Unknown message",
                )
        errors.raise_if_any()
        content = payload.get("content") or ""
        mentions, mention_roles, everyone = self.compute_mentions(
            guild,
            content,
            payload.get("allowed_mentions"),
            author_member=member,
            replied_to=referenced,
            extra=extra_mentions,
        )
        flags = int(payload.get("flags") or 0) & _SETTABLE_FLAGS
        if ephemeral:
            flags |= MESSAGE_FLAG_EPHEMERAL
        if loading:
            flags |= MESSAGE_FLAG_LOADING
        message: dict[str, Any] = {
            "id": str(mid),
            "type": 19 if referenced is not None and message_type == 0 else message_type,
            "channel_id": str(channel.id),
            "author": author.payload(),
            "content": content,
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "tts": bool(payload.get("tts")),
            "mention_everyone": everyone,
            "mentions": mentions,
            "mention_roles": mention_roles,
            "attachments": attachments,
            "embeds": self._resolve_embed_urls(payload.get("embeds") or [], attachments),
            "pinned": False,
            "flags": flags,
            "components": _number_components(payload.get("components") or []),
            # Not a Discord field: what the bot asked for, kept so tests can assert on it.
            "allowed_mentions": deep_copy(payload.get("allowed_mentions")),
        }
        if guild is not None:
            message["guild_id"] = str(guild.id)
            if member is not None and webhook_id is None:
                message["member"] = member.payload(with_user=False)
        if payload.get("nonce") is not None:
            message["nonce"] = payload["nonce"]
        if webhook_id is not None:
            message["webhook_id"] = str(webhook_id)
            message["application_id"] = str(webhook_id)
        if interaction_metadata is not None:
            message["interaction_metadata"] = interaction_metadata
        if isinstance(reference, dict) and referenced is not None:
            message["message_reference"] = {
                "type": 0,
                "message_id": referenced["id"],
                "channel_id": referenced["channel_id"],
                **({"guild_id": referenced["guild_id"]} if "guild_id" in referenced else {}),
            }
            ref_copy = {k: v for k, v in referenced.items() if k != "referenced_message"}
            message["referenced_message"] = deep_copy(ref_copy)
        if channel.is_thread:
            message["position"] = len(self._channels.get(channel.id, []))
        self.by_id[mid] = message
        if not ephemeral:
            self._channels.setdefault(channel.id, []).append(mid)
        return message

    def edit(
        self,
        message: dict[str, Any],
        payload: dict[str, Any],
        files: list[UploadedFile] = (),  # type: ignore[assignment]
        *,
        clear_loading: bool = True,
    ) -> dict[str, Any]:
        """Apply an edit payload (``content``, ``embeds``, ``components``, ``attachments``,
        ``flags``, ``allowed_mentions``) to a stored message in place."""
        errors = FormErrors()
        channel_id = int(message["channel_id"])
        if "attachments" in payload or files:
            listed = payload.get("attachments") if "attachments" in payload else None
            message["attachments"] = self.build_attachments(
                channel_id, listed, list(files), message["attachments"], errors
            )
        errors.raise_if_any()
        if "content" in payload:
            message["content"] = payload["content"] or ""
        if "allowed_mentions" in payload:
            message["allowed_mentions"] = deep_copy(payload["allowed_mentions"])
        if "content" in payload or "allowed_mentions" in payload:
            guild = self.host.get_guild(int(message["guild_id"])) if "guild_id" in message else None
            referenced = message.get("referenced_message")
            mentions, roles, everyone = self.compute_mentions(
                guild,
                message["content"],
                message.get("allowed_mentions"),
                author_member=None,
                replied_to=referenced,
            )
            message.update(mentions=mentions, mention_roles=roles, mention_everyone=everyone)
        if "embeds" in payload:
            message["embeds"] = self._resolve_embed_urls(
                payload["embeds"] or [], message["attachments"]
            )
        if "components" in payload:
            message["components"] = _number_components(payload["components"] or [])
        flags = int(message.get("flags") or 0)
        if payload.get("flags") is not None:
            flags = (flags & ~_SETTABLE_FLAGS) | (int(payload["flags"]) & _SETTABLE_FLAGS)
        if clear_loading:
            flags &= ~MESSAGE_FLAG_LOADING
        message["flags"] = flags
        message["edited_timestamp"] = iso_now()
        return message

    def adopt(self, message: dict[str, Any], channel: FakeChannel) -> dict[str, Any]:
        """Store a message dict the fake never saw (a test's hand-made stand-in) so it can be
        clicked and updated; it joins no channel listing."""
        stored: dict[str, Any] = {
            "type": 0,
            "channel_id": str(channel.id),
            "author": self.host.bot_user.payload(),
            "content": "",
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "flags": 0,
            "components": [],
        }
        if channel.guild is not None:
            stored["guild_id"] = str(channel.guild.id)
        stored.update(deep_copy(message))
        stored["id"] = str(message["id"])
        stored["channel_id"] = str(stored["channel_id"])
        self.by_id[int(stored["id"])] = stored
        return stored

    def delete(self, message: dict[str, Any]) -> None:
        mid = int(message["id"])
        self.by_id.pop(mid, None)
        ids = self._channels.get(int(message["channel_id"]))
        if ids and mid in ids:
            ids.remove(mid)
        for att in message.get("attachments") or []:
            self._attachment_bytes.pop(int(att["id"]), None)

    def is_ephemeral(self, message: dict[str, Any]) -> bool:
        return bool(int(message.get("flags") or 0) & MESSAGE_FLAG_EPHEMERAL)

    # -- reactions -----------------------------------------------------------------------------

    def add_reaction(self, message: dict[str, Any], emoji: dict[str, Any], user_id: int) -> bool:
        """Record a reaction; returns ``False`` if that user had already reacted so."""
        key = (int(message["id"]), _emoji_key(emoji))
        users = self._reactions.setdefault(key, [])
        if user_id in users:
            return False
        users.append(user_id)
        self._sync_reactions(message)
        return True

    def remove_reaction(self, message: dict[str, Any], emoji: dict[str, Any], user_id: int) -> bool:
        key = (int(message["id"]), _emoji_key(emoji))
        users = self._reactions.get(key) or []
        if user_id not in users:
            return False
        users.remove(user_id)
        self._sync_reactions(message)
        return True

    def clear_reactions(self, message: dict[str, Any]) -> None:
        mid = int(message["id"])
        for key in [k for k in self._reactions if k[0] == mid]:
            del self._reactions[key]
        self._sync_reactions(message)

    def reaction_users(self, message: dict[str, Any], emoji: dict[str, Any]) -> list[int]:
        return list(self._reactions.get((int(message["id"]), _emoji_key(emoji))) or [])

    def _sync_reactions(self, message: dict[str, Any]) -> None:
        mid = int(message["id"])
        out = []
        for (m, key), users in self._reactions.items():
            if m != mid or not users:
                continue
            out.append(
                {
                    "emoji": parse_emoji(key),
                    "count": len(users),
                    "count_details": {"burst": 0, "normal": len(users)},
                    "me": self.host.bot_user.id in users,
                    "me_burst": False,
                    "burst_colors": [],
                }
            )
        if out:
            message["reactions"] = out
        else:
            message.pop("reactions", None)


def parse_emoji(text: str) -> dict[str, Any]:
    """``"👍"`` → ``{"id": None, "name": "👍"}``; ``"name:123"`` → custom emoji."""
    if ":" in text:
        name, _, eid = text.rpartition(":")
        if eid.isdigit():
            return {"id": eid, "name": name[2:] if name.startswith("a:") else name}
    return {"id": None, "name": text}


def _emoji_key(emoji: dict[str, Any]) -> str:
    if emoji.get("id"):
        return f"{emoji.get('name')}:{emoji['id']}"
    return str(emoji.get("name"))


def ensure_author(message: dict[str, Any], user_id: int) -> None:
    """403 ``50005`` unless ``user_id`` wrote ``message``."""
    if int(message["author"]["id"]) != user_id:
        raise DiscordAPIError(403, 50005, "Cannot edit a message authored by another user")
