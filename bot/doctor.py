"""`growmies doctor`: a table of everything the bot depends on, secrets masked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import aiohttp
from pydantic import BaseModel, SecretBytes, SecretStr
from pydantic_settings import BaseSettings

from bot.database import DatabaseError, pending_migrations
from bot.doctor_features import Row, lavalink_feature_rows, llm_model_rows
from bot.loader import PluginRegistry, discover
from bot.logs import mask_url
from bot.paths import find_home, missing_sqlite, where_things_live
from bot.settings import (
    Settings,
    SettingsError,
    load_plugin_settings,
    name_in_use,
    secret_values,
    setting_names,
    unknown_setting_message,
    unknown_settings,
)

TIMEOUT = aiohttp.ClientTimeout(total=5)
DISCORD_DEFAULT_BASE = "https://discord.com/api/v10"
MIN_LAVALINK = (4, 2)


@dataclass
class Check:
    part: str
    status: str  # ok | info | warn | fail | skip
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
    rows.append(Check("DATABASE_URL", "ok", mask_url(settings.database_url)))
    # Every other core setting, from its declaration: a new field gets its row.
    for name in Settings.model_fields:
        if name in ("discord_token", "database_url"):
            continue
        value = getattr(settings, name)
        shown = "(not set)" if value in (None, [], "") else str(value)
        rows.append(Check(name.upper(), "ok", shown, required=False))
    return rows


def show_value(value: Any) -> str:
    """A setting's value for the table: secrets masked, nested models spelled out."""
    if isinstance(value, (SecretStr, SecretBytes)):
        return mask(str(value.get_secret_value()) or None)
    if value is None or value == [] or value == "":
        return "(not set)"
    if isinstance(value, BaseModel):
        return " ".join(f"{k}={show_value(getattr(value, k))}" for k in type(value).model_fields)
    if isinstance(value, (list, tuple)):
        return "; ".join(show_value(v) for v in value)
    # Any URL (a node's uri, an endpoint) may carry a password or a key of its own.
    return mask_url(str(value)) if "://" in str(value) else str(value)


def plugin_settings_rows(registry: PluginRegistry, settings: Settings,
                         ) -> tuple[list[Check], dict[str, BaseSettings]]:
    """Every loaded plugin's settings under the name it is read as (and the older name it was
    read from, if any); a bad value is a failure, as it keeps `growmies run` from starting."""
    rows: list[Check] = []
    built: dict[str, BaseSettings] = {}
    for name, plugin in sorted(registry.plugins.items()):
        model = plugin.settings_model
        if model is None:
            continue
        try:
            values = load_plugin_settings(name, model, env_file=settings.env_file)
        except SettingsError as exc:
            rows.append(Check(f"{name} settings", "fail", str(exc)))
            continue
        built[name] = values
        secrets = secret_values(values)
        for field, names in setting_names(model).items():
            shown = show_value(getattr(values, field))
            for secret in secrets:  # a secret inside free text (a URL) stays masked too
                shown = shown.replace(secret, "****")
            used = name_in_use(names, settings.env_file)
            if used is not None and used != names[0]:
                shown += f" (from {used})"
            rows.append(Check(names[0], "ok", shown, required=False))
    return rows, built


async def check_database(settings: Settings) -> Check:
    registry = discover(settings.growmies_plugins)
    # A check never creates the database: opening a missing SQLite file would.
    if (missing := missing_sqlite(settings.database_url)) is not None:
        return Check("database", "warn", f"no database yet at {missing}; `growmies migrate` "
                     "or `growmies run` creates it")
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


def describe_lavalink_server(status: int, headers: Any, info: Any, version_text: str | None,
                             ) -> tuple[str, str]:
    """(status, detail) for one node from `/v4/info` (JSON or None), its response headers and,
    when `/v4/info` failed, `/version`'s text.

    Lavalink-compatible servers are not Lavalink: NodeLink numbers its own releases (3.x) and
    marks itself (`isNodelink`, `Nodelink-Api-Version`), so Lavalink's version rule (4.2+ for
    Discord's encrypted voice, DAVE) is applied to Lavalink alone; any server is judged on
    speaking the v4 API."""
    lavalink_api = headers.get("Lavalink-Api-Version")
    nodelink_api = headers.get("Nodelink-Api-Version")
    if not isinstance(info, dict):
        if version_text is not None and (version := parse_version(version_text)) is not None:
            if version < (4, 0):
                return "fail", (f"Lavalink {version_text.strip()[:20]} has no v4 API "
                                f"(/v4/info: HTTP {status}); the bot needs Lavalink 4.2+")
        return "fail", f"no Lavalink v4 API here (/v4/info: HTTP {status})"
    raw_version = info.get("version")
    semver = str(raw_version.get("semver") if isinstance(raw_version, dict) else raw_version)[:40]
    nodelink = bool(info.get("isNodelink")) or nodelink_api is not None or (
        str(headers.get("IamNodelink", "")).lower() == "true")
    api = lavalink_api or nodelink_api
    api_text = f"v{api} API" if api else "v4 API (/v4/info answers; no API version header)"
    if api is not None and api != "4":
        return "fail", f"speaks API v{api[:5]}, not v4"
    if nodelink:
        voice = info.get("voice")
        voice_name = voice.get("name") if isinstance(voice, dict) else None
        detail = f"NodeLink {semver}, Lavalink-compatible {api_text}"
        if voice_name:
            detail += f"; voice by {str(voice_name)[:40]}"
        return "ok", (detail + "; encrypted voice (DAVE) is NodeLink's own, not judged by "
                      "Lavalink's version numbers")
    if info.get("jvm") is None and info.get("lavaplayer") is None:
        return "warn", (f"an unrecognised Lavalink-compatible server, version {semver}, "
                        f"{api_text}; encrypted voice (DAVE) support unknown")
    version = parse_version(semver)
    if version is None:
        return "fail", f"Lavalink with an unreadable version {semver!r}"
    if version < MIN_LAVALINK:
        return "fail", (f"Lavalink {semver}, {api_text}: too old: Discord's encrypted voice "
                        "(DAVE) needs Lavalink 4.2+")
    return "ok", f"reachable, version {semver} (Lavalink, {api_text})"


