"""PagerDuty as the on-call source, against a fake `GET /oncalls` on a real loopback port, and the file fallback."""

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from structlog.testing import capture_logs

from bot.db import Database, upgrade_async
from bot.oncall import service
from bot.oncall.directory import OncallDirectory, with_overrides
from bot.oncall.pagerduty import AnswerCache, PagerDutyUnavailable, Target
from bot.oncall.rotation import OnCall, Override, Rota
from bot.oncall.schema import Schedule
from bot.oncall.tables import OncallOverride
from bot.pagerduty import PagerDutyOncalls
from bot.sandbox import serve_app

TOKEN = "u+pd-test-token-Xy7"
ACCEPT = "application/vnd.pagerduty+json;version=2"
AT = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday; weekly PagerDuty shifts hand off Mondays 09:00 UTC
SCHEDULE = "PSCHED01"
OTHER_SCHEDULE = "PSCHED99"
POLICY = "PPOLICY1"
OTHER_POLICY = "PPOLICY2"


def _ref(kind: str, id_: str, summary: str) -> dict[str, Any]:
    plural = {"schedule": "schedules", "escalation_policy": "escalation_policies", "user": "users"}[kind]
    return {
        "id": id_,
        "type": f"{kind}_reference",
        "summary": summary,
        "self": f"https://api.pagerduty.com/{plural}/{id_}",
        "html_url": f"https://acme.pagerduty.com/{plural}/{id_}",
    }


def _user(id_: str, name: str, email: str | None) -> dict[str, Any]:
    """A user as `include[]=users` returns it (PagerDuty API reference, User)."""
    user = {
        **_ref("user", id_, name),
        "type": "user",
        "name": name,
        "time_zone": "Europe/Berlin",
        "color": "purple",
        "role": "user",
        "avatar_url": f"https://secure.gravatar.com/avatar/{id_}.png",
        "description": "",
        "invitation_sent": False,
        "job_title": "SRE",
        "teams": [],
        "contact_methods": [],
        "notification_rules": [],
    }
    if email is not None:
        user["email"] = email
    return user


ALICE = _user("PALICE1", "Alice Adams", "Alice@Example.com")
BOB = _user("PBOB001", "Bob Brown", "bob@example.com")
CAROL = _user("PCAROL1", "Carol Chen", "carol@example.com")
DAVE = _user("PDAVE01", "Dave Duty", "dave@example.com")
ERIN = _user("PERIN01", "Erin Example", None)


def _week(monday: int) -> tuple[str, str]:
    start = datetime(2026, 3, monday, 9, 0, tzinfo=UTC)
    return start.isoformat().replace("+00:00", "Z"), (start + timedelta(weeks=1)).isoformat().replace("+00:00", "Z")


def _entry(user: dict[str, Any], start: str | None, end: str | None, *, level: int = 1, **refs: Any) -> dict[str, Any]:
    return {
        "escalation_policy": refs.get("policy", _ref("escalation_policy", POLICY, "Payments")),
        "escalation_level": level,
        "schedule": refs.get("schedule", _ref("schedule", SCHEDULE, "Payments primary")),
        "user": user,
        "start": start,
        "end": end,
    }


