"""Block Kit and mrkdwn to HTML for the sandbox page: every string escaped, unknown blocks shown, never dropped."""

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from markupsafe import Markup, escape

# Shortcodes Warroom and Slack's common replies use; any other `:name:` stays as written, as in a plain client.
EMOJI = {
    "red_circle": "🔴",
    "large_orange_circle": "🟠",
    "large_yellow_circle": "🟡",
    "large_green_circle": "🟢",
    "large_blue_circle": "🔵",
    "white_circle": "⚪",
    "white_check_mark": "✅",
    "heavy_check_mark": "✔️",
    "fast_forward": "⏩",
    "hourglass_flowing_sand": "⏳",
    "hourglass": "⌛",
    "gear": "⚙️",
    "x": "❌",
    "warning": "⚠️",
    "pushpin": "📌",
    "tada": "🎉",
    "memo": "📝",
    "rotating_light": "🚨",
    "fire": "🔥",
    "eyes": "👀",
    "thumbsup": "👍",
    "+1": "👍",
    "bell": "🔔",
    "link": "🔗",
    "clipboard": "📋",
    "calendar": "📅",
    "wave": "👋",
    "information_source": "ℹ️",  # noqa: RUF001 - the emoji itself
    "bulb": "💡",
    "lock": "🔒",
    "page_facing_up": "📄",
}
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
# Private-use characters mark where already-rendered HTML goes back in; input never keeps them.
_OPEN, _CLOSE = "\ue000", "\ue001"
_PLACEHOLDER = re.compile(f"{_OPEN}(\\d+){_CLOSE}")
_SPANS = re.compile(r"```(?P<pre>.*?)```|`(?P<code>[^`\n]+)`|<(?P<token>[^<>\n]*)>", re.DOTALL)
_EMOJI_CODE = re.compile(r":([a-z0-9_+'-]+):")
_STYLES = (
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])"), "strong"),
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]*?\S)_(?![\w_])"), "em"),
    (re.compile(r"(?<![\w~])~(?=\S)([^~\n]*?\S)~(?![\w~])"), "del"),
)
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class RenderContext:
    """What rendering needs to know about the workspace, and about the surface being rendered.

    `state` and `errors` belong to an open modal (what the user typed, what the app refused);
    `id_prefix` keeps element ids unique on the page and stable across re-renders (focus survives).
    """

    users: Mapping[str, str] = field(default_factory=dict)  # user id -> name
    channels: Mapping[str, str] = field(default_factory=dict)  # channel id -> name
    usergroups: Mapping[str, str] = field(default_factory=dict)  # subteam id -> handle
    people: Sequence[tuple[str, str]] = ()  # (user id, name) offered by users_select, in order
    state: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)
    id_prefix: str = "bk"

    def element_id(self, *parts: object) -> str:
        return "-".join([self.id_prefix, *(_ID_UNSAFE.sub("_", str(p)) for p in parts)])


def _trusted(html: str) -> Markup:
    """Mark as safe HTML that this module assembled from escaped text and its own tags, nothing else."""
    return Markup(html)  # noqa: S704 - every caller passes text that went through escape()


