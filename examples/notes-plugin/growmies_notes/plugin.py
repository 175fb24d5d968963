"""Private notes: `/note add`, `/note list` (paginated) and `/note delete` (confirmed).

Written against `bot.api` only, as any third-party plugin should be.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, cast

import nextcord
from nextcord.ext import commands

from bot.api import (
    MIXED,
    ComponentContext,
    Page,
    Plugin,
    PluginContext,
    UserError,
    answer_autocomplete,
)
from growmies_notes.models import MAX_NOTE_CHARS, Note
from growmies_notes.settings import NotesSettings

# Block names are global across plugins: prefix them with the plugin's name.
LIST_PAGES = "notes.list"
DELETE_CONFIRMED = "notes.delete"
PAGE_SIZE = 5
# A page shows at most PAGE_SIZE notes cut to this length, so it stays under Discord's
# 2,000 characters whatever the notes hold.
PREVIEW_CHARS = 300
GUILD_ONLY = [nextcord.InteractionContextType.guild]


def _preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _where(interaction: nextcord.Interaction) -> tuple[int, int]:
    # The commands are guild-only (contexts=GUILD_ONLY), so both are always there.
    assert interaction.guild_id is not None and interaction.user is not None
    return interaction.guild_id, interaction.user.id


def _note_number(raw: str) -> int:
    digits = raw.strip().removeprefix("#")
    if not digits.isdigit():
        raise UserError("Pick one of your notes from the list, or give its number from "
                        "`/note list` (e.g. 12).")
    return int(digits)


class NotePages:
    """One member's notes in one server, newest first; only the page shown is read."""

    async def page_count(self, params: dict[str, Any]) -> int:
        count = await Note.filter(guild_id=params["guild_id"], user_id=params["user_id"]).count()
        return max(1, math.ceil(count / PAGE_SIZE))

    async def render(self, params: dict[str, Any], page: int) -> Page:
        notes = await (Note.filter(guild_id=params["guild_id"], user_id=params["user_id"])
                       .order_by("-id").offset(page * PAGE_SIZE).limit(PAGE_SIZE))
        if not notes:
            return Page(content="You have no notes here any more.")
        lines = [f"**#{n.id}** · {n.created_at:%Y-%m-%d} · {_preview(n.text)}" for n in notes]
        return Page(content="**Your notes**\n" + "\n".join(lines))