def realistic_oncalls() -> list[dict[str, Any]]:
    """Two weeks around AT: the schedule on two policies (so each shift twice), a manager on level 2."""
    other = _ref("escalation_policy", OTHER_POLICY, "Platform")
    entries = [
        _entry(ALICE, *_week(2)),
        _entry(ALICE, *_week(2), level=2, policy=other),
        _entry(BOB, *_week(9)),
        _entry(BOB, *_week(9), level=2, policy=other),
        _entry(CAROL, *_week(16)),
        # A user directly on level 2: permanently on call, so start and end are null.
        _entry(DAVE, None, None, level=2, schedule=None),
        _entry(ERIN, *_week(2), schedule=_ref("schedule", OTHER_SCHEDULE, "Payments secondary"), policy=other),
    ]
    return entries


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class FakePagerDuty:
    """`GET /oncalls` as PagerDuty answers it: token auth, filters, time window, include[]=users, limit/offset."""

    oncalls: list[dict[str, Any]] = field(default_factory=realistic_oncalls)
    max_limit: int = 100
    status: int = 200
    body: bytes | None = None  # answered verbatim instead of the on-calls (malformed answers)
    headers: dict[str, str] = field(default_factory=dict)
    hold: asyncio.Event | None = None  # when set up, each request waits for it (a slow PagerDuty)
    requests: list[Request] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/oncalls")
        async def oncalls(request: Request) -> Response:
            self.requests.append(request)
            if self.hold is not None:
                await self.hold.wait()
            if request.headers.get("authorization") != f"Token token={TOKEN}":
                return JSONResponse({"error": {"message": "Invalid Credentials", "code": 2006}}, status_code=401)
            if self.status != 200 or self.body is not None:
                return Response(self.body or b"{}", status_code=self.status, headers=self.headers)
            return JSONResponse(self._page(request))

        return app

    def _page(self, request: Request) -> dict[str, Any]:
        query = request.query_params
        schedules, policies = query.getlist("schedule_ids[]"), query.getlist("escalation_policy_ids[]")
        since, until = _parse(query["since"]), _parse(query["until"])
        users = "users" in query.getlist("include[]")
        found = []
        for item in self.oncalls:
            if schedules and (item["schedule"] is None or item["schedule"]["id"] not in schedules):
                continue
            if policies and item["escalation_policy"]["id"] not in policies:
                continue
            if item["end"] is not None and _parse(item["end"]) <= since:
                continue
            if item["start"] is not None and _parse(item["start"]) >= until:
                continue
            user = item["user"] if users else _ref("user", item["user"]["id"], item["user"]["summary"])
            found.append({**item, "user": user})
        limit = min(int(query.get("limit", "25")), self.max_limit)
        offset = int(query.get("offset", "0"))
        page = found[offset : offset + limit]
        return {"oncalls": page, "limit": limit, "offset": offset, "more": offset + limit < len(found), "total": None}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def schedule(**pagerduty: str) -> Schedule:
    return Schedule.model_validate(
        {
            "id": "payments",
            "channel": "#payments-oncall",
            "rotation": {
                "members": ["file-one@example.com", "file-two@example.com"],
                "shift": "1w",
                "handoff": "monday 09:00",
                "start": "2026-01-05",
            },
            **({"pagerduty": pagerduty} if pagerduty else {}),
        }
    )


BY_SCHEDULE = schedule(schedule=SCHEDULE)
BY_POLICY = schedule(escalation_policy=POLICY)


@pytest.fixture
def fake() -> FakePagerDuty:
    return FakePagerDuty()


@pytest.fixture
async def url(fake: FakePagerDuty) -> AsyncIterator[str]:
    async with serve_app(fake.app()) as base:
        yield base
        if fake.hold is not None:
            fake.hold.set()  # a held request finishes, so the server stops without waiting out its grace period


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def pagerduty(client: httpx.AsyncClient, url: str, clock: Clock) -> PagerDutyOncalls:
    return PagerDutyOncalls(client, url, TOKEN, ttl=60, timeout=2.0, clock=clock)


async def test_asks_for_the_schedule_with_users_over_two_weeks_and_answers_who_is_on_call_and_next(
    pagerduty: PagerDutyOncalls, fake: FakePagerDuty
) -> None:
    rota = await pagerduty.rota(BY_SCHEDULE, AT)

    assert rota == Rota(
        now=OnCall("alice@example.com", *(_parse(t) for t in _week(2)), "Payments primary", False),
        next=OnCall("bob@example.com", *(_parse(t) for t in _week(9)), "Payments primary", False),
    )
    [request] = fake.requests
    assert request.headers["authorization"] == f"Token token={TOKEN}"
    assert request.headers["accept"] == ACCEPT
    query = request.query_params
    assert query.getlist("include[]") == ["users"]
    assert query.getlist("schedule_ids[]") == [SCHEDULE]
    assert "escalation_policy_ids[]" not in query
    assert (query["since"], query["until"]) == ("2026-03-04T12:00:00Z", "2026-03-18T12:00:00Z")


