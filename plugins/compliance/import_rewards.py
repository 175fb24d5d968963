"""Role rewards after a MEE6 import, given in the background.

An import raises the XP of up to 100,000 members at once, so their reward roles cannot be
given inside the Import click: Discord rate-limits role changes per server, and the
interaction's token lasts 15 minutes. Instead the imported members who are in the server and
reached a reward level become rows of a job (`ImportRewardMember`, outcome NULL = still to
do), processed by one task the plugin owns, CONCURRENCY members at a time, through nextcord's
HTTP client (which waits out Discord's rate limits). Each member's outcome is written as soon
as their role calls are done, so:

- a restart continues with the members still to do (jobs are resumed at start-up);
- a clean shutdown lets the members in flight finish first: nobody is done twice;
- a crash redoes at most the CONCURRENCY members in flight, and adding a role a member already
  holds is skipped (member cache) or a no-op for Discord.

Roles the member already holds (per the gateway's member cache) cost no call. The admin gets
a summary as a follow-up of the Import click while its token lives, else by DM; it is also
audited (`levels.import_rewards_applied`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, cast

import nextcord
import structlog
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from bot.api import GuildConfig, PluginContext
from plugins.compliance.levels import reward_roles
from plugins.compliance.models import (
    STACK,
    GuildSettings,
    ImportRewardJob,
    ImportRewardMember,
    MemberRecord,
)

log = structlog.get_logger("plugins.compliance")

# Members processed at once: enough to overlap request latency, small enough to leave most
# of Discord's global budget (50 requests/s) to everything else the bot does.
CONCURRENCY = 3
BATCH = 100  # members read per query
ROWS_PER_INSERT = 1000
# A follow-up needs the interaction's token, valid 15 minutes; after that, a DM.
FOLLOWUP_SECONDS = 14 * 60
STOP_GRACE_SECONDS = 5.0  # on shutdown, time for the members in flight to finish
RETRY_SECONDS = 30.0  # after a failed run (database down): try the job again

GIVEN, UNCHANGED, ABSENT, FAILED = "given", "unchanged", "absent", "failed"
UNKNOWN_MEMBER = 10007

Notify = Callable[[str], Awaitable[object]]


class ImportRewards:
    def __init__(self, ctx: PluginContext, settings: GuildConfig[GuildSettings]) -> None:
        self.ctx = ctx
        self.settings = settings
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._queued: set[int] = set()
        self._notify: dict[int, tuple[float, Notify]] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._busy = False

    # ----- queueing (from the Import click) --------------------------------------------
    async def members_to_reward(self, guild_id: int, imported: Iterable[int]) -> list[int]:
        """Imported members who reached a level with a role reward and are in the server."""
        config = await self.settings.get(guild_id)
        if not config.role_rewards:
            return []
        lowest = min(int(level) for level in config.role_rewards)
        wanted = set(imported)
        found = await MemberRecord.filter(guild_id=guild_id, level__gte=lowest).order_by(
            "user_id").values_list("user_id", flat=True)
        reached = [int(cast(int, user_id)) for user_id in found
                   if int(cast(int, user_id)) in wanted]
        guild = self.ctx.bot.get_guild(guild_id)
        if guild is not None and guild.chunked:  # the whole member list is known
            reached = [user_id for user_id in reached if guild.get_member(user_id) is not None]
        return reached

    async def queue(self, guild_id: int, actor_id: int, user_ids: list[int]) -> int:
        """Store a job (not started: see `kick`); its id."""
        async with in_transaction("default"):
            job = await ImportRewardJob.create(guild_id=guild_id, actor_id=actor_id)
            for start in range(0, len(user_ids), ROWS_PER_INSERT):
                await ImportRewardMember.bulk_create([
                    ImportRewardMember(job_id=job.id, user_id=user_id)
                    for user_id in user_ids[start:start + ROWS_PER_INSERT]])
        return int(job.id)

    def kick(self, job_id: int, notify: Notify | None = None) -> None:
        """Start a stored job; `notify` gets the summary while the interaction lives. Called
        after the admin was told, so the summary never arrives before the announcement."""
        if notify is not None:
            self._notify[job_id] = (time.monotonic(), notify)
        self._enqueue(job_id)

    def _enqueue(self, job_id: int) -> None:
        if job_id not in self._queued:
            self._queued.add(job_id)
            self._queue.put_nowait(job_id)

    # ----- the task --------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="compliance.import_rewards")

    async def stop(self) -> None:
        """Let the members in flight finish (their outcome written), then stop."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        if self._busy:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(task), STOP_GRACE_SECONDS)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task

    async def _run(self) -> None:
        await self.ctx.bot.wait_until_ready()  # the member cache is filled by then
        while not self._stopping:
            try:
                for left in await ImportRewardJob.all().order_by("id").values_list(
                        "id", flat=True):
                    self._enqueue(int(cast(int, left)))  # jobs an earlier run did not finish
                break
            except Exception as exc:  # the database is down at start-up: try again later
                log.warning("compliance.import_rewards_resume_failed", error=type(exc).__name__)
                await asyncio.sleep(RETRY_SECONDS)
        while not self._stopping:
            job_id = await self._queue.get()
            self._busy = True
            try:
                await self._process(job_id)
                self._queued.discard(job_id)
                continue
            except Exception as exc:
                log.warning("compliance.import_rewards_failed", job=job_id,
                            error=type(exc).__name__)
            finally:
                self._busy = False
            await asyncio.sleep(RETRY_SECONDS)  # e.g. the database is down: keep the job
            self._queue.put_nowait(job_id)

    async def _process(self, job_id: int) -> None:
        job = await ImportRewardJob.get_or_none(id=job_id)
        if job is None:
            return
        while not self._stopping:
            rows = await ImportRewardMember.filter(job_id=job_id, outcome=None).order_by(
                "id").limit(BATCH).values_list("id", "user_id")
            if not rows:
                await self._finish(job)
                return
            guild = self.ctx.bot.get_guild(job.guild_id)
            if guild is None:  # the bot left the server: nothing can be given
                await ImportRewardMember.filter(job_id=job_id, outcome=None).update(
                    outcome=FAILED)
                continue
            await self._batch(guild, [(int(row_id), int(user_id)) for row_id, user_id in rows])

    async def _batch(self, guild: Any, rows: list[tuple[int, int]]) -> None:
        """CONCURRENCY members at a time; each outcome written as soon as it is known."""
        config = await self.settings.get(guild.id)
        levels = {int(user_id): int(level) for user_id, level in await MemberRecord.filter(
            guild_id=guild.id, user_id__in=[user_id for _, user_id in rows]
        ).values_list("user_id", "level")}
        pending = deque(rows)

        async def work() -> None:
            while pending and not self._stopping:
                row_id, user_id = pending.popleft()
                outcome = await self._member(guild, config, user_id, levels.get(user_id, 0))
                await ImportRewardMember.filter(id=row_id).update(outcome=outcome)

        async with asyncio.TaskGroup() as group:
            for _ in range(CONCURRENCY):
                group.create_task(work())

    async def _member(self, guild: Any, config: GuildSettings, user_id: int,
                      level: int) -> str:
        keep, drop = reward_roles(config.role_rewards or {}, level,
                                  stack=config.reward_mode == STACK)
        member = guild.get_member(user_id)
        if member is None and guild.chunked:
            return ABSENT
        held = {role.id for role in member.roles} if member is not None else None
        give = sorted(keep - held if held is not None else keep)
        take = sorted(drop & held if held is not None else drop)
        if not give and not take:
            return UNCHANGED
        http = self.ctx.bot.http
        try:
            for role_id in give:
                await http.add_role(guild.id, user_id, role_id,
                                    reason=f"Level {level} reward (MEE6 import)")
            for role_id in take:
                await http.remove_role(guild.id, user_id, role_id,
                                       reason="Replaced by a higher reward (MEE6 import)")
        except nextcord.HTTPException as exc:
            if exc.code == UNKNOWN_MEMBER:
                return ABSENT
            log.warning("compliance.import_reward_failed", guild_id=guild.id,
                        status=exc.status, code=exc.code)
            return FAILED
        return GIVEN

    async def _finish(self, job: ImportRewardJob) -> None:
        counts: Counter[str] = Counter({str(outcome): int(n) for outcome, n in
                                        await ImportRewardMember.filter(job_id=job.id)
                                        .annotate(n=Count("id")).group_by("outcome")
                                        .values_list("outcome", "n")})
        # The job goes first: if the database fails here the job is retried whole, and the
        # audit entry and the summary must not be given twice.
        async with in_transaction("default"):
            await ImportRewardMember.filter(job_id=job.id).delete()
            await ImportRewardJob.filter(id=job.id).delete()
        await self.ctx.services.audit.record(
            "levels.import_rewards_applied", guild_id=job.guild_id, actor_id=job.actor_id,
            details={key: counts[key] for key in (GIVEN, UNCHANGED, ABSENT, FAILED)})
        await self._tell(job, summary(counts))

    async def _tell(self, job: ImportRewardJob, text: str) -> None:
        entry = self._notify.pop(int(job.id), None)
        if entry is not None and time.monotonic() - entry[0] < FOLLOWUP_SECONDS:
            with contextlib.suppress(nextcord.HTTPException):
                await entry[1](text)
                return
        if job.actor_id is None:
            return
        guild = self.ctx.bot.get_guild(job.guild_id)
        where = f" in **{nextcord.utils.escape_markdown(guild.name)}**" if guild else ""
        try:
            user = (self.ctx.bot.get_user(job.actor_id)
                    or await self.ctx.bot.fetch_user(job.actor_id))
            await user.send(text.replace("MEE6 import**", f"MEE6 import**{where}", 1),
                            allowed_mentions=nextcord.AllowedMentions.none())
        except nextcord.HTTPException as exc:  # DMs closed (50007): the audit log has it
            log.warning("compliance.import_rewards_summary_failed", status=exc.status,
                        code=exc.code)


def summary(counts: Counter[str]) -> str:
    text = (f"**Role rewards after the MEE6 import**: **{counts[GIVEN]:,}** members given "
            f"their rewards · **{counts[UNCHANGED]:,}** already had them · "
            f"**{counts[ABSENT]:,}** no longer in the server · **{counts[FAILED]:,}** failed.")
    if counts[FAILED]:
        text += ("\nFor the failed ones, check that I have Manage Roles and that my role is "
                 "above the reward roles, then import the file again: it changes no XP and "
                 "gives only the missing roles.")
    return text
