"""Per-request plumbing: a request id for every log line (echoed in `X-Request-Id`), bodies read within a limit."""

import time
import uuid

import structlog
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger(__name__)


class RequestContextMiddleware:
    """A request id for every log line, and one `request` line per request (the access log).

    It replaces uvicorn's access log (`warroom serve` turns that off): the line is structured
    (status and duration as fields) and carries what the handler bound, such as the delivery id,
    where uvicorn's is one formatted string without them. Pure ASGI (not BaseHTTPMiddleware) so
    streaming bodies and the size limit keep working.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming[:64] if incoming.isprintable() and incoming else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status: int | None = None  # stays None when the client went away before any answer

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            status = status or 500  # what the server error middleware answers
            raise
        finally:
            client = scope.get("client")
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                client=client[0] if client else None,
            )


async def read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None once it is known to pass `limit` bytes: from Content-Length, or while streaming
    (a lying or absent length), reading no further so a runaway client cannot fill memory."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
