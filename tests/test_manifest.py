"""The Slack app manifest asks for every scope the code needs and registers every slash command it answers."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[1]
# Bot-token scopes per Web API method (api.slack.com method pages); any one of a set is enough.
SCOPES: dict[str, set[str]] = {
    "auth.test": set(),
    "chat.postMessage": {"chat:write"},
    "chat.postEphemeral": {"chat:write"},
    "chat.update": {"chat:write"},
    "conversations.create": {"channels:manage"},
    "conversations.invite": {"channels:manage"},
    "conversations.setTopic": {"channels:manage"},
    "conversations.join": {"channels:join"},
    "conversations.list": {"channels:read"},
    "conversations.history": {"channels:history"},
    "conversations.open": {"im:write"},
    "users.lookupByEmail": {"users:read.email"},
    "users.list": {"users:read"},
    "files_upload_v2": {"files:write"},
    "usergroups_list": {"usergroups:read"},
    "usergroups_users_list": {"usergroups:read"},
    "views_open": set(),  # needs only the trigger_id of an interaction
    "views_update": set(),  # needs only the view id views.open returned
}
# Calls whose target may be a DM or a private channel: reading their history needs these too.
HISTORY_ELSEWHERE = {"im:history", "groups:history"}


def _manifest() -> dict[str, object]:
    loaded = yaml.safe_load((ROOT / "slack-app-manifest.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _called_methods() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "bot" / "slack").rglob("*.py"):
        text = path.read_text()
        found |= set(re.findall(r"gateway\.call\(\s*\"([A-Za-z_.0-9]+)\"", text))
        found |= set(re.findall(r"client\.(usergroups_\w+|views_\w+|chat_\w+|conversations_\w+)\(", text))
    return found


def test_every_method_the_bot_calls_has_its_scope_in_the_manifest() -> None:
    scopes = set(_manifest()["oauth_config"]["scopes"]["bot"])  # type: ignore[index]
    called = _called_methods()
    unknown = called - set(SCOPES)
    assert not unknown, f"add these methods and their scopes to SCOPES: {sorted(unknown)}"
    missing = {method: needed for method in called if (needed := SCOPES[method]) and not needed & scopes}
    assert not missing, f"scopes missing from slack-app-manifest.yaml: {missing}"
    # DMs (handoff reports, note requests) are checked for an earlier post after a crash.
    assert scopes >= HISTORY_ELSEWHERE


def test_every_slash_command_answered_is_registered_with_escaping_where_it_parses_mentions() -> None:
    answered = set()
    for path in (ROOT / "bot" / "slack" / "listeners").glob("*.py"):
        answered |= set(re.findall(r"app\.command\(\"(/[a-z]+)\"\)", path.read_text()))
    registered = {c["command"]: c for c in _manifest()["features"]["slash_commands"]}  # type: ignore[index]
    assert answered == set(registered)
    assert registered["/oncall"]["should_escape"] is True  # `@bob` must arrive as <@U…|bob>
