"""The sandbox page's Block Kit renderer: every block type Warroom sends, mrkdwn, escaping of hostile text."""

import re
from html.parser import HTMLParser
from typing import Any

import pytest

from bot.sandbox.ui.blockkit import (
    RenderContext,
    find_option,
    input_values,
    mrkdwn,
    render_block,
    render_blocks,
    safe_url,
)
from bot.slack.blocks.card import CardFacts, card_blocks
from bot.slack.blocks.postmortem import whys_modal
from bot.slack.blocks.replies import declare_modal
from bot.slack.escape import escape as slack_escape

CTX = RenderContext(
    users={"U0ALICE": "alice", "U0BOB": "bob"},
    channels={"C0INCIDENTS": "incidents"},
    usergroups={"S0SRE": "sre"},
    people=[("U0ALICE", "alice"), ("U0BOB", "bob")],
)
HOSTILE = "<script>alert(1)</script> \"quoted\" 'single' & <img src=x onerror=alert(2)>"


def html_of(block: dict[str, Any], ctx: RenderContext = CTX) -> str:
    return str(render_block(block, ctx))


def text(html: str) -> str:
    """The visible words of a fragment, tags removed (entities kept)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip()


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def assert_no_markup_from(html: str) -> None:
    """What a browser would parse: no script element, no event-handler attribute, no image the text asked for."""
    parser = _Tags()
    parser.feed(html)
    assert [t for t, _ in parser.tags if t in ("script", "img", "iframe")] == []
    assert [a for _, attrs in parser.tags for a, _ in attrs if a.startswith("on")] == []


# -- mrkdwn -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("*bold*", "<strong>bold</strong>"),
        ("_italic_", "<em>italic</em>"),
        ("~gone~", "<del>gone</del>"),
        ("`x = 1`", "<code class='bk-code'>x = 1</code>"),
        ("```a *not bold*\nb```", "<pre class='bk-pre'><code>a *not bold*\nb</code></pre>"),
        ("snake_case_name stays", "snake_case_name stays"),
        ("2 * 3 * 4", "2 * 3 * 4"),
        ("line one\nline two", "line one<br>\nline two"),
        (":pushpin: :no_such_emoji:", "📌 :no_such_emoji:"),
        ("&gt; quoted", "<span class='bk-quote'>quoted</span>"),
    ],
)
def test_mrkdwn_formatting(source: str, expected: str) -> None:
    assert str(mrkdwn(source, CTX)) == expected


def test_formatting_spans_mentions_and_dates_as_in_warroom_step_lines() -> None:
    html = str(mrkdwn("_Done by <@U0ALICE> <!date^1700000000^{time}|09:00 UTC>_", CTX))
    assert html == (
        '<em>Done by <span class="bk-mention" data-user-id="U0ALICE">@alice</span> '
        '<time class="bk-date" data-epoch="1700000000">09:00 UTC</time></em>'
    )


def test_links_mentions_channels_groups_and_broadcasts() -> None:
    html = str(mrkdwn("<https://example.com/a?b=1&amp;c=2|the *dashboard*> <https://example.com>", CTX))
    assert '<a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">' in html
    assert ">https://example.com</a>" in html
    assert text(str(mrkdwn("<@U0BOB> <@U0NOBODY> <@U0X|xavier>", CTX))) == "@bob @U0NOBODY @xavier"
    channel = str(mrkdwn("see <#C0INCIDENTS>", CTX))
    assert 'data-channel-link="C0INCIDENTS"' in channel and text(channel) == "see #incidents"
    assert text(str(mrkdwn("<!subteam^S0SRE> <!subteam^S0SRE|@sre-team> <!here> <!channel>", CTX))) == (
        "@sre @sre-team @here @channel"
    )


def test_escaped_entities_are_shown_literally_and_never_become_tags() -> None:
    html = str(mrkdwn("a &lt;b&gt; &amp;lt; c", CTX))
    assert html == "a &lt;b&gt; &amp;lt; c"
    assert text(html) == "a &lt;b&gt; &amp;lt; c"  # the browser shows: a <b> &lt; c


def test_hostile_alert_title_escaped_by_warroom_and_by_the_page() -> None:
    html = str(mrkdwn(f"*{slack_escape(HOSTILE)}*", CTX))
    assert_no_markup_from(html)
    assert html.startswith("<strong>&lt;script&gt;alert(1)&lt;/script&gt;")
    assert "&#34;quoted&#34;" in html and "&#39;single&#39;" in html


def test_hostile_text_unescaped_by_the_sender_is_still_not_markup() -> None:
    """A sender that forgot to escape: `<script>` looks like a link token, and still renders as text."""
    html = str(mrkdwn(HOSTILE, CTX))
    assert_no_markup_from(html)
    assert "script" in text(html)


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html;base64,PGI+", "vbscript:x"]
)
def test_dangerous_link_schemes_are_not_links(url: str) -> None:
    html = str(mrkdwn(f"<{url}|click>", CTX))
    assert "href" not in html and text(html) == "click"
    assert safe_url(url) is None


def test_placeholder_characters_in_input_cannot_smuggle_markup() -> None:
    html = str(mrkdwn("\ue0000\ue001 <@U0ALICE>", CTX))
    assert html.count("bk-mention") == 1 and "\ue000" not in html


# -- blocks -------------------------------------------------------------------------------


def test_header_divider_and_context() -> None:
    assert html_of({"type": "header", "text": {"type": "plain_text", "text": "#1 <Disk> :fire:"}}) == (
        '<div class="bk-block bk-header" data-block-type="header"><h3 class="bk-header">#1 &lt;Disk&gt; 🔥</h3></div>'
    )
    assert '<hr class="bk-divider">' in html_of({"type": "divider"})
    context = html_of(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": "*a*"},
                {"type": "plain_text", "text": "*b*"},
                {"type": "image", "image_url": "https://example.com/i.png", "alt_text": "logo"},
            ],
        }
    )
    assert "<strong>a</strong>" in context and "*b*" in context
    assert '<img class="bk-context-image" src="https://example.com/i.png" alt="logo"' in context


def test_section_with_text_fields_and_accessory_button() -> None:
    html = html_of(
        {
            "type": "section",
            "block_id": "note",
            "text": {"type": "mrkdwn", "text": "Your shift ends"},
            "fields": [{"type": "mrkdwn", "text": "*Status*\nok"}, {"type": "plain_text", "text": "two"}],
            "accessory": {
                "type": "button",
                "text": {"type": "plain_text", "text": "Add a handoff note"},
                "action_id": "handoff_note_open",
                "value": "7",
            },
        }
    )
    assert '<div class="bk-text">Your shift ends</div>' in html
    assert html.count('class="bk-field"') == 2 and "<strong>Status</strong><br>\nok" in html
    assert 'data-action-id="handoff_note_open" data-block-id="note"' in html and ">Add a handoff note</button>" in html


def test_actions_buttons_with_styles_confirm_and_link() -> None:
    html = html_of(
        {
            "type": "actions",
            "block_id": "b1",
            "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Go"}, "action_id": "go", "style": "primary"},
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Resolve"},
                    "action_id": "resolve",
                    "style": "danger",
                    "confirm": {
                        "title": {"type": "plain_text", "text": "Sure?"},
                        "text": {"type": "mrkdwn", "text": "Incident *#1*"},
                        "confirm": {"type": "plain_text", "text": "Resolve"},
                        "deny": {"type": "plain_text", "text": "Cancel"},
                    },
                },
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open"},
                    "action_id": "o",
                    "url": "https://x.io",
                },
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Bad"},
                    "action_id": "b",
                    "url": "javascript:1",
                },
            ],
        }
    )
    assert 'class="bk-btn bk-btn-primary"' in html and 'class="bk-btn bk-btn-danger"' in html
    assert "data-confirm>Resolve</button>" in html
    assert '<dialog class="bk-confirm"' in html and "<h3" in html and "Incident <strong>#1</strong>" in html
    assert 'data-testid="confirm-accept" class="bk-btn bk-btn-danger">Resolve</button>' in html
    assert '<a class="bk-btn" id="bk-0-2" href="https://x.io" target="_blank"' in html and "data-link" in html
    assert "javascript" not in html and ">Bad</button>" in html
    assert html.count('data-testid="button"') == 4


def test_static_and_users_selects_with_initial_choices() -> None:
    options = [{"text": {"type": "plain_text", "text": f"SEV{n}"}, "value": str(n)} for n in (1, 2)]
    html = html_of(
        {
            "type": "actions",
            "block_id": "a",
            "elements": [
                {
                    "type": "static_select",
                    "action_id": "sev",
                    "placeholder": {"type": "plain_text", "text": "Severity"},
                    "options": options,
                    "initial_option": options[1],
                },
                {"type": "users_select", "action_id": "who", "initial_user": "U0BOB"},
            ],
        }
    )
    assert 'aria-label="Severity"' in html and '<option value="2" selected>SEV2</option>' in html
    assert '<option value="1">SEV1</option>' in html
    assert '<option value="U0BOB" selected>bob</option>' in html and '<option value="U0ALICE">alice</option>' in html


def test_image_block() -> None:
    html = html_of(
        {
            "type": "image",
            "image_url": "https://example.com/graph.png",
            "alt_text": 'disk "usage"',
            "title": {"type": "plain_text", "text": "Disk"},
        }
    )
    assert 'src="https://example.com/graph.png" alt="disk &#34;usage&#34;"' in html and "<figcaption>Disk" in html
    assert "src=" not in html_of({"type": "image", "image_url": "javascript:alert(1)", "alt_text": "x"})


def test_rich_text_basics() -> None:
    html = html_of(
        {
            "type": "rich_text",
            "elements": [
                {
                    "type": "rich_text_section",
                    "elements": [
                        {"type": "text", "text": "bold <b>", "style": {"bold": True}},
                        {"type": "text", "text": " code", "style": {"code": True, "italic": True}},
                        {"type": "user", "user_id": "U0ALICE"},
                        {"type": "link", "url": "https://example.com", "text": "site"},
                        {"type": "emoji", "name": "tada"},
                    ],
                },
                {
                    "type": "rich_text_list",
                    "style": "ordered",
                    "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": "one"}]}],
                },
                {"type": "rich_text_preformatted", "elements": [{"type": "text", "text": "df -h"}]},
                {"type": "rich_text_quote", "elements": [{"type": "text", "text": "quoted"}]},
            ],
        }
    )
    assert "<strong>bold &lt;b&gt;</strong>" in html and "<em><code> code</code></em>" in html
    assert "@alice" in html and '<a href="https://example.com"' in html and "🎉" in html
    assert "<ol" in html and "<li><p" not in html and "<li>one</li>" in html
    assert '<pre class="bk-pre"><code>df -h</code></pre>' in html and "<blockquote" in html


@pytest.mark.parametrize(
    "block",
    [{"type": "video", "title": "x"}, {"type": "<script>"}, "not a block", {"type": "file", "external_id": "f"}],
)
def test_unknown_blocks_are_visible_placeholders(block: Any) -> None:
    html = str(render_blocks([{"type": "divider"}, block, {"type": "divider"}], CTX))
    assert html.count('data-testid="unknown-block"') == 1 and html.count("<hr") == 2
    assert "<script>" not in html


def test_unknown_element_in_actions_is_shown_too() -> None:
    html = html_of({"type": "actions", "elements": [{"type": "workflow_button", "action_id": "w"}]})
    assert 'data-testid="unknown-block"' in html and "workflow_button" in html


def test_warroom_card_renders_with_hostile_title() -> None:
    """The real card builder's output, for an incident whose title is an attack."""
    from datetime import UTC, datetime

    from bot.incidents.models import Incident

    incident = Incident(
        id=1,
        number=7,
        title=HOSTILE,
        severity=2,
        status="triggered",
        source="generic",
        service="<b>checkout</b>",
        created_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        version=3,
        links=[{"title": "<dash>", "url": "javascript:alert(3)"}],
        group_key="g",
    )
    html = str(render_blocks(card_blocks(incident, CardFacts(firing=1)), CTX))
    assert_no_markup_from(html)
    assert "javascript" not in html
    assert "&lt;b&gt;checkout&lt;/b&gt;" in html
    assert [b for b in ("Acknowledge", "Mitigate", "Resolve") if f">{b}</button>" in html] == [
        "Acknowledge",
        "Mitigate",
        "Resolve",
    ]
    assert 'data-block-id="card_actions_1_v3"' in html and "SEV2 (major)</option>" in html


