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

_OWNER = re.compile(r"<@([UW][A-Z0-9]{2,20})(?:\|[^>]*)?>|(?<![\w<])@([UW][A-Z0-9]{2,20})\b")
_DUE = re.compile(r"\b(?:by|due)?\s*([0-9]{4}-[0-9]{2}-[0-9]{2})\b")
_BULLET = re.compile(r"^\s*(?:[-*+]\s*(?:\[[ xX]\]\s*)?|[0-9]+[.)]\s*)")
MAX_ITEMS = 50


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
    owner = (owner_match.group(1) or owner_match.group(2)) if owner_match else None
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
    return Parsed(text, owner, due)


def parse_items(lines: list[str]) -> list[Parsed]:
    found: dict[str, Parsed] = {}
    for line in lines:
        item = parse_item(line)
        if item is not None and item.key not in found:
            found[item.key] = item
    return list(found.values())[:MAX_ITEMS]


async def store(session: AsyncSession, postmortem_id: int, incident_id: int, items: list[Parsed]) -> None:
    """Insert new items and update owner and due date of known ones (matched by their words)."""
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
            await session.execute(
                update(ActionItem)
                .where(col(ActionItem.postmortem_id) == postmortem_id, col(ActionItem.key) == item.key)
                .values(owner=item.owner, due=item.due, updated_at=now)
            )


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
