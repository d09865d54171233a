"""Escaping for Slack: alert and user text can never mention, link or format."""

from bot.slack.escape import escape, link, mention, truncate


def test_escape_handles_the_three_control_characters_ampersand_first() -> None:
    assert escape("<!channel> & <https://evil|click>") == "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;"
    assert escape("&lt;") == "&amp;lt;"
    assert escape('We\'re "fine"') == 'We\'re "fine"'
    assert escape(None) == ""


def test_mentions_only_for_slack_user_ids() -> None:
    assert mention("U0ALICE") == "<@U0ALICE>"
    assert mention("Jane <!here> (pagerduty)") == "Jane &lt;!here&gt; (pagerduty)"
    assert mention(None) == "someone"


def test_links_refuse_urls_that_break_out() -> None:
    assert link("https://grafana.example.com/d/1", "Dashboard") == "<https://grafana.example.com/d/1|Dashboard>"
    assert link("javascript:alert(1)", "x") == "x"
    assert link("https://a.example/|<!channel>", "label") == "label"
    assert link("https://a.example/", "a|b <c>") == "<https://a.example/|a¦b &lt;c&gt;>"


def test_truncate() -> None:
    assert truncate("abcdef", 4) == "abc…"
    assert truncate("abc", 4) == "abc"
