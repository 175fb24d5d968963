"""`growmies doctor`: a table of everything the bot depends on, secrets masked."""

from __future__ import annotations

import re
from dataclasses import dataclass

import aiohttp

from bot.database import DatabaseError, pending_migrations
from bot.loader import discover
from bot.settings import Settings

TIMEOUT = aiohttp.ClientTimeout(total=5)
DISCORD_DEFAULT_BASE = "https://discord.com/api/v10"
MIN_LAVALINK = (4, 2)


@dataclass
class Check:
    part: str
    status: str  # ok | warn | fail | skip
    detail: str
    required: bool = True


def mask(value: str | None) -> str:
    if not value:
        return "(not set)"
    return "set (" + "*" * 8 + ")"


def settings_rows(settings: Settings) -> list[Check]:
    rows = [Check("DISCORD_TOKEN", "ok" if settings.discord_token else "fail",
                  mask(settings.discord_token.get_secret_value() if settings.discord_token
                       else None))]
    url = settings.database_url
    shown = re.sub(r"//([^:/@]+):[^@]*@", r"//\1:****@", url)
    rows.append(Check("DATABASE_URL", "ok", shown))
    for name in ("discord_api_base", "dev_guild_ids", "growmies_plugins", "log_format",
                 "log_level", "shard_count", "shard_ids", "openai_base_url", "openai_model",
                 "openai_max_tokens", "max_queue_size", "default_volume",
                 "cannabis_content_strict_mode", "legal_disclaimer_required"):
        value = getattr(settings, name)
        shown = "(not set)" if value in (None, [], "") else str(value)
        rows.append(Check(name.upper(), "ok", shown, required=False))
    rows.append(Check("OPENAI_API_KEY", "ok", mask(
        settings.openai_api_key.get_secret_value() if settings.openai_api_key else None),
        required=False))
    rows.append(Check("LAVALINK_NODES", "ok", ", ".join(
        f"{n.id}={n.uri} (password {mask(n.password.get_secret_value())})"
        for n in settings.lavalink_nodes) or "(none)", required=False))
    return rows


async def check_database(settings: Settings) -> Check:
    registry = discover(settings.growmies_plugins)
    try:
        pending = await pending_migrations(
            settings.database_url,
            registry.model_modules(),
            packages=registry.migration_packages(),
        )
    except DatabaseError as exc:
        return Check("database", "fail", str(exc))
    if pending:
        listing = ", ".join(f"{app}: {len(v)}" for app, v in pending.items())
        # Not a failure: `growmies run` applies them before it starts.
        return Check("database", "warn", f"reachable; migrations pending ({listing}): "
                     "`growmies migrate` or `growmies run` applies them")
    return Check("database", "ok", "reachable; migrations current")


async def check_discord(session: aiohttp.ClientSession, settings: Settings) -> Check:
    if not settings.discord_token:
        return Check("discord token", "fail", "DISCORD_TOKEN is not set")
    base = (settings.discord_api_base or DISCORD_DEFAULT_BASE).rstrip("/")
    headers = {"Authorization": f"Bot {settings.discord_token.get_secret_value()}"}
    try:
        async with session.get(f"{base}/users/@me", headers=headers) as resp:
            if resp.status == 401:
                return Check("discord token", "fail", "rejected by Discord (401)")
            if resp.status != 200:
                return Check("discord token", "fail", f"Discord answered HTTP {resp.status}")
            me = await resp.json(content_type=None)
            return Check("discord token", "ok", f"valid: logged in as {me.get('username')}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Check("discord token", "fail", f"Discord unreachable ({type(exc).__name__})")


def parse_version(text: str) -> tuple[int, int] | None:
    match = re.match(r"\s*(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


async def check_lavalink(session: aiohttp.ClientSession, settings: Settings) -> list[Check]:
    if not settings.lavalink_nodes:
        return [Check("lavalink", "skip", "LAVALINK_NODES not set: music is unavailable",
                      required=False)]
    out = []
    for node in settings.lavalink_nodes:
        part = f"lavalink {node.id}"
        try:
            async with session.get(f"{node.uri}/version", headers={
                "Authorization": node.password.get_secret_value()}) as resp:
                text = await resp.text()
                if resp.status == 401:
                    out.append(Check(part, "fail", "wrong password (401)", required=False))
                    continue
                version = parse_version(text)
                if version is None:
                    out.append(Check(part, "fail", f"unexpected /version answer (HTTP "
                                     f"{resp.status})", required=False))
                elif version < MIN_LAVALINK:
                    out.append(Check(part, "fail", f"version {text.strip()} is too old: "
                                     "Discord's encrypted voice (DAVE) needs Lavalink 4.2+",
                                     required=False))
                else:
                    out.append(Check(part, "ok", f"reachable, version {text.strip()}",
                                     required=False))
        except (aiohttp.ClientError, TimeoutError) as exc:
            out.append(Check(part, "fail", f"unreachable at {node.uri} ({type(exc).__name__})",
                             required=False))
    return out


async def check_llm(session: aiohttp.ClientSession, settings: Settings) -> Check:
    if not settings.openai_base_url:
        return Check("llm endpoint", "skip", "OPENAI_BASE_URL not set: LLM chat is unavailable",
                     required=False)
    headers = {}
    if settings.openai_api_key:
        headers["Authorization"] = f"Bearer {settings.openai_api_key.get_secret_value()}"
    url = settings.openai_base_url.rstrip("/") + "/models"
    try:
        async with session.get(url, headers=headers) as resp:
            if resp.status in (401, 403):
                return Check("llm endpoint", "fail", f"API key rejected ({resp.status})",
                             required=False)
            if resp.status != 200:
                return Check("llm endpoint", "fail", f"HTTP {resp.status} from /models",
                             required=False)
            body = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return Check("llm endpoint", "fail", f"unreachable ({type(exc).__name__})",
                     required=False)
    models = {m.get("id") for m in body.get("data", []) if isinstance(m, dict)}
    if settings.openai_model and settings.openai_model not in models:
        return Check("llm endpoint", "fail", f"reachable, but model {settings.openai_model!r} "
                     f"is not listed ({len(models)} models)", required=False)
    return Check("llm endpoint", "ok", f"reachable, model {settings.openai_model!r} listed",
                 required=False)


def plugin_rows(settings: Settings) -> list[Check]:
    registry = discover(settings.growmies_plugins)
    rows = [Check(f"plugin {name}", "ok", f"loaded v{p.version}", required=False)
            for name, p in sorted(registry.plugins.items())]
    rows += [Check(f"plugin {name}", "fail", reason, required=False)
             for name, reason in sorted(registry.failed.items())]
    return rows


async def collect(settings: Settings) -> list[Check]:
    checks = settings_rows(settings)
    checks.append(await check_database(settings))
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        checks.append(await check_discord(session, settings))
        checks += await check_lavalink(session, settings)
        checks.append(await check_llm(session, settings))
    checks += plugin_rows(settings)
    return checks


def render(checks: list[Check]) -> str:
    width = max(len(c.part) for c in checks)
    marks = {"ok": "OK  ", "warn": "WARN", "fail": "FAIL", "skip": "SKIP"}
    lines = [f"{'check':<{width}}  status  detail", "-" * (width + 40)]
    lines += [f"{c.part:<{width}}  {marks[c.status]}    {c.detail}" for c in checks]
    return "\n".join(lines)


async def run_doctor(settings: Settings) -> int:
    checks = await collect(settings)
    print(render(checks))
    failed = [c for c in checks if c.status == "fail" and c.required]
    return 1 if failed else 0
