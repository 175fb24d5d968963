"""Which models members may use in a server: the configured default (LLM_MODEL) always, plus
those an admin allowed (`/llm models add`), each with its own daily token budget for the
server and whether it supports tool calls. A member's /model choice is kept per server; a
name the admin did not allow is refused with the list of those they did."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tortoise.exceptions import IntegrityError

from bot.api import UserError
from plugins.llm.models import LLMAllowedModel, LLMMemberModelUsage, LLMModelChoice

if TYPE_CHECKING:
    from bot.api import CoreServices

MAX_MODEL_NAME = 100
MAX_ALLOWED_MODELS = 25


@dataclass(frozen=True)
class ModelChoice:
    """The model a turn runs on. `daily_tokens` None: no per-model budget (the default model
    when the admin did not list it)."""

    name: str
    tools: bool
    daily_tokens: int | None


class ModelNotAllowed(UserError):
    pass


class ModelCatalog:
    def __init__(self, default: str | None, *, default_tools: bool) -> None:
        self.default = default
        self.default_tools = default_tools
        # Models whose endpoint refused a request with tools (a 400) since start-up: their
        # turns use context stuffing without trying again.
        self.refused_tools: set[str] = set()

    async def allowed(self, guild_id: int | None) -> list[LLMAllowedModel]:
        if guild_id is None:
            return []
        return await LLMAllowedModel.filter(guild_id=guild_id).order_by("name")

    async def names(self, guild_id: int | None) -> list[str]:
        names = [m.name for m in await self.allowed(guild_id)]
        if self.default and self.default not in names:
            names.insert(0, self.default)
        return names

    def _choice(self, row: LLMAllowedModel | None, name: str) -> ModelChoice:
        if row is None:
            return ModelChoice(name, self.default_tools and name not in self.refused_tools,
                               None)
        return ModelChoice(name, row.tools and name not in self.refused_tools,
                           row.daily_tokens)

    async def resolve(self, guild_id: int | None, user_id: int) -> ModelChoice | None:
        """The member's choice while the admin still allows it, else the default (None when
        no default model is configured: the caller reports the assistant as off)."""
        gid = guild_id or 0
        chosen = await LLMModelChoice.get_or_none(guild_id=gid, user_id=user_id)
        name = chosen.model if chosen else self.default
        if name is None:
            return None
        row = await LLMAllowedModel.get_or_none(guild_id=gid, name=name)
        if row is None and name != self.default:
            # The admin removed it since: back to the default, quietly and for good.
            await LLMModelChoice.filter(guild_id=gid, user_id=user_id).delete()
            if self.default is None:
                return None
            name = self.default
            row = await LLMAllowedModel.get_or_none(guild_id=gid, name=name)
        return self._choice(row, name)

    async def choose(self, guild_id: int, user_id: int, name: str) -> ModelChoice:
        name = name.strip()
        row = await LLMAllowedModel.get_or_none(guild_id=guild_id, name=name)
        if row is None and name != self.default:
            offered = ", ".join(f"`{n}`" for n in await self.names(guild_id)) or "none"
            raise ModelNotAllowed(f"The admins here haven't allowed the model "
                                  f"`{_shown(name)}`. You can choose: {offered}.")
        if name == self.default:
            await LLMModelChoice.filter(guild_id=guild_id, user_id=user_id).delete()
        else:
            await LLMModelChoice.update_or_create(defaults={"model": name},
                                                  guild_id=guild_id, user_id=user_id)
        return self._choice(row, name)

    async def add(self, guild_id: int, actor_id: int, name: str, daily_tokens: int,
                  tools: bool | None, services: CoreServices) -> LLMAllowedModel:
        """Allow `name` or change its budget (`tools` None: unchanged, False if new)."""
        name = name.strip()
        if not name or len(name) > MAX_MODEL_NAME or any(c.isspace() for c in name):
            raise UserError(f"A model name is one word of at most {MAX_MODEL_NAME} characters, "
                            "as the endpoint spells it (e.g. `gpt-4o-mini`, `llama3.1:8b`).")
        existing = await LLMAllowedModel.get_or_none(guild_id=guild_id, name=name)
        if existing is None and await LLMAllowedModel.filter(
                guild_id=guild_id).count() >= MAX_ALLOWED_MODELS:
            raise UserError(f"A server can allow at most {MAX_ALLOWED_MODELS} models.")
        if tools is None:
            tools = existing.tools if existing is not None else False
        try:
            row, _ = await LLMAllowedModel.update_or_create(
                defaults={"daily_tokens": daily_tokens, "tools": tools, "added_by": actor_id},
                guild_id=guild_id, name=name)
        except IntegrityError:  # two admins adding it at once: the other one won
            row = await LLMAllowedModel.get(guild_id=guild_id, name=name)
        self.refused_tools.discard(name)
        await services.audit.record("llm.model_allowed", guild_id=guild_id, actor_id=actor_id,
                                    target=name, details={"daily_tokens": daily_tokens,
                                                          "tools": tools})
        return row

    async def remove(self, guild_id: int, actor_id: int, name: str,
                     services: CoreServices) -> None:
        removed = await LLMAllowedModel.filter(guild_id=guild_id, name=name.strip()).delete()
        if not removed:
            raise UserError(f"`{_shown(name)}` is not among the allowed models.")
        # Members who chose it go back to the default on their next turn (resolve).
        await services.audit.record("llm.model_removed", guild_id=guild_id, actor_id=actor_id,
                                    target=name.strip())


def _shown(name: str) -> str:
    """A member-typed name inside backticks: no backtick can close the code span."""
    return name.replace("`", "'")[:MAX_MODEL_NAME]


async def delete_member_models(user_id: int) -> int:
    return (await LLMModelChoice.filter(user_id=user_id).delete()
            + await LLMMemberModelUsage.filter(user_id=user_id).delete())


async def export_member_models(user_id: int) -> dict[str, object]:
    choices = await LLMModelChoice.filter(user_id=user_id).values("guild_id", "model")
    usage = await LLMMemberModelUsage.filter(user_id=user_id).order_by("day").values(
        "guild_id", "model", "day", "requests", "tokens")
    return {"model_choices": choices,
            "model_usage": [{**u, "day": u["day"].isoformat()} for u in usage]}
