"""Links and searches of other services (Spotify, Apple Music, Deezer) through LavaSrc.

LavaSrc, a Lavalink plugin, resolves these links and `spsearch:` / `amsearch:` / `dzsearch:`
searches to playable tracks (Spotify and Apple Music are played from a mirror such as YouTube,
found by ISRC or title). It needs each service switched on in lavalink/application.yml and
that service's credentials. Without them a node answers such a link with "no matches", which
would tell a member nothing: the node's `/v4/info` (`plugins`, `sourceManagers`) is checked
first and the member learns what an admin has to configure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bot.api import UserError
from plugins.music.node_info import LAVASRC_PLUGIN

if TYPE_CHECKING:
    from plugins.music.env import MusicSettings
    from plugins.music.node_info import NodeFeaturesCache


@dataclass(frozen=True)
class Service:
    name: str  # what members read
    source: str  # LavaSrc's source manager name in /v4/info
    prefix: str  # its search prefix
    hosts: tuple[str, ...]
    settings: tuple[str, ...]  # what the admin sets in .env

    def matches(self, identifier: str) -> bool:
        if identifier.startswith(self.prefix):
            return True
        host = (urlsplit(identifier).hostname or "").lower()
        return any(host == h or host.endswith("." + h) for h in self.hosts)


SERVICES = (
    Service("Spotify", "spotify", "spsearch:", ("open.spotify.com", "spotify.link"),
            ("MUSIC_SPOTIFY_CLIENT_ID", "MUSIC_SPOTIFY_CLIENT_SECRET")),
    Service("Apple Music", "applemusic", "amsearch:", ("music.apple.com",),
            ("MUSIC_APPLE_MUSIC_MEDIA_TOKEN",)),
    Service("Deezer", "deezer", "dzsearch:", ("deezer.com", "deezer.page.link"),
            ("MUSIC_DEEZER_MASTER_KEY", "MUSIC_DEEZER_ARL")),
)


def service_of(identifier: str) -> Service | None:
    return next((s for s in SERVICES if s.matches(identifier)), None)


def configured(settings: MusicSettings, service: Service) -> bool:
    """Whether the bot's .env carries this service's credentials (compose hands the same
    values to Lavalink)."""
    values = {"spotify": (settings.spotify_client_id, settings.spotify_client_secret),
              "applemusic": (settings.apple_music_media_token,),
              "deezer": (settings.deezer_master_key,)}[service.source]
    return all(values)


class OtherServices:
    def __init__(self, settings: MusicSettings, features: NodeFeaturesCache) -> None:
        self.settings = settings
        self.features = features

    async def check(self, identifier: str, node: Any) -> None:
        """Refuse, with what to configure, a link or search the node can't resolve."""
        service = service_of(identifier)
        if service is None:
            return
        features = await self.features.of(node)
        if not features.known:
            return  # let the node try; its answer is explained as usual
        # The source manager is what plays it, whoever provides it: LavaSrc on Lavalink, or
        # the server itself (NodeLink lists its built-in `spotify`, `deezer`... with no plugin).
        if service.source in features.sources:
            return
        what = "links" if "://" in identifier else "searches"
        if LAVASRC_PLUGIN not in features.plugins:
            fix = ("the LavaSrc plugin isn't installed on the music server. An admin adds it "
                   "to lavalink/application.yml (see the music README)")
        elif configured(self.settings, service):
            fix = (f"the music server's LavaSrc has {service.name} switched off. An admin "
                   f"turns on `{service.source}` under plugins.lavasrc.sources in "
                   "lavalink/application.yml")
        else:
            fix = (f"{service.name} isn't set up. An admin sets "
                   f"{' and '.join(service.settings)} in .env and turns on "
                   f"`{service.source}` under plugins.lavasrc.sources in "
                   "lavalink/application.yml")
        raise UserError(f"{service.name} {what} can't be played here yet: {fix}, then restarts "
                        "Lavalink. Until then, search by the song's name.")
