"""The model's part of a draft: a bounded prompt, answers checked against event ids, edits with citations, fallback."""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.alerts.models import AlertRow
from bot.incidents.models import EventKind, Incident
from bot.postmortems import draft, wording
from bot.postmortems.facts import Event, Facts, five_whys
from bot.postmortems.wording import (
    NOT_JSON,
    Claim,
    ModelUnavailable,
    Proposal,
    as_edits,
    build_messages,
    parse,
    propose,
    shown_events,
)

START = datetime(2026, 3, 4, 23, 50, tzinfo=UTC)


def incident() -> Incident:
    return Incident(
        id=7,
        number=42,
        title="Checkout API returns 502",
        status="resolved",
        severity=2,
        service="checkout",
        source="alertmanager",
        commander="U0COMMANDER",
        created_at=START,
        acknowledged_at=START + timedelta(minutes=3),
        mitigated_at=START + timedelta(minutes=20),
        resolved_at=START + timedelta(minutes=45),
    )


def event(id_: int, kind: str, text: str, minutes: float = 0, actor: str | None = "U0ALICE") -> Event:
    return Event(id_, START + timedelta(minutes=minutes), actor, kind, text)


def recorded() -> list[Event]:
    """A small incident as `gather` returns it, in time order (ids have gaps: other incidents' events)."""
    return [
        event(10, EventKind.OPENED, "Incident opened from alert HighErrorRate", 0, None),
        event(11, EventKind.STATUS, "Acknowledged", 3),
        event(12, EventKind.NOTE, "about 30% of checkout requests fail since 23:48", 5),
        event(15, EventKind.NOTE, "checkout pods restart in a loop, OOMKilled", 6),
        event(16, EventKind.WHY, "the new release doubled the image cache size", 12),
        event(17, EventKind.STATUS, "Mitigated: rolled back to 1.41", 20, "U0BOB"),
        event(18, EventKind.STATUS, "Resolved", 45),
    ]


def facts_of(events: list[Event] | None = None) -> Facts:
    events = recorded() if events is None else events
    i = incident()
    alert = AlertRow(
        incident_id=7,
        source="alertmanager",
        fingerprint="f1",
        status="resolved",
        severity=2,
        title="HighErrorRate checkout",
        starts_at=START - timedelta(minutes=2),
    )
    return Facts(
        incident=i,
        alerts=[alert],
        events=events,
        steps=[],
        playbooks=[],
        detected_at=START - timedelta(minutes=2),
        what_happened="Checkout failed for a third of requests until the rollback.",
        whys=five_whys(i, events),
        causes=[],
        lessons=[],
        actions=[],
    )


def answer(**sections: Any) -> str:
    return json.dumps(sections)


