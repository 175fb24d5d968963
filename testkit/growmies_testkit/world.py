"""A ready-made test world: one guild with the members most scenarios need."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class World:
    fake: Any
    guild: Any
    admin: Any
    member: Any
    other: Any
    dj: Any
    dj_role: Any
    channel: Any
    voice: Any


def make_world(fake: Any) -> World:
    guild = fake.create_guild("Growmies Test")
    dj_role = guild.add_role("DJ", permissions=0)
    admin = guild.add_member("alice-admin", admin=True)
    member = guild.add_member("bob-member")
    other = guild.add_member("carol-member")
    dj = guild.add_member("dave-dj", roles=[dj_role])
    return World(fake, guild, admin, member, other, dj, dj_role, guild.text_channel,
                 guild.voice_channel)