def _unescape(text: str) -> str:
    """Slack escapes exactly these three in message text; `&amp;` last so `&amp;lt;` stays `&lt;`."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _clean(text: object) -> str:
    return str(text if text is not None else "").replace(_OPEN, "").replace(_CLOSE, "")


def emojify(escaped: str) -> str:
    return _EMOJI_CODE.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), escaped)


def safe_url(url: str) -> str | None:
    """The URL if a browser may follow it from this page (no `javascript:` and the like), else None."""
    try:
        scheme = urlparse(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in SAFE_SCHEMES else None


def _link(url: str, label: Markup) -> Markup:
    target = safe_url(url)
    if target is None:
        return label
    return Markup('<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>').format(target, label)


def _token(body: str, ctx: RenderContext) -> Markup:
    """One `<...>` of mrkdwn: a mention, a special command such as a date, or a link."""
    if body.startswith("@"):
        user_id, _, label = body[1:].partition("|")
        name = ctx.users.get(user_id) or _unescape(label) or user_id
        return Markup('<span class="bk-mention" data-user-id="{}">@{}</span>').format(user_id, name)
    if body.startswith("#"):
        channel_id, _, label = body[1:].partition("|")
        name = ctx.channels.get(channel_id) or _unescape(label) or channel_id
        return Markup('<a class="bk-channel" href="?channel={}" data-channel-link="{}">#{}</a>').format(
            channel_id, channel_id, name
        )
    if body.startswith("!"):
        command, _, fallback = body[1:].partition("|")
        kind, _, rest = command.partition("^")
        if kind == "date":
            stamp = rest.partition("^")[0]
            return Markup('<time class="bk-date" data-epoch="{}">{}</time>').format(stamp, _unescape(fallback) or stamp)
        if kind == "subteam":
            handle = _unescape(fallback) or "@" + ctx.usergroups.get(rest, rest)
            return Markup('<span class="bk-mention">{}</span>').format(handle)
        if kind in ("here", "channel", "everyone"):
            return Markup('<span class="bk-mention">@{}</span>').format(kind)
        return Markup('<span class="bk-special">{}</span>').format(_unescape(fallback) or "<!" + command + ">")
    url, _, label = body.partition("|")
    url = _unescape(url)
    shown = _trusted(emojify(str(escape(_unescape(label))))) if label else escape(url)
    return _link(url, shown)


def mrkdwn(text: object, ctx: RenderContext) -> Markup:
    """Slack's mrkdwn as HTML: *bold*, _italic_, ~strike~, `code`, ```blocks```, quotes, links, mentions, dates."""
    source = _clean(text)
    pieces: list[Markup] = []

    def hold(html: Markup) -> str:
        pieces.append(html)
        return f"{_OPEN}{len(pieces) - 1}{_CLOSE}"

    out: list[str] = []
    position = 0
    for match in _SPANS.finditer(source):
        out.append(str(escape(_unescape(source[position : match.start()]))))
        if match.group("pre") is not None:
            out.append(hold(Markup("<pre class='bk-pre'><code>{}</code></pre>").format(_unescape(match["pre"]))))
        elif match.group("code") is not None:
            out.append(hold(Markup("<code class='bk-code'>{}</code>").format(_unescape(match["code"]))))
        else:
            out.append(hold(_token(match["token"], ctx)))
        position = match.end()
    out.append(str(escape(_unescape(source[position:]))))
    html = emojify("".join(out))
    for pattern, tag in _STYLES:
        html = pattern.sub(lambda m, t=tag: f"<{t}>{m.group(1)}</{t}>", html)  # type: ignore[misc]
    # `>` at the start of a line arrives escaped as `&gt;`; Slack shows it as a quote either way.
    lines = [
        f"<span class='bk-quote'>{line.removeprefix('&gt;').lstrip()}</span>" if line.startswith("&gt;") else line
        for line in html.split("\n")
    ]
    html = "<br>\n".join(lines)
    return _trusted(_PLACEHOLDER.sub(lambda m: str(pieces[int(m.group(1))]), html))


def plain(text: object, *, emoji: bool = True) -> Markup:
    escaped = str(escape(_clean(text)))
    if emoji:
        escaped = emojify(escaped)
    return _trusted(escaped.replace("\n", "<br>\n"))


def text_object(obj: Any, ctx: RenderContext) -> Markup:
    """A composition text object (`plain_text` or `mrkdwn`); a bare string is taken as plain text."""
    if isinstance(obj, str):
        return plain(obj)
    if not isinstance(obj, dict):
        return Markup("")
    if obj.get("type") == "mrkdwn":
        return mrkdwn(obj.get("text", ""), ctx)
    return plain(obj.get("text", ""), emoji=obj.get("emoji", True) is not False)


