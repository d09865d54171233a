"""`warroom postmortem draft NUMBER`: the stored postmortem's Markdown, or a draft made now and not stored."""

from dataclasses import dataclass, field
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import MIGRATIONS_DIR, Database
from bot.errors import InvalidInput, NotFound, WarroomError
from bot.incidents import service as incidents
from bot.postmortems import actions, draft, review, runbook
from bot.postmortems.facts import gather
from bot.postmortems.tables import ActionStatus, ReviewState

UPGRADE = "run `warroom db upgrade` first (this command never migrates)"


class DatabaseUnusable(WarroomError):
    """No database there, one without Warroom's schema, or one on another schema version."""


@dataclass(frozen=True)
class Drafted:
    markdown: str
    # for stderr: where the text came from, and a broken team template
    notes: list[str] = field(default_factory=list)


def parse_number(text: str, what: str) -> int:
    """A positive whole number from the command line, or InvalidInput naming the argument."""
    cleaned = text.strip()
    if not (cleaned.isascii() and cleaned.isdigit()) or int(cleaned) < 1:
        raise InvalidInput(f"{what} must be a positive whole number, not {text!r}")
    return int(cleaned)


def _check_url(url: str) -> None:
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise DatabaseUnusable(f"DATABASE_URL is not a database URL: {error}") from error
    if parsed.get_backend_name() != "sqlite":
        return
    # Connecting would create an empty file, so a typo in DATABASE_URL would look like "no incident #N".
    path = parsed.database
    if path and path != ":memory:" and not path.startswith("file:") and not Path(path).exists():
        raise DatabaseUnusable(
            f"there is no database at {path}; check DATABASE_URL "
            "(`warroom db upgrade` creates one, this command never does)"
        )


def _schema_problem(connection: Connection) -> str | None:
    if not inspect(connection).has_table("incident"):
        return "the database has no Warroom tables"
    current = set(MigrationContext.configure(connection).get_current_heads())
    expected = set(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())
    if current != expected:
        at = ", ".join(sorted(current)) or "none"
        return f"the database schema is at revision {at}, this Warroom expects {', '.join(sorted(expected))}"
    return None


async def draft_markdown(
    database_url: str, number: int, *, version: int | None = None, template_dir: Path | None = None
) -> Drafted:
    """The Markdown for incident `number`; raises WarroomError subclasses with a one-line reason."""
    _check_url(database_url)
    db: Database | None = None
    try:
        db = Database(database_url)
        async with db.session() as session:
            problem = await (await session.connection()).run_sync(_schema_problem)
            if problem is not None:
                raise DatabaseUnusable(f"{problem}; {UPGRADE}")
            return await _markdown(session, number, version, template_dir)
    except SQLAlchemyError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DatabaseUnusable(f"cannot read the database: {first_line}") from error
    finally:
        if db is not None:
            await db.dispose()


async def _markdown(session: AsyncSession, number: int, version: int | None, template_dir: Path | None) -> Drafted:
    incident = await incidents.get_by_number(session, number)
    assert incident.id is not None
    postmortem = await review.for_incident(session, incident.id)
    if postmortem is not None:
        versions = {v.number: v for v in await review.versions(session, postmortem.id or 0)}
        wanted = version if version is not None else postmortem.current_version
        if wanted not in versions:
            known = ", ".join(str(n) for n in sorted(versions))
            raise NotFound(f"the postmortem of incident #{number} has no version {wanted} (it has {known})")
        return Drafted(versions[wanted].markdown, [f"incident #{number}: postmortem version {wanted}"])
    if version is not None:
        raise NotFound(f"incident #{number} has no postmortem yet, so no version {version}")
    return await preview(session, incident.id, number=number, template_dir=template_dir)


async def preview(session: AsyncSession, incident_id: int, *, number: int, template_dir: Path | None) -> Drafted:
    """What drafting would store as version 1 now, computed without writing anything."""
    facts = await gather(session, incident_id)
    # the items drafting would store, in the same order, as the stored ones are rendered
    items = [
        {**parsed.as_dict(), "status": ActionStatus.OPEN}
        for parsed in actions.parse_items([e.text for e in facts.actions])
    ]
    values = draft.context(
        facts,
        {},
        version=1,
        review_state=ReviewState.DRAFT,
        action_items=items,
        proposed_runbook=runbook.propose(facts),
    )
    text, template_note = draft.render(values, template_dir=template_dir)
    notes = [f"incident #{number} has no postmortem yet: this draft is from its timeline now and was not stored"]
    return Drafted(text, [*notes, *([template_note] if template_note else [])])
