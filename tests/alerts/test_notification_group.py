"""`notification_group`: the group key and the refusals of the full parsers, without parsing alerts."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from bot.alerts.models import Alert
from bot.alerts.sources import alertmanager, grafana
from bot.errors import InvalidInput
from tests.alerts.test_source_hostile import DOCUMENTS

SOURCES: dict[str, tuple[Callable[..., list[Alert]], Callable[[object], str]]] = {
    "alertmanager": (alertmanager.parse, alertmanager.notification_group),
    "grafana": (grafana.parse, grafana.notification_group),
}
FIXTURES = {
    "alertmanager": ["alertmanager_webhook_v4.json", "alertmanager_webhook_v4_msteams.json"],
    "grafana": ["grafana_webhook_firing_v11.json", "grafana_webhook_resolved_v9.json"],
}
ONE_ALERT = [{"labels": {"alertname": "DiskFull"}}]
# Top-level variations that change the group key: a missing or odd groupKey, receivers, orgIds.
VARIANTS: list[dict[str, Any]] = [
    {"alerts": ONE_ALERT},
    {"alerts": ONE_ALERT, "groupKey": '  {}:{alertname="DiskFull"}  '},
    {"alerts": ONE_ALERT, "groupKey": "k" * 5000},
    {"alerts": ONE_ALERT, "groupKey": "with\x00nul"},
    {"alerts": ONE_ALERT, "groupKey": ""},
    {"alerts": ONE_ALERT, "groupKey": 42},
    {"alerts": ONE_ALERT, "receiver": "ops", "groupLabels": {"alertname": "DiskFull", "b": "2"}},
    {"alerts": ONE_ALERT, "receiver": "ops", "groupLabels": {"b": "2", "alertname": "DiskFull"}},
    {"alerts": ONE_ALERT, "receiver": 7, "groupLabels": ["not", "a", "map"]},
    {"alerts": ONE_ALERT, "groupKey": "g", "orgId": 3},
    {"alerts": ONE_ALERT, "groupKey": "g", "orgId": " 3 "},
    {"alerts": ONE_ALERT, "groupKey": "g", "orgId": -1},
    {"alerts": ONE_ALERT, "groupKey": "g", "orgId": True},
    {"alerts": ONE_ALERT, "groupKey": "g", "orgId": "9" * 30},
]
BAD_SHAPES: list[Any] = [None, 1, "text", [], [{"alerts": []}], {}, {"alerts": None}, {"alerts": {"a": 1}}]


def group_keys(alerts: list[Alert]) -> set[str]:
    return {alert.group_key for alert in alerts}


@pytest.mark.parametrize("source", list(SOURCES))
def test_every_fixture_gets_the_group_its_parsed_alerts_carry(
    source: str, fixture_json: Callable[[str], Any], received_at: datetime
) -> None:
    parse, notification_group = SOURCES[source]
    for name in FIXTURES[source]:
        document = fixture_json(name)
        alerts = parse(document, received_at=received_at)
        assert alerts, name
        assert group_keys(alerts) == {notification_group(document)}, name


@pytest.mark.parametrize("source", list(SOURCES))
@pytest.mark.parametrize("document", VARIANTS)
def test_top_level_variations_give_the_parsed_group(
    source: str, document: dict[str, Any], received_at: datetime
) -> None:
    parse, notification_group = SOURCES[source]
    assert group_keys(parse(document, received_at=received_at)) == {notification_group(document)}


@pytest.mark.parametrize("source", list(SOURCES))
@pytest.mark.parametrize("document", BAD_SHAPES)
def test_bad_shapes_are_refused_with_the_parsers_message(source: str, document: Any, received_at: datetime) -> None:
    parse, notification_group = SOURCES[source]
    with pytest.raises(InvalidInput) as parsed:
        parse(document, received_at=received_at)
    with pytest.raises(InvalidInput) as light:
        notification_group(document)
    assert str(light.value) == str(parsed.value)


@pytest.mark.parametrize("source", list(SOURCES))
def test_hostile_documents_agree_with_the_parser(source: str, received_at: datetime) -> None:
    parse, notification_group = SOURCES[source]
    for index, document in enumerate(DOCUMENTS):
        try:
            alerts = parse(document, received_at=received_at)
        except InvalidInput as error:
            with pytest.raises(InvalidInput) as light:
                notification_group(document)
            assert str(light.value) == str(error), index
            continue
        group = notification_group(document)
        assert group_keys(alerts) <= {group}, index
