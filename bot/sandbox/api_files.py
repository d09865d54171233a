"""Web API `files.*` methods of the sandbox: the upload URL, completing an upload, and files.info."""

from typing import Any

from bot.sandbox.api_conversations import Handler
from bot.sandbox.args import Args
from bot.sandbox.models import invalid_arguments
from bot.sandbox.shapes import file_json
from bot.sandbox.validation import parse_blocks, parse_json
from bot.sandbox.workspace import Workspace


def get_upload_url(ws: Workspace, args: Args) -> dict[str, Any]:
    filename = args.need("filename")
    if args.text("length") in (None, ""):
        raise invalid_arguments("[ERROR] missing required field: length")
    file = ws.start_upload(
        filename,
        args.number("length", 0),
        alt_txt=args.text("alt_txt") or None,
        snippet_type=args.text("snippet_type") or None,
    )
    # Slack hands out a files.slack.com URL; the sandbox's own server takes the bytes instead.
    return {"upload_url": f"{args.base_url}/upload/v1/{file.upload_token}", "file_id": file.id}


def _items(args: Args) -> list[dict[str, Any]]:
    raw = args.raw("files")
    if raw is None or raw == "":
        raise invalid_arguments("[ERROR] missing required field: files")
    items = parse_json(raw, "files")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise invalid_arguments("[ERROR] must be an array of objects [json-pointer:/files]")
    return items


def complete_upload(ws: Workspace, args: Args) -> dict[str, Any]:
    targets = [args.text("channel_id") or "", *(args.text("channels") or "").split(",")]
    channel_ids = list(dict.fromkeys(t.strip() for t in targets if t.strip()))
    files, _ = ws.complete_upload(
        _items(args),
        channel_ids=channel_ids,
        initial_comment=args.text("initial_comment") or None,
        blocks=parse_blocks(args.raw("blocks")),
        thread_ts=args.text("thread_ts") or None,
    )
    return {"files": [file_json(ws, f) for f in files]}


def info(ws: Workspace, args: Args) -> dict[str, Any]:
    file = ws.get_file(args.need("file", "file_not_found"))
    return {"file": file_json(ws, file), "comments": [], "response_metadata": {"next_cursor": ""}}


HANDLERS: dict[str, Handler] = {
    "files.completeUploadExternal": complete_upload,
    "files.getUploadURLExternal": get_upload_url,
    "files.info": info,
}
