"""The chat completions adapter against a fake OpenAI-compatible endpoint on a real loopback port."""

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import SecretStr
from structlog.testing import capture_logs

from bot.config import Settings
from bot.llm import ChatCompletions, endpoint, from_settings
from bot.postmortems.wording import ModelUnavailable, as_edits, build_messages, propose
from bot.sandbox import serve_app
from tests.postmortems.test_wording import GOOD, answer, facts_of

KEY = "sk-test-Q9zLmR2vX"
MODEL = "gpt-test-mini"
MESSAGES = [{"role": "system", "content": "Answer with JSON."}, {"role": "user", "content": "{}"}]


def completion(content: str | None, finish_reason: str = "stop", **message: Any) -> dict[str, Any]:
    """A chat completion object as the API returns it (non-streaming)."""
    return {
        "id": "chatcmpl-abc123",
        "object": "chat.completion",
        "created": 1772668800,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None, **message},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": {"prompt_tokens": 812, "completion_tokens": 95, "total_tokens": 907},
    }


@dataclass
class FakeChat:
    """`POST /v1/chat/completions`: bearer auth when a key is expected, the content given, or a canned failure."""

    content: str = GOOD
    key: str | None = KEY
    status: int = 200
    body: bytes | None = None  # answered verbatim instead of a completion
    hold: asyncio.Event | None = None  # when set up, each request waits for it (a slow model)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> Response:
            self.requests.append({"headers": dict(request.headers), "json": await request.json()})
            if self.hold is not None:
                await self.hold.wait()
            if self.key is not None and request.headers.get("authorization") != f"Bearer {self.key}":
                error = {"message": f"Incorrect API key provided: {KEY}.", "type": "invalid_request_error"}
                return JSONResponse({"error": {**error, "code": "invalid_api_key"}}, status_code=401)
            if self.status != 200 or self.body is not None:
                return Response(
                    self.body if self.body is not None else b"{}",
                    status_code=self.status,
                    media_type="application/json",
                )
            return JSONResponse(completion(self.content))

        return app


@pytest.fixture
def fake() -> FakeChat:
    return FakeChat()


@pytest.fixture
async def base(fake: FakeChat) -> AsyncIterator[str]:
    async with serve_app(fake.app()) as url:
        yield url


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


@pytest.fixture
def model(client: httpx.AsyncClient, base: str) -> ChatCompletions:
    return ChatCompletions(client, f"{base}/v1", MODEL, KEY, timeout=2.0)


def host_of(base: str) -> str:
    return base.removeprefix("http://")


async def test_asks_for_json_at_temperature_0_with_the_key_and_returns_the_content(
    model: ChatCompletions, fake: FakeChat
) -> None:
    content = await model.complete(MESSAGES)

    assert content == GOOD
    [request] = fake.requests
    assert request["headers"]["authorization"] == f"Bearer {KEY}"
    assert request["headers"]["content-type"] == "application/json"
    assert request["json"] == {
        "model": MODEL,
        "messages": MESSAGES,
        "temperature": 0,
        "response_format": {"type": "json_object"},
    }


async def test_a_good_answer_becomes_the_drafts_wording_with_citations(model: ChatCompletions, fake: FakeChat) -> None:
    facts = facts_of()

    proposal, note = await propose(model, facts, timeout_s=5)

    assert proposal is not None and proposal.dropped == 0
    assert as_edits(proposal)["why_1"] == "Checkout pods were OOMKilled in a loop (event 15)."
    assert note.startswith("A model proposed the wording of the summary, impact and whys 1 and 2;")
    assert fake.requests[0]["json"]["messages"] == build_messages(facts)


async def test_uncited_claims_from_the_model_are_dropped_and_the_note_says_so(
    model: ChatCompletions, fake: FakeChat
) -> None:
    fake.content = answer(
        summary=[{"text": "Checkout failed for 47 minutes.", "cites": [12, 18]}],
        impact=[{"text": "Revenue loss was $2M.", "cites": []}, {"text": "EU customers churned.", "cites": [777]}],
        whys=[{"number": 1, "text": "An engineer was careless."}],
    )

    proposal, note = await propose(model, facts_of(), timeout_s=5)

    assert proposal is not None
    assert as_edits(proposal) == {"summary": "Checkout failed for 47 minutes (events 12, 18)."}
    assert note.endswith("(3 claims without a valid citation were dropped).")


async def test_a_url_that_already_names_the_endpoint_is_used_as_is_and_no_key_sends_no_authorization(
    client: httpx.AsyncClient, base: str, fake: FakeChat
) -> None:
    fake.key = None
    model = ChatCompletions(client, f"{base}/v1/chat/completions/", MODEL, None, timeout=2.0)

    assert await model.complete(MESSAGES) == GOOD
    assert "authorization" not in fake.requests[0]["headers"]
    assert endpoint("http://llm.internal:8080/v1") == "http://llm.internal:8080/v1/chat/completions"
    assert endpoint("http://llm.internal:8080/v1/") == "http://llm.internal:8080/v1/chat/completions"
    assert endpoint("http://x/openai/chat/completions") == "http://x/openai/chat/completions"


async def failure(model: ChatCompletions) -> str:
    with pytest.raises(ModelUnavailable) as raised:
        await model.complete(MESSAGES)
    return raised.value.reason