def _plain_of(obj: Any) -> str:
    """The raw words of a text object, for attributes (aria-label, placeholder, option text)."""
    if isinstance(obj, dict):
        return _clean(obj.get("text", ""))
    return _clean(obj) if isinstance(obj, str) else ""


# -- elements -----------------------------------------------------------------------------


def unknown(kind: str, what: object) -> Markup:
    return Markup(
        '<div class="bk-unknown" role="note" data-testid="unknown-block">Unsupported {} <code>{}</code>'
        " (the sandbox cannot show it; Slack might)</div>"
    ).format(kind, str(what))


def _action_attrs(element: dict[str, Any], block_id: str) -> Markup:
    return Markup('data-action-id="{}" data-block-id="{}"').format(_clean(element.get("action_id", "")), block_id)


def _confirm_dialog(confirm: dict[str, Any], style: str, ctx: RenderContext, dialog_id: str) -> Markup:
    title = text_object(confirm.get("title") or {"type": "plain_text", "text": "Are you sure?"}, ctx)
    body = text_object(confirm.get("text") or "", ctx)
    yes = text_object(confirm.get("confirm") or "Yes", ctx)
    no = text_object(confirm.get("deny") or "Cancel", ctx)
    yes_style = style or confirm.get("style") or "primary"
    return Markup(
        '<dialog class="bk-confirm" id="{id}" data-testid="confirm-dialog" aria-labelledby="{id}-title">'
        '<form method="dialog"><h3 id="{id}-title">{title}</h3><div class="bk-confirm-text">{body}</div>'
        '<div class="bk-confirm-buttons"><button value="deny" data-testid="confirm-deny" class="bk-btn">{no}</button>'
        '<button value="confirm" data-testid="confirm-accept" class="bk-btn bk-btn-{yes_style}">{yes}</button>'
        "</div></form></dialog>"
    ).format(id=dialog_id, title=title, body=body, no=no, yes=yes, yes_style=_clean(yes_style))


def button(element: dict[str, Any], block_id: str, ctx: RenderContext, element_id: str) -> Markup:
    style = _clean(element.get("style", ""))
    css = "bk-btn" + (f" bk-btn-{style}" if style in ("primary", "danger") else "")
    label = text_object(element.get("text") or "", ctx)
    attrs = _action_attrs(element, block_id)
    url = safe_url(_clean(element.get("url", ""))) if element.get("url") else None
    confirm = element.get("confirm")
    if url is not None:
        # Slack opens the link and still sends the click to the app (block_actions), so the page does both.
        return Markup(
            '<a class="{}" id="{}" href="{}" target="_blank" rel="noopener noreferrer" data-testid="button"'
            " data-link {}>{}</a>"
        ).format(css, element_id, url, attrs, label)
    html = Markup('<button type="button" class="{}" id="{}" data-testid="button" {}{}>{}</button>').format(
        css, element_id, attrs, Markup(" data-confirm") if isinstance(confirm, dict) else "", label
    )
    if isinstance(confirm, dict):
        html += _confirm_dialog(confirm, style, ctx, element_id + "-confirm")
    return Markup('<span class="bk-element">{}</span>').format(html)


def _option_tag(option: dict[str, Any], selected: str | None) -> Markup:
    value = _clean(option.get("value", ""))
    return Markup('<option value="{}"{}>{}</option>').format(
        value, Markup(" selected") if value == selected else "", _plain_of(option.get("text"))
    )


def _options(element: dict[str, Any], selected: str | None) -> Markup:
    html = Markup("")
    for option in element.get("options") or []:
        if isinstance(option, dict):
            html += _option_tag(option, selected)
    for group in element.get("option_groups") or []:
        if isinstance(group, dict):
            inner = Markup("").join(_option_tag(o, selected) for o in group.get("options") or [] if isinstance(o, dict))
            html += Markup('<optgroup label="{}">{}</optgroup>').format(_plain_of(group.get("label")), inner)
    return html