async def test_follows_pagination_across_pages(pagerduty: PagerDutyOncalls, fake: FakePagerDuty) -> None:
    fake.max_limit = 2  # 3 shifts in the window, each listed once per policy but Carol's: pages of 2, 2 and 1

    rota = await pagerduty.rota(BY_SCHEDULE, AT)

    assert [r.query_params["offset"] for r in fake.requests] == ["0", "2", "4"]
    assert rota.now.member == "alice@example.com"
    assert rota.next is not None and rota.next.member == "bob@example.com"  # Bob is on the second page


async def test_an_escalation_policy_answers_its_level_one_only(
    pagerduty: PagerDutyOncalls, fake: FakePagerDuty
) -> None:
    rota = await pagerduty.rota(BY_POLICY, AT)

    # Dave is permanently on level 2 and would cover AT if levels were not filtered.
    assert rota.now.member == "alice@example.com"
    assert rota.next is not None and rota.next.member == "bob@example.com"
    [request] = fake.requests
    assert request.query_params.getlist("escalation_policy_ids[]") == [POLICY]
    assert "schedule_ids[]" not in request.query_params


async def test_a_user_without_email_is_named_by_their_name(pagerduty: PagerDutyOncalls) -> None:
    rota = await pagerduty.rota(schedule(schedule=OTHER_SCHEDULE), AT)

    assert rota.now.member == "Erin Example"
    assert rota.next is None  # nobody else within the two weeks


async def test_a_policy_level_without_end_is_open_ended(pagerduty: PagerDutyOncalls, fake: FakePagerDuty) -> None:
    fake.oncalls = [_entry(DAVE, None, None, schedule=None)]

    rota = await pagerduty.rota(BY_POLICY, AT)

    assert rota == Rota(OnCall("dave@example.com", AT, None, None, False), None)


async def test_answers_are_cached_for_ttl_per_minute(
    pagerduty: PagerDutyOncalls, fake: FakePagerDuty, clock: Clock
) -> None:
    first = await pagerduty.rota(BY_SCHEDULE, AT)
    clock.now += 59
    assert await pagerduty.rota(BY_SCHEDULE, AT + timedelta(seconds=30)) == first
    assert len(fake.requests) == 1

    await pagerduty.rota(BY_SCHEDULE, AT + timedelta(minutes=1))  # another minute: asked again
    assert len(fake.requests) == 2

    clock.now += 2  # the first answer is now 61 s old
    await pagerduty.rota(BY_SCHEDULE, AT)
    assert len(fake.requests) == 3


async def test_concurrent_lookups_share_one_request(pagerduty: PagerDutyOncalls, fake: FakePagerDuty) -> None:
    fake.hold = asyncio.Event()
    lookups = [asyncio.create_task(pagerduty.rota(BY_SCHEDULE, AT)) for _ in range(5)]
    # Held long enough for all five to send their own request, if they would; they are counted either way.
    await asyncio.sleep(0.1)
    fake.hold.set()

    answers = await asyncio.gather(*lookups)

    assert len(fake.requests) == 1
    assert {a.now.member for a in answers} == {"alice@example.com"}


