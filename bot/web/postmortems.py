"""Postmortems on the web: the Markdown download under `/api`, and the read-only page behind a signed link."""

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from sqlalchemy.ext.asyncio import AsyncSession

from bot.columns import as_utc
from bot.config import Settings
from bot.db import Database
from bot.errors import NotFound
from bot.incidents import service as incidents
from bot.incidents.models import Incident
from bot.postmortems import review
from bot.postmortems.links import PostmortemLinks
from bot.postmortems.tables import Postmortem, PostmortemVersion, ReviewState
from bot.web import api

TEMPLATES = Path(__file__).parent / "templates"
PAGE_TEMPLATE = "postmortem.html.j2"
# The page has no scripts, frames or images; the key sits in the URL, so no Referer may carry it away.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self' 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
STATE_LABELS: dict[str, str] = {
    ReviewState.DRAFT: "Draft",
    ReviewState.IN_REVIEW: "In review",
    ReviewState.CHANGES_REQUESTED: "Changes requested",
    ReviewState.APPROVED: "Approved",
}
_NOT_FOUND = "There is no such postmortem page."


@dataclass(frozen=True)
class Shown:
    """One version of one incident's postmortem, with everything the page and the downloads need."""

    incident: Incident
    postmortem: Postmortem
    versions: list[PostmortemVersion]
    version: PostmortemVersion

    @property
    def filename(self) -> str:
        return f"postmortem-incident-{self.incident.number}-v{self.version.number}.md"


class Missing(Exception):
    """No incident, no postmortem yet, or no such version; the message says which."""


def _number(text: str) -> int | None:
    # ASCII digits only: "+5", " 5" or other scripts' digits are not incident numbers, and int() would take them
    return int(text) if text.isascii() and text.isdigit() and len(text) < 12 else None


def _version(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    number = _number(text)
    if number is None:
        raise Missing(f"{text!r} is not a version number.")
    return number


async def load(session: AsyncSession, number: int, version: int | None) -> Shown:
    """The incident's postmortem at `version` (default: the current one); raises Missing."""
    try:
        incident = await incidents.get_by_number(session, number)
    except NotFound as error:
        raise Missing(str(error)) from error
    assert incident.id is not None
    postmortem = await review.for_incident(session, incident.id)
    if postmortem is None:
        raise Missing(f"Incident #{number} has no postmortem yet.")
    versions = await review.versions(session, postmortem.id or 0)
    wanted = version if version is not None else postmortem.current_version
    chosen = next((v for v in versions if v.number == wanted), None)
    if chosen is None:
        raise Missing(f"The postmortem of incident #{number} has no version {wanted}.")
    return Shown(incident, postmortem, versions, chosen)


def markdown_response(shown: Shown, headers: dict[str, str] | None = None) -> Response:
    return Response(
        shown.version.markdown,
        media_type="text/markdown; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{shown.filename}"',
            "X-Content-Type-Options": "nosniff",
            **(headers or {}),
        },
    )


def _utc(at: datetime | None) -> dict[str, str] | None:
    if at is None:
        return None
    at = as_utc(at)
    return {"iso": at.isoformat(timespec="seconds"), "text": at.strftime("%Y-%m-%d %H:%M UTC")}


def pre_text(text: str) -> Markup:
    """Text for a <pre> that the browser shows exactly: escaped, and carriage returns kept as references.

    The template puts a newline right after <pre>, which HTML drops, so a leading newline of the text survives.
    """
    return escape(text).replace("\r", Markup("&#13;"))


def page_values(shown: Shown, key: str) -> dict[str, Any]:
    pm, incident = shown.postmortem, shown.incident
    return {
        "incident": {"number": incident.number, "title": incident.title, "severity": incident.severity},
        "state": pm.state,
        "state_label": STATE_LABELS.get(pm.state, pm.state),
        "approved_by": pm.approved_by,
        "approved_at": _utc(pm.approved_at),
        "changes_requested_by": pm.changes_requested_by,
        "changes_requested_at": _utc(pm.changes_requested_at),
        "current_version": pm.current_version,
        "shown_version": shown.version.number,
        "markdown": pre_text(shown.version.markdown),
        "key": key,
        "filename": shown.filename,
        "versions": [
            {
                "number": v.number,
                "author": v.author or "Warroom",
                "reason": v.reason,
                "saved": _utc(v.created_at),
                "note": v.note,
            }
            for v in reversed(shown.versions)
        ],
    }


def environment(template_dir: Path = TEMPLATES) -> Environment:
    """HTML templates escape everything they are given; StrictUndefined makes a typo an error, not a blank."""
    return Environment(loader=FileSystemLoader(str(template_dir)), autoescape=True, undefined=StrictUndefined)


def build_router(db: Database, links: PostmortemLinks, *, settings: Settings) -> APIRouter:
    """`GET /api/incidents/{number}/postmortem.md` (API token) and `GET /postmortems/{number}[.md]?key=`."""
    # The JSON API's bearer check comes from its own router, so the download and /api/incidents share one rule.
    api_guard = api.build_router(settings, db).dependencies
    pages = environment()
    router = APIRouter()

    @router.get(
        "/api/incidents/{number}/postmortem.md",
        tags=["api"],
        dependencies=list(api_guard),
        response_class=Response,
        responses={200: {"content": {"text/markdown": {}}}, 404: {"description": "no such incident or version"}},
    )
    async def api_markdown(number: int, version: str | None = None) -> Response:
        """The postmortem's Markdown: the current version, or `?version=V`."""
        try:
            async with db.session() as session:
                shown = await load(session, number, _version(version))
        except Missing as missing:
            raise HTTPException(404, str(missing)) from missing
        return markdown_response(shown)

    async def public(number_text: str, key: str | None, version: str | None) -> Shown | str:
        """The postmortem, or why not; a wrong key looks exactly like a number that does not exist."""
        number = _number(number_text)
        if number is None or not key or not key.isascii() or not links.valid(number, key):
            return _NOT_FOUND
        try:
            async with db.session() as session:
                return await load(session, number, _version(version))
        except Missing as missing:
            return str(missing)

    # Declared before the page: "/postmortems/5.md" must not reach the page route as number "5.md".
    @router.get("/postmortems/{number}.md", include_in_schema=False)
    async def public_markdown(number: str, key: str | None = None, version: str | None = None) -> Response:
        shown = await public(number, key, version)
        if isinstance(shown, str):
            return Response(shown + "\n", status_code=404, media_type="text/plain; charset=utf-8", headers=PAGE_HEADERS)
        return markdown_response(shown, {**PAGE_HEADERS})

    @router.get("/postmortems/{number}", include_in_schema=False, response_class=HTMLResponse)
    async def page(number: str, key: str | None = None, version: str | None = None) -> Response:
        shown = await public(number, key, version)
        if isinstance(shown, str):
            body = pages.get_template("not_found.html.j2").render(message=shown)
            return HTMLResponse(body, status_code=404, headers=PAGE_HEADERS)
        assert key is not None
        return HTMLResponse(pages.get_template(PAGE_TEMPLATE).render(page_values(shown, key)), headers=PAGE_HEADERS)

    return router