def _choices(element: dict[str, Any], ctx: RenderContext, selected: str | None) -> Markup | None:
    """The <option>s of a select element, or None when the element is no select this page knows."""
    kind = element.get("type")
    if kind in ("static_select", "overflow"):
        return _options(element, selected)
    if kind == "users_select":
        return Markup("").join(
            Markup('<option value="{}"{}>{}</option>').format(uid, Markup(" selected") if uid == selected else "", name)
            for uid, name in ctx.people
        )
    if kind in ("channels_select", "conversations_select"):
        return Markup("").join(
            Markup('<option value="{}"{}>#{}</option>').format(cid, Markup(" selected") if cid == selected else "", n)
            for cid, n in sorted(ctx.channels.items(), key=lambda item: item[1])
        )
    return None


def _initial(element: dict[str, Any]) -> str | None:
    """What an element starts with, as the one string a form control holds."""
    initial_option = element.get("initial_option")
    if isinstance(initial_option, dict):
        return _clean(initial_option.get("value", ""))
    for key in ("initial_user", "initial_channel", "initial_conversation", "initial_date", "initial_time"):
        if element.get(key):
            return _clean(element[key])
    if element.get("initial_value") is not None:
        return _clean(element["initial_value"])
    return None


def state_value(entry: Mapping[str, Any]) -> str | None:
    """The string a form control shows for one `state.values` entry (what the user last submitted)."""
    option = entry.get("selected_option")
    if isinstance(option, dict):
        return _clean(option.get("value", ""))
    for key in ("value", "selected_user", "selected_channel", "selected_conversation", "selected_date"):
        if key in entry:
            return None if entry[key] is None else _clean(entry[key])
    if "selected_time" in entry:
        return None if entry["selected_time"] is None else _clean(entry["selected_time"])
    return None


def select(element: dict[str, Any], block_id: str, ctx: RenderContext, element_id: str) -> Markup:
    """A select that sends block_actions when changed (in a message or a modal's actions)."""
    placeholder = _plain_of(element.get("placeholder")) or ("⋯" if element.get("type") == "overflow" else "Select")
    choices = _choices(element, ctx, _initial(element)) or Markup("")
    return Markup(
        '<select class="bk-select" id="{}" data-testid="select" data-select-type="{}" aria-label="{}" {}>'
        '<option value="">{}</option>{}</select>'
    ).format(
        element_id, _clean(element.get("type")), placeholder, _action_attrs(element, block_id), placeholder, choices
    )


def image(element: dict[str, Any], *, css: str = "bk-image") -> Markup:
    url = safe_url(_clean(element.get("image_url", "")))
    alt = _clean(element.get("alt_text", ""))
    if url is None:
        return Markup('<span class="bk-image-missing">[image: {}]</span>').format(alt)
    return Markup('<img class="{}" src="{}" alt="{}" loading="lazy" referrerpolicy="no-referrer">').format(
        css, url, alt
    )


def datepicker(element: dict[str, Any], block_id: str, element_id: str) -> Markup:
    kind = "time" if element.get("type") == "timepicker" else "date"
    return Markup('<input type="{}" class="bk-date-input" id="{}" data-testid="datepicker" value="{}" {}>').format(
        kind, element_id, _initial(element) or "", _action_attrs(element, block_id)
    )


def interactive(element: Any, block_id: str, ctx: RenderContext, element_id: str) -> Markup:
    """An element of an actions block or a section accessory."""
    if not isinstance(element, dict):
        return unknown("element", type(element).__name__)
    kind = element.get("type")
    if kind == "button":
        return button(element, block_id, ctx, element_id)
    if kind in ("static_select", "users_select", "channels_select", "conversations_select", "overflow"):
        return select(element, block_id, ctx, element_id)
    if kind in ("datepicker", "timepicker"):
        return datepicker(element, block_id, element_id)
    if kind == "image":
        return image(element, css="bk-accessory-image")
    return unknown("element", kind)


# -- blocks -------------------------------------------------------------------------------