async def check_lavalink(session: aiohttp.ClientSession, music: Any) -> list[Check]:
    """`music` is the music plugin's settings (None: the plugin is not loaded)."""
    nodes = getattr(music, "lavalink_nodes", None)
    if not nodes:
        return [Check("lavalink", "skip", "LAVALINK_NODES not set: music is unavailable",
                      required=False)]
    out = []
    for node in nodes:
        part = f"lavalink {node.id}"
        auth = {"Authorization": node.password.get_secret_value()}
        try:
            async with session.get(f"{node.uri}/v4/info", headers=auth) as resp:
                if resp.status == 401:
                    out.append(Check(part, "fail", "wrong password (401)", required=False))
                    continue
                info: Any = None
                if resp.status == 200:
                    try:
                        info = await resp.json(content_type=None)
                    except ValueError:
                        info = None
                status, headers = resp.status, resp.headers
            version_text = None
            if not isinstance(info, dict):
                async with session.get(f"{node.uri}/version", headers=auth) as resp:
                    version_text = await resp.text() if resp.status == 200 else None
            state, detail = describe_lavalink_server(status, headers, info, version_text)
            out.append(Check(part, state, detail, required=False))
            if isinstance(info, dict):  # what lyrics, other services and effects need
                out += optional(lavalink_feature_rows(part, info))
        except (aiohttp.ClientError, TimeoutError) as exc:
            out.append(Check(part, "fail", f"unreachable at {node.uri} ({type(exc).__name__})",
                             required=False))
    return out


def optional(rows: list[Row]) -> list[Check]:
    return [Check(part, status, detail, required=False) for part, status, detail in rows]


async def check_llm(session: aiohttp.ClientSession, llm: Any) -> list[Check]:
    """`llm` is the LLM plugin's settings (None: the plugin is not loaded)."""
    if not getattr(llm, "base_url", None):
        return [Check("llm endpoint", "skip", "OPENAI_BASE_URL not set: LLM chat is unavailable",
                      required=False)]
    headers = {}
    if llm.api_key:
        headers["Authorization"] = f"Bearer {llm.api_key.get_secret_value()}"
    base = llm.base_url.rstrip("/")
    try:
        async with session.get(base + "/models", headers=headers) as resp:
            if resp.status in (401, 403):
                return [Check("llm endpoint", "fail", f"API key rejected ({resp.status})",
                              required=False)]
            if resp.status != 200:
                return [Check("llm endpoint", "fail", f"HTTP {resp.status} from /models",
                              required=False)]
            body = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return [Check("llm endpoint", "fail", f"unreachable ({type(exc).__name__})",
                      required=False)]
    data = body.get("data", []) if isinstance(body, dict) else []
    models = {str(m.get("id")) for m in data if isinstance(m, dict) and m.get("id")}
    endpoint = Check("llm endpoint", "ok", f"reachable, {len(models)} models listed",
                     required=False)
    return [endpoint, *optional(await llm_model_rows(session, llm, base, headers, models))]


def unknown_setting_rows(settings: Settings) -> list[Check]:
    """A warning per unknown GROWMIES_/plugin-prefixed name, naming the closest known one."""
    registry = discover(settings.growmies_plugins)
    models = {name: p.settings_model for name, p in registry.plugins.items()}
    return [Check(name, "warn", unknown_setting_message(name, closest), required=False)
            for name, closest in unknown_settings(settings, models).items()]


def plugin_rows(settings: Settings) -> list[Check]:
    registry = discover(settings.growmies_plugins)
    rows = [Check(f"plugin {name}", "ok", f"loaded v{p.version}", required=False)
            for name, p in sorted(registry.plugins.items())]
    rows += [Check(f"plugin {name}", "fail", reason, required=False)
             for name, reason in sorted(registry.failed.items())]
    return rows


async def collect(settings: Settings) -> list[Check]:
    checks = [Check(what, "ok", where, required=False)
              for what, where in where_things_live(find_home(), settings.database_url)]
    checks += settings_rows(settings)
    rows, plugin_settings = plugin_settings_rows(
        discover(settings.growmies_plugins), settings)
    checks += rows
    checks += unknown_setting_rows(settings)
    checks.append(await check_database(settings))
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        checks.append(await check_discord(session, settings))
        checks += await check_lavalink(session, plugin_settings.get("music"))
        checks += await check_llm(session, plugin_settings.get("llm"))
    checks += plugin_rows(settings)
    return checks


def render(checks: list[Check]) -> str:
    width = max(len(c.part) for c in checks)
    marks = {"ok": "OK  ", "info": "INFO", "warn": "WARN", "fail": "FAIL", "skip": "SKIP"}
    lines = [f"{'check':<{width}}  status  detail", "-" * (width + 40)]
    lines += [f"{c.part:<{width}}  {marks[c.status]}    {c.detail}" for c in checks]
    return "\n".join(lines)


async def run_doctor(settings: Settings) -> int:
    checks = await collect(settings)
    print(render(checks))
    failed = [c for c in checks if c.status == "fail" and c.required]
    return 1 if failed else 0
