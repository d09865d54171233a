"""State records of the sandbox workspace: plain dataclasses whose fields are all JSON values."""

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Self


class SlackError(Exception):
    """A Web API failure as Slack reports it: `{"ok": false, "error": error, **extra}`."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}


def invalid_arguments(*messages: str) -> SlackError:
    """Slack's schema-violation shape: one `[ERROR] ... [json-pointer:...]` line per problem."""
    return SlackError("invalid_arguments", response_metadata={"messages": list(messages)})


class Record:
    """Snapshot helpers shared by every record: fields are JSON-able, so asdict/kwargs round-trip."""

    def to_state(self) -> dict[str, Any]:
        assert dataclasses.is_dataclass(self)
        return dataclasses.asdict(self)

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> Self:
        return cls(**data)


@dataclass
class User(Record):
    id: str
    name: str
    real_name: str
    email: str | None = None
    tz: str = "UTC"
    is_bot: bool = False
    bot_id: str | None = None
    deleted: bool = False


@dataclass
class UserGroup(Record):
    id: str
    handle: str
    name: str
    users: list[str] = field(default_factory=list)
    description: str = ""


@dataclass
class Bookmark(Record):
    id: str
    title: str
    link: str
    emoji: str | None
    created_by: str
    date_created: int


@dataclass
class Channel(Record):
    id: str
    name: str
    creator: str
    created: int
    members: list[str] = field(default_factory=list)
    is_private: bool = False
    is_archived: bool = False
    is_general: bool = False
    topic: str = ""
    topic_creator: str = ""
    topic_last_set: int = 0
    purpose: str = ""
    purpose_creator: str = ""
    purpose_last_set: int = 0
    pins: list[str] = field(default_factory=list)
    bookmarks: list[dict[str, Any]] = field(default_factory=list)
    is_im: bool = False  # a direct message between the bot and `im_user`
    im_user: str = ""


@dataclass
class Message(Record):
    channel: str
    ts: str
    text: str
    user: str | None = None
    bot_id: str | None = None
    blocks: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    edited: dict[str, str] | None = None
    thread_ts: str | None = None
    # None for ordinary messages; "channel_join", "channel_topic", ... for the ones Slack itself writes
    subtype: str | None = None
    # emoji name -> user ids, in the order they reacted (dicts keep insertion order)
    reactions: dict[str, list[str]] = field(default_factory=dict)
    # ids of the files shared with this message (files.completeUploadExternal); empty for ordinary messages
    files: list[str] = field(default_factory=list)


@dataclass
class File(Record):
    """An upload from files.getUploadURLExternal: bytes arrive at its upload URL, completion shares it."""

    id: str
    name: str
    user: str
    created: int
    length: int  # the size promised to files.getUploadURLExternal; the upload must match it
    upload_token: str
    title: str = ""
    # the bytes, base64 so snapshots stay JSON; None until the upload URL received them
    content: str | None = None
    completed: bool = False  # files.completeUploadExternal ran: it may run only once per file
    channels: list[str] = field(default_factory=list)
    alt_txt: str | None = None
    snippet_type: str | None = None


@dataclass
class Ephemeral(Record):
    """A message only `user` sees; `source` is the method or "response_url" that produced it."""

    channel: str
    user: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    source: str = "chat.postEphemeral"


@dataclass
class View(Record):
    """An open modal; `view` holds the JSON the app sent (title, blocks, callback_id, ...)."""

    id: str
    user: str
    hash: str
    view: dict[str, Any]
    root_view_id: str
    previous_view_id: str | None = None
    # block_id -> action_id -> value dict, as the user last filled the inputs
    state_values: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class Trigger(Record):
    id: str
    user: str
    issued_at: float
    channel: str | None = None
    used: bool = False


@dataclass
class ResponseUrl(Record):
    token: str
    user: str
    channel: str
    issued_at: float
    uses: int = 0
    # the message a block action came from, so replace_original / delete_original know their target
    message_ts: str | None = None
    is_ephemeral: bool = False


@dataclass
class CallRecord(Record):
    method: str
    args: dict[str, Any]
    status: int
    ok: bool
    error: str | None
    time: float
    duration: float = 0.0
