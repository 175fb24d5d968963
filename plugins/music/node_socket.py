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
logged and the node is ready without resuming.
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

    def __init__(self, *, node: Any) -> None:
        super().__init__(node=node)
        # Payloads skipped on this connection (for the log and tests).
        self.unreadable = 0

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
                        hint="resuming is off for this session: if the connection drops, "
                             "tracks are replayed where they were instead of resumed")


def _is_power_of_ten(n: int) -> bool:
    while n and n % 10 == 0:
        n //= 10
    return n == 1
