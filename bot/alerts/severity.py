"""Map the many ways sources spell severity onto Warroom's 1 (most severe) to 4 (least)."""

import math
import re

_NAMES: dict[str, int] = {
    **dict.fromkeys(("critical", "sev1", "p1", "page", "disaster"), 1),
    **dict.fromkeys(("high", "error", "major", "sev2", "p2"), 2),
    **dict.fromkeys(("warning", "warn", "medium", "average", "sev3", "p3"), 3),
    **dict.fromkeys(("info", "low", "minor", "none", "sev4", "p4", "p5"), 4),
}
_INTEGER = re.compile(r"[+-]?[0-9]{1,32}")


def severity_from(value: object, default: int = 3) -> int:
    """Severity 1-4 from a number or a name (`critical`, `P2`, `warning`, `sev4`, ...).

    Numbers are clamped into 1-4 (0 and below become 1); numeric strings count as numbers.
    Names are case-insensitive. Anything else, including booleans, gives `default`.
    """
    if isinstance(value, bool):
        return default
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return min(max(value, 1), 4)
    if not isinstance(value, str):
        return default
    word = value.strip().lower()
    if _INTEGER.fullmatch(word):
        return min(max(int(word), 1), 4)
    return _NAMES.get(word, default)
