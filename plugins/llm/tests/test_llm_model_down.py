"""The model endpoint refusing connections is told as the core's model outage: which service,
that nothing was kept, and when to try again."""

from __future__ import annotations

import socket

import pytest

from bot.api import ModelUnavailable
from plugins.llm.client import ChatClient, UpstreamError


def _closed_port() -> int:
    # Bound then closed: nothing listens there, so a connection is refused at once.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_refused_model_endpoint_says_so_plainly() -> None:
    client = ChatClient(base_url=f"http://127.0.0.1:{_closed_port()}/v1", api_key=None,
                        model="m", timeout=2, max_retries=0)
    try:
        with pytest.raises(UpstreamError) as raised:
            await client.complete([{"role": "user", "content": "hi"}], max_tokens=5)
    finally:
        await client.close()
    assert raised.value.kind == "connection"
    assert raised.value.message == ModelUnavailable().message
    assert raised.value.message == ("The assistant's model endpoint is unreachable right now; "
                                    "nothing was changed. Try again in a minute.")
