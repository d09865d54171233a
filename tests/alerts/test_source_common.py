"""The helpers every source parser shares: timestamps, bounded strings, string maps and links."""

import hashlib
from datetime import UTC, datetime

import pytest

from bot.alerts.sources._common import (
    bound,
    http_url,
    key_text,
    links,
    parse_time,
    short_hash,
    string_map,
    title_text,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2021-06-04T13:35:29.781Z", datetime(2021, 6, 4, 13, 35, 29, 781000, tzinfo=UTC)),
        # Alertmanager sends nanoseconds; Python keeps microseconds (truncated, not rounded).
        ("2023-01-01T10:00:00.123456789Z", datetime(2023, 1, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2023-01-01T10:00:00.5Z", datetime(2023, 1, 1, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2023-01-01T10:00:00Z", datetime(2023, 1, 1, 10, tzinfo=UTC)),
        ("2023-01-01t10:00:00z", datetime(2023, 1, 1, 10, tzinfo=UTC)),
        ("2023-01-01T12:00:00+02:00", datetime(2023, 1, 1, 10, tzinfo=UTC)),
        ("2023-01-01T05:00:00-0500", datetime(2023, 1, 1, 10, tzinfo=UTC)),
        ("2018-03-07T06:33:21.873077559-05:00", datetime(2018, 3, 7, 11, 33, 21, 873077, tzinfo=UTC)),
        ("2023-01-01 10:00:00", datetime(2023, 1, 1, 10, tzinfo=UTC)),  # no offset: taken as UTC
        ("  2023-01-01T10:00:00Z\n", datetime(2023, 1, 1, 10, tzinfo=UTC)),
    ],
)
def test_parse_time_gives_aware_utc(value: str, expected: datetime) -> None:
    parsed = parse_time(value)
    assert parsed == expected
    assert parsed is not None
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00Z",  # Go's zero time: "no end yet"
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        "2023-13-01T00:00:00Z",
        "2023-02-30T00:00:00Z",
        "2023-01-01T25:00:00Z",
        "2023-01-01T10:00:00+25:00",
        "2023-01-01",
        "yesterday",
        "",
        "2023-01-01T10:00:00Zjunk",
        "٢٠٢٣-01-01T10:00:00Z",  # non-ASCII digits
        None,
        1672567200,
        1672567200.5,
        ["2023-01-01T10:00:00Z"],
        {"time": "2023-01-01T10:00:00Z"},
        "9" * 100_000,
    ],
)
def test_parse_time_gives_none_for_no_or_bad_time(value: object) -> None:
    assert parse_time(value) is None


def test_bound_cuts_with_an_ellipsis() -> None:
    assert bound("abcdef", 6) == "abcdef"
    assert bound("abcdefg", 6) == "abcde…"
    assert len(bound("x" * 10_000, 300)) == 300


def test_title_text_is_one_stripped_bounded_line() -> None:
    assert title_text("  Disk\nfull\t on  db-1 ") == "Disk full on db-1"
    assert title_text("<!channel> & <@U123>") == "<!channel> & <@U123>"
    assert title_text("   ") is None
    assert title_text(42) is None
    long = title_text("word " * 1000)
    assert long is not None
    assert len(long) == 300
    assert long.endswith("…")


def test_unstorable_characters_are_replaced() -> None:
    assert title_text("a\x00b\ud800c") == "a\ufffdb\ufffdc"
    assert key_text("id\x00") == "id\ufffd"


def test_key_text_hashes_long_identifiers_instead_of_cutting_them() -> None:
    assert key_text("  PFQZPSY ") == "PFQZPSY"
    assert key_text("") is None
    assert key_text(7) is None
    long_a, long_b = key_text("a" * 500 + "1"), key_text("a" * 500 + "2")
    assert long_a is not None
    assert long_b is not None
    assert long_a.startswith("sha256:")
    assert long_a != long_b


def test_short_hash_is_stable_and_order_independent() -> None:
    assert short_hash({"b": "2", "a": "1"}) == short_hash({"a": "1", "b": "2"})
    assert short_hash({"a": "1"}) == "sha256:" + hashlib.sha256(b'{"a":"1"}').hexdigest()[:16]


def test_string_map_coerces_scalars_and_skips_the_rest() -> None:
    source = {
        "text": "  value ",
        "int": 3,
        "float": 1.5,
        "bool": True,
        "null": None,
        "empty": "  ",
        "list": [1],
        "object": {"a": 1},
        "  padded key ": "x",
        "": "no key",
    }
    assert string_map(source) == {"text": "value", "int": "3", "float": "1.5", "bool": "true", "padded key": "x"}


def test_string_map_merges_with_earlier_sources_winning() -> None:
    assert string_map({"a": "own"}, {"a": "common", "b": "common"}) == {"a": "own", "b": "common"}
    assert string_map(None, "x", [1], {"a": "1"}) == {"a": "1"}


def test_string_map_bounds_keys_values_and_size() -> None:
    mapped = string_map({f"k{i}": "v" for i in range(500)} | {"K" * 1000: "V" * 10_000})
    assert len(mapped) == 100
    wide = string_map({"K" * 1000: "V" * 10_000})
    ((key, value),) = wide.items()
    assert len(key) == 100
    assert len(value) == 2000


def test_string_map_erases_template_blanks() -> None:
    erased = string_map({"a": "<no value>", "b": "x <no value>", "c": "fine"}, erase=("<no value>",))
    assert erased == {"b": "x", "c": "fine"}


@pytest.mark.parametrize(
    "url",
    ["http://example.com", "https://example.com/a?b=c#d", "HTTPS://EXAMPLE.COM/", "https://[::1]:8443/x"],
)
def test_http_url_accepts_absolute_http_urls(url: str) -> None:
    assert http_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://example.com/file",
        "mailto:ops@example.com",
        "slack://channel?id=C1",
        "//example.com/no-scheme",
        "/relative/path",
        "https://",
        "https:///path-only",
        "https://exa mple.com",
        "https://example.com/\nX-Injected: 1",
        "https://[::1",
        "https://example.com/" + "a" * 3000,
        "",
        None,
        7,
        ["https://example.com"],
        {"url": "https://example.com"},
    ],
)
def test_http_url_rejects_everything_else(url: object) -> None:
    assert http_url(url) is None


def test_links_filter_dedupe_and_cap() -> None:
    candidates: list[tuple[str, object]] = [("Bad", "javascript:alert(1)"), ("Empty", ""), ("None", None)]
    candidates += [(f"L{i}", f"https://example.com/{i}") for i in range(20)]
    candidates.insert(4, ("Again", "https://example.com/0"))
    result = links(candidates)
    assert [link["title"] for link in result] == [f"L{i}" for i in range(10)]
    assert result[0] == {"title": "L0", "url": "https://example.com/0"}
