"""Streaming relay figures against the fake OpenAI server.

Streams N tokens at T tokens/s twice in the same process: once read with the bare openai SDK
(the baseline), once through the llm plugin's ChatClient + StreamRelay into a recording sink
that can simulate Discord's edit latency. Prints the delay from the first upstream token to
the first Discord update, the number of edits and messages, and the relay's overhead.

    python bench/llm_stream.py            # quick: 300 tokens at 50 tokens/s (~12 s)
    python bench/llm_stream.py --full     # the issue's figure: 1,500 tokens at 50 tokens/s
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from growmies_testkit.fake_openai import DEFAULT_MODEL, FakeOpenAI
from plugins.llm.client import ChatClient
from plugins.llm.relay import StreamRelay
from plugins.llm.safety import neutralise_mentions

PROMPT = [{"role": "user", "content": "Tell me a long story."}]


class RecordingSink:
    """Stands in for Discord: every call waits `latency` seconds, like an HTTP round trip."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.messages: list[str] = []
        self.edit_times: list[float] = []

    async def send(self, content: str) -> int:
        await asyncio.sleep(self.latency)
        self.messages.append(content)
        return len(self.messages) - 1

    async def edit(self, handle: int, content: str) -> None:
        await asyncio.sleep(self.latency)
        self.messages[handle] = content
        self.edit_times.append(time.monotonic())

    async def delete(self, handle: int) -> None:
        await asyncio.sleep(self.latency)


async def bare(srv: FakeOpenAI, tokens: int, tps: float) -> float:
    srv.reply_tokens(tokens, tps)
    client = srv.client(timeout=60)
    started = time.monotonic()
    stream = await client.chat.completions.create(model=DEFAULT_MODEL, messages=PROMPT,
                                                  stream=True)  # type: ignore[arg-type]
    async for _chunk in stream:
        pass
    elapsed = time.monotonic() - started
    await client.close()
    return elapsed


async def relayed(srv: FakeOpenAI, tokens: int, tps: float, latency: float) -> dict[str, Any]:
    srv.reply_tokens(tokens, tps)
    client = ChatClient(base_url=srv.base_url, api_key=srv.api_key, model=DEFAULT_MODEL,
                        timeout=60)
    sink = RecordingSink(latency)
    relay = StreamRelay(sink, render=neutralise_mentions)
    started = time.monotonic()
    await relay.start()
    await client.stream(PROMPT, max_tokens=tokens * 2, on_delta=relay.feed)
    await relay.finish()
    elapsed = time.monotonic() - started
    await client.close()
    rec = srv.chat_records[-1]
    first_token = rec.first_token_at
    assert first_token is not None and relay.first_update_at is not None
    return {
        "elapsed": elapsed, "edits": relay.edits, "messages": len(sink.messages),
        "first_delay_ms": (relay.first_update_at - first_token) * 1000,
        "longest_message": max(len(m) for m in sink.messages),
        "upstream_s": (rec.chunk_times[-1] - rec.chunk_times[0]),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="1,500 tokens (about 60 s total)")
    parser.add_argument("--tokens", type=int, default=None)
    parser.add_argument("--tps", type=float, default=50.0, help="tokens per second")
    parser.add_argument("--latency", type=float, default=0.05,
                        help="simulated Discord round trip per send/edit, seconds")
    args = parser.parse_args()
    tokens = args.tokens or (1500 if args.full else 300)
    async with FakeOpenAI() as srv:
        # Warm-up: imports, connection pools and the fake's first request cost the same for
        # both paths but would land only on whichever ran first.
        await bare(srv, 5, 1000)
        await relayed(srv, 5, 1000, 0)
        baseline = await bare(srv, tokens, args.tps)
        result = await relayed(srv, tokens, args.tps, args.latency)
    overhead = result["elapsed"] - baseline
    print(f"tokens={tokens} rate={args.tps:g}/s "
          f"simulated_discord_latency={args.latency * 1000:.0f} ms")
    print(f"bare SDK read:            {baseline:8.3f} s")
    print(f"relay (SDK + Discord):    {result['elapsed']:8.3f} s")
    print(f"relay overhead:           {overhead * 1000:8.1f} ms "
          f"(ratio {result['elapsed'] / baseline:.3f}x)")
    print(f"first token -> 1st edit:  {result['first_delay_ms']:8.1f} ms")
    print(f"edits:                    {result['edits']:8d} over {result['upstream_s']:.1f} s "
          f"of streaming ({result['edits'] / max(result['upstream_s'], 1e-9):.2f}/s)")
    print(f"messages:                 {result['messages']:8d} "
          f"(longest {result['longest_message']} chars, limit 2000)")


if __name__ == "__main__":
    asyncio.run(main())
