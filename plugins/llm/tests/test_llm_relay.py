"""The streaming relay against real paced streams: edit rate, splitting, broken streams."""

from __future__ import annotations

import time

from plugins.llm.relay import StreamRelay
from plugins.llm.tests.conftest import Harness, ListSink


class TimedSink(ListSink):
    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    async def edit(self, handle: int, content: str) -> None:
        self.times.append(time.monotonic())
        await super().edit(handle, content)


async def relay_stream(h: Harness, sink: ListSink) -> StreamRelay:
    assert h.service.client is not None
    relay = StreamRelay(sink)
    await relay.start()
    completion = await h.service.client.stream([{"role": "user", "content": "go"}],
                                               max_tokens=4000, on_delta=relay.feed)
    await relay.finish(cut_off=completion.incomplete)
    return relay


async def test_edits_at_most_about_once_per_second(harness: Harness) -> None:
    harness.openai.reply_tokens(150, tokens_per_second=100)  # 1.5 s of tokens
    sink = TimedSink()
    relay = await relay_stream(harness, sink)
    assert sink.visible == [" ".join(f"w{i}" for i in range(1, 151))]
    gaps = [b - a for a, b in zip(sink.times, sink.times[1:], strict=False)]
    # The final edit is not throttled (the answer is complete); every other gap is >= 1 s.
    assert all(gap >= 0.95 for gap in gaps[:-1]), gaps
    assert 2 <= relay.edits <= 4


async def test_long_reply_is_split_over_messages_under_2000(harness: Harness) -> None:
    text = harness.openai.reply_tokens(1500, tokens_per_second=None)
    sink = ListSink()
    await relay_stream(harness, sink)
    assert len(text) > 7000 and len(sink.visible) == 4
    assert all(len(m) <= 2000 for m in sink.visible)
    assert " ".join(sink.visible).split() == text.split()


async def test_broken_stream_says_it_was_cut_off(harness: Harness) -> None:
    harness.openai.broken_stream(after_tokens=3, text="alpha beta gamma delta epsilon")
    sink = ListSink()
    await relay_stream(harness, sink)
    assert sink.visible[0].startswith("alpha beta gamma")
    assert "cut off" in sink.visible[0]


class FlakySink(ListSink):
    """The first edit fails, as a Discord 429 or network blip would."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    async def edit(self, handle: int, content: str) -> None:
        if not self.failed:
            self.failed = True
            raise ConnectionError("discord hiccup")
        await super().edit(handle, content)


async def test_a_failed_edit_mid_stream_does_not_lose_the_answer(harness: Harness) -> None:
    harness.openai.reply("steady answer arriving in pieces", tokens_per_second=20)
    sink = FlakySink()
    await relay_stream(harness, sink)
    assert sink.failed and sink.visible == ["steady answer arriving in pieces"]
