"""`POST /webhooks/<source>`: verify, bound, validate, store once, answer 202; processing comes later.

Status codes follow PROTOCOLS.md: 401 for a bad signature or token (nothing stored), 413 over
1 MiB, 400 for a body that cannot be parsed (with the reason), 503 when storage fails so the
sender retries, 202 for a new delivery and for a duplicate alike. Storage, and how duplicates are
recognised, is `bot.alerts.intake.DeliveryWriter`'s: many requests share one transaction.
"""

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import datetime

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from bot.alerts.intake import DeliveryWriter, StorageUnavailable
from bot.alerts.models import Alert, Source
from bot.alerts.processor import parse_delivery
from bot.alerts.sources import alertmanager, grafana, pagerduty
from bot.columns import utcnow
from bot.config import MAX_WEBHOOK_BYTES, Settings
from bot.errors import InvalidInput
from bot.web.requests import read_limited

log = structlog.get_logger(__name__)

Observer = Callable[[str, str], None]  # (source, outcome) -> None, for metrics


class _TooLarge(Exception):
    pass


async def read_body(request: Request, limit: int = MAX_WEBHOOK_BYTES) -> bytes:
    """The raw body, refusing early on Content-Length and while streaming (a lying length)."""
    body = await read_limited(request, limit)
    if body is None:
        raise _TooLarge
    return body


def _answer(status: int, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"status": message, **extra} if status < 400 else {"error": message, **extra}, status)


def bearer_ok(request: Request, expected: str | None) -> bool:
    if not expected:
        return False
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode())


MAX_GROUP_KEY = 500

# Sources whose bodies can be refused only for their top-level shape: intake validates that and
# reads the group key without parsing every alert (the processor parses them later).
NOTIFICATION_GROUPS: dict[Source, Callable[[object], str]] = {
    Source.ALERTMANAGER: alertmanager.notification_group,
    Source.GRAFANA: grafana.notification_group,
}


def group_of(alerts: list[Alert]) -> str:
    """The group a delivery speaks for (a generic batch may speak for several)."""
    return _bounded_group({a.group_key for a in alerts})


def _bounded_group(keys: set[str]) -> str:
    joined = "|".join(sorted(keys))
    return joined if len(joined) <= MAX_GROUP_KEY else "sha256:" + hashlib.sha256(joined.encode()).hexdigest()


def delivery_group(source: Source, body: bytes, received_at: datetime) -> str:
    """Validate a body as the processor will and return its group; raises `InvalidInput`."""
    notification_group = NOTIFICATION_GROUPS.get(source)
    if notification_group is None:
        return group_of(parse_delivery(source, body, received_at))
    try:
        document = json.loads(body)
    except ValueError as error:  # UnicodeDecodeError included
        raise InvalidInput(f"Body is not valid JSON: {error}") from error  # as parse_delivery says it
    return _bounded_group({notification_group(document)})


def build_router(settings: Settings, writer: DeliveryWriter, *, observe: Observer) -> APIRouter:
    router = APIRouter(prefix="/webhooks", tags=["webhooks"])
    token = settings.alert_webhook_token.get_secret_value() if settings.alert_webhook_token else None
    pd_secrets = [secret.get_secret_value() for secret in settings.pagerduty_webhook_secret]

    async def store(
        source: Source, body: bytes, received_at: datetime, *, key: str | None = None, group_key: str | None = None
    ) -> JSONResponse:
        """Store once (committed before the answer). Without a `key`, dedupe on content in `group_key`."""
        try:
            stored = await writer.submit(source, body, received_at, key=key, group_key=group_key)
        except StorageUnavailable as error:  # the writer has logged the cause, once per batch
            observe(source, "unavailable")
            return _answer(503, str(error))
        if stored.delivery_id is None:
            log.info("delivery_duplicate", source=str(source), delivery_key=stored.delivery_key)
            observe(source, "duplicate")
            return _answer(202, "duplicate")
        structlog.contextvars.bind_contextvars(delivery=stored.delivery_id)
        log.info("delivery_stored", source=str(source))
        observe(source, "accepted")
        return _answer(202, "accepted", delivery=stored.delivery_id)

    async def intake(request: Request, source: Source, verify: Callable[[bytes], bool]) -> JSONResponse:
        received_at = utcnow()
        try:
            body = await read_body(request)
        except _TooLarge:
            observe(source, "too_large")
            return _answer(413, f"body larger than {MAX_WEBHOOK_BYTES} bytes")
        except ClientDisconnect:
            observe(source, "incomplete")
            return _answer(400, "the request body ended early")
        if not verify(body):
            observe(source, "unauthorized")
            return _answer(401, "invalid signature or token")
        # Only now: a sender that never finishes its body, or is not who it claims, holds nothing back.
        with writer.db.receiving_webhook():
            return await accept(source, body, received_at, request.headers.get("x-webhook-id"))

    async def accept(source: Source, body: bytes, received_at: datetime, webhook_id: str | None) -> JSONResponse:
        """Parse an authentic body as far as intake must, and store it."""
        if source is Source.PAGERDUTY:
            try:
                document = json.loads(body)
            except ValueError as error:
                # PagerDuty drops a delivery on 4xx and disables the subscription after 3: say so loudly.
                log.error("pagerduty_body_unparseable", error=str(error))
                observe(source, "invalid")
                return _answer(400, f"body is not valid JSON: {error}")
            return await store(source, body, received_at, key=pagerduty.delivery_key(webhook_id, document, body))
        try:
            group_key = delivery_group(source, body, received_at)  # reject what we could never process, now
        except InvalidInput as error:
            observe(source, "invalid")
            return _answer(400, str(error))
        return await store(source, body, received_at, group_key=group_key)

    def check_token(request: Request) -> Callable[[bytes], bool]:
        def verify(_body: bytes) -> bool:
            if bearer_ok(request, token):
                return True
            log.warning("webhook_token_rejected", path=request.url.path, configured=token is not None)
            return False

        return verify

    @router.post("/pagerduty", status_code=202)
    async def pagerduty_webhook(request: Request) -> JSONResponse:
        def verify(body: bytes) -> bool:
            if pagerduty.verify(pd_secrets, body, request.headers.get("x-pagerduty-signature")):
                return True
            # Three rejected deliveries in a row disable the subscription for 24 h (PROTOCOLS.md 3.2).
            log.error("pagerduty_signature_rejected", secrets_configured=len(pd_secrets))
            return False

        return await intake(request, Source.PAGERDUTY, verify)

    @router.post("/alertmanager", status_code=202)
    async def alertmanager_webhook(request: Request) -> JSONResponse:
        return await intake(request, Source.ALERTMANAGER, check_token(request))

    @router.post("/grafana", status_code=202)
    async def grafana_webhook(request: Request) -> JSONResponse:
        return await intake(request, Source.GRAFANA, check_token(request))

    @router.post("/generic", status_code=202)
    async def generic_webhook(request: Request) -> JSONResponse:
        return await intake(request, Source.GENERIC, check_token(request))

    return router
