"""Log lines: one JSON object per line from structlog and the standard library, and one access line per request."""

import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from structlog.testing import capture_logs

from bot.observability import configure_logging
from tests.support.live import live_stack


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_structlog_and_standard_library_lines_are_json_on_the_current_stderr(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", "json")
    structlog.contextvars.bind_contextvars(request_id="r1")
    structlog.get_logger("bot.test").info("thing_happened", count=2, text='a "quoted" <!channel>')
    structlog.get_logger("bot.test").debug("too_detailed")
    logging.getLogger("uvicorn.error").warning("library says %s", "hello")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        structlog.get_logger("bot.test").exception("it_failed")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(line["event"], line["level"], line["logger"]) for line in lines] == [
        ("thing_happened", "info", "bot.test"),
        ("library says hello", "warning", "uvicorn.error"),
        ("it_failed", "error", "bot.test"),
    ]
    assert lines[0]["count"] == 2 and lines[0]["text"] == 'a "quoted" <!channel>'
    assert all(line["request_id"] == "r1" and line["timestamp"].endswith("Z") for line in lines)
    assert "RuntimeError: boom" in lines[2]["exception"]


def test_an_unknown_log_level_is_refused_with_the_choices(restore_logging: None) -> None:
    with pytest.raises(ValueError, match=r"LOG_LEVEL 'chatty'.*DEBUG, INFO"):
        configure_logging("chatty", "json")


async def test_every_request_gets_one_access_line_with_what_its_handler_bound(sqlite_url: str) -> None:
    async with live_stack(sqlite_url) as stack:
        with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
            stored = await stack.webhook("generic", {"title": "Disk", "dedup_key": "d"})
            refused = await stack.webhook("generic", {"title": "Disk"}, headers={"authorization": "Bearer wrong"})
            health = await stack.http.get("/healthz")
    access = [entry for entry in logs if entry["event"] == "request"]
    assert [(entry["method"], entry["path"], entry["status"]) for entry in access] == [
        ("POST", "/webhooks/generic", 202),
        ("POST", "/webhooks/generic", 401),
        ("GET", "/healthz", 200),
    ]
    assert [entry["request_id"] for entry in access] == [
        response.headers["x-request-id"] for response in (stored, refused, health)
    ]
    assert access[0]["delivery"] == stored.json()["delivery"] and "delivery" not in access[1]
    assert all(isinstance(entry["duration_ms"], float) and entry["client"] == "127.0.0.1" for entry in access)


def test_a_broken_stderr_loses_the_line_not_the_caller(restore_logging: None, monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        def write(self, _text: str) -> int:
            raise BrokenPipeError("the log collector went away")

        def flush(self) -> None:
            raise BrokenPipeError

    configure_logging("INFO", "json")
    monkeypatch.setattr("sys.stderr", Broken())
    structlog.get_logger("bot.test").info("still_fine")  # raises nothing
