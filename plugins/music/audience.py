"""Who may read a 21+ track's name: answers come in two versions, and the one sent depends on
where it goes and who reads it.

A `Reply` is a str naming no 21+ track (the placeholder "21+ track" stands in), so code that
just sends it can't leak; `.revealed` names them. `Audience.answer` sends `.revealed` to a
viewer the age gate calls verified through the core's `ctx.send_adult` (publicly only in a place
only verified members can read, ephemerally with the core's note elsewhere), and the placeholder
version to everyone else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import nextcord

    from bot.api import PluginContext


class Reply(str):
    """Text for members; as a str it is the version safe for anyone to read."""

    revealed: str

    def __new__(cls, public: str, revealed: str | None = None) -> Reply:
        obj = super().__new__(cls, public)
        obj.revealed = public if revealed is None else revealed
        return obj

    @classmethod
    def of(cls, render: Callable[[bool], str]) -> Reply:
        """Both versions of `render(reveal)`."""
        return cls(render(False), render(True))

    @property
    def names_adult_content(self) -> bool:
        return self.revealed != str(self)


class Audience:
    def __init__(self, ctx: PluginContext) -> None:
        self.ctx = ctx
        self.age_gate = ctx.services.age_gate

    async def adults_only_place(self, channel: Any) -> bool:
        """True only where the core vouches that unverified members can't read (the core's
        check fails closed itself)."""
        return bool(await self.age_gate.is_adults_only_place(channel))

    async def verified(self, guild_id: int | None, user_id: int | None) -> bool:
        """The age gate's view of this member, without an audit row (it only decides what
        name to show; queueing and controlling 21+ tracks use the audited check)."""
        if guild_id is None or user_id is None:
            return False
        # decide() denies on any error itself.
        return bool((await self.age_gate.decide(guild_id, user_id)).allowed)

    async def reveal_to(self, interaction: nextcord.Interaction, *, ephemeral: bool) -> bool:
        """Whether an answer to `interaction` may name 21+ content."""
        if ephemeral:
            user = interaction.user
            return await self.verified(interaction.guild_id, user.id if user else None)
        return await self.adults_only_place(interaction.channel)

    async def answer(self, interaction: nextcord.Interaction, reply: str, *,
                     ephemeral: bool = False, **kwargs: Any) -> None:
        """Send `reply`: publicly unless `ephemeral`, and naming 21+ content only to a verified
        member (the core's `send_adult`: public only in a 21+-only place, else ephemerally with
        its note); everyone else gets the placeholder version."""
        if not isinstance(reply, Reply) or not reply.names_adult_content:
            await interaction.send(str(reply), ephemeral=ephemeral, **kwargs)
            return
        user = interaction.user
        if not await self.verified(interaction.guild_id, user.id if user else None):
            await interaction.send(str(reply), ephemeral=ephemeral, **kwargs)
        elif ephemeral:
            await interaction.send(reply.revealed, ephemeral=True, **kwargs)
        else:
            await self.ctx.send_adult(interaction, reply.revealed, **kwargs)
