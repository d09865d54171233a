"""The read-only JSON API under `/api`, behind the bearer token `API_TOKEN`."""

import hmac
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy import select
from sqlmodel import col

from bot.alerts.models import AlertRow
from bot.config import Settings
from bot.db import Database
from bot.errors import NotFound
from bot.incidents import service
from bot.incidents.models import Incident, TimelineEvent


def _incident_json(incident: Incident) -> dict[str, Any]:
    return incident.model_dump(mode="json", exclude={"open_group_key"})


def build_router(settings: Settings, db: Database) -> APIRouter:
    token = settings.api_token.get_secret_value() if settings.api_token else None

    def authorize(request: Request) -> None:
        if token is None:
            raise HTTPException(403, "The JSON API is off: set API_TOKEN to turn it on.")
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise HTTPException(401, "Missing or wrong bearer token.", headers={"WWW-Authenticate": "Bearer"})

    router = APIRouter(prefix="/api", tags=["api"], dependencies=[Depends(authorize)])

    @router.get("/incidents")
    async def list_incidents(
        status: str | None = Query(None, description="triggered, acknowledged, mitigated or resolved"),
        limit: int = Query(50, ge=1, le=500),
        offset: int = Query(0, ge=0),
    ) -> dict[str, Any]:
        stmt = select(Incident).order_by(col(Incident.number).desc()).limit(limit).offset(offset)
        if status:
            stmt = stmt.where(col(Incident.status) == status)
        async with db.session() as session:
            incidents = list((await session.execute(stmt)).scalars())
        return {"incidents": [_incident_json(i) for i in incidents], "limit": limit, "offset": offset}

    @router.get("/incidents/{number}")
    async def get_incident(number: int) -> dict[str, Any]:
        async with db.session() as session:
            try:
                incident = await service.get_by_number(session, number)
            except NotFound as error:
                raise HTTPException(404, str(error)) from error
            alerts = (await session.execute(select(AlertRow).where(col(AlertRow.incident_id) == incident.id))).scalars()
            events = (
                await session.execute(
                    select(TimelineEvent)
                    .where(col(TimelineEvent.incident_id) == incident.id)
                    .order_by(col(TimelineEvent.at), col(TimelineEvent.id))
                )
            ).scalars()
            return {
                **_incident_json(incident),
                "alerts": [a.model_dump(mode="json") for a in alerts],
                "timeline": [e.model_dump(mode="json") for e in events],
            }

    return router
