"""The five-whys chain: entries in the order recorded, form answers at their position, open questions for the rest."""

from datetime import UTC, datetime, timedelta

from bot.incidents.models import EventKind, Incident
from bot.postmortems.facts import Event, five_whys, marker_of

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
INCIDENT = Incident(number=7, title="Checkout 5xx", source="generic")


def _why(event_id: int, text: str, position: int | None = None) -> Event:
    data = {"position": position} if position is not None else {}
    return Event(event_id, T0 + timedelta(minutes=event_id), "U0BOB", EventKind.WHY, text, data)


def test_entries_fill_positions_in_order_and_the_rest_are_questions() -> None:
    whys = five_whys(INCIDENT, [_why(1, "Pool exhausted"), _why(2, "Workers doubled")])
    assert [(w.number, w.answer, w.cites) for w in whys[:2]] == [
        (1, "Pool exhausted", (1,)),
        (2, "Workers doubled", (2,)),
    ]
    assert whys[2].question == "Why did this happen: Workers doubled?"
    assert whys[3].question == "Why did the answer to why 3 happen?"
    assert all(w.answer is None for w in whys[2:])


def test_rewording_why_1_in_the_form_keeps_the_chain_in_place() -> None:
    events = [_why(1, "A"), _why(2, "B"), _why(3, "A, reworded", position=1), _why(4, "C", position=3)]
    assert [w.answer for w in five_whys(INCIDENT, events)] == ["A, reworded", "B", "C", None, None]


def test_no_whys_asks_about_the_incident_itself_and_extra_entries_are_kept_out() -> None:
    assert five_whys(INCIDENT, [])[0].question == "Why did this happen: Checkout 5xx?"
    many = [_why(n, f"answer {n}") for n in range(1, 8)]
    assert [w.answer for w in five_whys(INCIDENT, many)] == [f"answer {n}" for n in range(1, 6)]


def test_markers_file_notes_into_sections() -> None:
    assert marker_of("cause: pool too small") == ("cause", "pool too small")
    assert marker_of("Lesson:  test limits") == ("lesson", "test limits")
    assert marker_of("TODO: add alert") == ("action", "add alert")
    assert marker_of("because: nothing") == (None, "because: nothing")
