"""Channel names are always valid for Slack, unique per incident, and survive any title."""

import re

import pytest

from bot.slack.channels import MAX_NAME, channel_name, slugify

VALID = re.compile(r"^[a-z0-9_-]{1,80}$")


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Payments DB is DOWN!", "payments-db-is-down"),
        ("Café crème: 50% errors", "cafe-creme-50-errors"),
        ("数据库宕机", "incident"),
        ("<!channel> & friends", "channel-friends"),
        ("---", "incident"),
        ("under_score ok", "under_score-ok"),
    ],
)
def test_slugify(title: str, slug: str) -> None:
    assert slugify(title) == slug


@pytest.mark.parametrize("title", ["x" * 500, "数据库" * 40, "a-" * 100, "", "🔥🔥🔥", "Ünïcödé " * 30])
def test_names_are_always_valid_and_keep_number_and_suffix(title: str) -> None:
    for attempt in range(3):
        name = channel_name("inc-{number}-{slug}", 123456, title, attempt)
        assert VALID.match(name), name
        assert len(name) <= MAX_NAME
        assert name.startswith("inc-123456")
        if attempt:
            assert name.endswith(f"-{attempt + 1}")


def test_the_default_template() -> None:
    assert channel_name("inc-{number}-{slug}", 1, "Checkout latency") == "inc-1-checkout-latency"
    assert channel_name("inc-{number}-{slug}", 1, "Checkout latency", 1) == "inc-1-checkout-latency-2"


def test_a_custom_template_is_normalised() -> None:
    assert channel_name("Incident_{number}--{slug}", 7, "API") == "incident_7-api"
