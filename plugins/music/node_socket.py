"""wavelink's websocket reader, kept alive through payloads it cannot parse.

wavelink 3.5 reads the node's websocket in one task (`Websocket.keep_alive`) that parses each
message inline: one payload it can't parse (NodeLink 3.7 sends some: text that isn't JSON,
events whose track lacks `sourceName`) raises out of that task and nothing reads the socket any
more, while it stays open. Events pile up unread, the node still counts the socket as its
session's, and a reconnect beside it is given a brand-new session (no resume) and leaks the
old socket. Here the reader logs such a payload and goes on reading the same socket: the
session, its players and every later event are kept.

A failed session update after `ready` (`PATCH /v4/sessions/{id}` to switch resuming on; NodeLink
has answered 500) also raised out of the reader before `node_ready` was dispatched; here it is
logged, the node is ready at once, and switching resuming on is retried in the background.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from wavelink.websocket import Websocket

from plugins.music.node_errors import describe

log = structlog.get_logger("plugins.music.node_socket")


class NodeWebsocket(Websocket):
    """wavelink's `Websocket` with a reader that survives an unreadable payload."""

    # Seconds before each retry of switching resuming on after the node refused it.
    resume_retry_delays: tuple[float, ...] = (1.0, 5.0, 30.0)

    def __init__(self, *, node: Any) -> None:
        super().__init__(node=node)
        # Payloads skipped on this connection (for the log and tests).
        self.unreadable = 0
        self._resume_retry: asyncio.Task[None] | None = None

    async def keep_alive(self) -> None:
        while True:
            try:
                await super().keep_alive()
                return  # the socket closed; wavelink has scheduled its reconnect
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                socket = self.socket
                if socket is None or socket.closed:
                    # A close frame ends here too (wavelink parses its close code as JSON):
                    # the plugin's watchdog reconnects.
                    raise
                # The message is consumed; the next receive gets the one after it.
                self.unreadable += 1
                if _is_power_of_ten(self.unreadable):  # 1st, 10th, 100th...: no log flood
                    log.warning("lavalink.unreadable_payload", node=self.node.identifier,
                                error=describe(exc), skipped=self.unreadable)

    async def _update_node(self) -> None:
        try:
            await super()._update_node()
        except Exception as exc:
            log.warning("lavalink.session_update_failed", node=self.node.identifier,
                        error=describe(exc),
                        hint="resuming is off for this session until a retry succeeds: if "
                             "the connection drops meanwhile, tracks are replayed where they "
                             "were instead of resumed")
            if self._resume_retry is None or self._resume_retry.done():
                self._resume_retry = asyncio.create_task(
                    self._retry_resuming(self.node.session_id), name="lavalink-resume-retry")

    async def _retry_resuming(self, session_id: str | None) -> None:
        timeout = self.node._resume_timeout
        if timeout <= 0:
            return
        for delay in self.resume_retry_delays:
            await asyncio.sleep(delay)
            if self.node.session_id != session_id:
                return  # a new session: its own ready switched resuming on
            try:
                await self.node._update_session(data={"resuming": True, "timeout": timeout})
            except Exception as exc:
                log.warning("lavalink.session_update_failed", node=self.node.identifier,
                            error=describe(exc), attempt_after_s=delay)
                continue
            log.info("lavalink.resuming_enabled", node=self.node.identifier)
            return

    async def cleanup(self) -> None:
        if self._resume_retry is not None:
            self._resume_retry.cancel()
        await super().cleanup()


def _is_power_of_ten(n: int) -> bool:
    while n and n % 10 == 0:
        n //= 10
    return n == 1
