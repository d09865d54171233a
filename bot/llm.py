"""Chat completions adapter (OpenAI-compatible) for postmortem wording; the port lives in bot/postmortems/wording.py."""

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog

from bot.config import Settings
from bot.postmortems.wording import ModelUnavailable

log = structlog.get_logger(__name__)

MAX_BODY = 1024 * 1024  # a chat answer asked to be five short sections is far smaller; a bound against a runaway one
PATH = "/chat/completions"


def endpoint(api_url: str) -> str:
    """`LLM_API_URL` is the API base (`.../v1`) or, when it already ends with it, the endpoint itself."""
    url = api_url.rstrip("/")
    return url if url.endswith(PATH) else url + PATH


class ChatCompletions:
    """`WordingPort` over `POST /chat/completions` (OpenAI and servers copying its API); failures: ModelUnavailable."""

    def __init__(
        self, client: httpx.AsyncClient, api_url: str, model: str, api_key: str | None = None, *, timeout: float = 60.0
    ) -> None:
        self.client = client
        self.url = endpoint(api_url)
        self.model = model
        self._key = api_key or None
        self.timeout = timeout
        parts = urlsplit(self.url)
        # The host alone: a URL's userinfo (`https://key@host/`) must never reach a log line or a draft's note.
        self.host = (parts.hostname or "the model") + (f":{parts.port}" if parts.port else "")

    def __repr__(self) -> str:  # the key stays out of reprs, and so out of tracebacks and logs
        return f"ChatCompletions(url={self.url!r}, model={self.model!r}, timeout={self.timeout})"

    async def complete(self, messages: list[dict[str, str]]) -> str:
        started = time.monotonic()
        try:
            try:
                # Overall, not per read: a server trickling bytes must not hold a draft for longer.
                async with asyncio.timeout(self.timeout):
                    status, body = await self._post(messages)
            except TimeoutError:
                raise ModelUnavailable(self._timed_out) from None
            content = self._content(status, body)
        except ModelUnavailable as exc:
            log.warning("llm_unavailable", host=self.host, model=self.model, reason=exc.reason)
            raise
        log.info("llm_answered", host=self.host, model=self.model, seconds=round(time.monotonic() - started, 3))
        return content

    async def _post(self, messages: list[dict[str, str]]) -> tuple[int, bytes]:
        request = {
            "model": self.model,
            "messages": messages,
            # The same facts should give the same wording as far as the model allows.
            "temperature": 0,
            "response_format": {"type": "json_object"},
        }
        headers = {"Accept": "application/json"}
        if self._key is not None:
            headers["Authorization"] = f"Bearer {self._key}"
        try:
            async with self.client.stream(
                "POST", self.url, json=request, headers=headers, timeout=self.timeout
            ) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > MAX_BODY:
                        raise ModelUnavailable(f"the answer from {self.host} was over {MAX_BODY // 1024} KiB")
                return response.status_code, bytes(body)
        except httpx.TimeoutException:
            raise ModelUnavailable(self._timed_out) from None
        except httpx.ConnectError:
            raise ModelUnavailable(f"cannot connect to {self.host}") from None
        except httpx.HTTPError as exc:
            # The class name only: httpx messages can quote the URL, and nothing here should echo input.
            raise ModelUnavailable(f"request to {self.host} failed ({type(exc).__name__})") from None

    @property
    def _timed_out(self) -> str:
        return f"no answer from {self.host} within {self.timeout:g} s"

    def _content(self, status: int, raw: bytes) -> str:
        if status in (401, 403):
            # The message is left out: some APIs quote part of the key they refused.
            raise ModelUnavailable(f"{self.host} refused LLM_API_KEY (HTTP {status}); check the key")
        if status == 429:
            raise ModelUnavailable(f"rate limited by {self.host} (HTTP 429){self._error_message(raw)}")
        if not 200 <= status < 300:
            raise ModelUnavailable(f"HTTP {status} from {self.host}{self._error_message(raw)}")
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            raise ModelUnavailable(f"the answer from {self.host} was not JSON") from None
        choices = body.get("choices") if isinstance(body, dict) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise ModelUnavailable(f"the answer from {self.host} had no choices")
        choice: dict[str, Any] = choices[0]
        message = choice.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        finish = choice.get("finish_reason")
        if finish == "length":
            # JSON cut at the token limit does not parse; saying why helps more than "not the JSON asked for".
            raise ModelUnavailable(f"the answer from {self.host} was cut at the model's token limit")
        if not isinstance(content, str) or not content.strip():
            refusal = message.get("refusal") if isinstance(message, dict) else None
            why = "the model refused" if isinstance(refusal, str) and refusal else f"finish_reason {finish!s:.40}"
            raise ModelUnavailable(f"the answer from {self.host} had no content ({why})")
        return content

    def _error_message(self, raw: bytes) -> str:
        """`: <message>` from the usual error body `{"error": {"message": ...}}`, short and without the key."""
        try:
            error = json.loads(raw).get("error")
        except (ValueError, AttributeError, RecursionError):
            return ""
        message = error.get("message") if isinstance(error, dict) else None
        if not isinstance(message, str) or not message.strip():
            return ""
        if self._key is not None:
            message = message.replace(self._key, "***")
        return f": {' '.join(message.split())[:120]}"


def from_settings(settings: Settings, client: httpx.AsyncClient, *, timeout: float = 60.0) -> ChatCompletions | None:
    """The model named by LLM_API_URL and LLM_MODEL, or None when either is unset (drafts are then Warroom's own)."""
    if not settings.llm_api_url or not settings.llm_model:
        return None
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key is not None else None
    return ChatCompletions(client, settings.llm_api_url, settings.llm_model, key, timeout=timeout)
