"""File uploads of the sandbox workspace: the files.getUploadURLExternal -> upload -> completeUploadExternal flow."""

import base64
import re
import secrets
from typing import Any

from bot.sandbox.messages import MessageOps
from bot.sandbox.models import File, Message, SlackError, invalid_arguments
from bot.sandbox.validation import MESSAGE_TEXT_MAX

# Slack takes up to 1 GB; the sandbox keeps bytes in its JSON state file, so it stops far earlier.
UPLOAD_MAX = 10 * 1024 * 1024
SNIPPET_MAX = 1024 * 1024  # snippet_too_large: Slack's limit for snippets
ALT_TXT_MAX = 1000
FILES_PER_MESSAGE_MAX = 10
# What files.completeUploadExternal accepts as channel_id (Slack answers invalid_arguments for a user id)
CHANNEL_ID = re.compile(r"^[CGDZ][A-Z0-9]{8,}$")


class UploadRefused(Exception):
    """The upload URL turned the bytes away; `status` is the HTTP status it answers with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class FileOps(MessageOps):
    """Uploads are made by the bot (the only token holder), as with Slack's bot tokens."""

    def start_upload(
        self, filename: str, length: int, *, alt_txt: str | None = None, snippet_type: str | None = None
    ) -> File:
        if length <= 0:
            raise SlackError("missing_argument")
        if snippet_type and length > SNIPPET_MAX:
            raise SlackError("snippet_too_large")
        if length > UPLOAD_MAX:
            raise SlackError("file_upload_size_restricted")
        if alt_txt is not None and len(alt_txt) > ALT_TXT_MAX:
            raise SlackError("alt_txt_too_large")
        file = File(
            id=self.new_id("F"),
            name=filename,
            user=self.bot_user_id,
            created=int(self.now()),
            length=length,
            # the URL is the only credential the upload step carries, so it must not be guessable
            upload_token=secrets.token_urlsafe(24),
            title=filename,
            alt_txt=alt_txt,
            snippet_type=snippet_type,
        )
        self.files[file.id] = file
        self.changed()
        return file

    def file_for_token(self, token: str) -> File:
        for file in self.files.values():
            if secrets.compare_digest(file.upload_token, token):
                return file
        raise UploadRefused(404, "unknown upload URL")

    def receive_upload(self, token: str, data: bytes) -> File:
        """The bytes POSTed to an upload URL; refused once completed, or when the size differs from the promise."""
        file = self.file_for_token(token)
        if file.completed:
            raise UploadRefused(410, "this upload is already complete")
        if len(data) != file.length:
            raise UploadRefused(400, f"expected {file.length} bytes (the length given), got {len(data)}")
        file.content = base64.b64encode(data).decode("ascii")
        self.changed()
        return file

    def file_bytes(self, file_id: str) -> bytes:
        file = self.files.get(file_id)
        if file is None or file.content is None:
            raise SlackError("file_not_found")
        return base64.b64decode(file.content)

    def get_file(self, file_id: str) -> File:
        """A shared file, as files.info sees it: uploads never completed stay invisible (Slack discards them)."""
        file = self.files.get(file_id)
        if file is None or not file.completed:
            raise SlackError("file_not_found")
        return file

    def complete_upload(
        self,
        items: list[dict[str, Any]],
        *,
        channel_ids: list[str],
        initial_comment: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
    ) -> tuple[list[File], list[Message]]:
        """Finish uploads and share them: one message per channel carrying every file, like Slack's."""
        if not items:
            raise invalid_arguments("[ERROR] must contain at least 1 item [json-pointer:/files]")
        if len(items) > FILES_PER_MESSAGE_MAX and channel_ids:
            raise invalid_arguments(f"[ERROR] must contain at most {FILES_PER_MESSAGE_MAX} items [json-pointer:/files]")
        if thread_ts and len(channel_ids) > 1:
            raise invalid_arguments("[ERROR] thread_ts needs exactly one channel [json-pointer:/thread_ts]")
        if initial_comment is not None and len(initial_comment) > MESSAGE_TEXT_MAX:
            raise SlackError("msg_too_long")
        files: list[File] = []
        for index, item in enumerate(items):
            file_id = item.get("id") if isinstance(item, dict) else None
            if not isinstance(file_id, str) or not file_id:
                raise invalid_arguments(f"[ERROR] missing required field: id [json-pointer:/files/{index}]")
            file = self.files.get(file_id)
            # Slack's "could not find the file from the upload ticket": unknown, never uploaded, or completed before
            if file is None or file.content is None or file.completed or file.user != self.bot_user_id:
                raise SlackError("file_not_found")
            files.append(file)
        channels = []
        for ref in channel_ids:
            if not CHANNEL_ID.match(ref):
                raise invalid_arguments(
                    "[ERROR] input must match regex pattern: ^[CGDZ][A-Z0-9]{8,}$ [json-pointer:/channel_id]"
                )
            channel = self.channels.get(ref)
            if channel is None:
                raise SlackError("invalid_channel")
            self.require_open(channel)
            self.require_member(channel, self.bot_user_id)
            channels.append(channel)
        # checked everything first: a refused call changes nothing
        for file, item in zip(files, items, strict=True):
            title = item.get("title")
            file.title = title if isinstance(title, str) and title else file.name
            file.completed = True
        messages = []
        for channel in channels:
            message = Message(
                channel=channel.id,
                ts=self.next_ts(),
                text=initial_comment or "",
                user=self.bot_user_id,
                bot_id=self.bot_id,
                # Slack ignores blocks when there is an initial_comment
                blocks=[] if initial_comment else list(blocks or []),
                thread_ts=thread_ts or None,
                files=[f.id for f in files],
            )
            self.messages.setdefault(channel.id, []).append(message)
            messages.append(message)
            for file in files:
                file.channels.append(channel.id)
        self.changed()
        return files, messages
