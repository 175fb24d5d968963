"""Background jobs keep running after a failing run and stop cleanly."""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

from bot.background import PeriodicTask


async def test_a_failing_run_is_logged_and_the_job_goes_on():
    runs: list[int] = []
    second = asyncio.Event()

    async def job() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise ConnectionError("database hiccup")
        second.set()

    task = PeriodicTask("test-job", 0.001, job, run_first=True)
    with capture_logs() as logs:
        task.start()
        async with asyncio.timeout(5):
            await second.wait()
        await task.stop()
    assert not task.running
    assert len(runs) >= 2
    assert {"event": "background.job_failed", "job": "test-job", "error": "ConnectionError",
            "log_level": "warning"} in logs


async def test_stop_before_the_first_run_runs_nothing():
    ran: list[bool] = []

    async def job() -> None:
        ran.append(True)

    task = PeriodicTask("idle", 3600, job)
    task.start()
    await task.stop()
    assert ran == [] and not task.running
