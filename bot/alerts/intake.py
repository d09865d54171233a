"""Group commit for webhook deliveries: one task stores every delivery waiting, in one transaction.

A webhook is answered only once its delivery is committed, and one transaction per webhook costs
about 4 ms through SQLAlchemy and aiosqlite (docs/performance.md). So requests hand their delivery
to the `DeliveryWriter` and wait. Its task takes the first delivery queued, opens a transaction,
and once it has the connection takes whatever else is queued (up to `max_batch`; it never waits
for more). It inserts them with one multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING`,
commits once and answers each. Under light load a batch is a single delivery.

Deduplication keys (the unique index on `(source, delivery_key)` decides):

- A source's own delivery id (PagerDuty's `X-Webhook-Id`), as given.
- Otherwise `sha256:<body hash>:after:<id>`, where <id> is the group's last delivery whose content
  differed. A redelivery of the group's latest body (a retry, an HA peer's copy, a repeat_interval
  resend) gets the key its first copy got, so it is a duplicate. A group can legitimately flip back
  to an earlier body — firing, resolved, then firing again with the original startsAt when
  Prometheus resends after an outage — and that must not be taken for a redelivery of the first
  notification: the <id> differs.

Finding <id> with a query per delivery is what made intake slow, so the writer remembers each
group's `GroupState` (bounded, least recently used first out). Other processes write to the same
table, so each batch checks, in its own transaction and with one query per source, that the newest
id of every group it touches is still the one remembered, and reloads the groups that moved on.
On SQLite the batch holds the write lock (`BEGIN IMMEDIATE`) from that check to the commit, so the
keys are exactly those one transaction per webhook would have computed. On PostgreSQL concurrent
writers to one group race as they did before; the unique index still stores each key once.
"""

import asyncio
import functools
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import TextClause, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.models import Delivery, DeliveryStatus
from bot.db import Database, insert_ignore_many
from bot.errors import WarroomError
from bot.lanes import Lane

log = structlog.get_logger(__name__)

Group = tuple[str, str]  # (source, group key)
_TABLE: Any = Delivery.__table__  # type: ignore[attr-defined]
_MAX_PROBES = 256  # groups per validation statement (PostgreSQL allows 1,664 columns)


class StorageUnavailable(WarroomError):
    """The delivery was not stored (database failure, or the writer stopped); the sender should retry."""

    def __init__(self) -> None:
        super().__init__("storage unavailable, retry later")


@dataclass(frozen=True)
class Stored:
    """What became of one delivery: its id, or None when it duplicated a stored delivery."""

    delivery_id: int | None
    delivery_key: str


@dataclass(frozen=True)
class GroupState:
    """What content dedupe needs to know of a group's history."""

    latest_hash: str | None  # the body hash of the group's newest delivery; None when it has none
    latest_id: int  # that delivery's id; 0 when none
    anchor_id: int  # the newest delivery before the run of bodies identical to the latest; 0 when none

    def key_for(self, content_hash: str) -> str:
        """The key a body gets now: `after` the group's last delivery with different content."""
        after = self.anchor_id if content_hash == self.latest_hash else self.latest_id
        return f"sha256:{content_hash}:after:{after}"

    def after_insert(self, content_hash: str, delivery_id: int) -> "GroupState":
        anchor = self.anchor_id if content_hash == self.latest_hash else self.latest_id
        return GroupState(content_hash, delivery_id, anchor)


EMPTY_GROUP = GroupState(None, 0, 0)


