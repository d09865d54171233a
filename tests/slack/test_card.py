"""The incident card: contract labels, escaping, Block Kit limits, and buttons that follow the status."""

from datetime import UTC, datetime, timedelta

from bot.incidents.models import Incident, Status
from bot.slack.blocks.card import CardFacts, announce_blocks, card_blocks, fallback_text, topic
from bot.slack.ids import ActionId


def _incident(**values: object) -> Incident:
    base: dict[str, object] = {
        "id": 5,
        "number": 12,
        "title": "<!channel> payments & checkout down",
        "source": "alertmanager",
        "severity": 2,
        "service": "payments <api>",
        "status": Status.TRIGGERED,
        "links": [{"title": "Source", "url": "https://prom.example/graph"}],
        "created_at": datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
        "version": 3,
    }
    base.update(values)
    return Incident.model_validate(base)


def _all_text(blocks: list[dict[str, object]]) -> str:
    return repr(blocks)


def _mrkdwn_texts(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [str(node["text"])] if node.get("type") == "mrkdwn" else []
        return found + [t for value in node.values() for t in _mrkdwn_texts(value)]
    if isinstance(node, list):
        return [t for item in node for t in _mrkdwn_texts(item)]
    return []


def _labels(blocks: list[dict[str, object]]) -> list[str]:
    actions = [b for b in blocks if b["type"] == "actions"]
    if not actions:
        return []
    elements = actions[0]["elements"]
    assert isinstance(elements, list)
    return [e["text"]["text"] if e["type"] == "button" else e["type"] for e in elements]


def test_a_new_incident_shows_every_contract_control() -> None:
    blocks = card_blocks(_incident(), CardFacts(firing=3, resolved=1))
    assert _labels(blocks) == ["Acknowledge", "Mitigate", "Resolve", "static_select"]
    text = _all_text(blocks)
    # Slack parses mentions in mrkdwn only; plain_text (the header) shows the title literally.
    assert all("<!channel>" not in t for t in _mrkdwn_texts(blocks))
    assert "&lt;!channel&gt;" in fallback_text(_incident())
    assert "payments &lt;api&gt;" in text
    assert "Alerts: 3 firing, 1 resolved" in text
    assert "<!date^" in text and "{ago}" in text  # elapsed time stays live in every reader's client


def test_buttons_follow_the_status() -> None:
    acked = card_blocks(_incident(status=Status.ACKNOWLEDGED, commander="U0BOB"), CardFacts())
    assert _labels(acked) == ["Mitigate", "Resolve", "static_select"]
    assert "<@U0BOB>" in _all_text(acked)
    assert _labels(card_blocks(_incident(status=Status.MITIGATED), CardFacts())) == ["Resolve", "static_select"]
    resolved_at = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)
    resolved = card_blocks(_incident(status=Status.RESOLVED, resolved_at=resolved_at), CardFacts())
    assert _labels(resolved) == []
    assert "resolved after 1 h 30 min" in _all_text(resolved)


def test_limits_hold_for_huge_titles_and_block_ids_change_per_version() -> None:
    big = _incident(title="x" * 5000, summary="y" * 10000)
    blocks = card_blocks(big, CardFacts(previous_number=4))
    header = blocks[0]["text"]["text"]
    assert len(header) <= 150
    assert all(len(e["text"]) <= 3000 for b in blocks if b["type"] == "context" for e in b["elements"])
    v3 = [b["block_id"] for b in blocks if b["type"] == "actions"]
    v4 = [b["block_id"] for b in card_blocks(_incident(version=4), CardFacts()) if b["type"] == "actions"]
    assert v3 != v4


def test_announce_card_is_short_and_links_the_channel() -> None:
    blocks = announce_blocks(_incident(channel_id="C0INC"))
    assert len(blocks) == 2
    assert "<#C0INC>" in blocks[0]["text"]["text"]
    assert "&lt;!channel&gt;" in blocks[0]["text"]["text"]
    assert blocks[1]["elements"][0]["action_id"] == ActionId.ACKNOWLEDGE


def test_topic_is_plain_and_short() -> None:
    assert len(topic(_incident(title="t" * 400))) <= 250
    assert topic(_incident()) == "SEV2 · <!channel> payments & checkout down"  # plain text: Slack does not parse it


def test_elapsed_is_relative_until_resolved() -> None:
    fresh = _incident(created_at=datetime.now(UTC) - timedelta(minutes=5))
    assert "opened <!date^" in _all_text(card_blocks(fresh, CardFacts()))
