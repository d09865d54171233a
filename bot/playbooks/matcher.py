"""Which playbooks an alert starts, and which `match: all` lists can never fire."""

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from bot.playbooks.context import AlertLike
from bot.playbooks.schema import Match, Playbook, Rule

PRESENT = "*"


@lru_cache(maxsize=4096)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def label_matches(conditions: Sequence[str], value: str | None) -> bool:
    """Whether a label value meets any of `conditions`: exact text, `*` (present) or `~regex` (fully matched)."""
    if value is None:
        return False
    for condition in conditions:
        if condition in (PRESENT, value):
            return True
        if condition.startswith("~") and _regex(condition[1:]).fullmatch(value):
            return True
    return False


def rule_matches(rule: Rule, alert: AlertLike) -> bool:
    """Every key the rule gives holds for `alert`."""
    if rule.source is not None and str(alert.source) not in rule.source:
        return False
    if rule.service is not None:
        service = (alert.service or "").casefold()
        if not service or service not in {s.casefold() for s in rule.service}:
            return False
    if rule.severity is not None and alert.severity not in rule.severity:
        return False
    return rule.labels is None or all(
        label_matches(conditions, alert.labels.get(name)) for name, conditions in rule.labels.items()
    )


def matches(playbook: Playbook, alert: AlertLike) -> bool:
    """Whether `alert` (whatever its status) meets the playbook's `match`."""
    results = (rule_matches(rule, alert) for rule in playbook.match.rules)
    return all(results) if playbook.match.require_all else any(results)


def matching(playbooks: Iterable[Playbook], alerts: Sequence[AlertLike]) -> list[Playbook]:
    """The playbooks that any firing alert starts, in id order."""
    firing = [a for a in alerts if str(a.status) == "firing"]
    return sorted((p for p in playbooks if any(matches(p, a) for a in firing)), key=lambda p: p.id)


def effective_severity(playbook: Playbook | None, alert_severity: int) -> int:
    """An incident's severity: the alert's, raised to the playbook's if that is more severe (1 is worst)."""
    if playbook is None or playbook.severity is None:
        return alert_severity
    return min(alert_severity, playbook.severity)


def contradictions(match: Match) -> list[tuple[tuple[str | int, ...], str]]:
    """For `match: all`, each key whose demands no single alert can meet: (location under match, message)."""
    if match.all_of is None:
        return []
    found: list[tuple[tuple[str | int, ...], str]] = []
    rules = list(enumerate(match.all_of))
    sources = [(i, set(map(str, r.source))) for i, r in rules if r.source is not None]
    services = [(i, {s.casefold() for s in r.service}) for i, r in rules if r.service is not None]
    severities = [(i, {str(s) for s in r.severity}) for i, r in rules if r.severity is not None]
    for key, sets in (("source", sources), ("service", services), ("severity", severities)):
        disjoint = _first_disjoint(sets)
        if disjoint is not None:
            found.append((("all", disjoint, key), f"all: no alert can satisfy every rule's {key}"))
    names = sorted({name for _, r in rules for name in (r.labels or {})})
    for name in names:
        demands = [(i, r.labels[name]) for i, r in rules if r.labels and name in r.labels]
        exact = [(i, set(c)) for i, c in demands if not any(v == PRESENT or v.startswith("~") for v in c)]
        if not exact:
            continue  # only patterns: cannot tell cheaply whether they overlap
        last = max(i for i, _ in demands)
        values = set.intersection(*(values for _, values in exact))
        values = {v for v in values if all(label_matches(c, v) for _, c in demands)}
        if not values:
            found.append((("all", last, "labels", name), f"all: no value of label {name!r} satisfies every rule"))
    return found


def _first_disjoint(sets: list[tuple[int, set[str]]]) -> int | None:
    """Index of the rule whose set leaves no common value with the rules before it."""
    common: set[str] | None = None
    for index, values in sets:
        common = set(values) if common is None else common & values
        if not common:
            return index
    return None
