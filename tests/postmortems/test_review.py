"""Postmortem drafting and review on SQLite and PostgreSQL: drafted once, versioned, approved once, reminded once."""

import asyncio
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlmodel import col

from bot.db import Database
from bot.errors import InvalidInput
from bot.incidents import service as incidents
from bot.incidents.models import EventKind, Incident
from bot.outbox import Op, OutboxRow
from bot.postmortems import actions, review
from bot.postmortems.facts import gather
from bot.postmortems.links import PostmortemLinks
from bot.postmortems.setup import PostmortemSetup
from bot.postmortems.tables import ActionItem, ReviewState
from bot.slack.ops import OpContext
from bot.slack.postmortem_ops import model_wording

OPENED = datetime(2026, 11, 20, 23, 10, tzinfo=UTC)


async def _incident(db: Database, *notes: tuple[EventKind, str]) -> int:
    async with db.transaction() as session:
        incident, _ = await incidents.open_incident(
            session, title="Checkout 5xx", source="generic", service="checkout", declared_by="U0ALICE"
        )
        assert incident.id is not None
        await session.execute(update(Incident).where(col(Incident.id) == incident.id).values(created_at=OPENED))
        for kind, text in notes:
            await incidents.add_note(session, incident.id, text, actor="U0BOB", kind=kind)
        await incidents.acknowledge(session, incident.id, actor="U0BOB")
    return incident.id


async def _draft(db: Database, incident_id: int) -> int:
    async with db.transaction() as session:
        postmortem, _ = await review.ensure_draft(session, incident_id, template_dir=None, by="U0ALICE")
    assert postmortem.id is not None
    return postmortem.id


async def _markdown(db: Database, postmortem_id: int) -> str:
    async with db.session() as session:
        return (await review.latest(session, await review.get(session, postmortem_id))).markdown


async def _ops(db: Database, op: Op) -> list[OutboxRow]:
    async with db.session() as session:
        return list((await session.execute(select(OutboxRow).where(col(OutboxRow.op) == op))).scalars())


async def test_the_draft_has_the_whys_in_order_with_citations_and_asks_for_the_missing_ones(db: Database) -> None:
    incident_id = await _incident(
        db,
        (EventKind.WHY, "The pool ran out of connections"),
        (EventKind.NOTE, "cause: pool size was copied from staging"),
        (EventKind.WHY, "A deploy doubled the workers"),
        (EventKind.NOTE, "action: <@U0CAROL> alert on pool saturation by 2026-12-10"),
    )
    postmortem_id = await _draft(db, incident_id)
    text = await _markdown(db, postmortem_id)
    first, second = text.index("1. The pool ran out of connections"), text.index("2. A deploy doubled the workers")
    assert first < second
    # Each answer links to the timeline event that recorded it, and that event's row carries the anchor.
    cited = re.search(r"1\. The pool ran out of connections \(\[event (\d+)\]\(#event-(\d+)\)\)", text)
    assert cited is not None and cited.group(1) == cited.group(2)
    assert f'<a id="event-{cited.group(1)}"></a>' in text
    assert "3. **Open question:** Why did this happen: A deploy doubled the workers?" in text
    assert "pool size was copied from staging" in text
    async with db.session() as session:
        items = list((await session.execute(select(ActionItem))).scalars())
    assert [(i.text, i.owner, i.due) for i in items] == [("alert on pool saturation", "U0CAROL", date(2026, 12, 10))]
    assert "- [ ] alert on pool saturation (owner: U0CAROL, due 2026-12-10)" in text
    assert "| Detected | 2026-11-20 23:10:00 |" in text


async def test_drafting_is_deterministic_and_happens_once_under_concurrency(db: Database) -> None:
    incident_id = await _incident(db, (EventKind.WHY, "Disk filled up"))
    ids = await asyncio.gather(*(_draft(db, incident_id) for _ in range(4)))
    assert len(set(ids)) == 1
    async with db.session() as session:
        postmortem = await review.get(session, ids[0])
        assert [v.number for v in await review.versions(session, ids[0])] == [1]
        facts = await gather(session, incident_id)
        again, _ = await review.render_markdown(
            session, postmortem, facts, {}, number=1, state=ReviewState.DRAFT, template_dir=None
        )
    assert again == await _markdown(db, ids[0])
    assert len(await _ops(db, Op.SYNC_POSTMORTEM)) == 1


