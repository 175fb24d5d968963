"""The fake OpenAI server, exercised with the real, unmodified ``openai.AsyncOpenAI`` client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import openai
import pytest

from growmies_testkit.fake_openai import DEFAULT_MODEL, FakeOpenAI, split_tokens

MODEL = DEFAULT_MODEL
KEY = "sk-test-secret"
HELLO = [{"role": "user", "content": "hello there"}]


@pytest.fixture
async def srv() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(api_key=KEY, models=(MODEL,)) as server:
        yield server


def make_client(
    srv: FakeOpenAI, *, timeout: float = 5.0, max_retries: int = 0, api_key: str = KEY
) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=srv.base_url, api_key=api_key, timeout=timeout, max_retries=max_retries
    )


def test_split_tokens_round_trips() -> None:
    for text in ("", "one", " two  words ", "a\nb\tc", "trailing   "):
        assert "".join(split_tokens(text)) == text
    assert split_tokens("hi there you") == ["hi", " there", " you"]


async def test_base_url_and_auth_header(srv: FakeOpenAI) -> None:
    assert srv.base_url.startswith("http://127.0.0.1:")
    assert srv.base_url.endswith("/v1")
    async with make_client(srv) as client:
        await client.chat.completions.create(model=MODEL, messages=HELLO)
    rec = srv.requests[0]
    assert (rec.method, rec.path) == ("POST", "/v1/chat/completions")
    assert rec.headers["authorization"] == f"Bearer {KEY}"
    assert rec.json["messages"] == HELLO


async def test_non_streaming_reply_with_usage(srv: FakeOpenAI) -> None:
    srv.reply("Hi! How can I help?")
    messages = [
        {"role": "system", "content": "You are a helpful assistant for a community."},
        {"role": "user", "content": "hello"},
    ]
    async with make_client(srv) as client:
        res = await client.chat.completions.create(model=MODEL, messages=messages)
    assert res.object == "chat.completion"
    assert res.model == MODEL
    assert res.id.startswith("chatcmpl-")
    choice = res.choices[0]
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert choice.message.content == "Hi! How can I help?"
    assert choice.finish_reason == "stop"
    assert res.usage is not None
    assert res.usage.completion_tokens == 5
    assert res.usage.prompt_tokens > 0
    assert res.usage.total_tokens == res.usage.prompt_tokens + res.usage.completion_tokens
    assert srv.chat_requests == [{"model": MODEL, "messages": messages}]
    assert srv.pending == 0


async def test_default_reply_echoes_and_can_be_replaced(srv: FakeOpenAI) -> None:
    async with make_client(srv) as client:
        res = await client.chat.completions.create(model=MODEL, messages=HELLO)
        assert res.choices[0].message.content == "You said: hello there"
        srv.default_reply = lambda body: f"{len(body['messages'])} messages"
        res = await client.chat.completions.create(model=MODEL, messages=HELLO * 3)
        assert res.choices[0].message.content == "3 messages"
    assert srv.chat_records[0].outcome == "default"


async def test_streaming_collects_text_and_usage(srv: FakeOpenAI) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    srv.reply(text)
    async with make_client(srv) as client:
        stream = await client.chat.completions.create(
            model=MODEL, messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    assert "".join(pieces) == text
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"
    assert all(f is None for f in finishes[:-1])
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None
    assert usage_chunk.usage.completion_tokens == len(split_tokens(text))
    assert all(c.usage is None for c in chunks[:-1])
    rec = srv.chat_records[0]
    assert rec.stream and rec.status == 200
    assert len(rec.chunk_times) == len(split_tokens(text))
    assert srv.first_token_sent_at == rec.chunk_times[0]


async def test_streaming_without_include_usage_has_no_usage_chunk(srv: FakeOpenAI) -> None:
    srv.reply("one two three four five", chunk_tokens=2)
    async with make_client(srv) as client:
        stream = await client.chat.completions.create(model=MODEL, messages=HELLO, stream=True)
        chunks = [chunk async for chunk in stream]
    assert all(c.choices for c in chunks)
    contents = [c.choices[0].delta.content for c in chunks[1:-1]]
    assert contents == ["one two", " three four", " five"]


async def test_no_usage(srv: FakeOpenAI) -> None:
    srv.no_usage()
    srv.reply("streamed without usage")
    srv.no_usage()
    async with make_client(srv) as client:
        stream = await client.chat.completions.create(
            model=MODEL, messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
        assert all(c.usage is None for c in chunks)
        assert all(c.choices for c in chunks)
        res = await client.chat.completions.create(model=MODEL, messages=HELLO)
        assert res.usage is None
        res = await client.chat.completions.create(model=MODEL, messages=HELLO)
        assert res.usage is not None


async def test_max_tokens_truncates_with_length(srv: FakeOpenAI) -> None:
    srv.reply("one two three four five six")
    srv.reply("one two three four five six")
    async with make_client(srv) as client:
        res = await client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=3)
        assert res.choices[0].message.content == "one two three"
        assert res.choices[0].finish_reason == "length"
        assert res.usage is not None and res.usage.completion_tokens == 3
        stream = await client.chat.completions.create(
            model=MODEL, messages=HELLO, stream=True, max_completion_tokens=2
        )
        chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "one two"
    assert chunks[-1].choices[0].finish_reason == "length"


async def test_streaming_is_paced(srv: FakeOpenAI) -> None:
    text = srv.reply_tokens(n=20, tokens_per_second=200.0)
    assert len(split_tokens(text)) == 20
    assert len(set(text.split())) == 20
    async with make_client(srv) as client:
        stream = await client.chat.completions.create(model=MODEL, messages=HELLO, stream=True)
        got = "".join([c.choices[0].delta.content or "" async for c in stream])
    assert got == text
    rec = srv.chat_records[0]
    assert len(rec.chunk_times) == 20
    assert rec.first_token_at is not None
    # 20 tokens at 200 tokens/s: the last chunk is due 0.1 s after the response started.
    assert rec.chunk_times[-1] - rec.time >= 0.09
    assert rec.chunk_times == sorted(rec.chunk_times)


async def test_rate_limit_is_retried_after_retry_after(srv: FakeOpenAI) -> None:
    srv.error(429, retry_after=0.2)
    srv.reply("finally")
    async with make_client(srv, max_retries=2) as client:
        raw = await client.chat.completions.with_raw_response.create(model=MODEL, messages=HELLO)
        res = raw.parse()
    assert res.choices[0].message.content == "finally"
    first, second = srv.chat_records
    assert first.status == 429 and second.status == 200
    assert second.time - first.time >= 0.2
    assert second.headers.get("x-stainless-retry-count") == "1"


async def test_rate_limit_error_shape_and_headers(srv: FakeOpenAI) -> None:
    srv.error(429, retry_after=200)  # above the SDK's 120 s cap: not retried at all
    async with make_client(srv, max_retries=2) as client:
        with pytest.raises(openai.RateLimitError) as info:
            await client.chat.completions.create(model=MODEL, messages=HELLO)
    err = info.value
    assert err.status_code == 429
    assert err.code == "rate_limit_exceeded"
    assert err.type == "requests"
    assert err.response.headers["retry-after"] == "200"
    assert "x-should-retry" not in err.response.headers
    assert err.body is not None and set(err.body) == {"message", "type", "param", "code"}
    assert len(srv.chat_requests) == 1


async def test_server_errors_exhaust_retries(srv: FakeOpenAI) -> None:
    for _ in range(3):
        srv.error(500)
    srv.reply("never reached")
    async with make_client(srv, max_retries=2) as client:
        with pytest.raises(openai.InternalServerError) as info:
            await client.chat.completions.create(model=MODEL, messages=HELLO)
    assert info.value.status_code == 500
    assert info.value.type == "server_error"
    assert [r.status for r in srv.chat_records] == [500, 500, 500]
    assert srv.pending == 1


async def test_503_then_success(srv: FakeOpenAI) -> None:
    srv.error(503, retry_after=0.05)
    async with make_client(srv, max_retries=1) as client:
        res = await client.chat.completions.create(model=MODEL, messages=HELLO)
    assert res.choices[0].message.content == "You said: hello there"
    assert [r.status for r in srv.chat_records] == [503, 200]


async def test_context_length_is_not_retried(srv: FakeOpenAI) -> None:
    srv.context_length_error()
    async with make_client(srv, max_retries=2) as client:
        with pytest.raises(openai.BadRequestError) as info:
            await client.chat.completions.create(model=MODEL, messages=HELLO)
    assert info.value.code == "context_length_exceeded"
    assert info.value.param == "messages"
    assert len(srv.chat_requests) == 1


async def test_context_window_enforced_automatically() -> None:
    async with FakeOpenAI(context_window=10) as srv:
        async with make_client(srv, max_retries=2) as client:
            with pytest.raises(openai.BadRequestError) as info:
                await client.chat.completions.create(
                    model=MODEL, messages=[{"role": "user", "content": "x" * 200}]
                )
            assert info.value.code == "context_length_exceeded"
            ok = await client.chat.completions.create(model=MODEL, messages=[HELLO[0]])
            assert ok.choices[0].message.content == "You said: hello there"


async def test_broken_stream_raises_after_first_chunks(srv: FakeOpenAI) -> None:
    srv.broken_stream(after_tokens=5, text="a b c d e f g h i j")
    received: list[str] = []
    async with make_client(srv, max_retries=2) as client:
        stream = await client.chat.completions.create(model=MODEL, messages=HELLO, stream=True)
        with pytest.raises(openai.APIConnectionError):
            async for chunk in stream:
                received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "a b c d e"
    assert len(srv.chat_requests) == 1  # failures mid-stream are never retried
    assert len(srv.chat_records[0].chunk_times) == 5


async def test_broken_non_streaming_body_is_retried(srv: FakeOpenAI) -> None:
    srv.broken_stream()
    async with make_client(srv, max_retries=1) as client:
        res = await client.chat.completions.create(model=MODEL, messages=HELLO)
    assert res.choices[0].message.content == "You said: hello there"
    assert len(srv.chat_requests) == 2


async def test_hang_times_out(srv: FakeOpenAI) -> None:
    srv.hang(30)
    async with make_client(srv, timeout=0.5, max_retries=0) as client:
        task = asyncio.create_task(client.chat.completions.create(model=MODEL, messages=HELLO))
        rec = await srv.wait_for_request(lambda r: r.path == "/v1/chat/completions")
        assert rec.outcome == "hang"
        with pytest.raises(openai.APITimeoutError):
            await task
    assert len(srv.chat_requests) == 1


async def test_hang_is_retried_by_the_sdk(srv: FakeOpenAI) -> None:
    srv.hang(30)
    async with make_client(srv, timeout=0.3, max_retries=1) as client:
        res = await client.chat.completions.create(model=MODEL, messages=HELLO)
    assert res.choices[0].message.content == "You said: hello there"
    assert [r.outcome for r in srv.chat_records] == ["hang", "default"]


async def test_invalid_json_raises_json_decode_error(srv: FakeOpenAI) -> None:
    srv.invalid_json()
    srv.invalid_json()
    async with make_client(srv, max_retries=2) as client:
        with pytest.raises(json.JSONDecodeError):
            await client.chat.completions.create(model=MODEL, messages=HELLO)
        assert not issubclass(json.JSONDecodeError, openai.APIError)
        stream = await client.chat.completions.create(model=MODEL, messages=HELLO, stream=True)
        with pytest.raises(json.JSONDecodeError):
            async for _ in stream:
                pass
    assert len(srv.chat_requests) == 2


async def test_wrong_key_is_authentication_error(srv: FakeOpenAI) -> None:
    async with make_client(srv, api_key="sk-wrong", max_retries=2) as client:
        with pytest.raises(openai.AuthenticationError) as info:
            await client.chat.completions.create(model=MODEL, messages=HELLO)
        assert info.value.code == "invalid_api_key"
        with pytest.raises(openai.AuthenticationError):
            await client.models.list()
    assert len(srv.requests) == 2


async def test_scripted_401(srv: FakeOpenAI) -> None:
    srv.error(401)
    async with make_client(srv, max_retries=2) as client:
        with pytest.raises(openai.AuthenticationError):
            await client.chat.completions.create(model=MODEL, messages=HELLO)
    assert len(srv.chat_requests) == 1


async def test_unknown_model_is_not_found(srv: FakeOpenAI) -> None:
    srv.reply("kept for later")
    async with make_client(srv, max_retries=2) as client:
        with pytest.raises(openai.NotFoundError) as info:
            await client.chat.completions.create(model="gpt-nope", messages=HELLO)
    assert info.value.code == "model_not_found"
    assert srv.pending == 1  # validation failures do not consume scripted outcomes


async def test_models_list(srv: FakeOpenAI) -> None:
    async with make_client(srv) as client:
        page = await client.models.list()
        ids = [m.id async for m in page]
        model = await client.models.retrieve(MODEL)
    assert ids == [MODEL]
    assert model.object == "model"


async def test_any_model_when_models_is_empty() -> None:
    async with FakeOpenAI(models=()) as srv, srv.client() as client:
        res = await client.chat.completions.create(model="llama3.2:1b", messages=HELLO)
        assert res.model == "llama3.2:1b"


async def test_transcription(srv: FakeOpenAI) -> None:
    srv.transcription("hey growmies")
    async with make_client(srv) as client:
        res = await client.audio.transcriptions.create(
            file=("clip.wav", b"RIFF0000WAVEfake", "audio/wav"), model="whisper-1"
        )
        assert res.text == "hey growmies"
        text = await client.audio.transcriptions.create(
            file=("clip.wav", b"RIFF", "audio/wav"), model="whisper-1", response_format="text"
        )
        assert text.strip() == srv.default_transcription
    rec = srv.requests[0]
    assert rec.path == "/v1/audio/transcriptions"
    assert rec.json["model"] == "whisper-1"
    assert rec.json["file"] == {"filename": "clip.wav", "content_type": "audio/wav", "size": 16}


async def test_wait_for_request_since_and_timeout(srv: FakeOpenAI) -> None:
    async with make_client(srv) as client:
        await client.chat.completions.create(model=MODEL, messages=HELLO)
        since = len(srv.requests)
        waiter = asyncio.create_task(srv.wait_for_request(since=since))
        await client.models.list()
        rec = await waiter
    assert rec.path == "/v1/models"
    with pytest.raises(TimeoutError):
        await srv.wait_for_request(since=len(srv.requests), timeout=0.05)


async def test_client_disconnect_mid_stream_is_recorded(srv: FakeOpenAI) -> None:
    srv.reply_tokens(n=200, tokens_per_second=400.0)
    async with make_client(srv) as client:
        stream = await client.chat.completions.create(model=MODEL, messages=HELLO, stream=True)
        got = 0
        async for _ in stream:
            got += 1
            if got == 3:
                break
        await stream.close()
    rec = await srv.wait_finished(srv.chat_records[0])
    assert rec.client_disconnected
    assert len(rec.chunk_times) < 200


async def test_close_ends_a_hang_quickly() -> None:
    srv = FakeOpenAI()
    await srv.start()
    srv.hang(60)
    client = make_client(srv, timeout=30)
    task = asyncio.create_task(client.chat.completions.create(model=MODEL, messages=HELLO))
    await srv.wait_for_request()
    async with asyncio.timeout(3):
        await srv.close()
        with pytest.raises(openai.APIError):
            await task
    await client.close()


PNG_1PX = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
           b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9"
           b"\xfe\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82")


def with_image(data: bytes) -> list[dict[str, object]]:
    import base64

    url = "data:image/png;base64," + base64.b64encode(data).decode()
    return [{"role": "user", "content": [{"type": "text", "text": "what is this?"},
                                         {"type": "image_url", "image_url": {"url": url}}]}]


async def test_image_parts_are_recorded_and_text_only_models_refuse_them(
        srv: FakeOpenAI) -> None:
    from growmies_testkit.fake_openai import image_parts

    async with make_client(srv) as client:
        res = await client.chat.completions.create(model=MODEL, messages=with_image(PNG_1PX))
        assert res.choices[0].message.content == "You said: what is this?"
        assert srv.images == [PNG_1PX]
        assert image_parts(srv.chat_requests[0])[0][:2] == (0, 1)
        srv.text_only(MODEL)
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(model=MODEL, messages=with_image(PNG_1PX))
        assert "image_url is only supported by certain models" in str(caught.value)
        # Text still works on a text-only model.
        await client.chat.completions.create(model=MODEL, messages=HELLO)
    assert [r.status for r in srv.chat_records] == [200, 400, 200]


async def test_an_image_part_that_is_not_an_image_is_a_400(srv: FakeOpenAI) -> None:
    async with make_client(srv) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(model=MODEL,
                                                 messages=with_image(b"not an image"))
    assert "unsupported image" in str(caught.value)
