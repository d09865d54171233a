"""severity_from: numbers and the names sources use, onto 1 (most severe) to 4."""

import pytest

from bot.alerts.severity import severity_from


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, 1),
        (2, 2),
        (3, 3),
        (4, 4),
        (0, 1),
        (-7, 1),
        (5, 4),
        (10**30, 4),
        (2.0, 2),
        ("1", 1),
        (" 4 ", 4),
        ("0", 1),
        ("9", 4),
        ("-2", 1),
        ("critical", 1),
        ("CRITICAL", 1),
        ("sev1", 1),
        ("P1", 1),
        ("page", 1),
        ("Disaster", 1),
        ("high", 2),
        ("error", 2),
        ("major", 2),
        ("SEV2", 2),
        ("p2", 2),
        ("warning", 3),
        ("warn", 3),
        ("medium", 3),
        ("average", 3),
        ("sev3", 3),
        ("P3", 3),
        ("info", 4),
        ("low", 4),
        ("minor", 4),
        ("none", 4),
        ("sev4", 4),
        ("P4", 4),
        ("P5", 4),
        (" Warning\n", 3),
    ],
)
def test_known_values(value: object, expected: int) -> None:
    assert severity_from(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        "",
        "   ",
        "bogus",
        "sev 1",
        "1.5",
        2.5,
        float("nan"),
        float("inf"),
        [],
        {},
        ["critical"],
        "9" * 5000,
    ],
)
def test_anything_else_gives_the_default(value: object) -> None:
    assert severity_from(value) == 3
    assert severity_from(value, default=2) == 2