def timeline_lines(messages: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The event objects of the user message (the lines that parse as JSON objects with an id)."""
    found = []
    for line in messages[1]["content"].splitlines():
        if line.startswith('{"id":'):
            found.append(json.loads(line))
    return found


# --- the prompt ---


def test_messages_are_a_system_prompt_with_the_rules_and_the_facts_with_every_event_id() -> None:
    messages = build_messages(facts_of())

    assert [m["role"] for m in messages] == ["system", "user"]
    system = messages[0]["content"]
    assert "Only state what the cited events support" in system
    assert "Every claim cites at least one event id" in system
    assert "Do not invent" in system
    assert "JSON only" in system  # JSON mode needs the word in a message, or some servers refuse it
    user = messages[1]["content"]
    assert "Checkout API returns 502" in user
    assert "all 7 events" in user
    lines = timeline_lines(messages)
    assert [line["id"] for line in lines] == [10, 11, 12, 15, 16, 17, 18]
    assert lines[2] == {
        "id": 12,
        "at": "2026-03-04T23:55:00Z",
        "who": "U0ALICE",
        "kind": "note",
        "text": "about 30% of checkout requests fail since 23:48",
    }
    assert lines[0]["who"] == "Warroom"
    facts = json.loads(user.split("Incident facts (JSON):\n", 1)[1].split("\n\nTimeline", 1)[0])
    assert facts["severity"] == "SEV2"
    assert facts["time_after_detection"] == {"acknowledge": "5 min", "mitigate": "22 min", "resolve": "47 min"}
    assert facts["recorded_whys"][0] == {
        "number": 1,
        "answer": "the new release doubled the image cache size",
        "cites": [16],
    }
    assert facts["recorded_whys"][1] == {"number": 2, "unanswered": True}


def test_an_alert_storm_is_cut_to_300_events_keeping_everything_people_wrote() -> None:
    storm = [event(1000 + n, EventKind.ALERT, f"pod checkout-{n} unhealthy", n / 100, None) for n in range(10_000)]
    people = [
        event(5, EventKind.NOTE, "cause: the image cache filled the memory limit", 99.995),
        event(6, EventKind.WHY, "the cache size doubled in 1.42", 99.996),
        event(7, EventKind.STATUS, "Resolved", 99.997),
    ]
    facts = facts_of([*storm, *people])

    messages = build_messages(facts)

    lines = timeline_lines(messages)
    ids = [line["id"] for line in lines]
    assert len(lines) == wording.MAX_EVENTS == 300
    assert {5, 6, 7} <= set(ids)  # written last, chosen first
    assert ids[-3:] == [5, 6, 7] and ids[:3] == [1000, 1001, 1002]  # the rest fill up from the start, in time order
    assert "300 of 10003 events, the most relevant" in messages[1]["content"]
    assert len(messages[1]["content"]) < wording.EVENT_BUDGET + 5_000


def test_the_character_budget_bounds_the_timeline_and_long_texts_are_cut() -> None:
    events = [event(n, EventKind.NOTE, "x" * 5_000, n) for n in range(1, 301)]

    lines = [line for _, line in shown_events(facts_of(events))]

    assert sum(len(line) + 1 for line in lines) <= wording.EVENT_BUDGET
    assert 50 < len(lines) < 300  # each line is ~600 characters, so the budget ends it well before 300
    first = json.loads(lines[0])
    assert len(first["text"]) == wording.MAX_EVENT_TEXT and first["text"].endswith("…")
    assert [json.loads(line)["id"] for line in lines] == list(range(1, len(lines) + 1))


# --- reading the answer ---

GOOD = answer(
    summary=[
        {"text": "About 30% of checkout requests failed for 47 minutes.", "cites": [12, 18]},
        {"text": "A rollback to 1.41 mitigated it.", "cites": [17]},
    ],
    impact=[{"text": "A third of checkout requests failed.", "cites": [12]}],
    whys=[
        {"number": 1, "text": "Checkout pods were OOMKilled in a loop.", "cites": [15]},
        {"number": 2, "text": "Release 1.42 doubled the image cache size.", "cites": [16]},
    ],
)


def test_a_good_answer_becomes_claims_with_their_citations() -> None:
    proposal = parse(GOOD, facts_of())

    assert proposal == Proposal(
        summary=[
            Claim("About 30% of checkout requests failed for 47 minutes.", (12, 18)),
            Claim("A rollback to 1.41 mitigated it.", (17,)),
        ],
        impact=[Claim("A third of checkout requests failed.", (12,))],
        whys={
            1: Claim("Checkout pods were OOMKilled in a loop.", (15,)),
            2: Claim("Release 1.42 doubled the image cache size.", (16,)),
        },
        dropped=0,
    )


def test_claims_citing_nothing_are_dropped_and_counted() -> None:
    text = answer(
        summary=[
            {"text": "Checkout failed.", "cites": [12]},
            {"text": "Revenue loss was $2M.", "cites": []},
            {"text": "Customers in the EU were hit hardest."},
            {"text": "Somebody did it.", "cites": None},
        ],
        whys=[{"number": 3, "text": "Nobody reviews cache sizes.", "cites": []}],
    )

    proposal = parse(text, facts_of())

    assert proposal.summary == [Claim("Checkout failed.", (12,))]
    assert proposal.whys == {}
    assert proposal.dropped == 4


def test_claims_citing_an_unknown_event_are_dropped_whole() -> None:
    hidden = [event(1000 + n, EventKind.ALERT, "pod unhealthy", n / 100, None) for n in range(400)]
    facts = facts_of([*recorded(), *hidden])
    assert 1399 not in {e.id for e, _ in shown_events(facts)}  # it exists but the model never saw it

    text = answer(
        impact=[
            {"text": "Checkout failed.", "cites": [12, 999]},  # one made-up id spoils the claim
            {"text": "Pods restarted.", "cites": [1399]},
            {"text": "Pods crashed.", "cites": [15]},
        ],
        whys=[{"number": 1, "text": "Memory.", "cites": [-1]}],
    )

    proposal = parse(text, facts)

    assert proposal.impact == [Claim("Pods crashed.", (15,))]
    assert proposal.whys == {}
    assert proposal.dropped == 3


@pytest.mark.parametrize(
    "fenced",
    [
        f"```json\n{GOOD}\n```",
        f"```\n{GOOD}\n```",
        f"Here is the JSON you asked for:\n\n```json\n{GOOD}\n```\nLet me know if you need more.",
        f"  \n{GOOD}\n",
    ],
)
def test_a_fenced_or_padded_answer_is_read(fenced: str) -> None:
    assert parse(fenced, facts_of()) == parse(GOOD, facts_of())


def test_a_fence_quoted_inside_a_claim_does_not_confuse_the_reading() -> None:
    text = answer(summary=[{"text": "Ran ```kubectl rollout undo``` to roll back.", "cites": [17]}])

    assert parse(text, facts_of()).summary == [Claim("Ran ```kubectl rollout undo``` to roll back.", (17,))]


@pytest.mark.parametrize(
    "malformed",
    [
        "",
        "The incident was caused by memory.",
        GOOD[:-20],
        "[1, 2, 3]",
        '"summary"',
        "```json\nnope\n```",
        "[" * 100_000,
    ],
)
def test_an_answer_that_is_not_a_json_object_is_refused(malformed: str) -> None:
    with pytest.raises(ModelUnavailable) as raised:
        parse(malformed, facts_of())
    assert raised.value.reason == NOT_JSON == "the model's answer was not the JSON asked for"


def test_oversize_answers_are_capped_per_claim_and_per_section() -> None:
    text = answer(
        summary=[{"text": f"claim {n} " + "word " * 400, "cites": [12]} for n in range(8)],
        impact=[{"text": "line one\n\n# not a heading\n- nor a list", "cites": [12, 12, "15", 10]}],
    )

    proposal = parse(text, facts_of())

    assert len(proposal.summary) == wording.MAX_CLAIMS == 5
    assert [c.text.split()[1] for c in proposal.summary] == ["0", "1", "2", "3", "4"]
    assert all(len(c.text) == wording.MAX_CLAIM_TEXT and c.text.endswith("…") for c in proposal.summary)
    [impact] = proposal.impact
    assert impact.text == "line one # not a heading - nor a list"
    assert impact.cites == (12, 15, 10)  # each once, in the model's order
    assert proposal.dropped == 0
    with pytest.raises(ModelUnavailable, match="over 200,000 characters"):
        parse(" " * (wording.MAX_ANSWER + 1), facts_of())


def test_things_that_are_not_claims_are_ignored_and_odd_but_clear_ones_read() -> None:
    text = answer(
        summary=["a bare string", {"text": 42, "cites": [12]}, {"text": "   ", "cites": [12]}, None],
        impact={"text": "One claim not in a list.", "cites": 12},
        whys=[
            {"number": 0, "text": "out of range", "cites": [12]},
            {"number": 6, "text": "out of range", "cites": [12]},
            {"number": True, "text": "a bool is no number", "cites": [12]},
            {"number": "3", "text": "Third, as a string.", "cites": ["15", "#16"]},
            {"number": 1, "text": "First.", "cites": [15]},
            {"number": 1, "text": "First again.", "cites": [16]},
            {"number": 2, "text": "Cited by a bool.", "cites": [True]},
        ],
        extra="ignored",
    )

    proposal = parse(text, facts_of())

    assert proposal.summary == []
    assert proposal.impact == [Claim("One claim not in a list.", (12,))]
    assert proposal.whys == {1: Claim("First.", (15,)), 3: Claim("Third, as a string.", (15, 16))}
    assert proposal.dropped == 1  # only the claim whose citation failed; the rest were never claims


# --- edits for the draft ---


def test_edits_put_each_claims_citations_after_it() -> None:
    edits = as_edits(parse(GOOD, facts_of()))

    assert edits == {
        "summary": "About 30% of checkout requests failed for 47 minutes (events 12, 18). "
        "A rollback to 1.41 mitigated it (event 17).",
        "impact": "A third of checkout requests failed (event 12).",
        "why_1": "Checkout pods were OOMKilled in a loop (event 15).",
        "why_2": "Release 1.42 doubled the image cache size (event 16).",
    }
    assert as_edits(Proposal([Claim("No full stop", (3,))], [], {}, 0)) == {"summary": "No full stop (event 3)"}
    assert as_edits(Proposal([], [], {}, 4)) == {}


def test_the_rendered_draft_carries_the_models_wording_and_keeps_unproposed_whys_as_questions() -> None:
    facts = facts_of()
    values = draft.context(facts, as_edits(parse(GOOD, facts)), version=1, review_state="draft", action_items=[])

    markdown, note = draft.render(values)

    assert note is None
    assert "About 30% of checkout requests failed for 47 minutes (events 12, 18)." in markdown
    assert "2. Release 1.42 doubled the image cache size (event 16)." in markdown
    assert "3. **Open question:**" in markdown


# --- propose: the model is optional ---


class FakeModel:
    def __init__(self, answer: str = GOOD, *, error: Exception | None = None, delay: float = 0.0) -> None:
        self.answer = answer
        self.error = error
        self.delay = delay
        self.asked: list[list[dict[str, str]]] = []

    async def complete(self, messages: list[dict[str, str]]) -> str:
        self.asked.append(messages)
        await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return self.answer


async def test_propose_returns_the_proposal_and_says_what_the_model_worded() -> None:
    facts = facts_of()
    model = FakeModel()

    proposal, note = await propose(model, facts, timeout_s=5)

    assert model.asked == [build_messages(facts)]
    assert proposal == parse(GOOD, facts)
    assert note == (
        "A model proposed the wording of the summary, impact and whys 1 and 2; each claim names the timeline "
        "events it rests on, so check them (every claim cited the timeline)."
    )


async def test_propose_says_how_many_uncited_claims_were_dropped() -> None:
    text = answer(
        summary=[{"text": "Checkout failed.", "cites": [12]}, {"text": "It cost $2M.", "cites": []}],
        whys=[{"number": 4, "text": "Invented.", "cites": [404]}],
    )

    proposal, note = await propose(FakeModel(text), facts_of(), timeout_s=5)

    assert proposal is not None and proposal.dropped == 2
    assert note.startswith("A model proposed the wording of the summary;")
    assert note.endswith("(2 claims without a valid citation were dropped).")


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        (FakeModel(error=ModelUnavailable("HTTP 500 from llm.internal")), "HTTP 500 from llm.internal"),
        (FakeModel("I think it was DNS."), NOT_JSON),
        (FakeModel(delay=5), "no answer within 0.2 s"),
        (FakeModel(error=KeyError("choices")), "unexpected KeyError"),
    ],
)
async def test_propose_falls_back_to_warroom_s_own_draft_and_says_why(model: FakeModel, reason: str) -> None:
    started = asyncio.get_running_loop().time()

    proposal, note = await propose(model, facts_of(), timeout_s=0.2)

    assert proposal is None
    assert note == f"The model was not used ({reason}); this draft is Warroom's own."
    assert asyncio.get_running_loop().time() - started < 2


async def test_an_answer_with_no_cited_claim_leaves_the_draft_to_warroom() -> None:
    text = answer(summary=[{"text": "It was DNS.", "cites": []}], impact=[])

    proposal, note = await propose(FakeModel(text), facts_of(), timeout_s=5)

    assert proposal is not None and proposal.empty and as_edits(proposal) == {}
    assert note == (
        "The model was not used (it proposed nothing the timeline supports; "
        "1 claim without a valid citation was dropped); this draft is Warroom's own."
    )


def test_characters_a_database_cannot_store_are_removed_from_claims() -> None:
    facts = facts_of()
    known = facts.events[0].id
    text = json.dumps({"summary": [{"text": "bad\u0000 byte \ud800here", "cites": [known]}]})
    proposal = parse(text, facts)
    assert [c.text for c in proposal.summary] == ["bad byte here"]