# -- modals -------------------------------------------------------------------------------


def _modal_ctx(view: dict[str, Any], **extra: Any) -> RenderContext:
    return RenderContext(users=CTX.users, people=CTX.people, id_prefix="v", **extra)


def test_input_blocks_of_warroom_modals() -> None:
    declare = declare_modal("C0INCIDENTS")
    html = str(render_blocks(declare["blocks"], _modal_ctx(declare)))
    assert '<label for="v-0-input">What is happening?</label>' in html
    assert '<input type="text" class="bk-text-input" placeholder="" value=""' in html and 'maxlength="300"' in html
    assert html.count(" required") == 2  # title and severity; the service is optional
    assert '<span class="bk-optional">(optional)</span>' in html
    assert '<option value="3" selected>SEV3 (minor)</option>' in html
    whys = whys_modal(1, 7, {"why_1": "disk <full>"}, "C1")
    html = str(render_blocks(whys["blocks"], _modal_ctx(whys)))
    assert html.count("<textarea") == 6 and ">disk &lt;full&gt;</textarea>" in html


def test_users_select_and_datepicker_inputs_and_errors_with_kept_state() -> None:
    blocks = [
        {
            "type": "input",
            "block_id": "who",
            "label": {"type": "plain_text", "text": "Who covers"},
            "hint": {"type": "plain_text", "text": "Someone awake"},
            "element": {"type": "users_select", "action_id": "user"},
        },
        {
            "type": "input",
            "block_id": "when",
            "label": {"type": "plain_text", "text": "From"},
            "element": {"type": "datepicker", "action_id": "day", "initial_date": "2026-12-24"},
        },
        {
            "type": "input",
            "block_id": "note",
            "label": {"type": "plain_text", "text": "Note"},
            "element": {"type": "plain_text_input", "action_id": "text", "multiline": True},
        },
    ]
    ctx = _modal_ctx(
        {},
        state={"who": {"user": {"type": "users_select", "selected_user": "U0BOB"}}},
        errors={"note": "Write the note, or press <Cancel>."},
    )
    html = str(render_blocks(blocks, ctx))
    assert '<option value="U0BOB" selected>bob</option>' in html
    assert 'aria-describedby="v-0-input-hint"' in html and "Someone awake" in html
    assert '<input type="date" class="bk-date-input" value="2026-12-24"' in html
    assert 'aria-describedby="v-2-input-error" aria-invalid="true"' in html
    assert 'data-testid="field-error">Write the note, or press &lt;Cancel&gt;.</p>' in html


def test_input_values_in_slack_state_shape() -> None:
    view = declare_modal(None)
    values = input_values(view, {"declare_title": {"declare_title": "Disk full"}, "declare_severity": {}})
    assert values["declare_title"]["declare_title"] == {"type": "plain_text_input", "value": "Disk full"}
    assert values["declare_severity"]["declare_severity"] == {"type": "static_select", "selected_option": None}
    assert values["declare_service"]["declare_service"] == {"type": "plain_text_input", "value": None}
    picked = input_values(view, {"declare_severity": {"declare_severity": "2"}})
    assert picked["declare_severity"]["declare_severity"]["selected_option"]["value"] == "2"
    assert find_option(view["blocks"][1]["element"], "9") is None


def test_minimal_blocks_of_every_known_type_render_as_themselves() -> None:
    kinds = ("header", "section", "context", "divider", "actions", "image", "rich_text", "input")
    html = str(render_blocks([{"type": t} for t in kinds], CTX))
    assert [f'data-block-type="{t}"' in html for t in kinds] == [True] * len(kinds)
    assert 'data-testid="unknown-block"' in html  # only the input's missing element is unknown