async def test_a_server_error_is_reported_with_its_status_and_message(
    model: ChatCompletions, fake: FakeChat, base: str
) -> None:
    fake.status = 500
    fake.body = json.dumps({"error": {"message": "The server had an error\nwhile processing", "type": "server_error"}})
    fake.body = fake.body.encode()

    assert await failure(model) == f"HTTP 500 from {host_of(base)}: The server had an error while processing"

    proposal, note = await propose(model, facts_of(), timeout_s=5)
    assert proposal is None
    assert note == (
        f"The model was not used (HTTP 500 from {host_of(base)}: The server had an error while processing); "
        "this draft is Warroom's own."
    )


async def test_a_refused_key_names_the_setting_and_never_the_key(
    client: httpx.AsyncClient, base: str, fake: FakeChat
) -> None:
    model = ChatCompletions(client, f"{base}/v1", MODEL, "sk-wrong-key", timeout=2.0)
    fake.key = KEY

    with capture_logs() as logs:
        reason = await failure(model)

    assert reason == f"{host_of(base)} refused LLM_API_KEY (HTTP 401); check the key"
    assert "sk-" not in repr(model) and "sk-" not in repr(logs)
    assert logs == [
        {"event": "llm_unavailable", "log_level": "warning", "host": host_of(base), "model": MODEL, "reason": reason}
    ]


async def test_rate_limits_are_reported(model: ChatCompletions, fake: FakeChat, base: str) -> None:
    fake.status = 429
    fake.body = json.dumps({"error": {"message": f"Rate limit reached for {KEY}", "type": "requests"}}).encode()

    # The key is blanked even when an error message quotes it.
    assert await failure(model) == f"rate limited by {host_of(base)} (HTTP 429): Rate limit reached for ***"


async def test_a_slow_model_times_out_within_the_adapters_timeout(
    client: httpx.AsyncClient, base: str, fake: FakeChat
) -> None:
    fake.hold = asyncio.Event()
    model = ChatCompletions(client, f"{base}/v1", MODEL, KEY, timeout=0.3)
    started = asyncio.get_running_loop().time()
    try:
        reason = await failure(model)
    finally:
        fake.hold.set()  # the held request finishes, so the server stops without waiting out its grace period

    assert reason == f"no answer from {host_of(base)} within 0.3 s"
    assert asyncio.get_running_loop().time() - started < 2


async def test_propose_gives_up_at_its_own_timeout_when_the_adapters_is_longer(
    model: ChatCompletions, fake: FakeChat
) -> None:
    fake.hold = asyncio.Event()
    try:
        proposal, note = await propose(model, facts_of(), timeout_s=0.2)
    finally:
        fake.hold.set()

    assert proposal is None
    assert note == "The model was not used (no answer within 0.2 s); this draft is Warroom's own."


async def test_a_refused_connection_is_reported(client: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # free once closed: nothing listens there
    model = ChatCompletions(client, f"http://127.0.0.1:{port}/v1", MODEL, KEY, timeout=2.0)

    assert await failure(model) == f"cannot connect to 127.0.0.1:{port}"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>Bad gateway</html>", "the answer from {host} was not JSON"),
        (b"", "the answer from {host} was not JSON"),
        (b"[]", "the answer from {host} had no choices"),
        (b"{}", "the answer from {host} had no choices"),
        (b'{"choices": []}', "the answer from {host} had no choices"),
        (b'{"choices": ["text"]}', "the answer from {host} had no choices"),
        (
            completion(None, refusal="I can't help with that."),
            "the answer from {host} had no content (the model refused)",
        ),
        (completion("  ", "content_filter"), "the answer from {host} had no content (finish_reason content_filter)"),
        (completion('{"summary": [{"te', "length"), "the answer from {host} was cut at the model's token limit"),
        ({"choices": [{"message": {"content": 42}}]}, "the answer from {host} had no content (finish_reason None)"),
        (b"x" * (1024 * 1024 + 1), "the answer from {host} was over 1024 KiB"),
    ],
)
async def test_answers_of_the_wrong_shape_are_reported(
    model: ChatCompletions, fake: FakeChat, base: str, body: bytes | dict[str, Any], reason: str
) -> None:
    fake.body = body if isinstance(body, bytes) else json.dumps(body).encode()

    assert await failure(model) == reason.format(host=host_of(base))


async def test_content_that_is_not_the_json_asked_for_falls_back(model: ChatCompletions, fake: FakeChat) -> None:
    fake.content = "The root cause was DNS, as always."

    assert await model.complete(MESSAGES) == fake.content  # the adapter passes the content on; the domain judges it
    proposal, note = await propose(model, facts_of(), timeout_s=5)

    assert proposal is None
    assert (
        note == "The model was not used (the model's answer was not the JSON asked for); this draft is Warroom's own."
    )


def test_settings_make_a_model_only_when_url_and_model_are_set(client: httpx.AsyncClient) -> None:
    def settings(**values: Any) -> Settings:
        return Settings(_env_file=None, **values)

    assert from_settings(settings(), client) is None
    assert from_settings(settings(llm_api_url="http://llm.internal/v1"), client) is None
    model = from_settings(
        settings(llm_api_url="http://llm.internal/v1", llm_model="m", llm_api_key=SecretStr(KEY)), client
    )
    assert model is not None
    assert (model.url, model.model, model.host) == ("http://llm.internal/v1/chat/completions", "m", "llm.internal")
    assert KEY not in repr(model)


def test_the_host_in_notes_never_carries_credentials_from_the_url() -> None:
    client = ChatCompletions(httpx.AsyncClient(), "https://sk-secret@llm.example.com:8443/v1", "m")
    assert client.host == "llm.example.com:8443"
