"""Workspace records rendered as the JSON objects Slack's Web API and payloads carry."""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.sandbox.models import Channel, Ephemeral, File, Message, User, UserGroup, View
from bot.sandbox.workspace import Workspace


def _tz_offset(tz: str, at: float) -> int:
    try:
        offset = datetime.fromtimestamp(at, ZoneInfo(tz)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return 0
    return int(offset.total_seconds()) if offset is not None else 0


def user_json(ws: Workspace, user: User) -> dict[str, Any]:
    profile: dict[str, Any] = {
        "real_name": user.real_name,
        "display_name": user.name,
        "real_name_normalized": user.real_name,
        "display_name_normalized": user.name,
        "team": ws.team_id,
    }
    if user.email:
        profile["email"] = user.email
    if user.bot_id:
        profile["bot_id"] = user.bot_id
        profile["api_app_id"] = ws.app_id
    return {
        "id": user.id,
        "team_id": ws.team_id,
        "name": user.name,
        "deleted": user.deleted,
        "real_name": user.real_name,
        "tz": user.tz,
        "tz_label": user.tz,
        "tz_offset": _tz_offset(user.tz, ws.now()),
        "profile": profile,
        "is_admin": False,
        "is_owner": False,
        "is_bot": user.is_bot,
        "is_app_user": False,
        "updated": 0,
    }


def channel_json(ws: Workspace, channel: Channel, *, include_num_members: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": channel.id,
        "name": channel.name,
        "name_normalized": channel.name,
        "is_channel": not channel.is_private and not channel.is_im,
        "is_group": channel.is_private,
        "is_im": channel.is_im,
        "is_mpim": False,
        "is_private": channel.is_private,
        "created": channel.created,
        "is_archived": channel.is_archived,
        "is_general": channel.is_general,
        "unlinked": 0,
        "is_shared": False,
        "is_ext_shared": False,
        "is_org_shared": False,
        "context_team_id": ws.team_id,
        "creator": channel.creator,
        "is_member": ws.bot_user_id in channel.members,
        "topic": {"value": channel.topic, "creator": channel.topic_creator, "last_set": channel.topic_last_set},
        "purpose": {
            "value": channel.purpose,
            "creator": channel.purpose_creator,
            "last_set": channel.purpose_last_set,
        },
    }
    if include_num_members:
        data["num_members"] = len(channel.members)
    return data


def message_json(ws: Workspace, message: Message, *, include_metadata: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {"type": "message", "ts": message.ts, "text": message.text, "team": ws.team_id}
    if message.subtype:
        data["subtype"] = message.subtype
    if message.user:
        data["user"] = message.user
    if message.bot_id:
        data["bot_id"] = message.bot_id
        data["app_id"] = ws.app_id
        data["bot_profile"] = {
            "id": message.bot_id,
            "app_id": ws.app_id,
            "name": "Warroom",
            "deleted": False,
            "team_id": ws.team_id,
        }
    if message.blocks:
        data["blocks"] = message.blocks
    if include_metadata and message.metadata is not None:
        data["metadata"] = message.metadata
    if message.edited:
        data["edited"] = message.edited
    if message.thread_ts:
        data["thread_ts"] = message.thread_ts
        if message.thread_ts != message.ts:
            data["parent_user_id"] = _parent_user(ws, message)
    data.update(ws.thread_summary(message))
    if message.reactions:
        data["reactions"] = [
            {"name": name, "users": list(users), "count": len(users)} for name, users in message.reactions.items()
        ]
    channel = ws.channels.get(message.channel)
    if channel is not None and message.ts in channel.pins:
        data["pinned_to"] = [channel.id]
    if message.files:
        data["files"] = [file_json(ws, ws.files[f]) for f in message.files if f in ws.files]
        data["upload"] = True
        data["display_as_bot"] = False
    return data


# extension -> (mimetype, filetype, pretty_type) as Slack reports them; fixed, so answers do not depend on the host
_FILE_TYPES = {
    "md": ("text/markdown", "markdown", "Markdown (raw)"),
    "txt": ("text/plain", "text", "Plain Text"),
    "json": ("application/json", "json", "JSON"),
    "yaml": ("application/x-yaml", "yaml", "YAML"),
    "yml": ("application/x-yaml", "yaml", "YAML"),
    "csv": ("text/csv", "csv", "CSV"),
    "png": ("image/png", "png", "PNG"),
    "pdf": ("application/pdf", "pdf", "PDF"),
}


def file_type(name: str) -> tuple[str, str, str]:
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    return _FILE_TYPES.get(extension, ("application/octet-stream", extension or "binary", "Binary"))


def file_json(ws: Workspace, file: File) -> dict[str, Any]:
    mimetype, filetype, pretty = file_type(file.name)
    shared = [ws.channels[c] for c in file.channels if c in ws.channels]
    private = f"https://files.slack.com/files-pri/{ws.team_id}-{file.id}"
    return {
        "id": file.id,
        "created": file.created,
        "timestamp": file.created,
        "name": file.name,
        "title": file.title,
        "mimetype": mimetype,
        "filetype": filetype,
        "pretty_type": pretty,
        "user": file.user,
        "user_team": ws.team_id,
        "editable": False,
        "size": file.length,
        "mode": "hosted",
        "is_external": False,
        "external_type": "",
        "is_public": any(not c.is_private and not c.is_im for c in shared),
        "public_url_shared": False,
        "display_as_bot": False,
        "username": "",
        "url_private": f"{private}/{file.name}",
        "url_private_download": f"{private}/download/{file.name}",
        "permalink": f"https://{ws.domain}.slack.com/files/{file.user}/{file.id}/{file.name}",
        "channels": [c.id for c in shared if not c.is_private and not c.is_im],
        "groups": [c.id for c in shared if c.is_private],
        "ims": [c.id for c in shared if c.is_im],
        "comments_count": 0,
        "has_rich_preview": False,
        "file_access": "visible",
        **({"alt_txt": file.alt_txt} if file.alt_txt else {}),
    }


def _parent_user(ws: Workspace, message: Message) -> str | None:
    parent = next((m for m in ws.messages.get(message.channel, []) if m.ts == message.thread_ts), None)
    return parent.user if parent is not None else None


def ephemeral_json(ws: Workspace, ephemeral: Ephemeral) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": "message",
        "subtype": "bot_message",
        "ts": ephemeral.ts,
        "text": ephemeral.text,
        "bot_id": ws.bot_id,
        "user": ws.bot_user_id,
    }
    if ephemeral.blocks:
        data["blocks"] = ephemeral.blocks
    return data


def view_json(ws: Workspace, view: View) -> dict[str, Any]:
    spec = view.view
    return {
        "id": view.id,
        "team_id": ws.team_id,
        "type": spec.get("type", "modal"),
        "blocks": spec.get("blocks", []),
        "private_metadata": spec.get("private_metadata", ""),
        "callback_id": spec.get("callback_id", ""),
        "state": {"values": view.state_values},
        "hash": view.hash,
        "title": spec.get("title"),
        "clear_on_close": bool(spec.get("clear_on_close", False)),
        "notify_on_close": bool(spec.get("notify_on_close", False)),
        "close": spec.get("close"),
        "submit": spec.get("submit"),
        "previous_view_id": view.previous_view_id,
        "root_view_id": view.root_view_id,
        "app_id": ws.app_id,
        "external_id": spec.get("external_id", ""),
        "app_installed_team_id": ws.team_id,
        "bot_id": ws.bot_id,
    }


def usergroup_json(ws: Workspace, group: UserGroup, *, include_users: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": group.id,
        "team_id": ws.team_id,
        "is_usergroup": True,
        "name": group.name,
        "description": group.description,
        "handle": group.handle,
        "is_external": False,
        "date_delete": 0,
        "user_count": len(group.users),
    }
    if include_users:
        data["users"] = list(group.users)
    return data