def test_the_cache_is_bounded() -> None:
    cache = AnswerCache(size=2)
    rota = Rota(OnCall(None, AT, None, None, False), None)
    keys = [AnswerCache.key(Target("schedule", f"PSCHED0{n}"), AT) for n in range(3)]
    for key in keys:
        cache.put(key, rota, expires=100)
    cache.get(keys[1], now=0)

    assert len(cache) == 2
    assert cache.get(keys[0], now=0) is None  # the least recently used went first
    assert cache.get(keys[2], now=0) is rota
    assert cache.get(keys[2], now=100) is None  # expired


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (500, b'{"error": {"message": "Internal Server Error"}}', r"HTTP 500 from 127\.0\.0\.1: Internal Server Error"),
        (502, b"<html>bad gateway</html>", r"^HTTP 502 from 127\.0\.0\.1$"),
        (403, b'{"error": {"message": "Access Denied", "code": 2010}}', r"may not read on-calls \(HTTP 403\)"),
        (200, b'{"oncalls": [', r"malformed JSON"),
        (200, b'{"data": []}', r"no `oncalls` list"),
        (200, b'{"oncalls": [{"user": "PALICE1", "start": null}], "more": false}', r"entry 0: user"),
        (200, b'{"oncalls": [], "more": false}', r"lists nobody on call for schedule PSCHED01"),
    ],
)
async def test_failures_are_pagerduty_unavailable_with_a_short_reason(
    pagerduty: PagerDutyOncalls, fake: FakePagerDuty, status: int, body: bytes, expected: str
) -> None:
    fake.status, fake.body = status, body

    with pytest.raises(PagerDutyUnavailable) as caught:
        await pagerduty.rota(BY_SCHEDULE, AT)

    assert re.search(expected, caught.value.reason), caught.value.reason
    assert len(caught.value.reason) < 160
    assert TOKEN not in str(caught.value)


async def test_a_wrong_token_says_so_and_is_never_shown(client: httpx.AsyncClient, url: str) -> None:
    pagerduty = PagerDutyOncalls(client, url, "wrong-token-123")

    with capture_logs() as logs, pytest.raises(PagerDutyUnavailable, match=r"refused PAGERDUTY_API_TOKEN") as caught:
        await pagerduty.rota(BY_SCHEDULE, AT)

    assert "wrong-token-123" not in f"{caught.value} {pagerduty!r} {logs}"


async def test_rate_limited_is_said_and_not_asked_again_until_reset(
    pagerduty: PagerDutyOncalls, fake: FakePagerDuty, clock: Clock
) -> None:
    fake.status, fake.body = 429, b'{"error": {"message": "Rate Limit Exceeded", "code": 2020}}'
    fake.headers = {"ratelimit-limit": "960", "ratelimit-remaining": "0", "ratelimit-reset": "30"}

    with pytest.raises(PagerDutyUnavailable, match=r"rate limited"):
        await pagerduty.rota(BY_SCHEDULE, AT)
    clock.now += 29
    with pytest.raises(PagerDutyUnavailable, match=r"rate limited"):
        await pagerduty.rota(BY_SCHEDULE, AT)
    assert len(fake.requests) == 1

    fake.status, fake.body = 200, None
    clock.now += 2
    assert (await pagerduty.rota(BY_SCHEDULE, AT)).now.member == "alice@example.com"
    assert len(fake.requests) == 2


