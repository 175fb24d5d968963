"""A clean shutdown (SIGTERM, `growmies run` ending) finishes every step even when one plugin's
teardown breaks: the plugins after it still release what they hold (a final XP flush, open
sockets), and the shutdown itself returns, so the database is closed behind it."""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

from bot.contract import MIXED, Plugin
from tests.probe_plugin import registry_with


class Recorder(Plugin):
    version = "1.0.0"
    description = "Records its teardown"
    rating = MIXED

    def __init__(self, name: str, torn_down: list[str]) -> None:
        self.name = name  # type: ignore[misc]
        self.torn_down = torn_down

    async def teardown(self) -> None:
        self.torn_down.append(self.name)


class CancelledTeardown(Recorder):
    """A teardown that awaits a helper task someone else has cancelled: the CancelledError
    reaches the teardown, as it does from libraries that cancel and then await their own
    tasks."""

    async def teardown(self) -> None:
        await super().teardown()
        helper = asyncio.create_task(asyncio.sleep(3600))
        await asyncio.sleep(0)
        helper.cancel()
        await helper


class FailingTeardown(Recorder):
    async def teardown(self) -> None:
        await super().teardown()
        raise RuntimeError("could not release its client")


async def test_a_teardown_cancelled_from_inside_does_not_stop_the_shutdown(start_bot) -> None:
    torn_down: list[str] = []
    registry = registry_with(CancelledTeardown("first", torn_down),
                             FailingTeardown("second", torn_down),
                             Recorder("third", torn_down), allow=[])
    running = await start_bot(registry=registry)

    with capture_logs() as logs:
        await running.stop()  # raises nothing

    assert torn_down == ["first", "second", "third"]
    failed = [(e["plugin"], e["error"]) for e in logs if e["event"] == "plugin.teardown_failed"]
    assert failed == [("first", "CancelledError"), ("second", "RuntimeError")]
    assert running.bot.is_closed()


async def test_a_shutdown_that_is_itself_cancelled_still_ends_with_the_cancellation(
        start_bot) -> None:
    """Cancelling the shutdown (a second Ctrl-C) is obeyed, not mistaken for a failed step."""
    entered = asyncio.Event()
    release = asyncio.Event()

    class Slow(Recorder):
        async def teardown(self) -> None:
            entered.set()
            await release.wait()

    torn_down: list[str] = []
    running = await start_bot(registry=registry_with(Slow("slow", torn_down),
                                                     Recorder("after", torn_down), allow=[]))
    closing = asyncio.create_task(running.bot.close())
    await entered.wait()
    closing.cancel()
    await asyncio.wait({closing})
    assert closing.cancelled()
    assert torn_down == []
    await running.stop()
