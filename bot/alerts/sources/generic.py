"""Warroom's own documented JSON alert format, for senders without a dedicated source, into `Alert`s.

One alert is an object (an array of up to `MAX_BATCH` objects sends several at once):

    title        required, non-empty string
    dedup_key    string; alerts with equal keys are one alert (default: derived from title and service)
    status       "firing" (default) or "resolved"
    severity     1 (most severe) to 4, or a name such as "critical", "warning", "P2"
    service      string
    labels       object of scalars
    annotations  object of scalars
    links        array of {"title", "url"} objects or plain URL strings (http and https only)
    timestamp    ISO-8601 time the state was observed (default: when the request arrived)
"""

from datetime import datetime
from typing import Any

from bot.alerts.models import Alert, AlertStatus, Source
from bot.alerts.severity import severity_from
from bot.alerts.sources._common import (
    as_utc,
    key_text,
    links,
    parse_time,
    short_hash,
    string_map,
    text,
    title_text,
)
from bot.errors import InvalidInput

MAX_BATCH = 1_000


def parse(document: object, *, received_at: datetime) -> list[Alert]:
    """One `Alert` per object; raises `InvalidInput` naming the first problem found."""
    received_at = as_utc(received_at)
    if isinstance(document, dict):
        return [_alert(document, received_at=received_at)]
    if not isinstance(document, list):
        raise InvalidInput("generic alert body must be a JSON object or an array of objects")
    if len(document) > MAX_BATCH:
        raise InvalidInput(f"a generic alert batch holds at most {MAX_BATCH} alerts, not {len(document)}")
    alerts = []
    for index, item in enumerate(document):
        try:
            if not isinstance(item, dict):
                raise InvalidInput("generic alert must be a JSON object")
            alerts.append(_alert(item, received_at=received_at))
        except InvalidInput as error:
            raise InvalidInput(f"item {index} of the batch: {error}") from None
    return alerts


def _alert(item: dict[str, Any], *, received_at: datetime) -> Alert:
    title = title_text(item.get("title"))
    if title is None:
        raise InvalidInput('generic alert needs a non-empty "title"')
    service = text(item.get("service"))
    dedup_key = _dedup_key(item.get("dedup_key")) or short_hash([title, service])
    return Alert(
        source=Source.GENERIC,
        group_key=f"generic:{dedup_key}",
        fingerprint=dedup_key,
        status=_status(item.get("status")),
        title=title,
        severity=severity_from(item.get("severity")),
        service=service,
        labels=_scalars(item, "labels"),
        annotations=_scalars(item, "annotations"),
        links=_links(item.get("links")),
        observed_at=parse_time(item.get("timestamp")) or received_at,
        raw=item,
    )


def _dedup_key(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return key_text(str(value))
    return key_text(value)


def _status(value: object) -> AlertStatus:
    if value is None:
        return AlertStatus.FIRING
    word = text(value, 20)
    if word is not None and word.lower() in {status.value for status in AlertStatus}:
        return AlertStatus(word.lower())
    raise InvalidInput('generic alert "status" must be "firing" or "resolved"')


def _scalars(item: dict[str, Any], name: str) -> dict[str, str]:
    value = item.get(name)
    if value is not None and not isinstance(value, dict):
        raise InvalidInput(f'generic alert "{name}" must be an object of strings, numbers or booleans')
    return string_map(value)


def _links(value: object) -> list[dict[str, str]]:
    if not isinstance(value, list):
        return []
    candidates: list[tuple[str, object]] = []
    for entry in value[:100]:  # the first valid ten are kept; don't walk a huge list looking for them
        if isinstance(entry, dict):
            candidates.append((text(entry.get("title"), 100) or "Link", entry.get("url")))
        else:
            candidates.append(("Link", entry))
    return links(candidates)
