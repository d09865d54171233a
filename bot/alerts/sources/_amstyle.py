"""Alertmanager-style notifications (Alertmanager itself and Grafana): one parser, two flavours."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.alerts.models import Alert, AlertStatus, Source
from bot.alerts.severity import severity_from
from bot.alerts.sources._common import (
    as_object,
    as_utc,
    canonical_json,
    first,
    identity,
    key_text,
    links,
    mapping_get,
    parse_time,
    short_hash,
    string_map,
    text,
    title_text,
)
from bot.errors import InvalidInput

_STATUSES = {status.value: status for status in AlertStatus}


@dataclass(frozen=True)
class Flavour:
    """What differs between the senders of Alertmanager-style bodies."""

    source: Source
    name: str  # as people know the sender: "Alertmanager", "Grafana"
    # Labels naming the alert, tried in order when no annotation gives a title.
    name_labels: tuple[str, ...]
    service_labels: tuple[str, ...]
    # Per-alert URL fields turned into links, after `generatorURL`: (field, link title).
    url_fields: tuple[tuple[str, str], ...] = ()
    # Link to `externalURL` + this suffix (the sender's own alert list), if set.
    external_link: tuple[str, str] | None = None
    # Placeholders a failed annotation template leaves behind: removed from annotation values.
    template_blanks: tuple[str, ...] = ()


def parse_notification(document: object, *, flavour: Flavour, group_prefix: str, received_at: datetime) -> list[Alert]:
    """Every alert of one notification, all in the group `group_prefix` + the body's groupKey."""
    body, alerts = _notification(document, flavour)
    group_key = group_prefix + _group_key(body)
    default_status = _status(body.get("status"), AlertStatus.FIRING)
    common = string_map(body.get("commonAnnotations"), erase=flavour.template_blanks)
    external = text(body.get("externalURL"))
    received_at = as_utc(received_at)
    return [
        _alert(
            raw,
            flavour=flavour,
            group_key=group_key,
            default_status=default_status,
            common_annotations=common,
            external_url=external,
            received_at=received_at,
        )
        for raw in alerts
        if isinstance(raw, dict)
    ]


def notification_group(document: object, *, flavour: Flavour, group_prefix: str) -> str:
    """The group key `parse_notification` gives every alert of this body, without reading the alerts.

    Raises the same `InvalidInput` as `parse_notification` for a body of the wrong shape, the only
    thing it refuses; intake uses this to validate a body in a fraction of the parsing time.
    """
    body, _alerts = _notification(document, flavour)
    return group_prefix + _group_key(body)


def _notification(document: object, flavour: Flavour) -> tuple[dict[str, Any], list[Any]]:
    body = as_object(document)
    alerts = body.get("alerts") if body is not None else None
    if body is None or not isinstance(alerts, list):
        raise InvalidInput(f'{flavour.name} body must be a JSON object with an "alerts" list')
    return body, alerts


def _group_key(body: dict[str, Any]) -> str:
    group_key = key_text(body.get("groupKey"))
    if group_key is not None:
        return group_key
    # No groupKey (an old or hand-written sender): the receiver and group labels identify the group.
    receiver = text(body.get("receiver")) or ""
    return identity(receiver + canonical_json(string_map(body.get("groupLabels"))))


def _status(value: object, default: AlertStatus) -> AlertStatus:
    word = text(value, 20)
    return _STATUSES.get(word.lower(), default) if word else default


def _alert(
    raw: dict[str, Any],
    *,
    flavour: Flavour,
    group_key: str,
    default_status: AlertStatus,
    common_annotations: dict[str, str],
    external_url: str | None,
    received_at: datetime,
) -> Alert:
    labels = string_map(raw.get("labels"))
    own_annotations = string_map(raw.get("annotations"), erase=flavour.template_blanks)
    annotations = string_map(own_annotations, common_annotations)
    status = _status(raw.get("status"), default_status)
    starts_at = parse_time(raw.get("startsAt"))
    ends_at = parse_time(raw.get("endsAt"))
    # When the alert entered its current state, as far as the sender says.
    observed_at = (ends_at if status is AlertStatus.RESOLVED else starts_at) or received_at
    fingerprint = key_text(raw.get("fingerprint"))
    return Alert(
        source=flavour.source,
        group_key=group_key,
        fingerprint=fingerprint or short_hash(labels),
        status=status,
        title=_title(own_annotations, labels, common_annotations, flavour),
        severity=_severity(labels),
        service=mapping_get(labels, *flavour.service_labels),
        labels=labels,
        annotations=annotations,
        links=_links(raw, annotations, external_url, flavour),
        starts_at=starts_at,
        ends_at=ends_at,
        observed_at=observed_at,
        raw=raw,
    )


def _title(annotations: dict[str, str], labels: dict[str, str], common: dict[str, str], flavour: Flavour) -> str:
    from_annotations = title_text(mapping_get(annotations, "summary", "title"))
    if from_annotations:
        return from_annotations
    for key in flavour.name_labels:
        name = labels.get(key)
        if name:
            instance = labels.get("instance")
            return title_text(f"{name} on {instance}" if key == "alertname" and instance else name) or name
    return title_text(common.get("summary")) or f"{flavour.name} alert"


def _severity(labels: dict[str, str]) -> int:
    for key in ("severity", "priority"):
        severity = severity_from(labels.get(key), default=0)
        if severity:
            return severity
    return 3


def _links(
    raw: dict[str, Any], annotations: dict[str, str], external_url: str | None, flavour: Flavour
) -> list[dict[str, str]]:
    candidates: list[tuple[str, object]] = [("Source", raw.get("generatorURL"))]
    if flavour.external_link is not None and external_url:
        title, suffix = flavour.external_link
        candidates.append((title, external_url.rstrip("/") + suffix))
    candidates += [(title, raw.get(field)) for field, title in flavour.url_fields]
    candidates += [
        ("Runbook", first(annotations.get("runbook_url"), annotations.get("runbook"))),
        ("Dashboard", first(annotations.get("dashboard_url"), annotations.get("dashboard"))),
    ]
    return links(candidates)
