"""Web API `conversations.*` methods of the sandbox: arguments in, workspace call, Slack-shaped answer out."""

from collections.abc import Callable
from typing import Any

from bot.sandbox.args import Args, paginate
from bot.sandbox.models import SlackError
from bot.sandbox.shapes import channel_json, message_json
from bot.sandbox.workspace import Workspace

Handler = Callable[[Workspace, Args], dict[str, Any]]


def _channel(args: Args) -> str:
    return args.need("channel", "channel_not_found")


def create(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = ws.create_channel(args.text("name", "") or "", is_private=args.flag("is_private"))
    return {"channel": channel_json(ws, channel)}


def invite(ws: Workspace, args: Args) -> dict[str, Any]:
    users = (args.text("users", "") or "").split(",")
    channel, errors = ws.invite(_channel(args), users, force=args.flag("force"))
    answer: dict[str, Any] = {"channel": channel_json(ws, channel)}
    if errors:
        answer["errors"] = errors
    return answer


def set_topic(ws: Workspace, args: Args) -> dict[str, Any]:
    return {"channel": channel_json(ws, ws.set_topic(_channel(args), args.text("topic", "") or ""))}


def set_purpose(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = ws.set_purpose(_channel(args), args.text("purpose", "") or "")
    return {"channel": channel_json(ws, channel), "purpose": channel.purpose}


def info(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = ws.find_channel(_channel(args))
    return {"channel": channel_json(ws, channel, include_num_members=args.flag("include_num_members"))}


def list_(ws: Workspace, args: Args) -> dict[str, Any]:
    types = {t.strip() for t in (args.text("types", "") or "public_channel").split(",") if t.strip()}
    channels = ws.list_channels(types=types, exclude_archived=args.flag("exclude_archived"))
    page, next_cursor = paginate(channels, args, default=100, maximum=1000)
    return {
        "channels": [channel_json(ws, c) for c in page],
        "response_metadata": {"next_cursor": next_cursor},
    }


def history(ws: Workspace, args: Args) -> dict[str, Any]:
    channel, messages = ws.history(
        _channel(args),
        latest=args.text("latest"),
        oldest=args.text("oldest"),
        inclusive=args.flag("inclusive"),
    )
    page, next_cursor = paginate(messages, args, default=100, maximum=999)
    with_metadata = args.flag("include_all_metadata")
    return {
        "messages": [message_json(ws, m, include_metadata=with_metadata) for m in page],
        "has_more": bool(next_cursor),
        "pin_count": len(channel.pins),
        "channel_actions_count": 0,
        "channel_actions_ts": None,
        "response_metadata": {"next_cursor": next_cursor},
    }


def replies(ws: Workspace, args: Args) -> dict[str, Any]:
    thread = ws.replies(_channel(args), args.need("ts", "thread_not_found"))
    page, next_cursor = paginate(thread, args, default=1000, maximum=1000)
    with_metadata = args.flag("include_all_metadata")
    return {
        "messages": [message_json(ws, m, include_metadata=with_metadata) for m in page],
        "has_more": bool(next_cursor),
        "response_metadata": {"next_cursor": next_cursor},
    }


def archive(ws: Workspace, args: Args) -> dict[str, Any]:
    ws.archive(_channel(args))
    return {}


def unarchive(ws: Workspace, args: Args) -> dict[str, Any]:
    ws.unarchive(_channel(args))
    return {}


def join(ws: Workspace, args: Args) -> dict[str, Any]:
    channel, already = ws.join(_channel(args))
    answer: dict[str, Any] = {"channel": channel_json(ws, channel)}
    if already:
        answer["warning"] = "already_in_channel"
        answer["response_metadata"] = {"warnings": ["already_in_channel"]}
    return answer


def members(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = ws.find_channel(_channel(args))
    page, next_cursor = paginate(channel.members, args, default=100, maximum=1000)
    return {"members": page, "response_metadata": {"next_cursor": next_cursor}}


def open_(ws: Workspace, args: Args) -> dict[str, Any]:
    users = [u for u in (args.text("users", "") or "").split(",") if u]
    if len(users) != 1:
        # Group DMs (mpim) are not simulated; Warroom only ever opens one-to-one DMs.
        raise SlackError("not_supported" if users else "users_list_not_supplied")
    channel, already = ws.open_im(users[0])
    answer: dict[str, Any] = {"channel": {"id": channel.id}}
    if already:
        answer["no_op"] = True
        answer["already_open"] = True
    return answer


HANDLERS: dict[str, Handler] = {
    "conversations.archive": archive,
    "conversations.create": create,
    "conversations.history": history,
    "conversations.info": info,
    "conversations.invite": invite,
    "conversations.join": join,
    "conversations.list": list_,
    "conversations.members": members,
    "conversations.open": open_,
    "conversations.replies": replies,
    "conversations.setPurpose": set_purpose,
    "conversations.setTopic": set_topic,
    "conversations.unarchive": unarchive,
}