def _header(block: dict[str, Any], ctx: RenderContext, index: int) -> Markup:
    return Markup('<h3 class="bk-header">{}</h3>').format(text_object(block.get("text"), ctx))


def _section(block: dict[str, Any], ctx: RenderContext, index: int) -> Markup:
    block_id = _clean(block.get("block_id", ""))
    html = Markup("")
    if block.get("text"):
        html += Markup('<div class="bk-text">{}</div>').format(text_object(block["text"], ctx))
    fields = [f for f in block.get("fields") or [] if isinstance(f, dict)]
    if fields:
        inner = Markup("").join(Markup('<div class="bk-field">{}</div>').format(text_object(f, ctx)) for f in fields)
        html += Markup('<div class="bk-fields">{}</div>').format(inner)
    accessory = block.get("accessory")
    body = Markup('<div class="bk-section-body">{}</div>').format(html)
    if isinstance(accessory, dict):
        body += Markup('<div class="bk-accessory">{}</div>').format(
            interactive(accessory, block_id, ctx, ctx.element_id(index, "accessory"))
        )
    return Markup('<div class="bk-section">{}</div>').format(body)


def _context(block: dict[str, Any], ctx: RenderContext, index: int) -> Markup:
    parts = []
    for element in block.get("elements") or []:
        if isinstance(element, dict) and element.get("type") == "image":
            parts.append(image(element, css="bk-context-image"))
        elif isinstance(element, dict) and element.get("type") in ("mrkdwn", "plain_text"):
            parts.append(Markup("<span>{}</span>").format(text_object(element, ctx)))
        else:
            parts.append(unknown("element", element.get("type") if isinstance(element, dict) else element))
    return Markup('<div class="bk-context">{}</div>').format(Markup(" ").join(parts))


def _divider(block: dict[str, Any], ctx: RenderContext, index: int) -> Markup:
    return Markup('<hr class="bk-divider">')


def _actions(block: dict[str, Any], ctx: RenderContext, index: int) -> Markup:
    block_id = _clean(block.get("block_id", ""))
    elements = Markup("").join(
        interactive(e, block_id, ctx, ctx.element_id(index, n)) for n, e in enumerate(block.get("elements") or [])
    )
    return Markup('<div class="bk-actions" role="group">{}</div>').format(elements)


def _image_block(block: dict[str, Any], ctx: RenderContext, index: int) -> Markup:
    title = block.get("title")
    caption = Markup("<figcaption>{}</figcaption>").format(text_object(title, ctx)) if title else Markup("")
    return Markup('<figure class="bk-figure">{}{}</figure>').format(image(block), caption)


_RICH_STYLES = (
    ("code", Markup("<code>{}</code>")),
    ("strike", Markup("<del>{}</del>")),
    ("italic", Markup("<em>{}</em>")),
    ("bold", Markup("<strong>{}</strong>")),
)
_ORDERED = Markup('<ol class="bk-rich-list" style="margin-left: {}em">{}</ol>')
_BULLETED = Markup('<ul class="bk-rich-list" style="margin-left: {}em">{}</ul>')


def _rich_inline(element: Any, ctx: RenderContext) -> Markup:
    if not isinstance(element, dict):
        return Markup("")
    kind = element.get("type")
    style: dict[str, Any] = element["style"] if isinstance(element.get("style"), dict) else {}
    if kind == "text":
        html = plain(element.get("text", ""), emoji=False)
    elif kind == "link":
        label = element.get("text") or element.get("url", "")
        html = _link(_clean(element.get("url", "")), plain(label, emoji=False))
    elif kind == "user":
        return _token("@" + _clean(element.get("user_id", "")), ctx)
    elif kind == "channel":
        return _token("#" + _clean(element.get("channel_id", "")), ctx)
    elif kind == "usergroup":
        return _token("!subteam^" + _clean(element.get("usergroup_id", "")), ctx)
    elif kind == "broadcast":
        return _token("!" + _clean(element.get("range", "here")), ctx)
    elif kind == "emoji":
        name = _clean(element.get("name", ""))
        return Markup("{}").format(EMOJI.get(name, f":{name}:"))
    elif kind == "date":
        return _token(f"!date^{_clean(element.get('timestamp', ''))}^x|{_clean(element.get('fallback', ''))}", ctx)
    else:
        return unknown("rich text element", kind)
    for flag, wrapper in _RICH_STYLES:
        if style.get(flag):
            html = wrapper.format(html)
    return html