async def test_edits_make_versions_and_an_outdated_form_is_refused(db: Database) -> None:
    postmortem_id = await _draft(db, await _incident(db))
    async with db.transaction() as session:
        v2 = await review.save(
            session,
            postmortem_id,
            {"impact": "Checkout failed for 12% of users for 40 minutes"},
            by="U0BOB",
            based_on=1,
            template_dir=None,
        )
    assert v2.number == 2 and v2.author == "U0BOB"
    assert "Checkout failed for 12% of users for 40 minutes" in await _markdown(db, postmortem_id)
    with pytest.raises(InvalidInput, match="Someone saved version 2"):
        async with db.transaction() as session:
            await review.save(session, postmortem_id, {"impact": "stale"}, by="U0CAROL", based_on=1, template_dir=None)
    with pytest.raises(InvalidInput, match="Unknown sections"):
        async with db.transaction() as session:
            await review.save(session, postmortem_id, {"title": "x"}, by="U0CAROL", based_on=2, template_dir=None)
    async with db.session() as session:
        postmortem = await review.get(session, postmortem_id)
    assert postmortem.state == ReviewState.IN_REVIEW and postmortem.current_version == 2


async def test_two_people_approving_at_once_approve_once_and_an_edit_reopens_review(db: Database) -> None:
    postmortem_id = await _draft(db, await _incident(db))

    async def approve(user: str) -> bool:
        async with db.transaction() as session:
            return (await review.approve(session, postmortem_id, by=user)).changed

    results = await asyncio.gather(approve("U0ALICE"), approve("U0BOB"))
    assert sorted(results) == [False, True]
    assert len(await _ops(db, Op.UPLOAD_POSTMORTEM)) == 1
    async with db.transaction() as session:
        await review.save(
            session, postmortem_id, {"lessons": "Test pool limits"}, by="U0BOB", based_on=1, template_dir=None
        )
    async with db.session() as session:
        postmortem = await review.get(session, postmortem_id)
    assert postmortem.state == ReviewState.IN_REVIEW and postmortem.approved_by is None


async def test_requesting_changes_tells_the_commander(db: Database) -> None:
    incident_id = await _incident(db)
    postmortem_id = await _draft(db, incident_id)
    with pytest.raises(InvalidInput):
        async with db.transaction() as session:
            await review.request_changes(session, postmortem_id, by="U0CAROL", reason="  ")
    async with db.transaction() as session:
        change = await review.request_changes(session, postmortem_id, by="U0CAROL", reason="Impact is missing")
    assert change.changed and change.postmortem.state == ReviewState.CHANGES_REQUESTED
    notify = await _ops(db, Op.NOTIFY_CHANGES)
    assert len(notify) == 1
    assert notify[0].payload["to"] == "U0BOB"  # the first to acknowledge became commander
    assert notify[0].payload["reason"] == "Impact is missing"


async def test_action_item_reminders_go_once_across_replicas(db: Database, db_url: str) -> None:
    incident_id = await _incident(
        db,
        (EventKind.NOTE, "action: <@U0CAROL> add a pool alert by 2026-12-01"),
        (EventKind.NOTE, "action: <@U0DAVE> write the capacity doc by 2026-12-24"),
        (EventKind.NOTE, "action: nobody's item by 2026-11-30"),
    )
    await _draft(db, incident_id)
    replicas = [Database(db_url) for _ in range(3)]
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    async def sweep(replica: Database) -> int:
        async with replica.transaction() as session:
            return await actions.remind_due(session, today=now.date(), now=now)

    try:
        sent = await asyncio.gather(*(sweep(r) for r in replicas), return_exceptions=True)
        later = await sweep(replicas[0])
    finally:
        for replica in replicas:
            await replica.dispose()
    assert not [s for s in sent if isinstance(s, BaseException)]
    assert sum(s for s in sent if isinstance(s, int)) == 1 and later == 0
    reminders = await _ops(db, Op.REMIND_ACTION)
    assert [r.payload["owner"] for r in reminders] == ["U0CAROL"]  # due, owned; not yet due or unowned are not sent
    # The day the second one falls due, it goes too.
    async with db.transaction() as session:
        assert await actions.remind_due(session, today=date(2026, 12, 24), now=now + timedelta(days=23)) == 1


async def test_a_version_saved_after_approval_goes_back_to_review_and_the_upload_is_the_approved_one(
    db: Database,
) -> None:
    postmortem_id = await _draft(db, await _incident(db))
    async with db.transaction() as session:
        assert (await review.approve(session, postmortem_id, by="U0ALICE", version=1)).changed
    async with db.transaction() as session:  # e.g. the model's wording arriving a minute later
        await review.save(
            session, postmortem_id, {}, by=None, based_on=1, reason="model", template_dir=None, model_wording={}
        )
    async with db.session() as session:
        postmortem = await review.get(session, postmortem_id)
        assert (postmortem.state, postmortem.approved_by, postmortem.current_version) == (
            ReviewState.IN_REVIEW,
            None,
            2,
        )
        assert await review.approval_of(session, postmortem_id, 1) == "U0ALICE"
    uploads = await _ops(db, Op.UPLOAD_POSTMORTEM)
    assert [u.payload["version"] for u in uploads] == [1]


