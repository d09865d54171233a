"""Prometheus Alertmanager webhook (`version: "4"`, PROTOCOLS.md 4.1) into `Alert`s."""

from datetime import datetime

from bot.alerts.models import Alert, Source
from bot.alerts.sources import _amstyle
from bot.alerts.sources._amstyle import Flavour, parse_notification

GROUP_PREFIX = "alertmanager:"
FLAVOUR = Flavour(
    source=Source.ALERTMANAGER,
    name="Alertmanager",
    name_labels=("alertname",),
    service_labels=("service", "job", "namespace"),
    external_link=("Alertmanager", "/#/alerts"),
)


def parse(document: object, *, received_at: datetime) -> list[Alert]:
    """One `Alert` per alert object in the notification, grouped by its `groupKey`.

    Raises `InvalidInput` unless the body is an object with an `alerts` list.
    """
    return parse_notification(document, flavour=FLAVOUR, group_prefix=GROUP_PREFIX, received_at=received_at)


def notification_group(document: object) -> str:
    """The group key `parse` gives every alert of this notification, without parsing the alerts.

    Raises the same `InvalidInput` as `parse` for a body of the wrong shape.
    """
    return _amstyle.notification_group(document, flavour=FLAVOUR, group_prefix=GROUP_PREFIX)