class GroupCache:
    """`GroupState` per group, at most `size` of them; the least recently used goes first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._states: OrderedDict[Group, GroupState] = OrderedDict()

    def __len__(self) -> int:
        return len(self._states)

    def get(self, group: Group) -> GroupState | None:
        state = self._states.get(group)
        if state is not None:
            self._states.move_to_end(group)
        return state

    def put(self, group: Group, state: GroupState) -> None:
        self._states[group] = state
        self._states.move_to_end(group)
        while len(self._states) > self.size:
            self._states.popitem(last=False)

    def drop(self, groups: Iterable[Group]) -> None:
        for group in groups:
            self._states.pop(group, None)


@dataclass(eq=False)
class _Item:
    source: str
    body: bytes
    received_at: datetime
    content_hash: str
    key: str | None  # the source's own delivery id; None for content dedupe
    group_key: str | None
    future: asyncio.Future[Stored]
    delivery_key: str = ""
    delivery_id: int | None = None

    @property
    def group(self) -> Group | None:
        """The group whose history the key depends on; None for a key given by the source."""
        return None if self.key is not None else (self.source, self.group_key or "")

    def row(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "delivery_key": self.delivery_key,
            "group_key": self.group_key,
            "content_hash": self.content_hash,
            "body": self.body,
            "received_at": self.received_at,
            "status": str(DeliveryStatus.PENDING),
            "attempts": 0,
        }


def _settle(item: _Item, error: BaseException | None = None) -> None:
    if item.future.done():  # the request went away; the delivery is stored all the same
        return
    if error is not None:
        item.future.set_exception(error)
    else:
        item.future.set_result(Stored(item.delivery_id, item.delivery_key))


@functools.cache
def _probe(groups: int) -> TextClause:
    """`SELECT` of the newest delivery id of `groups` groups of one source, one scalar subquery each.

    Written as text and built once per size: constructing it from 256 SQLAlchemy subqueries took
    about 2 ms per batch, more than running it.
    """
    table = _TABLE.name  # no input reaches the text: values are bound parameters
    probe = "(SELECT max(id) FROM {table} WHERE source = :source AND group_key = :g{n})"
    newest = (probe.format(table=table, n=n) for n in range(groups))
    return text(f"SELECT {', '.join(newest)}")


async def _newest_ids(session: AsyncSession, source: str, keys: list[str]) -> list[int | None]:
    """The newest delivery id of each group, one statement per 256 groups.

    One `max(id)` subquery per group, because each is a single index probe, whereas
    `max(id) … GROUP BY group_key` reads every delivery a group ever had. Padding to 1, 2, 4, …
    groups keeps the number of distinct statements, each compiled and cached, small.
    """
    found: list[int | None] = []
    for start in range(0, len(keys), _MAX_PROBES):
        chunk = keys[start : start + _MAX_PROBES]
        padded = chunk + chunk[-1:] * ((1 << (len(chunk) - 1).bit_length()) - len(chunk))
        params = {"source": source} | {f"g{n}": key for n, key in enumerate(padded)}
        found += list((await session.execute(_probe(len(padded)), params)).one())[: len(chunk)]
    return found


class DeliveryWriter:
    """Stores deliveries in batches: `submit()` returns once the delivery is committed (or refused).

    `on_stored` is called once per committed batch that stored anything (it wakes the processor).
    Deliveries submitted before `start()` wait for it; after `stop()` they are refused.
    """

    name = "intake"

    def __init__(
        self,
        db: Database,
        *,
        on_stored: Callable[[], None] | None = None,
        max_batch: int = 200,
        cache_size: int = 10_000,
    ) -> None:
        self.db = db
        self.max_batch = max_batch
        self.cache = GroupCache(cache_size)
        self.batches = 0  # batches committed, for tests and curiosity
        self._on_stored = on_stored or (lambda: None)
        self._queue: asyncio.Queue[_Item | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    def readiness(self) -> tuple[str, bool, str]:
        """A `/readyz` check: without the writer no webhook can be stored."""
        return f"worker_{self.name}", self.alive, "running" if self.alive else "stopped"

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="delivery-writer")

    async def stop(self) -> None:
        """Refuse new deliveries, store the ones already waiting, then end the task."""
        if not self._closed:
            self._closed = True
            self._queue.put_nowait(None)
        if self._task is not None:
            await self._task
        self._fail_queued()  # only if it never started

    async def submit(
        self, source: str, body: bytes, received_at: datetime, *, key: str | None = None, group_key: str | None = None
    ) -> Stored:
        """Store once; without a `key` from the source, dedupe on content within `group_key`.

        Raises `StorageUnavailable` when the delivery could not be committed.
        """
        if self._closed:
            raise StorageUnavailable
        future: asyncio.Future[Stored] = asyncio.get_running_loop().create_future()
        content_hash = hashlib.sha256(body).hexdigest()
        if key is None and group_key is None:
            group_key = ""
        self._queue.put_nowait(_Item(str(source), body, received_at, content_hash, key, group_key, future))
        return await future

    async def _run(self) -> None:
        batch: list[_Item] = []
        try:
            while True:
                first = await self._queue.get()
                if first is None:
                    return
                batch = [first]
                stopping = await self._write(batch)
                batch = []
                if stopping:
                    return
        finally:
            self._closed = True
            for item in batch:
                _settle(item, StorageUnavailable())
            self._fail_queued()

    def _drain(self, batch: list[_Item]) -> bool:
        """Move what is queued into `batch`, up to `max_batch`; True if the stop marker came up."""
        while len(batch) < self.max_batch and not self._queue.empty():
            item = self._queue.get_nowait()
            if item is None:
                return True
            batch.append(item)
        return False

    def _fail_queued(self) -> None:
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                _settle(item, StorageUnavailable())

    async def _write(self, batch: list[_Item]) -> bool:
        """Store `batch` and what is queued when the connection is ours; True if the stop marker came up."""
        stopping: bool | None = None  # None until the queue has been drained into the batch
        groups: set[Group] = set()
        try:
            async with self.db.transaction(Lane.INTAKE) as session:
                # The connection is shared (one on SQLite) and often busy: whatever arrives while
                # waiting for it joins this batch, instead of waiting for it again afterwards.
                await session.connection()
                stopping = self._drain(batch)
                groups = {group for item in batch if (group := item.group) is not None}
                states = await self._group_states(session, groups)
                await self._insert(session, batch, states)
        except Exception:  # every delivery of the batch gets a 503 and its sender retries
            if stopping is None:  # no connection: those queued would only wait to fail the same way
                stopping = self._drain(batch)
            log.exception("delivery_store_failed", deliveries=len(batch))
            self.cache.drop(groups)
            for item in batch:
                _settle(item, StorageUnavailable())
            return stopping
        self.batches += 1
        for group, state in states.items():
            self.cache.put(group, state)
        for item in batch:
            _settle(item)
        if any(item.delivery_id is not None for item in batch):
            self._on_stored()
        return bool(stopping)

    async def _group_states(self, session: AsyncSession, groups: set[Group]) -> dict[Group, GroupState]:
        """Each group's state: remembered if its newest id is still the one remembered, else loaded."""
        newest: dict[Group, int] = {}
        for source in sorted({source for source, _ in groups}):
            keys = sorted(key for group_source, key in groups if group_source == source)
            for key, latest_id in zip(keys, await _newest_ids(session, source, keys), strict=True):
                newest[(source, key)] = latest_id or 0
        states: dict[Group, GroupState] = {}
        to_load: dict[int, Group] = {}
        for group in groups:
            remembered = self.cache.get(group)
            latest_id = newest.get(group, 0)
            if remembered is not None and remembered.latest_id == latest_id:
                states[group] = remembered
            elif latest_id == 0:
                states[group] = EMPTY_GROUP
            else:
                to_load[latest_id] = group
        if to_load:
            states.update(await self._load(session, to_load))
        return states

    @staticmethod
    async def _load(session: AsyncSession, latest: dict[int, Group]) -> dict[Group, GroupState]:
        """The state of groups whose newest delivery ids are the keys of `latest`, in one query."""
        older = _TABLE.alias("older")
        anchor = (
            select(func.max(older.c.id))
            .where(
                older.c.source == _TABLE.c.source,
                older.c.group_key == _TABLE.c.group_key,
                older.c.content_hash != _TABLE.c.content_hash,
            )
            .scalar_subquery()
        )
        stmt = select(_TABLE.c.id, _TABLE.c.content_hash, anchor).where(_TABLE.c.id.in_(sorted(latest)))
        return {
            latest[latest_id]: GroupState(content_hash, latest_id, anchor_id or 0)
            for latest_id, content_hash, anchor_id in await session.execute(stmt)
        }

    @staticmethod
    async def _insert(session: AsyncSession, batch: list[_Item], states: dict[Group, GroupState]) -> None:
        """Insert in arrival order, in as few statements as the groups' histories allow.

        A body whose key depends on the id of a delivery inserted earlier in this batch (its group
        changed content twice) waits for a later statement, with everything after it in its group.
        """
        waiting = batch
        while waiting:
            first_with_key: dict[tuple[str, str], _Item] = {}
            round_hash: dict[Group, str] = {}  # the body hash of each group's delivery in this statement
            blocked: set[Group] = set()
            later: list[_Item] = []
            for item in waiting:
                group = item.group
                if group is None:
                    item.delivery_key = item.key or ""
                elif group in blocked or round_hash.get(group, item.content_hash) != item.content_hash:
                    blocked.add(group)
                    later.append(item)
                    continue
                else:
                    item.delivery_key = states[group].key_for(item.content_hash)
                    round_hash[group] = item.content_hash
                # An identical delivery earlier in the batch has the same key: this one is its duplicate.
                first_with_key.setdefault((item.source, item.delivery_key), item)
            inserted = await insert_ignore_many(
                session,
                Delivery,
                [item.row() for item in first_with_key.values()],
                conflict=["source", "delivery_key"],
                returning=["id", "source", "delivery_key"],
            )
            for delivery_id, source, delivery_key in inserted:
                item = first_with_key[(source, delivery_key)]
                item.delivery_id = delivery_id
                if (group := item.group) is not None:
                    states[group] = states[group].after_insert(item.content_hash, delivery_id)
            waiting = later