async def test_approving_a_version_someone_has_since_replaced_is_refused(db: Database) -> None:
    postmortem_id = await _draft(db, await _incident(db))
    async with db.transaction() as session:
        await review.save(session, postmortem_id, {"impact": "new words"}, by="U0BOB", based_on=1, template_dir=None)
    with pytest.raises(InvalidInput, match="Version 2 was saved after the version 1"):
        async with db.transaction() as session:
            await review.approve(session, postmortem_id, by="U0ALICE", version=1)


async def test_two_saves_from_the_same_version_one_wins_and_the_other_is_told(db: Database, db_url: str) -> None:
    postmortem_id = await _draft(db, await _incident(db))
    replicas = [Database(db_url) for _ in range(2)]

    async def save(replica: Database, words: str) -> str:
        try:
            async with replica.transaction() as session:
                await review.save(session, postmortem_id, {"impact": words}, by="U0BOB", based_on=1, template_dir=None)
        except InvalidInput:
            return "refused"
        return "saved"

    try:
        results = await asyncio.gather(save(replicas[0], "one"), save(replicas[1], "two"))
    finally:
        for replica in replicas:
            await replica.dispose()
    assert sorted(results) == ["refused", "saved"]  # never an IntegrityError on the version number


async def test_every_request_for_changes_is_told_also_a_second_one(db: Database) -> None:
    postmortem_id = await _draft(db, await _incident(db))
    for reason in ("Impact is missing", "The timeline of the deploy is missing"):
        async with db.transaction() as session:
            await review.request_changes(session, postmortem_id, by="U0CAROL", reason=reason)
    assert [r.payload["reason"] for r in await _ops(db, Op.NOTIFY_CHANGES)] == [
        "Impact is missing",
        "The timeline of the deploy is missing",
    ]


async def test_next_steps_written_in_the_form_win_and_removed_lines_are_dropped(db: Database) -> None:
    incident_id = await _incident(db, (EventKind.NOTE, "action: <@U0CAROL> add a pool alert by 2026-12-10"))
    postmortem_id = await _draft(db, incident_id)
    steps = "<@U0DAVE> add a pool alert by 2027-01-31\n@bob move to the 2024-01-01 schema"
    async with db.transaction() as session:
        await review.save(session, postmortem_id, {"next_steps": steps}, by="U0BOB", based_on=1, template_dir=None)
    async with db.session() as session:
        items = {i.text: (i.owner, i.due, i.status) for i in await review.action_items(session, postmortem_id)}
    assert items == {
        "add a pool alert": ("U0DAVE", date(2027, 1, 31), "open"),  # the form's owner and date, not the note's
        "move to the 2024-01-01 schema": ("@bob", None, "open"),  # a date mid-sentence is no due date
    }
    async with db.transaction() as session:
        await review.save(
            session, postmortem_id, {"next_steps": "<@U0DAVE> add a pool alert by 2027-01-31"}, by="U0BOB",
            based_on=2, template_dir=None,
        )  # fmt: skip
    async with db.session() as session:
        statuses = {i.text: i.status for i in await review.action_items(session, postmortem_id)}
    assert statuses == {"add a pool alert": "open", "move to the 2024-01-01 schema": "dropped"}


class _Model:
    """A model that answers only once the test lets it, as a slow one would."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def complete(self, messages: list[dict[str, str]]) -> str:
        await self.release.wait()
        return '{"summary": [], "impact": [], "whys": []}'


async def test_the_models_wording_never_reopens_a_postmortem_approved_while_it_was_asked(db: Database) -> None:
    postmortem_id = await _draft(db, await _incident(db))
    model = _Model()
    setup = PostmortemSetup(template_dir=None, links=PostmortemLinks("http://warroom", "secret"), wording=model)
    context = OpContext(db=db, gateway=None, http=None, postmortems=setup)  # type: ignore[arg-type]
    async with db.session() as session:
        incident_id = (await review.get(session, postmortem_id)).incident_id
    row = OutboxRow(
        id=99, incident_id=incident_id, op=Op.MODEL_WORDING, ordering_key="m", payload={"postmortem_id": postmortem_id}
    )
    asking = asyncio.create_task(model_wording(row, context))
    async with db.transaction() as session:  # someone approves while the model thinks
        assert (await review.approve(session, postmortem_id, by="U0ALICE", version=1)).changed
    model.release.set()
    effect = await asking
    assert effect.apply is not None
    async with db.transaction() as session:
        await effect.apply(session)
    async with db.session() as session:
        postmortem = await review.get(session, postmortem_id)
    assert (postmortem.state, postmortem.current_version, postmortem.approved_by) == (
        ReviewState.APPROVED,
        1,
        "U0ALICE",
    )
