"""Who is on call: wall-clock shifts across daylight-saving changes and zones, layers, restrictions, overrides."""

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from bot.oncall.rotation import Boundary, OnCall, Override, Segment, effective, handoffs, next_handoff, scheduled, who
from bot.oncall.schema import Schedule
from tests.oncall.builders import A, B, C, D, E, layered, rotation, utc
from tests.oncall.zones import changes

WEEKLY = {"shift": "1w", "handoff": "monday 09:00"}
DST_ZONES = ("Europe/Berlin", "America/New_York", "Australia/Sydney")


def instant(text: str) -> datetime:
    """`2026-03-29 01:00` read as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def weekly(zone: str, members: tuple[str, ...] = (A, B, C), start: str = "2016-01-04") -> Schedule:
    return rotation(zone, members=list(members), start=start, **WEEKLY)


def weekly_member(at: datetime, zone: str, members: tuple[str, ...], first_monday: date) -> str:
    """Reference answer by calendar counting: the weeks since `first_monday` 09:00 local that have begun."""
    local = at.astimezone(ZoneInfo(zone))
    monday = local.date() - timedelta(days=local.weekday())
    if local.weekday() == 0 and local.time() < time(9):
        monday -= timedelta(weeks=1)
    return members[((monday - first_monday).days // 7) % len(members)]


# The Monday 09:00 handoffs either side of each change, worked out by hand from the offsets
# (Berlin +1/+2, New York -5/-4, Sydney +10/+11); the tz lookup below checks they straddle it.
MONDAYS_AROUND_CHANGES = [
    ("Europe/Berlin", 2026, 0, utc(2026, 3, 23, 8), utc(2026, 3, 30, 7)),
    ("Europe/Berlin", 2026, 1, utc(2026, 10, 19, 7), utc(2026, 10, 26, 8)),
    ("Europe/Berlin", 2027, 0, utc(2027, 3, 22, 8), utc(2027, 3, 29, 7)),
    ("Europe/Berlin", 2027, 1, utc(2027, 10, 25, 7), utc(2027, 11, 1, 8)),
    ("America/New_York", 2026, 0, utc(2026, 3, 2, 14), utc(2026, 3, 9, 13)),
    ("America/New_York", 2026, 1, utc(2026, 10, 26, 13), utc(2026, 11, 2, 14)),
    ("America/New_York", 2027, 0, utc(2027, 3, 8, 14), utc(2027, 3, 15, 13)),
    ("America/New_York", 2027, 1, utc(2027, 11, 1, 13), utc(2027, 11, 8, 14)),
    ("Australia/Sydney", 2026, 0, utc(2026, 3, 29, 22), utc(2026, 4, 5, 23)),  # April: clocks go back
    ("Australia/Sydney", 2026, 1, utc(2026, 9, 27, 23), utc(2026, 10, 4, 22)),  # October: forward
    ("Australia/Sydney", 2027, 0, utc(2027, 3, 28, 22), utc(2027, 4, 4, 23)),
    ("Australia/Sydney", 2027, 1, utc(2027, 9, 26, 23), utc(2027, 10, 3, 22)),
]


@pytest.mark.parametrize(("zone", "year", "which", "before", "after"), MONDAYS_AROUND_CHANGES)
def test_weekly_handoff_stays_at_monday_0900_local_across_each_change(
    zone: str, year: int, which: int, before: datetime, after: datetime
) -> None:
    change = changes(zone, year)[which]
    assert before < change.at < after
    schedule = weekly(zone)
    found = handoffs(schedule, change.at - timedelta(days=8), change.at + timedelta(days=8))
    assert [b.at for b in found] == [before, after]
    # The week with the change is an hour shorter (forward) or longer (back) in real time.
    assert after - before == timedelta(weeks=1) - (change.after - change.before)
    first = date(2016, 1, 4)
    for boundary in found:
        assert boundary.incoming == weekly_member(boundary.at, zone, (A, B, C), first)
        assert boundary.outgoing == weekly_member(boundary.at - timedelta(seconds=1), zone, (A, B, C), first)
    assert found[1].since == before


def test_berlin_spring_2026_in_words() -> None:
    # The Monday 09:00 Berlin handoff after the March 2026 change is at 07:00 UTC, the one before at 08:00.
    boundary = next_handoff(weekly("Europe/Berlin"), utc(2026, 3, 29, 12))
    assert boundary is not None
    assert boundary.at == datetime(2026, 3, 30, 7, tzinfo=UTC)
    # 2016-01-04 to 2026-03-23 is 3,731 days: week 533, and 533 % 3 == 2 (carol), then 534 % 3 == 0 (alice).
    assert next_handoff(weekly("Europe/Berlin"), utc(2026, 3, 22)) == Boundary(
        utc(2026, 3, 23, 8), B, C, utc(2026, 3, 16, 8)
    )
    assert boundary == Boundary(utc(2026, 3, 30, 7), C, A, utc(2026, 3, 23, 8))


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "Asia/Tokyo"])
def test_zone_without_dst_keeps_the_same_utc_time_through_2026_and_2027(zone: str) -> None:
    assert changes(zone, 2026) == changes(zone, 2027) == []
    found = handoffs(weekly(zone, (A, B, C, D)), utc(2026, 1, 1), utc(2028, 1, 1))
    # Kolkata is +05:30 (09:00 is 03:30 UTC), Tokyo +09:00 (09:00 is 00:00 UTC), all year.
    expected_time = {"Asia/Kolkata": time(3, 30), "Asia/Tokyo": time(0)}[zone]
    assert len(found) == 104  # every Monday of 2026 and 2027
    assert {b.at.time() for b in found} == {expected_time}
    assert {b.at.weekday() for b in found} == {0}
    assert all(later.at - earlier.at == timedelta(weeks=1) for earlier, later in pairwise(found))
    # The Berlin changes do not touch these zones: the weeks around them are ordinary.
    for change in changes("Europe/Berlin", 2026) + changes("Europe/Berlin", 2027):
        rota = who(weekly(zone, (A, B, C, D)), [], change.at)
        assert rota.now.end is not None
        assert rota.now.end - rota.now.start == timedelta(weeks=1)


# Daily handoff at 02:30 (01:30 in New York, whose repeated hour is 01:00-02:00): the day before,
# the day of the change, the day after. A skipped 02:30 starts when the clocks resume (03:00 new
# time); a repeated one at its first occurrence (summer time).
DAILY_0230 = [
    ("Europe/Berlin", "02:30", date(2026, 3, 29), ["2026-03-28 01:30", "2026-03-29 01:00", "2026-03-30 00:30"]),
    ("Europe/Berlin", "02:30", date(2026, 10, 25), ["2026-10-24 00:30", "2026-10-25 00:30", "2026-10-26 01:30"]),
    ("Europe/Berlin", "02:30", date(2027, 3, 28), ["2027-03-27 01:30", "2027-03-28 01:00", "2027-03-29 00:30"]),
    ("Europe/Berlin", "02:30", date(2027, 10, 31), ["2027-10-30 00:30", "2027-10-31 00:30", "2027-11-01 01:30"]),
    ("Australia/Sydney", "02:30", date(2026, 10, 4), ["2026-10-02 16:30", "2026-10-03 16:00", "2026-10-04 15:30"]),
    ("Australia/Sydney", "02:30", date(2026, 4, 5), ["2026-04-03 15:30", "2026-04-04 15:30", "2026-04-05 16:30"]),
    ("America/New_York", "02:30", date(2026, 3, 8), ["2026-03-07 07:30", "2026-03-08 07:00", "2026-03-09 06:30"]),
    ("America/New_York", "01:30", date(2026, 11, 1), ["2026-10-31 05:30", "2026-11-01 05:30", "2026-11-02 06:30"]),
]


@pytest.mark.parametrize(("zone", "clock", "day", "expected_text"), DAILY_0230)
def test_daily_handoff_inside_a_skipped_or_repeated_hour(
    zone: str, clock: str, day: date, expected_text: list[str]
) -> None:
    expected = [instant(text) for text in expected_text]
    assert any(change.at.astimezone(ZoneInfo(zone)).date() == day for change in changes(zone, day.year))
    members = (A, B, C)
    schedule = rotation(zone, members=list(members), shift="1d", handoff=clock, start="2026-01-01")
    found = handoffs(schedule, expected[0] - timedelta(hours=1), expected[-1])
    assert [b.at for b in found] == expected
    # Shift k begins on 1 January + k days, so the day of the handoff names the incoming person.
    for boundary, when in zip(found, (day - timedelta(days=1), day, day + timedelta(days=1)), strict=True):
        assert boundary.incoming == members[(when - date(2026, 1, 1)).days % 3]
    # One second before the handoff the previous person is still on call.
    assert who(schedule, [], expected[1] - timedelta(seconds=1)).now.member == found[0].incoming
    assert who(schedule, [], expected[1]).now.member == found[1].incoming


def test_a_skipped_handoff_begins_when_the_clocks_resume_in_berlin() -> None:
    schedule = rotation("Europe/Berlin", members=[A, B], shift="1d", handoff="02:30", start="2026-03-01")
    boundary = next_handoff(schedule, utc(2026, 3, 28, 12))
    assert boundary is not None
    local = boundary.at.astimezone(ZoneInfo("Europe/Berlin"))
    assert (local.date(), local.time(), local.utcoffset()) == (date(2026, 3, 29), time(3), timedelta(hours=2))


@pytest.mark.parametrize(
    ("first_day", "expected", "night"),
    [
        # Spring: the Saturday night shift (21:00 CET to 09:00 CEST) is 11 hours.
        ("2026-03-28", ["2026-03-28 08:00", "2026-03-28 20:00", "2026-03-29 07:00", "2026-03-29 19:00"], 11),
        # Autumn: the Saturday night shift (21:00 CEST to 09:00 CET) is 13 hours.
        ("2026-10-24", ["2026-10-24 07:00", "2026-10-24 19:00", "2026-10-25 08:00", "2026-10-25 20:00"], 13),
        ("2027-03-27", ["2027-03-27 08:00", "2027-03-27 20:00", "2027-03-28 07:00", "2027-03-28 19:00"], 11),
        ("2027-10-30", ["2027-10-30 07:00", "2027-10-30 19:00", "2027-10-31 08:00", "2027-10-31 20:00"], 13),
    ],
)
def test_12h_shifts_across_a_change(first_day: str, expected: list[str], night: int) -> None:
    members = (A, B, C)
    schedule = rotation("Europe/Berlin", members=list(members), shift="12h", handoff="09:00", start="2026-01-01")
    start = instant(f"{first_day} 00:00")
    found = handoffs(schedule, start, start + timedelta(days=2))
    assert [b.at for b in found] == [instant(text) for text in expected]
    assert found[2].at - found[1].at == timedelta(hours=night)
    zone = ZoneInfo("Europe/Berlin")
    for boundary in found:
        # Shift 2k starts at 09:00 and 2k+1 at 21:00 on the k-th day after 1 January.
        local = boundary.at.astimezone(zone)
        index = 2 * (local.date() - date(2026, 1, 1)).days + (local.hour == 21)
        assert local.hour in (9, 21)
        assert boundary.incoming == members[index % 3]
        assert boundary.outgoing == members[(index - 1) % 3]


def test_1h_shifts_when_the_clocks_go_forward_skip_the_0200_shift() -> None:
    # Shifts from 00:00 local on 29 March: a (00:00), b (01:00), c (02:00, never happens), d (03:00), a (04:00).
    schedule = rotation("Europe/Berlin", members=[A, B, C, D], shift="1h", handoff="00:00", start="2026-03-29")
    found = scheduled(schedule, utc(2026, 3, 29, 0), utc(2026, 3, 29, 3))
    assert [(s.start, s.end, s.member) for s in found] == [
        (utc(2026, 3, 29, 0), utc(2026, 3, 29, 1), B),
        (utc(2026, 3, 29, 1), utc(2026, 3, 29, 2), D),
        (utc(2026, 3, 29, 2), utc(2026, 3, 29, 3), A),
    ]


def test_1h_shifts_when_the_clocks_go_back_make_the_0200_shift_two_hours() -> None:
    schedule = rotation("Europe/Berlin", members=[A, B, C, D], shift="1h", handoff="00:00", start="2026-10-25")
    found = scheduled(schedule, utc(2026, 10, 24, 22), utc(2026, 10, 25, 4))
    assert [(s.start, s.end, s.member) for s in found] == [
        (utc(2026, 10, 24, 22), utc(2026, 10, 24, 23), A),
        (utc(2026, 10, 24, 23), utc(2026, 10, 25, 0), B),
        (utc(2026, 10, 25, 0), utc(2026, 10, 25, 2), C),  # 02:00 CEST until 03:00 CET
        (utc(2026, 10, 25, 2), utc(2026, 10, 25, 3), D),
        (utc(2026, 10, 25, 3), utc(2026, 10, 25, 4), A),
    ]


def test_1h_shifts_in_new_york_across_the_2027_changes() -> None:
    members = (A, B, C, D, E)
    for change in changes("America/New_York", 2027):
        schedule = rotation("America/New_York", members=list(members), shift="1h", handoff="00:00", start="2016-01-01")
        found = handoffs(schedule, change.at - timedelta(hours=3), change.at + timedelta(hours=3))
        zone = ZoneInfo("America/New_York")
        for boundary in found:
            # Count whole wall-clock hours since 2016-01-01 00:00 by calendar arithmetic.
            local = boundary.at.astimezone(zone)
            index = (local.date() - date(2016, 1, 1)).days * 24 + local.hour
            assert boundary.incoming == members[index % 5]
        # Forward: six boundaries an hour apart (the 02:00 shift is empty, 01:00 hands straight to
        # 03:00). Back: five, as the repeated 01:00 shift lasts two real hours.
        gaps = [b.at - a.at for a, b in pairwise(found)]
        if change.forward:
            assert gaps == [timedelta(hours=1)] * 5
        else:
            assert gaps == [timedelta(hours=1), timedelta(hours=2), timedelta(hours=1), timedelta(hours=1)]


def test_a_rotation_started_in_2016_names_the_right_person_in_2027() -> None:
    members = (A, B, C, D, E)
    zone = "Europe/Berlin"
    schedule = weekly(zone, members, start="2016-01-06")  # a Wednesday: the first shift is Monday 11 January
    first_monday = date(2016, 1, 11)
    at = utc(2027, 1, 1)
    while at < utc(2028, 1, 1):
        rota = who(schedule, [], at)
        assert rota.now.member == weekly_member(at, zone, members, first_monday), at
        assert rota.next is not None
        assert rota.next.member == members[(members.index(rota.now.member) + 1) % 5]
        at += timedelta(hours=61)  # lands on every hour of the week in turn
    assert who(schedule, [], utc(2016, 1, 11, 7, 59)).now.member is None  # 08:59 CET: not started yet
    assert who(schedule, [], utc(2016, 1, 11, 8)).now.member == A


def test_12h_rotation_started_in_2016_in_sydney() -> None:
    members = (A, B, C)
    zone = ZoneInfo("Australia/Sydney")
    schedule = rotation("Australia/Sydney", members=list(members), shift="12h", handoff="08:00", start="2016-02-29")
    # Around the 2027 changes, and a second either side of the 08:00 handoffs just after them.
    instants = [utc(2027, 4, 3, 15, 59), utc(2027, 4, 3, 16, 30), utc(2027, 4, 3, 21, 59, 59), utc(2027, 4, 3, 22)]
    instants += [utc(2027, 10, 2, 15, 59), utc(2027, 10, 2, 16), utc(2027, 10, 2, 20, 59, 59), utc(2027, 10, 2, 21)]
    seen = set()
    for at in instants:
        local = at.astimezone(zone)
        day = local.date() if local.time() >= time(8) else local.date() - timedelta(days=1)
        index = 2 * (day - date(2016, 2, 29)).days + (not time(8) <= local.time() < time(20))
        assert who(schedule, [], at).now.member == members[index % 3], at
        seen.add(index)
    assert len(seen) == 4  # the instants straddle handoffs, so they would catch an off-by-one shift


def follow_the_sun() -> Schedule:
    def region(name: str, zone: str, people: list[str]) -> dict[str, object]:
        return {"name": name, "timezone": zone, "members": people, "hours": "09:00-17:00", "start": "2026-01-05"}

    return layered(
        {**region("apac", "Australia/Sydney", [A, B]), **WEEKLY},
        {**region("emea", "Europe/Berlin", [C]), **WEEKLY},
        {**region("amer", "America/New_York", [D, E]), **WEEKLY},
    )


@pytest.mark.parametrize(
    ("at", "member", "layer"),
    [
        # The weeks of 11 January and 12 July 2027 are weeks 53 and 79 after 5 January 2026: both odd,
        # so each region has its second member on (B in apac, E in amer; emea has only C).
        # January: Sydney 22:00-06:00 UTC, Berlin 08:00-16:00, New York 14:00-22:00 (wins 14-16 as the later layer).
        (utc(2027, 1, 13, 2), B, "apac"),  # 13:00 in Sydney
        (utc(2027, 1, 13, 7), None, None),  # 18:00 Sydney, 08:00 Berlin, 02:00 New York: a gap
        (utc(2027, 1, 13, 10), C, "emea"),
        (utc(2027, 1, 13, 15), E, "amer"),  # Berlin still covers; the later layer wins
        (utc(2027, 1, 13, 21, 59), E, "amer"),
        (utc(2027, 1, 13, 22, 30), B, "apac"),  # 09:30 on Thursday in Sydney
        # July: Sydney 23:00-07:00 UTC, Berlin 07:00-15:00, New York 13:00-21:00.
        (utc(2027, 7, 14, 6, 30), B, "apac"),
        (utc(2027, 7, 14, 7, 30), C, "emea"),
        (utc(2027, 7, 14, 21, 30), None, None),
        (utc(2027, 7, 14, 23, 30), B, "apac"),
    ],
)
def test_follow_the_sun_each_region_covers_its_own_hours(at: datetime, member: str | None, layer: str | None) -> None:
    # Reference: which regions' 09:00-17:00 contains `at`, read on each region's own clock.
    regions = [("apac", "Australia/Sydney"), ("emea", "Europe/Berlin"), ("amer", "America/New_York")]
    covering = [name for name, zone in regions if time(9) <= at.astimezone(ZoneInfo(zone)).time() < time(17)]
    assert (covering[-1] if covering else None) == layer
    now = who(follow_the_sun(), [], at).now
    assert (now.member, now.layer) == (member, layer)


def test_follow_the_sun_gap_reports_when_it_ends_and_who_is_next() -> None:
    rota = who(follow_the_sun(), [], utc(2027, 1, 13, 7))
    assert (rota.now.member, rota.now.start, rota.now.end) == (None, utc(2027, 1, 13, 6), utc(2027, 1, 13, 8))
    assert rota.next is not None
    assert (rota.next.member, rota.next.start, rota.next.end) == (C, utc(2027, 1, 13, 8), utc(2027, 1, 13, 14))


def test_follow_the_sun_handoffs_in_one_day() -> None:
    found = handoffs(follow_the_sun(), utc(2027, 1, 13, 0), utc(2027, 1, 14, 0))
    # Sydney's window ends 06:00 and Berlin's opens 08:00: the gap does not hide the handoff B -> C.
    assert [(b.at, b.outgoing, b.incoming) for b in found] == [
        (utc(2027, 1, 13, 8), B, C),
        (utc(2027, 1, 13, 14), C, E),
        (utc(2027, 1, 13, 22), E, B),
    ]
    assert found[1].since == utc(2027, 1, 13, 8)


def business_days() -> Schedule:
    return rotation(
        "Europe/Berlin", members=[A, B, C, D], shift="1d", handoff="09:00", start="2026-03-02",
        hours="09:00-17:00", days="weekdays",
    )  # fmt: skip


def test_weekdays_restriction_leaves_weekends_uncovered() -> None:
    schedule = business_days()
    # 2026-03-27 is a Friday; shift k is the k-th day after Monday 2 March (weekend days included).
    friday, saturday, monday = utc(2026, 3, 27, 10), utc(2026, 3, 28, 10), utc(2026, 3, 30, 10)
    members = (A, B, C, D)
    assert who(schedule, [], friday).now.member == members[25 % 4]
    rota = who(schedule, [], saturday)
    assert rota.now.member is None
    assert rota.now.start == utc(2026, 3, 27, 16)  # 17:00 CET on Friday
    assert rota.now.end == utc(2026, 3, 30, 7)  # 09:00 CEST on Monday, after the change
    assert rota.next is not None
    assert (rota.next.member, rota.next.start) == (members[28 % 4], utc(2026, 3, 30, 7))
    assert who(schedule, [], monday).now.member == members[28 % 4]


def test_handoffs_over_a_weekend_gap_name_the_friday_person_as_outgoing() -> None:
    found = handoffs(business_days(), utc(2026, 3, 27, 12), utc(2026, 3, 31, 12))
    members = (A, B, C, D)
    assert found == [
        Boundary(utc(2026, 3, 30, 7), members[25 % 4], members[28 % 4], utc(2026, 3, 27, 8)),
        Boundary(utc(2026, 3, 31, 7), members[28 % 4], members[29 % 4], utc(2026, 3, 30, 7)),
    ]


def test_listed_days_and_a_window_past_midnight() -> None:
    schedule = rotation(
        "Asia/Tokyo", members=[A], shift="1w", handoff="monday 00:00", start="2026-01-05",
        hours="22:00-06:00", days=["fri", "sat"],
    )  # fmt: skip
    # Tokyo is UTC+9. Friday 9 January 2026 22:00 to Saturday 06:00, then Saturday 22:00 to Sunday 06:00.
    found = scheduled(schedule, utc(2026, 1, 8), utc(2026, 1, 12))
    covered = [(s.start, s.end) for s in found if s.member is not None]
    assert covered == [(utc(2026, 1, 9, 13), utc(2026, 1, 9, 21)), (utc(2026, 1, 10, 13), utc(2026, 1, 10, 21))]


def test_a_later_layer_wins_where_both_cover() -> None:
    base = {"name": "base", "members": [A, B], **WEEKLY, "start": "2026-01-05"}
    office = {"name": "office", "members": [C], "shift": "1w", "handoff": "monday 09:00", "start": "2026-01-05",
              "hours": "09:00-17:00", "days": "weekdays"}  # fmt: skip
    schedule = layered(base, office, timezone="Europe/Berlin")
    # Wednesday 14 January 2026 is in week 1 (bob's); Berlin is UTC+1 in January.
    assert who(schedule, [], utc(2026, 1, 14, 9)).now == who(schedule, [], utc(2026, 1, 14, 15, 59)).now
    assert (who(schedule, [], utc(2026, 1, 14, 9)).now.member, who(schedule, [], utc(2026, 1, 14, 9)).now.layer) == (
        C,
        "office",
    )
    assert who(schedule, [], utc(2026, 1, 14, 16)).now.member == B
    assert who(schedule, [], utc(2026, 1, 17, 10)).now.member == B  # Saturday
    # In the other order the 24/7 layer hides the office layer completely.
    reversed_schedule = layered(office, base, timezone="Europe/Berlin")
    segments = scheduled(reversed_schedule, utc(2026, 1, 12), utc(2026, 1, 19))
    assert {s.member for s in segments} == {A, B}
    rota = who(schedule, [], utc(2026, 1, 14, 7, 59))
    assert rota.now == OnCall(B, utc(2026, 1, 13, 16), utc(2026, 1, 14, 8), "base", False)
    assert rota.next is not None
    assert (rota.next.member, rota.next.start, rota.next.end) == (C, utc(2026, 1, 14, 8), utc(2026, 1, 14, 16))


def test_who_now_and_next_for_a_weekly_rotation() -> None:
    schedule = weekly("UTC", (A, B, C), start="2026-01-05")
    rota = who(schedule, [], utc(2026, 1, 14, 12))
    assert (rota.now.member, rota.now.start, rota.now.end, rota.now.override) == (
        B,
        utc(2026, 1, 12, 9),
        utc(2026, 1, 19, 9),
        False,
    )
    assert rota.next is not None
    assert (rota.next.member, rota.next.start, rota.next.end) == (C, utc(2026, 1, 19, 9), utc(2026, 1, 26, 9))


def test_a_single_member_has_no_next_and_an_open_end() -> None:
    rota = who(weekly("UTC", (A,), start="2026-01-05"), [], utc(2026, 6, 1))
    assert rota.now.member == A
    assert rota.now.end is None
    assert rota.next is None


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        who(weekly("UTC"), [], datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        handoffs(weekly("UTC"), datetime(2026, 1, 1), utc(2026, 2, 1))


def test_handoffs_are_in_start_exclusive_end_inclusive() -> None:
    schedule = weekly("UTC", (A, B, C), start="2026-01-05")
    found = handoffs(schedule, utc(2026, 1, 12, 9), utc(2026, 2, 2, 9))
    assert found == [
        Boundary(utc(2026, 1, 19, 9), B, C, utc(2026, 1, 12, 9)),
        Boundary(utc(2026, 1, 26, 9), C, A, utc(2026, 1, 19, 9)),
        Boundary(utc(2026, 2, 2, 9), A, B, utc(2026, 1, 26, 9)),
    ]
    assert next_handoff(schedule, utc(2026, 1, 19, 9)) == found[1]
    assert handoffs(schedule, utc(2026, 1, 1), utc(2026, 1, 5, 9)) == []  # the very first shift has no outgoing


def test_same_person_twice_in_a_row_is_no_handoff() -> None:
    schedule = rotation("UTC", members=[A, A, B], shift="1d", handoff="00:00", start="2026-01-01")
    found = handoffs(schedule, utc(2026, 1, 1), utc(2026, 1, 7))
    assert [(b.at.day, b.outgoing, b.incoming) for b in found] == [(3, A, B), (4, B, A), (6, A, B), (7, B, A)]
    assert found[1].since == utc(2026, 1, 3)


def test_next_handoff_is_none_when_nobody_else_ever_takes_over() -> None:
    assert next_handoff(weekly("UTC", (A,), start="2026-01-05"), utc(2026, 3, 1)) is None


# Overrides. Base: weekly in UTC from Monday 5 January 2026, so bob has 12-19 January 09:00.
def override(member: str, start: datetime, end: datetime, created: int, ident: int = 0) -> Override:
    return Override(member, start, end, utc(2026, 1, 1, created), ident)


def test_an_override_inside_a_shift() -> None:
    schedule = weekly("UTC", (A, B, C), start="2026-01-05")
    cover = override(D, utc(2026, 1, 14, 10), utc(2026, 1, 14, 14), created=1)
    rota = who(schedule, [cover], utc(2026, 1, 14, 12))
    assert (rota.now.member, rota.now.start, rota.now.end, rota.now.override) == (
        D,
        utc(2026, 1, 14, 10),
        utc(2026, 1, 14, 14),
        True,
    )
    assert rota.next is not None
    # Bob comes back for the rest of his shift.
    assert (rota.next.member, rota.next.start, rota.next.end, rota.next.override) == (
        B,
        utc(2026, 1, 14, 14),
        utc(2026, 1, 19, 9),
        False,
    )
    before = who(schedule, [cover], utc(2026, 1, 14, 9))
    assert (before.now.member, before.now.end) == (B, utc(2026, 1, 14, 10))
    assert before.next is not None and before.next.member == D


def test_the_newest_override_wins_whatever_the_order_given() -> None:
    schedule = weekly("UTC", (A, B, C), start="2026-01-05")
    older = override(D, utc(2026, 1, 14, 10), utc(2026, 1, 14, 14), created=1, ident=7)
    newer = override(E, utc(2026, 1, 14, 12), utc(2026, 1, 14, 16), created=2, ident=3)
    for given in ([older, newer], [newer, older]):
        found = effective(schedule, given, utc(2026, 1, 14, 9), utc(2026, 1, 14, 17))
        assert [(s.start.hour, s.end.hour, s.member, s.override) for s in found] == [
            (9, 10, B, False),
            (10, 12, D, True),
            (12, 16, E, True),
            (16, 17, B, False),
        ]
    # A newer override entirely inside an older one splits it.
    inner = override(A, utc(2026, 1, 14, 11), utc(2026, 1, 14, 12), created=3)
    found = effective(schedule, [older, inner], utc(2026, 1, 14, 10), utc(2026, 1, 14, 14))
    assert [(s.start.hour, s.member) for s in found] == [(10, D), (11, A), (12, D)]
    # With equal creation times the higher id (recorded later) wins.
    tie = override(C, utc(2026, 1, 14, 10), utc(2026, 1, 14, 14), created=1, ident=8)
    assert who(schedule, [tie, older], utc(2026, 1, 14, 11)).now.member == C


def test_an_override_by_the_person_already_on_call_changes_nothing() -> None:
    schedule = weekly("UTC", (A, B, C), start="2026-01-05")
    same = override(B, utc(2026, 1, 14, 10), utc(2026, 1, 14, 14), created=1)
    assert who(schedule, [same], utc(2026, 1, 14, 12)) == who(schedule, [], utc(2026, 1, 14, 12))


def test_an_override_across_a_handoff_moves_who_but_not_the_schedule() -> None:
    schedule = weekly("UTC", (A, B, C), start="2026-01-05")
    cover = override(D, utc(2026, 1, 19, 6), utc(2026, 1, 19, 12), created=1)
    rota = who(schedule, [cover], utc(2026, 1, 19, 10))
    assert (rota.now.member, rota.now.start, rota.now.end) == (D, utc(2026, 1, 19, 6), utc(2026, 1, 19, 12))
    assert rota.next is not None
    assert (rota.next.member, rota.next.start, rota.next.end) == (C, utc(2026, 1, 19, 12), utc(2026, 1, 26, 9))
    # handoffs() is about the file schedule: overrides do not create or move them.
    assert [b.at for b in handoffs(schedule, utc(2026, 1, 18), utc(2026, 1, 20))] == [utc(2026, 1, 19, 9)]


def test_an_override_fills_a_gap_and_overrides_outside_the_window_are_ignored() -> None:
    late = override(E, utc(2026, 3, 28, 10), utc(2026, 3, 28, 12), created=1)
    elsewhere = override(A, utc(2026, 6, 1), utc(2026, 6, 2), created=2)
    found = effective(business_days(), [late, elsewhere], utc(2026, 3, 28), utc(2026, 3, 29))
    assert found == [
        Segment(utc(2026, 3, 28), utc(2026, 3, 28, 10), None),
        Segment(utc(2026, 3, 28, 10), utc(2026, 3, 28, 12), E, "override", True),
        Segment(utc(2026, 3, 28, 12), utc(2026, 3, 29), None),
    ]
