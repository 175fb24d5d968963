"""/podcast and its controls: the episode select menu and the Transcribe button."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import TYPE_CHECKING

import nextcord
import structlog
from nextcord.utils import MISSING

from bot.api import ControlExpired, UserError, button, controls, guild_of, user_of, uses_state
from plugins.music.cog import is_dj, member_channel
from plugins.music.feeds import Episode, episodes_from_state
from plugins.music.podcasts import NO_TRANSCRIPTION, looks_like_audio
from plugins.music.service import CANNABIS_FEATURE, CANNABIS_WORDS
from plugins.music.tracks import format_ms
from plugins.music.validation import check_query

if TYPE_CHECKING:
    from bot.api import ComponentContext
    from plugins.music.plugin import MusicPlugin

log = structlog.get_logger("plugins.music.podcast_ui")

PODCAST_TTL = timedelta(days=1)
# Discord: select option labels and descriptions at most 100 characters; thread names 100.
MAX_LABEL = 100
# State-row kinds: the episode menu's row, and the Transcribe button's (its action's name).
PICKER_KIND = "pod"
TRANSCRIBE_KIND = "pod.tx"


def episode_line(episode: Episode) -> str:
    length = f" ({format_ms(episode.duration_s * 1000)})" if episode.duration_s else ""
    return f"{episode.title}{length}" + ("" if episode.playable else " — *no audio, unplayable*")


class PodcastUi:
    def __init__(self, plugin: MusicPlugin) -> None:
        self.plugin = plugin

    async def open(self, interaction: nextcord.Interaction, url: str) -> None:
        guild_id, user_id = guild_of(interaction), user_of(interaction)
        service = self.plugin.service
        checked = await check_query(url, service.resolver)
        if not checked.is_url:
            raise UserError("Give a podcast feed or episode link (http or https).")
        settings = await service.guild_settings(guild_id)
        flagged_host = service.is_flagged_host(checked.identifier, settings)
        if looks_like_audio(checked.identifier):
            episode = Episode(checked.identifier.rsplit("/", 1)[-1][:MAX_LABEL],
                              checked.identifier)
            await self._play(interaction, guild_id, user_id, episode, flagged_host)
            return
        feed, _ = await self.plugin.podcast_library.read(checked.identifier)
        if not feed.playable:
            listed = (f" It lists {len(feed.episodes)} episode(s), none with an audio file to "
                      "play." if feed.episodes else "")
            raise UserError(f"**{feed.title}** has no playable episodes.{listed}")
        cannabis = flagged_host or bool(CANNABIS_WORDS.search(f"{feed.title} {feed.description}"))
        if cannabis:
            await service.require_adult(guild_id, user_id, "This podcast")
        components = self.plugin.ctx.components
        state = await components.create(
            PICKER_KIND,
            {"guild": guild_id, "feed": feed.title[:200], "cannabis": cannabis,
             "episodes": [e.to_json() for e in feed.episodes]},
            owner=user_id, guild_id=guild_id, ttl=PODCAST_TTL,
            age_feature=CANNABIS_FEATURE if cannabis else None,
        )
        select: nextcord.ui.StringSelect[nextcord.ui.View] = nextcord.ui.StringSelect(
            custom_id=components.custom_id("pod.pick", state), placeholder="Pick an episode",
            # MISSING (not None) leaves the description out of the payload.
            # Only episodes with audio are offered; the others are listed as unplayable.
            options=[nextcord.SelectOption(label=e.title[:MAX_LABEL], value=str(i),
                                           description=e.published[:MAX_LABEL] or MISSING)
                     for i, e in enumerate(feed.episodes) if e.playable],
        )
        lines = [f"`{i + 1}.` {episode_line(e)}" for i, e in enumerate(feed.episodes)]
        embed = nextcord.Embed(title=feed.title[:256], description="\n".join(lines)[:4096])
        if cannabis:
            embed.set_footer(text="21+ cannabis content")
            # The episode list names 21+ content: public only in a 21+-only channel, else for
            # the (verified) member alone, with the core's note why.
            await self.plugin.ctx.send_adult(interaction, embed=embed, view=controls(select))
            return
        await interaction.send(embed=embed, view=controls(select))

    async def _play(self, interaction: nextcord.Interaction, guild_id: int, user_id: int,
                    episode: Episode, cannabis: bool) -> None:
        text = await self.plugin.service.play(
            guild_id, user_id, member_channel(interaction), interaction.channel_id,
            episode.url, title=episode.title, force_cannabis=cannabis)
        await self.plugin.podcast_library.mark_educational(guild_id)
        await self.plugin.ctx.services.audit.record(
            "music.podcast_played", guild_id=guild_id, actor_id=user_id,
            target=episode.title[:200], details={"cannabis": cannabis})
        # Transcribe belongs to whoever asked for the episode (and to staff): it spends the
        # server's paid transcription budget.
        components = self.plugin.ctx.components
        state = await components.create(
            TRANSCRIBE_KIND,
            {"guild": guild_id, "episode": episode.to_json(), "requester": user_id,
             "cannabis": cannabis},
            guild_id=guild_id, ttl=PODCAST_TTL,
            age_feature=CANNABIS_FEATURE if cannabis else None,
        )
        view = controls(button("Transcribe", components.custom_id("pod.tx", state), emoji="📝"))
        await self.plugin.audience.answer(interaction, text, view=view)

    @uses_state(PICKER_KIND)
    async def on_pick(self, ctx: ComponentContext) -> None:
        if ctx.state is None or ctx.state.kind != PICKER_KIND:
            raise ControlExpired()
        episodes = episodes_from_state(ctx.data)
        if int(ctx.data.get("guild", 0)) != ctx.guild_id or not ctx.values:
            raise ControlExpired()
        index = int(ctx.values[0]) if ctx.values[0].isdigit() else -1
        if not 0 <= index < len(episodes):
            raise ControlExpired()
        if not episodes[index].playable:
            raise UserError("That episode has no audio file in its feed, so it can't be played.")
        await self._play(ctx.interaction, int(ctx.data["guild"]), ctx.user_id, episodes[index],
                         bool(ctx.data.get("cannabis")))

    @uses_state(TRANSCRIBE_KIND)
    async def on_transcribe(self, ctx: ComponentContext) -> None:
        if ctx.state is None or ctx.state.kind != TRANSCRIBE_KIND:
            raise ControlExpired()
        guild_id = int(ctx.data.get("guild", 0))
        if guild_id != ctx.guild_id or "episode" not in ctx.data:
            raise ControlExpired()
        requester = int(ctx.data.get("requester", 0))
        if ctx.user_id != requester and not await is_dj(
            ctx.interaction, await self.plugin.service.guild_settings(guild_id)
        ):
            raise UserError("Only the member who played this episode, or staff (Manage Server "
                            "or the DJ role), can have it transcribed.")
        episode = Episode(**ctx.data["episode"])
        if self.plugin.podcasts.transcriber is None:
            raise UserError(NO_TRANSCRIPTION)
        await ctx.defer_update()  # downloading and transcribing takes longer than 3 s
        text = await self.plugin.transcripts.get(guild_id, ctx.user_id, episode)
        await self.plugin.ctx.services.audit.record(
            "music.podcast_transcribed", guild_id=ctx.guild_id, actor_id=ctx.user_id,
            target=episode.title[:200])
        await self._deliver(ctx, episode, text, cannabis=bool(ctx.data.get("cannabis")))

    async def _deliver(self, ctx: ComponentContext, episode: Episode, text: str, *,
                       cannabis: bool) -> None:
        """In a thread under the message when everyone there may read it; otherwise (a 21+
        episode outside a 21+-only channel, an ephemeral message, a thread already made) as a
        file only the presser sees."""
        def attachment() -> nextcord.File:
            return nextcord.File(io.BytesIO(text.encode()), filename="transcript.txt")

        message = ctx.interaction.message
        public = message is not None and not message.flags.ephemeral and (
            not cannabis or await self.plugin.audience.adults_only_place(ctx.interaction.channel))
        if public and message is not None:
            try:
                thread = await message.create_thread(
                    name=f"Transcript: {episode.title}"[:MAX_LABEL])
                await thread.send(f"Transcript of **{episode.title}**", file=attachment())
            except nextcord.HTTPException as exc:
                # A message has at most one thread: the first press made it.
                log.info("music.transcript_thread_refused", status=exc.status)
            else:
                await ctx.send("The transcript is in the thread under this message (or page "
                               "through it with `/podcasts transcript`).", ephemeral=True)
                return
        await ctx.send(f"Transcript of **{episode.title}**", file=attachment(), ephemeral=True)
