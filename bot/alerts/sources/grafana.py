"""Grafana unified alerting webhook (`version: "1"`, PROTOCOLS.md 5) into `Alert`s."""

from datetime import datetime

from bot.alerts.models import Alert, Source
from bot.alerts.sources import _amstyle
from bot.alerts.sources._amstyle import Flavour, parse_notification
from bot.alerts.sources._common import as_object

FLAVOUR = Flavour(
    source=Source.GRAFANA,
    name="Grafana",
    name_labels=("alertname", "rulename"),
    service_labels=("service", "grafana_folder"),
    url_fields=(
        ("dashboardURL", "Dashboard"),
        ("panelURL", "Panel"),
        ("silenceURL", "Silence"),
        ("imageURL", "Image"),
    ),
    # What Go's text/template prints for a missing value: a broken annotation template, not content.
    # An annotation that was nothing else disappears.
    template_blanks=("<no value>",),
)


def parse(document: object, *, received_at: datetime) -> list[Alert]:
    """One `Alert` per alert object, grouped by organisation and `groupKey`.

    Raises `InvalidInput` unless the body is an object with an `alerts` list.
    """
    return parse_notification(document, flavour=FLAVOUR, group_prefix=_group_prefix(document), received_at=received_at)


def notification_group(document: object) -> str:
    """The group key `parse` gives every alert of this notification, without parsing the alerts.

    Raises the same `InvalidInput` as `parse` for a body of the wrong shape.
    """
    return _amstyle.notification_group(document, flavour=FLAVOUR, group_prefix=_group_prefix(document))


def _group_prefix(document: object) -> str:
    body = as_object(document)
    # A Grafana instance hosts several organisations whose group keys may coincide.
    org = _org_id(body.get("orgId")) if body is not None else 0
    return f"grafana:{org}:"


def _org_id(value: object) -> int:
    if isinstance(value, str):
        digits = value.strip()
        value = int(digits) if digits.isascii() and digits.isdigit() and len(digits) <= 18 else 0
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63:
        return value
    return 0
