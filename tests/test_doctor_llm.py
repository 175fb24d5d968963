"""`growmies doctor` on the assistant's endpoint: whether LLM_MODEL and each model
LLM_VISION_MODELS names exist there (`GET /models/{name}`), never printing the key."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import aiohttp
from pydantic import SecretStr

from bot.doctor import check_llm
from growmies_testkit.fake_openai import FakeOpenAI
from tests.test_cli import growmies

KEY = "sk-doctor-s3cret-key"


def llm_settings(server: FakeOpenAI, model: str, vision: str = "") -> SimpleNamespace:
    return SimpleNamespace(base_url=server.base_url, api_key=SecretStr(KEY), model=model,
                           vision_models=vision)


async def rows(settings: SimpleNamespace) -> list[tuple[str, str, str]]:
    async with aiohttp.ClientSession() as session:
        checks = await check_llm(session, settings)
    assert all(not c.required for c in checks)
    return [(c.part, c.status, c.detail) for c in checks]


async def test_the_model_and_the_vision_models_are_looked_up_by_name():
    async with FakeOpenAI(api_key=KEY, models=("chat-1", "eyes-1")) as server:
        found = await rows(llm_settings(server, "chat-1", vision="eyes-1, *, eyes-typo"))
        asked = [r.path for r in server.requests]
    assert found == [
        ("llm endpoint", "ok", "reachable, 2 models listed"),
        ("llm model", "ok", "'chat-1' exists"),
        ("llm vision eyes-1", "ok", "exists; images go to it"),
        ("llm vision eyes-typo", "warn", "named in LLM_VISION_MODELS but does not exist at "
                                         "the endpoint. Fix: correct LLM_VISION_MODELS "
                                         "(chat-1, eyes-1)"),
    ]
    # '*' (every model) names none, so it is not looked up.
    assert asked == ["/v1/models", "/v1/models/chat-1", "/v1/models/eyes-1",
                     "/v1/models/eyes-typo"]


async def test_a_model_the_endpoint_does_not_have_is_named_with_the_fix():
    async with FakeOpenAI(api_key=KEY, models=("chat-1",)) as server:
        found = await rows(llm_settings(server, "chat-l"))
    assert found[1] == ("llm model", "fail", "'chat-l' does not exist at the endpoint. Fix: "
                                             "set LLM_MODEL to one it offers (chat-1)")


async def test_the_doctor_command_shows_the_model_rows_without_the_key(fake_discord, tmp_path):
    async with FakeOpenAI(api_key=KEY, models=("chat-1",)) as server:
        env = {
            "DISCORD_TOKEN": fake_discord.token, "DISCORD_API_BASE": fake_discord.api_base,
            "DATABASE_URL": f"sqlite://{tmp_path}/d.sqlite3",
            "LLM_BASE_URL": server.base_url, "LLM_API_KEY": KEY, "LLM_MODEL": "chat-1",
            "LLM_VISION_MODELS": "gone-vision",
        }
        await asyncio.to_thread(growmies, "migrate", env=env, cwd=tmp_path)
        result = await asyncio.to_thread(growmies, "doctor", env=env, cwd=tmp_path)
    lines = {ln.split("  ")[0]: ln for ln in result.stdout.splitlines()
             if ln.startswith("llm ")}
    assert "OK" in lines["llm model"] and "'chat-1' exists" in lines["llm model"]
    assert "WARN" in lines["llm vision gone-vision"]
    assert KEY not in result.stdout and KEY not in result.stderr
    assert result.returncode == 0, result.stdout
