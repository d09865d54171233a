"""A postmortem's life: drafted once per incident, saved as versions, approved or sent back, all exactly once.

Every change is one conditional update on the postmortem row (`WHERE version = :seen` or
`WHERE state != 'approved'`), so two people pressing Approve at once approve once, and a save
made from an outdated form is refused instead of silently overwriting someone else's.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.columns import utcnow
from bot.db import insert_ignore
from bot.errors import InvalidInput, NotFound
from bot.incidents import service as incidents
from bot.incidents.models import EventKind, TimelineEvent
from bot.outbox import Op, enqueue
from bot.postmortems import actions, draft, runbook
from bot.postmortems.facts import Facts, gather
from bot.postmortems.tables import ActionItem, Postmortem, PostmortemVersion, ReviewState

MAX_SECTION = 12_000  # what the edit form can carry back for one section (four Slack inputs)


@dataclass(frozen=True)
class Change:
    postmortem: Postmortem
    changed: bool


async def get(session: AsyncSession, postmortem_id: int) -> Postmortem:
    found = (await session.execute(select(Postmortem).where(col(Postmortem.id) == postmortem_id))).scalar_one_or_none()
    if found is None:
        raise NotFound("That postmortem does not exist.")
    return found


async def for_incident(session: AsyncSession, incident_id: int) -> Postmortem | None:
    stmt = select(Postmortem).where(col(Postmortem.incident_id) == incident_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def versions(session: AsyncSession, postmortem_id: int) -> list[PostmortemVersion]:
    stmt = (
        select(PostmortemVersion)
        .where(col(PostmortemVersion.postmortem_id) == postmortem_id)
        .order_by(col(PostmortemVersion.number))
    )
    return list((await session.execute(stmt)).scalars())


async def latest(session: AsyncSession, postmortem: Postmortem) -> PostmortemVersion:
    stmt = select(PostmortemVersion).where(
        col(PostmortemVersion.postmortem_id) == postmortem.id,
        col(PostmortemVersion.number) == postmortem.current_version,
    )
    return (await session.execute(stmt)).scalar_one()


async def action_items(session: AsyncSession, postmortem_id: int) -> list[ActionItem]:
    stmt = select(ActionItem).where(col(ActionItem.postmortem_id) == postmortem_id).order_by(col(ActionItem.id))
    return list((await session.execute(stmt)).scalars())


async def _items(session: AsyncSession, postmortem_id: int) -> list[dict[str, Any]]:
    return [
        {"text": i.text, "owner": i.owner, "due": i.due.isoformat() if i.due else None, "status": i.status}
        for i in await action_items(session, postmortem_id)
    ]


def _proposed_runbook(facts: Facts) -> str | None:
    return runbook.propose(facts)


async def render_markdown(
    session: AsyncSession,
    postmortem: Postmortem,
    facts: Facts,
    edits: dict[str, str],
    *,
    number: int,
    state: str,
    template_dir: Path | None,
) -> tuple[str, str | None]:
    """The Markdown of a version: facts now, `edits` over them, the stored action items, the proposed runbook."""
    assert postmortem.id is not None
    values = draft.context(
        facts,
        edits,
        version=number,
        review_state=state,
        action_items=await _items(session, postmortem.id),
        proposed_runbook=_proposed_runbook(facts),
    )
    return draft.render(values, template_dir=template_dir)


async def _add_version(
    session: AsyncSession,
    postmortem: Postmortem,
    edits: dict[str, str],
    *,
    author: str | None,
    reason: str,
    template_dir: Path | None,
    state: str,
    note: str | None = None,
    number: int = 1,
) -> PostmortemVersion:
    assert postmortem.id is not None
    facts = await gather(session, postmortem.incident_id)
    await actions.store(session, postmortem.id, postmortem.incident_id, _action_lines(facts, edits))
    markdown, template_note = await render_markdown(
        session, postmortem, facts, edits, number=number, state=state, template_dir=template_dir
    )
    version = PostmortemVersion(
        postmortem_id=postmortem.id,
        number=number,
        author=author,
        reason=reason,
        edits=dict(edits),
        markdown=markdown,
        note="; ".join(n for n in (note, template_note) if n) or None,
        created_at=utcnow(),
    )
    session.add(version)
    await session.flush()
    return version


def _action_lines(facts: Facts, edits: dict[str, Any]) -> list[actions.Parsed]:
    """The next steps: as people last wrote them in the form (which starts from every item), else the
    `action:` notes; so a line removed in the form is dropped, not brought back by its note."""
    written = edits.get("next_steps")
    if not written:
        return actions.parse_items([e.text for e in facts.actions])
    # Notes recorded after the list was last written are still new items.
    upto = int(edits.get(NEXT_STEPS_UPTO) or 0)
    return actions.parse_items(str(written).splitlines() + [e.text for e in facts.actions if e.id > upto])


async def ensure_draft(
    session: AsyncSession, incident_id: int, *, template_dir: Path | None, by: str | None
) -> tuple[Postmortem, bool]:
    """The incident's postmortem, drafted now if it has none; (postmortem, whether this call drafted it)."""
    now = utcnow()
    new_id = await insert_ignore(
        session,
        Postmortem,
        {
            "incident_id": incident_id,
            "state": ReviewState.DRAFT,
            "current_version": 1,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        },
        conflict=["incident_id"],
    )
    if new_id is None:
        existing = await for_incident(session, incident_id)
        assert existing is not None
        return existing, False
    postmortem = await get(session, int(new_id))
    # Warroom's own draft: no author (`by` is who resolved it, on the timeline entry below).
    await _add_version(
        session, postmortem, {}, author=None, reason="drafted", template_dir=template_dir, state=ReviewState.DRAFT
    )
    await incidents.record(
        session,
        incident_id,
        EventKind.POSTMORTEM,
        "Postmortem drafted",
        actor=by or "warroom",
        data={"postmortem": new_id},
    )
    await enqueue(session, Op.SYNC_POSTMORTEM, incident_id=incident_id, payload={"postmortem_id": new_id})
    return postmortem, True


