"""Action items: read from `action:` notes and the next-steps section, stored once, reminded once on their due date."""

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.columns import utcnow
from bot.db import insert_ignore
from bot.outbox import Op, enqueue
from bot.postmortems.tables import ActionItem, ActionStatus

# `<@U123|bob>` (Slack's escaped mention), `@U123`, or `@bob` as typed where Slack leaves text alone
# (`/incident` and form fields): a handle is kept with its `@` and looked up when the reminder is sent.
_OWNER = re.compile(r"<@([UW][A-Z0-9]{2,20})(?:\|[^>]*)?>|(?<![\w<@])@([UW][A-Z0-9]{2,20}|[a-z0-9][a-z0-9._-]{0,79})\b")
# A due date ends the line ("… by 2026-12-20"): a date in the middle ("move to the 2024-01-01 schema") is text.
_DUE = re.compile(r"(?:\s+(?:by|due|until))?\s+([0-9]{4}-[0-9]{2}-[0-9]{2})\s*\.?\s*$")
_BULLET = re.compile(r"^\s*(?:[-*+]\s*(?:\[[ xX]\]\s*)?|[0-9]+[.)]\s*)")
MAX_ITEMS = 50
MAX_TEXT = 300  # an action is a sentence; longer text is cut so lists of them stay within Slack's limits


@dataclass(frozen=True)
class Parsed:
    text: str
    owner: str | None
    due: date | None

    @property
    def key(self) -> str:
        """Identity across drafts: the same words make the same item, whoever re-saves the draft."""
        normal = " ".join(self.text.lower().split())
        return hashlib.sha256(normal.encode()).hexdigest()[:24]

    def as_dict(self) -> dict[str, str | None]:
        return {"text": self.text, "owner": self.owner, "due": self.due.isoformat() if self.due else None}


def parse_item(line: str) -> Parsed | None:
    """`<@U123> add a retry budget by 2026-12-10` -> text, owner, due; None for an empty line."""
    text = _BULLET.sub("", line).strip()
    if not text:
        return None
    owner_match = _OWNER.search(text)
    owner = None
    if owner_match:
        owner = owner_match.group(1) or owner_match.group(2)
        owner = owner if re.fullmatch(r"[UW][A-Z0-9]{2,20}", owner) else f"@{owner}"
    due: date | None = None
    due_match = _DUE.search(text)
    if due_match:
        try:
            due = date.fromisoformat(due_match.group(1))
        except ValueError:
            due = None  # 2026-02-30 stays in the text as written
        else:
            text = (text[: due_match.start()] + text[due_match.end() :]).strip()
    if owner_match:
        text = _OWNER.sub("", text, count=1).strip()
    text = " ".join(text.split()).strip(" ,;:-") or "(no description)"
    return Parsed(text[:MAX_TEXT], owner, due)


def parse_items(lines: list[str]) -> list[Parsed]:
    """Items in first-seen order; a later line with the same words wins (the form's owner over the note's)."""
    found: dict[str, Parsed] = {}
    for line in lines:
        item = parse_item(line)
        if item is not None:
            found[item.key] = item
    return list(found.values())[:MAX_ITEMS]


async def store(session: AsyncSession, postmortem_id: int, incident_id: int, items: list[Parsed]) -> None:
    """Make the stored items what the latest draft lists: new ones added, known ones updated, gone ones dropped."""
    now = utcnow()
    for item in items:
        values = {
            "postmortem_id": postmortem_id,
            "incident_id": incident_id,
            "key": item.key,
            "text": item.text,
            "owner": item.owner,
            "due": item.due,
            "status": ActionStatus.OPEN,
            "created_at": now,
            "updated_at": now,
        }
        if await insert_ignore(session, ActionItem, values, conflict=["postmortem_id", "key"]) is None:
            known = col(ActionItem.postmortem_id) == postmortem_id, col(ActionItem.key) == item.key
            # A new due date deserves its own reminder.
            await session.execute(
                update(ActionItem)
                .where(*known, col(ActionItem.due).is_distinct_from(item.due))
                .values(reminded_at=None)
            )
            # A dropped or done item stays so: `/incident actions drop` is not undone by a re-draft.
            await session.execute(
                update(ActionItem).where(*known).values(owner=item.owner, due=item.due, updated_at=now)
            )
    # Removed from the next steps (or corrected): no longer open, so no longer reminded.
    await session.execute(
        update(ActionItem)
        .where(
            col(ActionItem.postmortem_id) == postmortem_id,
            col(ActionItem.status) == ActionStatus.OPEN,
            col(ActionItem.key).not_in([item.key for item in items]),
        )
        .values(status=ActionStatus.DROPPED, updated_at=now)
    )


async def set_status(session: AsyncSession, item_id: int, status: ActionStatus) -> ActionItem | None:
    """`/incident actions done|drop <id>`: None when there is no such item."""
    found = (await session.execute(select(ActionItem).where(col(ActionItem.id) == item_id))).scalar_one_or_none()
    if found is not None:
        found.status, found.updated_at = status, utcnow()
        session.add(found)
    return found


async def open_items(session: AsyncSession, incident_id: int | None = None) -> list[ActionItem]:
    stmt = select(ActionItem).where(col(ActionItem.status) == ActionStatus.OPEN)
    if incident_id is not None:
        stmt = stmt.where(col(ActionItem.incident_id) == incident_id)
    return list((await session.execute(stmt.order_by(col(ActionItem.due), col(ActionItem.id)))).scalars())


async def claim_reminder(session: AsyncSession, item_id: int, now: datetime) -> bool:
    """Mark an item reminded; True only for the one caller whose conditional update wins."""
    result = await session.execute(
        update(ActionItem)
        .where(col(ActionItem.id) == item_id, col(ActionItem.reminded_at).is_(None))
        .values(reminded_at=now, updated_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


async def due_unreminded(session: AsyncSession, today: date) -> list[ActionItem]:
    stmt = select(ActionItem).where(
        col(ActionItem.status) == ActionStatus.OPEN,
        col(ActionItem.due) <= today,
        col(ActionItem.reminded_at).is_(None),
        col(ActionItem.owner).is_not(None),
    )
    return list((await session.execute(stmt.order_by(col(ActionItem.id)).limit(200))).scalars())


async def remind_due(session: AsyncSession, *, today: date, now: datetime) -> int:
    """Queue a reminder DM for each open item due by `today`; each item is reminded once, whichever replica asks."""
    sent = 0
    for item in await due_unreminded(session, today):
        assert item.id is not None
        if await claim_reminder(session, item.id, now):
            payload = {"action_item_id": item.id, "owner": item.owner}
            await enqueue(session, Op.REMIND_ACTION, incident_id=item.incident_id, payload=payload)
            sent += 1
    return sent
