"""`growmies doctor` rows on what the music and assistant features need from their servers.

A Lavalink node can be up and still lack what a feature uses: lyrics need the LavaLyrics
plugin, Spotify/Apple Music/Deezer links need LavaSrc with that service switched on, effects
need Lavalink's filters. The music plugin asks each node's `/v4/info` before using any of them
(plugins/music/node_info.py); these rows read the same answer so an admin sees it before a
member does. They are information and warnings, never failures: music plays without them.

For the assistant, the model names in LLM_MODEL and LLM_VISION_MODELS are checked against the
endpoint (`GET /models/{name}`), since a misspelt name only shows when a member asks.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp

#: (row name, status, detail): bot/doctor.py makes each an optional Check; status is one of
#: ok, info, warn, fail.
Row = tuple[str, str, str]

# The names the music plugin looks for in /v4/info (plugins/music/node_info.py).
LYRICS_PLUGIN = "lavalyrics-plugin"
LAVASRC_PLUGIN = "lavasrc-plugin"
# LavaSrc's source managers the music plugin offers, as /v4/info names them.
SERVICES = (("spotify", "Spotify"), ("applemusic", "Apple Music"), ("deezer", "Deezer"))
# Lavalink filters the /music effects presets and /music equalizer use, and what needs each
# (plugins/music/effects.py).
EFFECT_FILTERS = {
    "equalizer": "bass boost, /music equalizer",
    "timescale": "nightcore, vaporwave, speed/pitch",
    "rotation": "8D",
    "karaoke": "karaoke",
    "tremolo": "tremolo",
}
APP_YML = "lavalink/application.yml"


def _plugin_versions(info: dict[str, Any]) -> dict[str, str]:
    plugins = info.get("plugins") or []
    return {str(p.get("name")): str(p.get("version") or "?")[:20]
            for p in plugins if isinstance(p, dict)}


def lavalink_feature_rows(part: str, info: dict[str, Any]) -> list[Row]:
    """Rows for one node whose `/v4/info` answered (`part` is its row name)."""
    plugins = _plugin_versions(info)
    sources = {str(s) for s in info.get("sourceManagers") or []}
    filters = {str(f) for f in info.get("filters") or []}
    rows: list[Row] = []

    lyrics = plugins.get(LYRICS_PLUGIN)
    if lyrics is None:
        rows.append((f"{part} lyrics", "warn", "no LavaLyrics plugin: /music lyrics says "
                     "lyrics are unavailable. Fix: load lavalyrics-plugin and lavasrc-plugin "
                     f"as {APP_YML} does"))
    elif LAVASRC_PLUGIN not in plugins:
        rows.append((f"{part} lyrics", "warn", f"LavaLyrics {lyrics} without LavaSrc, which "
                     f"gives it its lyrics sources. Fix: load lavasrc-plugin as {APP_YML} "
                     "does"))
    else:
        rows.append((f"{part} lyrics", "ok", f"LavaLyrics {lyrics}: /music lyrics works "
                     "(sources under plugins.lavasrc.lyrics-sources)"))

    # A listed source manager is what plays a link, whoever provides it: LavaSrc on Lavalink,
    # or the server itself (NodeLink has Spotify, Deezer... built in, with no plugin).
    lavasrc = plugins.get(LAVASRC_PLUGIN)
    on = [name for source, name in SERVICES if source in sources]
    off = [name for source, name in SERVICES if source not in sources]
    if lavasrc is None and not on:
        rows.append((f"{part} services", "warn", "no LavaSrc plugin: Spotify, Apple Music and "
                     f"Deezer links are refused. Fix: load lavasrc-plugin as {APP_YML} does"))
    else:
        by = f"LavaSrc {lavasrc}" if lavasrc else "the server's own sources"
        detail = f"{by}; on: {', '.join(on) or 'none'}"
        if off and lavasrc:
            detail += (f"; off: {', '.join(off)}. To turn one on: its credentials in .env, "
                       "then plugins.lavasrc.sources in application.yml, restart Lavalink")
        elif off:
            detail += f"; off: {', '.join(off)} (switched on in the server's own settings)"
        rows.append((f"{part} services", "info" if off else "ok", detail))

    missing = [name for name in EFFECT_FILTERS if name not in filters]
    listed = ", ".join(sorted(filters)) or "none"
    if missing:
        needs = "; ".join(f"{name} ({EFFECT_FILTERS[name]})" for name in missing)
        rows.append((f"{part} filters", "warn", f"off: {needs}; listed: {listed}. Fix: set "
                     "them true under lavalink.server.filters in application.yml"))
    else:
        rows.append((f"{part} filters", "ok", f"every effect available; listed: {listed}"))
    return rows


def vision_model_names(vision_models: str) -> list[str]:
    """LLM_VISION_MODELS' names, without the '*' wildcard (which names no model)."""
    names = (n.strip() for n in (vision_models or "").split(","))
    return list(dict.fromkeys(n for n in names if n and n != "*"))


async def _model_exists(session: aiohttp.ClientSession, base: str, headers: dict[str, str],
                        name: str, listed: set[str]) -> bool | None:
    """True/False when the endpoint can tell; None when it can't (an error, no list)."""
    try:
        async with session.get(f"{base}/models/{quote(name, safe='')}", headers=headers) as resp:
            status = resp.status
    except (aiohttp.ClientError, TimeoutError):
        status = None
    if status == 200 or name in listed:
        return True
    # 404 here, or no per-model route (some OpenAI-compatible servers): the list decides.
    if status == 404 or (listed and status is not None):
        return False
    return None


async def llm_model_rows(session: aiohttp.ClientSession, llm: Any, base: str,
                         headers: dict[str, str], listed: set[str]) -> list[Row]:
    """A row for LLM_MODEL and one per model LLM_VISION_MODELS names. Only names and HTTP
    outcomes are shown: never the key, never a response body (which may echo it)."""
    rows: list[Row] = []
    offered = ", ".join(sorted(listed)[:5]) or "none listed"
    if llm.model:
        exists = await _model_exists(session, base, headers, llm.model, listed)
        if exists:
            rows.append(("llm model", "ok", f"{llm.model!r} exists"))
        elif exists is None:
            rows.append(("llm model", "warn", f"{llm.model!r}: the endpoint can't say whether "
                         "it exists"))
        else:
            rows.append(("llm model", "fail", f"{llm.model!r} does not exist at the endpoint. "
                         f"Fix: set LLM_MODEL to one it offers ({offered})"))
    for name in vision_model_names(getattr(llm, "vision_models", "")):
        exists = await _model_exists(session, base, headers, name, listed)
        part = f"llm vision {name[:60]}"
        if exists:
            rows.append((part, "ok", "exists; images go to it"))
        else:
            what = "does not exist" if exists is False else "could not be checked"
            rows.append((part, "warn", f"named in LLM_VISION_MODELS but {what} at the "
                         f"endpoint. Fix: correct LLM_VISION_MODELS ({offered})"))
    return rows
