"""Web API methods of the sandbox: auth, chat, views, users, reactions, pins, bookmarks; conversations.*, files.*."""

from typing import Any

from bot.sandbox import api_conversations, api_files
from bot.sandbox.api_conversations import Handler
from bot.sandbox.args import Args, paginate
from bot.sandbox.models import invalid_arguments
from bot.sandbox.shapes import message_json, user_json, usergroup_json, view_json
from bot.sandbox.validation import parse_blocks, parse_metadata
from bot.sandbox.workspace import Workspace


def auth_test(ws: Workspace, args: Args) -> dict[str, Any]:
    return {
        "url": f"https://{ws.domain}.slack.com/",
        "team": ws.team_name,
        "user": ws.users[ws.bot_user_id].name,
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


def post_message(ws: Workspace, args: Args) -> dict[str, Any]:
    message = ws.post_message(
        args.need("channel", "channel_not_found"),
        text=args.text("text"),
        blocks=parse_blocks(args.raw("blocks")),
        metadata=parse_metadata(args.raw("metadata")),
        thread_ts=args.text("thread_ts"),
    )
    return {"channel": message.channel, "ts": message.ts, "message": message_json(ws, message)}


def update(ws: Workspace, args: Args) -> dict[str, Any]:
    message = ws.update_message(
        args.need("channel", "channel_not_found"),
        args.need("ts", "message_not_found"),
        text=args.text("text"),
        blocks=parse_blocks(args.raw("blocks")),
        metadata=parse_metadata(args.raw("metadata")),
    )
    return {
        "channel": message.channel,
        "ts": message.ts,
        "text": message.text,
        "message": message_json(ws, message),
    }


def delete(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = ws.find_channel(args.need("channel", "channel_not_found"))
    ts = args.need("ts", "message_not_found")
    ws.delete_message(channel.id, ts)
    return {"channel": channel.id, "ts": ts}


def post_ephemeral(ws: Workspace, args: Args) -> dict[str, Any]:
    ephemeral = ws.post_ephemeral(
        args.need("channel", "channel_not_found"),
        args.need("user", "user_not_found"),
        text=args.text("text"),
        blocks=parse_blocks(args.raw("blocks")),
    )
    return {"message_ts": ephemeral.ts}


def get_permalink(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = ws.find_channel(args.need("channel", "channel_not_found"))
    link = ws.permalink(channel.id, args.need("message_ts", "message_not_found"))
    return {"channel": channel.id, "permalink": link}


def _view(args: Args) -> Any:
    # a JSON body carries the view as an object, a form post as a JSON string
    view = args.raw("view")
    if view is None or view == "":
        raise invalid_arguments("[ERROR] missing required field: view")
    return view


def views_open(ws: Workspace, args: Args) -> dict[str, Any]:
    view = ws.open_view(args.need("trigger_id", "invalid_trigger_id"), _view(args))
    return {"view": view_json(ws, view)}


def views_push(ws: Workspace, args: Args) -> dict[str, Any]:
    view = ws.push_view(args.need("trigger_id", "invalid_trigger_id"), _view(args))
    return {"view": view_json(ws, view)}


def views_update(ws: Workspace, args: Args) -> dict[str, Any]:
    view = ws.update_view(
        _view(args),
        view_id=args.text("view_id"),
        external_id=args.text("external_id"),
        hash=args.text("hash"),
    )
    return {"view": view_json(ws, view)}


def users_info(ws: Workspace, args: Args) -> dict[str, Any]:
    return {"user": user_json(ws, ws.get_user(args.need("user", "user_not_found")))}


def users_list(ws: Workspace, args: Args) -> dict[str, Any]:
    page, next_cursor = paginate(list(ws.users.values()), args, default=100, maximum=1000)
    return {
        "members": [user_json(ws, u) for u in page],
        "cache_ts": int(ws.now()),
        "response_metadata": {"next_cursor": next_cursor},
    }


def users_lookup_by_email(ws: Workspace, args: Args) -> dict[str, Any]:
    return {"user": user_json(ws, ws.lookup_by_email(args.need("email", "users_not_found")))}


def usergroups_list(ws: Workspace, args: Args) -> dict[str, Any]:
    include_users = args.flag("include_users")
    return {"usergroups": [usergroup_json(ws, g, include_users=include_users) for g in ws.usergroups.values()]}


def usergroups_users_list(ws: Workspace, args: Args) -> dict[str, Any]:
    return {"users": list(ws.get_usergroup(args.need("usergroup", "no_such_subteam")).users)}


def reactions_add(ws: Workspace, args: Args) -> dict[str, Any]:
    ws.add_reaction(
        args.need("channel", "channel_not_found"),
        args.need("timestamp", "message_not_found"),
        args.need("name", "invalid_name"),
    )
    return {}


def reactions_remove(ws: Workspace, args: Args) -> dict[str, Any]:
    ws.remove_reaction(
        args.need("channel", "channel_not_found"),
        args.need("timestamp", "message_not_found"),
        args.need("name", "invalid_name"),
    )
    return {}


def pins_add(ws: Workspace, args: Args) -> dict[str, Any]:
    ws.pin(args.need("channel", "channel_not_found"), args.need("timestamp", "message_not_found"))
    return {}


def bookmarks_add(ws: Workspace, args: Args) -> dict[str, Any]:
    if (args.text("type") or "link") != "link":
        raise invalid_arguments("[ERROR] must be one of: link [json-pointer:/type]")
    channel = ws.find_channel(args.need("channel_id", "channel_not_found"))
    bookmark = ws.add_bookmark(
        channel.id, title=args.need("title"), link=args.text("link") or "", emoji=args.text("emoji")
    )
    return {
        "bookmark": {
            "id": bookmark.id,
            "channel_id": channel.id,
            "title": bookmark.title,
            "link": bookmark.link,
            "emoji": bookmark.emoji,
            "type": "link",
            "date_created": bookmark.date_created,
            "last_updated_by_user_id": bookmark.created_by,
        }
    }


HANDLERS: dict[str, Handler] = {
    **api_conversations.HANDLERS,
    **api_files.HANDLERS,
    "auth.test": auth_test,
    "bookmarks.add": bookmarks_add,
    "chat.delete": delete,
    "chat.getPermalink": get_permalink,
    "chat.postEphemeral": post_ephemeral,
    "chat.postMessage": post_message,
    "chat.update": update,
    "pins.add": pins_add,
    "reactions.add": reactions_add,
    "reactions.remove": reactions_remove,
    "usergroups.list": usergroups_list,
    "usergroups.users.list": usergroups_users_list,
    "users.info": users_info,
    "users.list": users_list,
    "users.lookupByEmail": users_lookup_by_email,
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
}