async def test_a_slow_answer_times_out(client: httpx.AsyncClient, url: str, fake: FakePagerDuty) -> None:
    fake.hold = asyncio.Event()
    pagerduty = PagerDutyOncalls(client, url, TOKEN, timeout=0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()

    with pytest.raises(PagerDutyUnavailable, match=r"no answer from 127\.0\.0\.1 within 0\.2 s"):
        await pagerduty.rota(BY_SCHEDULE, AT)

    assert loop.time() - started < 1.5
    assert len(fake.requests) == 1


async def test_a_refused_connection_is_unavailable(client: httpx.AsyncClient) -> None:
    async with serve_app(FastAPI()) as gone:
        pass  # the port is closed again: nothing listens there

    with pytest.raises(PagerDutyUnavailable, match=r"cannot connect to 127\.0\.0\.1"):
        await PagerDutyOncalls(client, gone, TOKEN).rota(BY_SCHEDULE, AT)


# The directory: PagerDuty, Warroom's overrides on top, and the schedule file as the fallback.


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite:///{tmp_path / 'warroom.db'}"
    await upgrade_async(url)
    database = Database(url)
    yield database
    await database.dispose()


async def test_the_directory_answers_from_pagerduty(db: Database, pagerduty: PagerDutyOncalls) -> None:
    answer = await OncallDirectory(pagerduty).rota(db.session, BY_SCHEDULE, AT)

    assert (answer.source, answer.warning) == ("pagerduty", None)
    assert answer.rota.now.member == "alice@example.com"


async def test_warroom_overrides_win_over_pagerduty(db: Database, pagerduty: PagerDutyOncalls) -> None:
    async with db.transaction() as session:
        session.add(
            OncallOverride(
                schedule_id="payments",
                member="zed@example.com",
                starts_at=AT - timedelta(hours=2),
                ends_at=AT + timedelta(hours=22),
                created_at=AT - timedelta(days=1),
            )
        )
    answer = await OncallDirectory(pagerduty).rota(db.session, BY_SCHEDULE, AT)

    assert answer.source == "pagerduty"
    assert answer.rota.now == OnCall(
        "zed@example.com", AT - timedelta(hours=2), AT + timedelta(hours=22), "override", True
    )
    assert answer.rota.next is not None
    assert (answer.rota.next.member, answer.rota.next.start) == ("alice@example.com", AT + timedelta(hours=22))


async def test_unavailable_pagerduty_falls_back_to_the_file_and_warns_once_a_minute(
    db: Database, pagerduty: PagerDutyOncalls, fake: FakePagerDuty
) -> None:
    fake.status, fake.body = 500, b'{"error": {"message": "Internal Server Error"}}'
    ticks = Clock()
    directory = OncallDirectory(pagerduty, clock=ticks)

    with capture_logs() as logs:
        answer = await directory.rota(db.session, BY_SCHEDULE, AT)
        again = await directory.rota(db.session, BY_SCHEDULE, AT)
        ticks.now += 61
        await directory.rota(db.session, BY_SCHEDULE, AT)
        async with db.session() as session:
            from_file = await service.rota(session, BY_SCHEDULE, AT)

    assert answer.source == "file"
    assert answer.rota == from_file and answer.rota.now.member in ("file-one@example.com", "file-two@example.com")
    assert answer.warning == (
        "PagerDuty unavailable (HTTP 500 from 127.0.0.1: Internal Server Error); showing the schedule file"
    )
    assert again == answer
    assert [entry["event"] for entry in logs] == ["pagerduty_unavailable", "pagerduty_unavailable"]
    assert TOKEN not in str(logs)


async def test_a_schedule_naming_pagerduty_without_a_token_uses_the_file(db: Database) -> None:
    answer = await OncallDirectory(None).rota(db.session, BY_SCHEDULE, AT)
    async with db.session() as session:
        from_file = await service.rota(session, BY_SCHEDULE, AT)

    assert (answer.source, answer.rota) == ("file", from_file)
    assert answer.warning is not None and "PAGERDUTY_API_TOKEN is not set" in answer.warning


async def test_a_schedule_without_pagerduty_never_asks_it(
    db: Database, pagerduty: PagerDutyOncalls, fake: FakePagerDuty
) -> None:
    answer = await OncallDirectory(pagerduty).rota(db.session, schedule(), AT)

    assert (answer.source, answer.warning) == ("file", None)
    assert fake.requests == []


def test_an_override_inside_a_pagerduty_shift_hands_back_to_the_scheduled_person() -> None:
    alice = OnCall("alice@example.com", AT - timedelta(days=2), AT + timedelta(days=5), "Primary", False)
    bob = OnCall("bob@example.com", AT + timedelta(days=5), AT + timedelta(days=12), "Primary", False)
    cover = Override("zed@example.com", AT + timedelta(hours=1), AT + timedelta(hours=5), AT - timedelta(days=1), 1)
    older = Override("old@example.com", AT, AT + timedelta(hours=3), AT - timedelta(days=2), 2)
    horizon = AT + timedelta(days=14)

    at_noon = with_overrides(Rota(alice, bob), [cover, older], AT, horizon)
    during = with_overrides(Rota(alice, bob), [cover, older], AT + timedelta(hours=2), horizon)

    assert at_noon.now == OnCall("old@example.com", AT, AT + timedelta(hours=1), "override", True)
    assert at_noon.next == OnCall("zed@example.com", AT + timedelta(hours=1), AT + timedelta(hours=5), "override", True)
    assert during.now.member == "zed@example.com"  # the newer override wins where both cover
    assert during.next == OnCall("alice@example.com", AT + timedelta(hours=5), AT + timedelta(days=5), "Primary", False)