def _rich_section(element: dict[str, Any], ctx: RenderContext) -> Markup:
    return Markup("").join(_rich_inline(e, ctx) for e in element.get("elements") or [])


def _rich_part(element: Any, ctx: RenderContext) -> Markup:
    if not isinstance(element, dict):
        return Markup("")
    kind = element.get("type")
    if kind == "rich_text_section":
        return Markup('<p class="bk-rich-p">{}</p>').format(_rich_section(element, ctx))
    if kind == "rich_text_preformatted":
        return Markup('<pre class="bk-pre"><code>{}</code></pre>').format(_rich_section(element, ctx))
    if kind == "rich_text_quote":
        return Markup('<blockquote class="bk-quote">{}</blockquote>').format(_rich_section(element, ctx))
    if kind == "rich_text_list":
        template = _ORDERED if element.get("style") == "ordered" else _BULLETED
        items = Markup("").join(
            Markup("<li>{}</li>").format(_rich_section(item, ctx))
            for item in element.get("elements") or []
            if isinstance(item, dict)
        )
        indent = int(element.get("indent") or 0) if str(element.get("indent") or 0).isdigit() else 0
        return template.format(indent * 1.5, items)
    return unknown("rich text part", kind)


def _rich_text(block: dict[str, Any], ctx: RenderContext, index: int) -> Markup:
    parts = Markup("").join(_rich_part(e, ctx) for e in block.get("elements") or [])
    return Markup('<div class="bk-rich">{}</div>').format(parts)


def _input(block: dict[str, Any], ctx: RenderContext, index: int) -> Markup:
    """An input block: label, control, hint and the app's `response_action: errors` message for it."""
    block_id = _clean(block.get("block_id", ""))
    element = block.get("element") if isinstance(block.get("element"), dict) else {}
    assert isinstance(element, dict)
    action_id = _clean(element.get("action_id", ""))
    kind = _clean(element.get("type", ""))
    control_id = ctx.element_id(index, "input")
    optional = bool(block.get("optional"))
    error = ctx.errors.get(block_id)
    entry = (ctx.state.get(block_id) or {}).get(action_id)
    value = state_value(entry) if isinstance(entry, Mapping) else _initial(element)
    described = [f"{control_id}-hint"] if block.get("hint") else []
    if error:
        described.append(f"{control_id}-error")
    common = Markup(
        'id="{}" name="{}" data-testid="input" data-input-block="{}" data-input-action="{}" data-input-type="{}"{}{}{}'
    ).format(
        control_id,
        control_id,
        block_id,
        action_id,
        kind,
        Markup(" required") if not optional else "",
        Markup(' aria-describedby="{}"').format(" ".join(described)) if described else "",
        Markup(' aria-invalid="true"') if error else "",
    )
    placeholder = _plain_of(element.get("placeholder"))
    if kind == "plain_text_input":
        limits = Markup("")
        if str(element.get("max_length", "")).isdigit():
            limits += Markup(' maxlength="{}"').format(element["max_length"])
        if str(element.get("min_length", "")).isdigit():
            limits += Markup(' minlength="{}"').format(element["min_length"])
        if element.get("multiline"):
            control = Markup('<textarea class="bk-textarea" rows="4" placeholder="{}" {}{}>{}</textarea>').format(
                placeholder, common, limits, value or ""
            )
        else:
            control = Markup('<input type="text" class="bk-text-input" placeholder="{}" value="{}" {}{}>').format(
                placeholder, value or "", common, limits
            )
    elif kind in ("datepicker", "timepicker"):
        control = Markup('<input type="{}" class="bk-date-input" value="{}" {}>').format(
            "time" if kind == "timepicker" else "date", value or "", common
        )
    else:
        choices = _choices(element, ctx, value)
        if choices is None:
            control = unknown("input element", kind)
        else:
            control = Markup('<select class="bk-select" {}><option value="">{}</option>{}</select>').format(
                common, placeholder or "Select…", choices
            )
    label = Markup('<label for="{}">{}{}</label>').format(
        control_id,
        text_object(block.get("label") or "", ctx),
        Markup(' <span class="bk-optional">(optional)</span>') if optional else "",
    )
    hint = (
        Markup('<p class="bk-hint" id="{}-hint">{}</p>').format(control_id, text_object(block["hint"], ctx))
        if block.get("hint")
        else Markup("")
    )
    problem = (
        Markup('<p class="bk-error" id="{}-error" role="alert" data-testid="field-error">{}</p>').format(
            control_id, error
        )
        if error
        else Markup("")
    )
    return Markup('<div class="bk-input{}" data-testid="input-block" data-block-id="{}">{}{}{}{}</div>').format(
        " bk-input-invalid" if error else "", block_id, label, control, hint, problem
    )