class NotesCog(commands.Cog, name="notes"):
    def __init__(self, plugin: NotesPlugin, ctx: PluginContext) -> None:
        self.plugin = plugin
        self.ctx = ctx

    @nextcord.slash_command(name="note", description="Your private notes in this server",
                            contexts=GUILD_ONLY)
    async def note(self, interaction: nextcord.Interaction) -> None:
        """Group: Discord never invokes it directly."""

    @note.subcommand(name="add", description="Save a note only you can read")
    async def add(
        self,
        interaction: nextcord.Interaction,
        text: str = nextcord.SlashOption(description="What to remember",
                                         max_length=MAX_NOTE_CHARS),
    ) -> None:
        guild_id, user_id = _where(interaction)
        text = text.strip()
        if not text:
            raise UserError("A note needs some text.")
        limit = self.plugin.settings.max_per_member
        mine = Note.filter(guild_id=guild_id, user_id=user_id)
        if await mine.count() >= limit:
            raise UserError(f"You already keep {limit} notes here, the most this server allows. "
                            "Delete one with `/note delete` first.")
        note = await Note.create(guild_id=guild_id, user_id=user_id, text=text)
        # Two adds at the same moment could both pass the count above: the later note (higher
        # id) is the one over the limit, so it is removed and its author told.
        if await mine.filter(id__lte=note.id).count() > limit:
            await note.delete()
            raise UserError(f"You already keep {limit} notes here, the most this server allows. "
                            "Delete one with `/note delete` first.")
        await interaction.response.send_message(
            f"Saved note #{note.id}. `/note list` shows your notes.", ephemeral=True
        )

    @note.subcommand(name="list", description="Your notes in this server, newest first")
    async def list_notes(self, interaction: nextcord.Interaction) -> None:
        guild_id, user_id = _where(interaction)
        if not await Note.exists(guild_id=guild_id, user_id=user_id):
            await interaction.response.send_message(
                "You have no notes here yet. Add one with `/note add`.", ephemeral=True
            )
            return
        # Ephemeral and owner-only (the paginator's default): notes are private.
        await self.ctx.paginate(interaction, LIST_PAGES,
                                {"guild_id": guild_id, "user_id": user_id}, ephemeral=True)

    @note.subcommand(name="delete", description="Delete one of your notes")
    async def delete(
        self,
        interaction: nextcord.Interaction,
        note: str = nextcord.SlashOption(description="The note (its number in /note list)",
                                         autocomplete=True),
    ) -> None:
        guild_id, user_id = _where(interaction)
        row = await Note.get_or_none(id=_note_number(note), guild_id=guild_id, user_id=user_id)
        if row is None:
            raise UserError("You have no note with that number here; `/note list` shows yours.")
        await self.ctx.confirm(
            interaction, f"Delete note #{row.id}?\n> {_preview(row.text, 200)}",
            DELETE_CONFIRMED, {"note_id": row.id}, confirm_label="Delete",
        )

    @delete.on_autocomplete("note")
    async def delete_choices(self, interaction: nextcord.Interaction, note: str) -> None:
        guild_id, user_id = _where(interaction)

        async def mine(query: str) -> Iterable[tuple[str, str]]:
            rows = Note.filter(guild_id=guild_id, user_id=user_id)
            if query.removeprefix("#").isdigit():
                rows = rows.filter(id=int(query.removeprefix("#")))
            elif query:
                rows = rows.filter(text__icontains=query)
            found = await rows.order_by("-id").limit(25)
            return [(f"#{n.id} · {_preview(n.text, 80)}", str(n.id)) for n in found]

        await answer_autocomplete(interaction, note, mine)


class NotesPlugin(Plugin):
    name = "notes"
    version = "1.0.0"
    description = "Private notes per member: /note add, /note list, /note delete."
    data_statement = ("Stores the notes each member writes (text, server, date) until they "
                      "delete them or use /privacy delete.")
    # Notes are the members' own words, not cannabis content: open to every member. (An
    # ADULTS_ONLY plugin would put every command behind the 21+ gate.)
    rating = MIXED
    models = "growmies_notes.models"
    settings_model = NotesSettings

    def __init__(self) -> None:
        self._settings: NotesSettings | None = None

    @property
    def settings(self) -> NotesSettings:
        assert self._settings is not None, "the plugin is not set up"
        return self._settings

    async def setup(self, ctx: PluginContext) -> None:
        self._settings = cast(NotesSettings, ctx.settings)
        ctx.services.blocks.page_source(LIST_PAGES, NotePages())
        ctx.services.blocks.callback(DELETE_CONFIRMED, self._delete_confirmed)

    def cogs(self, ctx: PluginContext) -> Sequence[commands.Cog]:
        return [NotesCog(self, ctx)]

    async def _delete_confirmed(self, ctx: ComponentContext, payload: Any) -> None:
        # The confirmation belongs to the member who asked (the core refuses anyone else), and
        # the filter names them again: a note can only ever be deleted by its author.
        note_id = int(payload["note_id"])
        deleted = await Note.filter(id=note_id, guild_id=ctx.guild_id,
                                    user_id=ctx.user_id).delete()
        await ctx.send(f"Deleted note #{note_id}." if deleted else
                       f"Note #{note_id} was already deleted.")

    async def delete_user_data(self, user_id: int) -> int:
        return await Note.filter(user_id=user_id).delete()

    async def export_user_data(self, user_id: int) -> dict[str, Any]:
        notes = await Note.filter(user_id=user_id).order_by("id")
        return {"notes": [{"id": n.id, "guild_id": n.guild_id, "text": n.text,
                           "created_at": n.created_at.isoformat()} for n in notes]}
