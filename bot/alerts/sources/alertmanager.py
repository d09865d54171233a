"""Prometheus Alertmanager webhook (`version: "4"`, PROTOCOLS.md 4.1) into `Alert`s."""

from datetime import datetime

from bot.alerts.models import Alert, Source
from bot.alerts.sources._amstyle import Flavour, parse_notification

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
    return parse_notification(document, flavour=FLAVOUR, group_prefix="alertmanager:", received_at=received_at)
