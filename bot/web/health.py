"""`/healthz` (the process is alive), `/readyz` (it can do its work) and `/metrics`."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select
from sqlmodel import col

from bot.alerts.models import Delivery, DeliveryStatus
from bot.db import Database
from bot.observability import Metrics
from bot.slack.relay import backlog
from bot.worker import Worker


@dataclass
class Readiness:
    """Mutable facts the lifespan updates; `/readyz` turns false first on shutdown (PLATFORM.md 9)."""

    shutting_down: bool = False
    workers: list[Worker] = field(default_factory=list)
    extra_checks: list[Callable[[], tuple[str, bool, str]]] = field(default_factory=list)


async def deliveries_pending(db: Database) -> int:
    async with db.session() as session:
        stmt = select(func.count()).where(col(Delivery.status) == DeliveryStatus.PENDING)
        return int((await session.execute(stmt)).scalar_one())


def build_router(db: Database, metrics: Metrics, readiness: Readiness, *, max_backlog: int) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        # Liveness never touches the database: a database blip must not restart every replica.
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        checks: dict[str, Any] = {}
        ready = not readiness.shutting_down
        checks["shutting_down"] = readiness.shutting_down
        try:
            await db.ping()
            # Deliveries first: processing one commits its outbox rows with it, so an outbox count
            # taken afterwards includes the work of every delivery the first count saw as done.
            deliveries = await deliveries_pending(db)
            pending, oldest = await backlog(db)
            checks["database"] = "ok"
            # A backlog is reported, never a reason to be unready: it grows on every replica at once
            # when Slack is down, and taking them all out of the load balancer would stop intake too.
            checks["outbox"] = {
                "pending": pending,
                "oldest_seconds": round(oldest, 1),
                "limit": max_backlog,
                "over_limit": pending > max_backlog,
            }
            checks["deliveries_pending"] = deliveries
        except Exception as error:  # any database failure means not ready, with the reason shown
            checks["database"] = f"error: {type(error).__name__}"
            ready = False
        for worker in readiness.workers:
            checks[f"worker_{worker.name}"] = "running" if worker.alive else "stopped"
            ready = ready and worker.alive
        for check in readiness.extra_checks:
            name, ok, detail = check()
            checks[name] = detail
            ready = ready and ok
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @router.get("/metrics")
    async def prometheus_metrics() -> Response:
        try:
            pending, oldest = await backlog(db)
            metrics.outbox_pending.set(pending)
            metrics.outbox_oldest.set(oldest)
            metrics.deliveries_pending.set(await deliveries_pending(db))
        except Exception:  # noqa: S110 - the counters are still worth serving when the database is down
            pass
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router