BlockRenderer = Callable[[dict[str, Any], RenderContext, int], Markup]
RENDERERS: dict[str, BlockRenderer] = {
    "header": _header,
    "section": _section,
    "context": _context,
    "divider": _divider,
    "actions": _actions,
    "image": _image_block,
    "rich_text": _rich_text,
    "input": _input,
}


def render_block(block: Any, ctx: RenderContext, index: int = 0) -> Markup:
    if not isinstance(block, dict):
        return unknown("block", type(block).__name__)
    renderer = RENDERERS.get(str(block.get("type")))
    if renderer is None:
        return unknown("block", block.get("type"))
    return Markup('<div class="bk-block bk-{}" data-block-type="{}">{}</div>').format(
        _clean(block["type"]), _clean(block["type"]), renderer(block, ctx, index)
    )


def render_blocks(blocks: Sequence[Any], ctx: RenderContext) -> Markup:
    return Markup("").join(render_block(block, ctx, index) for index, block in enumerate(blocks))


def input_values(view: Mapping[str, Any], fields: Mapping[str, Mapping[str, str | None]]) -> dict[str, Any]:
    """`view.state.values` as Slack sends them on submit, from the strings the page's form controls hold.

    Every input block is present (empty ones with null), as in Slack; option values become the option objects.
    """
    values: dict[str, dict[str, Any]] = {}
    for block in view.get("blocks") or []:
        if not isinstance(block, dict) or block.get("type") != "input" or not isinstance(block.get("element"), dict):
            continue
        element = block["element"]
        action_id = str(element.get("action_id", ""))
        raw = (fields.get(str(block.get("block_id", ""))) or {}).get(action_id)
        raw = raw if raw else None
        kind = str(element.get("type", ""))
        entry: dict[str, Any] = {"type": kind}
        if kind == "plain_text_input":
            entry["value"] = raw
        elif kind == "static_select":
            entry["selected_option"] = find_option(element, raw) if raw is not None else None
        elif kind == "users_select":
            entry["selected_user"] = raw
        elif kind == "channels_select":
            entry["selected_channel"] = raw
        elif kind == "conversations_select":
            entry["selected_conversation"] = raw
        elif kind == "datepicker":
            entry["selected_date"] = raw
        elif kind == "timepicker":
            entry["selected_time"] = raw
        else:
            entry["value"] = raw
        values.setdefault(str(block.get("block_id", "")), {})[action_id] = entry
    return values


def find_option(element: Mapping[str, Any], value: str) -> dict[str, Any] | None:
    """The option object of a static select or overflow with this value (None if it has none)."""
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        if isinstance(group, dict):
            options.extend(group.get("options") or [])
    return next((o for o in options if isinstance(o, dict) and o.get("value") == value), None)
