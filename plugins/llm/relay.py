"""Relaying a streamed reply to Discord: edits at most about once per second per message
(Discord rate-limits message edits to about 5 per 5 s per channel), split over several
messages past 2,000 characters, and a visible note when the stream broke off."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any, Protocol

import structlog

from plugins.llm.splitting import DISCORD_MESSAGE_LIMIT, split_message

log = structlog.get_logger("plugins.llm.relay")

# One edit per second per message stays well inside Discord's per-channel edit limit.
EDIT_INTERVAL = 1.0
PLACEHOLDER = "⏳ Thinking…"
# Shown after the text while it is still streaming; the final edit drops it, so members (and
# tests) can tell a finished answer from one still arriving.
STREAMING_CURSOR = " ▌"
CUT_OFF_NOTE = "\n\n⚠️ *The answer was cut off because the connection to the AI service broke.*"


class MessageSink(Protocol):
    """Where a reply goes: a thread, a channel, or an interaction's messages."""

    async def send(self, content: str) -> Any:
        """Post a new message; return a handle for `edit`/`delete`."""
        ...

    async def edit(self, handle: Any, content: str) -> None: ...

    async def delete(self, handle: Any) -> None: ...


class StreamRelay:
    """Shows a growing text in Discord messages without exceeding the edit rate.

    `feed()` never waits on Discord: a background task flushes the newest text immediately
    after the first token and then at most once per `interval`, so a slow Discord edit never
    stalls reading the upstream stream.
    """

    def __init__(
        self,
        sink: MessageSink,
        *,
        render: Callable[[str], str] = lambda text: text,
        interval: float = EDIT_INTERVAL,
        limit: int = DISCORD_MESSAGE_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sink = sink
        self.render = render
        self.interval = interval
        self.limit = limit
        self.clock = clock
        self.text = ""
        self.handles: list[Any] = []
        self.shown: list[str] = []
        self.edits = 0
        self.sends = 0
        self.first_update_at: float | None = None
        self._dirty = asyncio.Event()
        self._last_flush = float("-inf")
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def start(self, placeholder: str = PLACEHOLDER) -> None:
        """Post the placeholder the reply will grow into, and start the flusher."""
        self.handles.append(await self.sink.send(placeholder))
        self.shown.append(placeholder)
        self.sends += 1
        self._task = asyncio.create_task(self._flusher(), name="llm-stream-relay")

    def feed(self, delta: str) -> None:
        if delta:
            self.text += delta
            self._dirty.set()

    async def _flusher(self) -> None:
        while True:
            await self._dirty.wait()
            wait = self._last_flush + self.interval - self.clock()
            if wait > 0:
                await asyncio.sleep(wait)
            self._dirty.clear()
            try:
                await self._flush(self.text + STREAMING_CURSOR)
            except Exception as exc:
                # A failed intermediate edit (rate limit, network) must not stop the stream;
                # the next flush or the final one shows the text.
                log.warning("llm.relay_edit_failed", error=type(exc).__name__)
                self._last_flush = self.clock()

    async def _stop_flusher(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _flush(self, text: str) -> None:
        async with self._lock:
            pieces = split_message(self.render(text) or PLACEHOLDER, self.limit)
            for index, piece in enumerate(pieces):
                if index < len(self.handles):
                    if self.shown[index] != piece:
                        await self.sink.edit(self.handles[index], piece)
                        self.shown[index] = piece
                        self.edits += 1
                        self._mark_update()
                else:
                    self.handles.append(await self.sink.send(piece))
                    self.shown.append(piece)
                    self.sends += 1
                    self._mark_update()
            # A shorter final text (a refusal replacing a long reply) leaves no stale messages.
            while len(self.handles) > len(pieces):
                handle = self.handles.pop()
                self.shown.pop()
                await self.sink.delete(handle)
            self._last_flush = self.clock()

    def _mark_update(self) -> None:
        if self.first_update_at is None:
            self.first_update_at = self.clock()

    async def finish(self, final_text: str | None = None, *, cut_off: bool = False) -> str:
        """Show the final text (defaults to what streamed), noting a broken stream."""
        await self._stop_flusher()
        text = self.text if final_text is None else final_text
        if cut_off:
            text += CUT_OFF_NOTE
        await self._flush(text)
        return text

    async def fail(self, message: str) -> None:
        """Replace whatever was shown with an error message."""
        await self._stop_flusher()
        await self._flush(message)

    async def abort(self) -> None:
        await self._stop_flusher()