async def _sync(session: AsyncSession, incident_id: int, postmortem_id: int) -> None:
    """Have the summary message in the incident channel show the postmortem as it now stands."""
    await enqueue(session, Op.SYNC_POSTMORTEM, incident_id=incident_id, payload={"postmortem_id": postmortem_id})


async def _bump(session: AsyncSession, postmortem: Postmortem, **values: Any) -> bool:
    """Apply `values` if nobody changed the postmortem since it was read."""
    result = await session.execute(
        update(Postmortem)
        .where(col(Postmortem.id) == postmortem.id, col(Postmortem.version) == postmortem.version)
        .values(**values, version=postmortem.version + 1, updated_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


MODEL = "model"  # the edits key holding the model's wording: below people's words and the timeline's answers
NEXT_STEPS_UPTO = "next_steps_upto"  # the last timeline event when people wrote the next steps
INTERNAL = frozenset({MODEL, NEXT_STEPS_UPTO})


async def save(
    session: AsyncSession,
    postmortem_id: int,
    edits: dict[str, str],
    *,
    by: str | None,
    based_on: int,
    reason: str = "edited",
    template_dir: Path | None,
    note: str | None = None,
    model_wording: dict[str, str] | None = None,
) -> PostmortemVersion:
    """A new version with `edits` over the latest ones; refused if a newer version appeared since `based_on`.

    Any new version of an approved or sent-back postmortem goes (back) to review: an approval
    is for the text that was approved, never for one saved after it.
    """
    postmortem = await get(session, postmortem_id)
    if postmortem.current_version != based_on:
        raise InvalidInput(
            f"Someone saved version {postmortem.current_version} while you were editing version {based_on}. "
            "Open the form again to edit the newest text."
        )
    unknown = set(edits) - set(draft.SECTIONS)
    if unknown:
        raise InvalidInput(f"Unknown sections: {', '.join(sorted(unknown))}.")
    too_long = [name for name, text in edits.items() if len(text) > MAX_SECTION]
    if too_long:
        raise InvalidInput(f"{too_long[0]} is longer than {MAX_SECTION} characters; shorten it.")
    previous = (await latest(session, postmortem)).edits
    merged: dict[str, Any] = {**previous, **edits}
    merged = {name: text for name, text in merged.items() if name in INTERNAL or (text and str(text).strip())}
    if model_wording is not None:
        merged[MODEL] = dict(model_wording)
    if "next_steps" in edits:  # remember which `action:` notes this list already took in
        last = select(func.max(TimelineEvent.id)).where(col(TimelineEvent.incident_id) == postmortem.incident_id)
        merged[NEXT_STEPS_UPTO] = int((await session.execute(last)).scalar_one_or_none() or 0)
    state = ReviewState.DRAFT if postmortem.state == ReviewState.DRAFT and reason != "edited" else ReviewState.IN_REVIEW
    number = postmortem.current_version + 1
    # The conditional update comes first: of two saves based on the same version, one wins here and
    # the other is refused, before either writes a version row (whose number they would share).
    values: dict[str, Any] = {"current_version": number, "state": state, "approved_by": None, "approved_at": None}
    if not await _bump(session, postmortem, **values):
        raise InvalidInput("Someone changed this postmortem at the same moment; open the form again.")
    version = await _add_version(
        session,
        postmortem,
        merged,
        author=by,
        reason=reason,
        template_dir=template_dir,
        state=state,
        note=note,
        number=number,
    )
    await _sync(session, postmortem.incident_id, postmortem_id)
    return version


async def regenerate(
    session: AsyncSession, postmortem_id: int, *, by: str | None, template_dir: Path | None
) -> PostmortemVersion:
    """Re-draft from the timeline as it is now (new whys and notes), keeping what people wrote over it."""
    postmortem = await get(session, postmortem_id)
    return await save(
        session,
        postmortem_id,
        {},
        by=by,
        based_on=postmortem.current_version,
        reason="regenerated",
        template_dir=template_dir,
    )


async def approval_of(session: AsyncSession, postmortem_id: int, number: int) -> str | None:
    """Who approved version `number` (from the timeline, which keeps every approval)."""
    postmortem = await get(session, postmortem_id)
    kind = col(TimelineEvent.kind) == EventKind.POSTMORTEM
    stmt = select(TimelineEvent).where(col(TimelineEvent.incident_id) == postmortem.incident_id, kind)
    for event in (await session.execute(stmt.order_by(col(TimelineEvent.id).desc()))).scalars():
        data = event.data or {}
        if data.get("postmortem") == postmortem_id and data.get("version") == number and data.get("approved_by"):
            return str(data["approved_by"])
    return None


async def approve(session: AsyncSession, postmortem_id: int, *, by: str, version: int | None = None) -> Change:
    """Approve `version` (the one the approver saw); refused when a newer one has been saved since."""
    postmortem = await get(session, postmortem_id)
    number = version if version is not None else postmortem.current_version
    now = utcnow()
    result = await session.execute(
        update(Postmortem)
        .where(
            col(Postmortem.id) == postmortem_id,
            col(Postmortem.state) != ReviewState.APPROVED,
            col(Postmortem.current_version) == number,
        )
        .values(
            state=ReviewState.APPROVED,
            approved_by=by,
            approved_at=now,
            version=col(Postmortem.version) + 1,
            updated_at=now,
        )
    )
    if not getattr(result, "rowcount", 0):
        current = await get(session, postmortem_id)
        if current.state != ReviewState.APPROVED and current.current_version != number:
            raise InvalidInput(
                f"Version {current.current_version} was saved after the version {number} you were looking at; "
                "read it, then approve."
            )
        return Change(current, False)
    await incidents.record(
        session,
        postmortem.incident_id,
        EventKind.POSTMORTEM,
        f"Postmortem version {number} approved",
        actor=by,
        data={"postmortem": postmortem_id, "version": number, "approved_by": by},
    )
    await _sync(session, postmortem.incident_id, postmortem_id)
    payload = {"postmortem_id": postmortem_id, "version": number}
    await enqueue(session, Op.UPLOAD_POSTMORTEM, incident_id=postmortem.incident_id, payload=payload)
    return Change(await get(session, postmortem_id), True)


async def request_changes(session: AsyncSession, postmortem_id: int, *, by: str, reason: str) -> Change:
    """Send the draft back with a reason; the commander (or whoever declared it) is told."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Say what should change.")
    postmortem = await get(session, postmortem_id)
    now = utcnow()
    result = await session.execute(
        update(Postmortem)
        .where(col(Postmortem.id) == postmortem_id)
        .values(
            state=ReviewState.CHANGES_REQUESTED,
            changes_requested_by=by,
            changes_requested_at=now,
            approved_by=None,
            approved_at=None,
            version=col(Postmortem.version) + 1,
            updated_at=now,
        )
    )
    changed = bool(getattr(result, "rowcount", 0))
    incident = await incidents.get_by_id(session, postmortem.incident_id)
    await incidents.record(
        session,
        postmortem.incident_id,
        EventKind.POSTMORTEM,
        f"Changes requested: {reason}",
        actor=by,
        data={"postmortem": postmortem_id},
    )
    to = incident.commander or incident.declared_by
    payload = {"postmortem_id": postmortem_id, "to": to, "by": by, "reason": reason[:2000]}
    await enqueue(
        session, Op.SYNC_POSTMORTEM, incident_id=postmortem.incident_id, payload={"postmortem_id": postmortem_id}
    )
    await enqueue(session, Op.NOTIFY_CHANGES, incident_id=postmortem.incident_id, payload=payload)
    # Every request is told, also a second one with a new reason.
    return Change(await get(session, postmortem_id), changed)
