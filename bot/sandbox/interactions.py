"""Interactive surfaces of the sandbox workspace: trigger_ids, modal stacks and response_urls."""

import secrets
from typing import Any

from bot.sandbox.messages import MessageOps
from bot.sandbox.models import Ephemeral, Message, ResponseUrl, SlackError, Trigger, View
from bot.sandbox.validation import check_message_content, check_view, parse_blocks

TRIGGER_TTL_SECONDS = 3.0
RESPONSE_URL_TTL_SECONDS = 30 * 60.0
RESPONSE_URL_MAX_USES = 5
VIEW_STACK_MAX = 3


class InteractionOps(MessageOps):
    """Modal and response_url rules from PROTOCOLS.md 1.2, timed on the workspace clock."""

    # -- trigger_id ------------------------------------------------------------------------

    def issue_trigger(self, user_id: str, channel_id: str | None = None) -> str:
        """A fresh trigger_id, as Slack puts into a command or interaction payload."""
        now = self.now()
        # keep the snapshot small: a trigger is worthless a few seconds after it was issued
        self.triggers = {k: t for k, t in self.triggers.items() if now - t.issued_at < 600}
        self._counter += 1
        trigger_id = f"{self._counter}.{int(now)}.{secrets.token_hex(16)}"
        self.triggers[trigger_id] = Trigger(id=trigger_id, user=user_id, issued_at=now, channel=channel_id)
        self.changed()
        return trigger_id

    def _check_trigger(self, trigger_id: str) -> Trigger:
        trigger = self.triggers.get(trigger_id)
        if trigger is None:
            raise SlackError("invalid_trigger_id")
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        if self.now() - trigger.issued_at > TRIGGER_TTL_SECONDS:
            raise SlackError("expired_trigger_id")
        return trigger

    # -- views -----------------------------------------------------------------------------

    def _new_hash(self) -> str:
        return f"{int(self.now())}.{secrets.token_urlsafe(6)}"

    def _check_external_id(self, spec: dict[str, Any], exclude: str | None = None) -> None:
        external_id = spec.get("external_id")
        if external_id and any(
            v.view.get("external_id") == external_id and v.id != exclude for v in self.views.values()
        ):
            raise SlackError("duplicate_external_id")

    def get_view(self, view_id: str) -> View:
        view = self.views.get(view_id)
        if view is None:
            raise SlackError("not_found")
        return view

    def open_view(self, trigger_id: str, view: Any) -> View:
        """views.open: a new modal stack for the trigger's user (replacing any open one)."""
        trigger = self._check_trigger(trigger_id)
        spec = check_view(view)
        self._check_external_id(spec)
        for old in self.view_stacks.pop(trigger.user, []):
            self.views.pop(old, None)
        view_id = self.new_id("V")
        opened = View(id=view_id, user=trigger.user, hash=self._new_hash(), view=spec, root_view_id=view_id)
        self.views[view_id] = opened
        self.view_stacks[trigger.user] = [view_id]
        trigger.used = True
        self.changed()
        return opened

    def push_view(self, trigger_id: str, view: Any) -> View:
        trigger = self._check_trigger(trigger_id)
        spec = check_view(view)
        self._check_external_id(spec)
        stack = self.view_stacks.get(trigger.user, [])
        if not stack:
            raise SlackError("not_found")
        if len(stack) >= VIEW_STACK_MAX:
            raise SlackError("push_limit_reached")
        pushed = View(
            id=self.new_id("V"),
            user=trigger.user,
            hash=self._new_hash(),
            view=spec,
            root_view_id=stack[0],
            previous_view_id=stack[-1],
        )
        self.views[pushed.id] = pushed
        stack.append(pushed.id)
        trigger.used = True
        self.changed()
        return pushed

    def update_view(
        self,
        view: Any,
        *,
        view_id: str | None = None,
        external_id: str | None = None,
        hash: str | None = None,
    ) -> View:
        target: View | None = None
        if view_id:
            target = self.views.get(view_id)
        elif external_id:
            target = next((v for v in self.views.values() if v.view.get("external_id") == external_id), None)
        else:
            raise SlackError("invalid_arguments")
        if target is None:
            raise SlackError("not_found")
        if hash and hash != target.hash:
            raise SlackError("hash_conflict")
        spec = check_view(view)
        self._check_external_id(spec, exclude=target.id)
        target.view = spec
        target.hash = self._new_hash()
        target.errors = {}
        # Slack keeps what the user typed into inputs whose block_id survives the update
        kept = {b.get("block_id") for b in spec.get("blocks", []) if isinstance(b, dict)}
        target.state_values = {k: v for k, v in target.state_values.items() if k in kept}
        self.changed()
        return target

    def close_view(self, view_id: str, *, all_views: bool = False) -> None:
        """Close a modal and any pushed above it; `all_views` closes the user's whole stack."""
        view = self.get_view(view_id)
        stack = self.view_stacks.get(view.user, [])
        cut = 0 if all_views or view_id not in stack else stack.index(view_id)
        for closed in stack[cut:]:
            self.views.pop(closed, None)
        del stack[cut:]
        if not stack:
            self.view_stacks.pop(view.user, None)
        self.changed()

    def set_view_state(self, view_id: str, values: dict[str, dict[str, dict[str, Any]]]) -> View:
        view = self.get_view(view_id)
        for block_id, actions in values.items():
            view.state_values.setdefault(block_id, {}).update(actions)
        self.changed()
        return view

    def apply_view_response(self, view_id: str, body: dict[str, Any] | None) -> None:
        """What Slack does with the app's answer to a view_submission (PROTOCOLS.md 1.6)."""
        action = (body or {}).get("response_action")
        view = self.get_view(view_id)
        if action is None:
            self.close_view(view_id)
        elif action == "clear":
            self.close_view(view_id, all_views=True)
        elif action == "errors":
            view.errors = dict((body or {}).get("errors") or {})
            self.changed()
        elif action == "update":
            self.update_view((body or {}).get("view"), view_id=view_id)
        elif action == "push":
            trigger_id = self.issue_trigger(view.user)
            self.push_view(trigger_id, (body or {}).get("view"))
        else:
            raise SlackError("invalid_response_action")

    # -- response_url ----------------------------------------------------------------------

    def issue_response_url(
        self, user_id: str, channel_id: str, *, message_ts: str | None = None, is_ephemeral: bool = False
    ) -> str:
        """A response_url token; the app layer serves it at `/response/{token}`."""
        now = self.now()
        self.response_urls = {
            k: r for k, r in self.response_urls.items() if now - r.issued_at <= RESPONSE_URL_TTL_SECONDS
        }
        token = secrets.token_urlsafe(18)
        self.response_urls[token] = ResponseUrl(
            token=token,
            user=user_id,
            channel=channel_id,
            issued_at=now,
            message_ts=message_ts,
            is_ephemeral=is_ephemeral,
        )
        self.changed()
        return token

    def _original(self, hook: ResponseUrl) -> Message | Ephemeral | None:
        """The message a block action's response_url may replace or delete (None once it is gone)."""
        if hook.message_ts is None:
            return None
        if hook.is_ephemeral:
            return self.find_ephemeral(hook.user, hook.message_ts)
        return next((m for m in self.messages.get(hook.channel, []) if m.ts == hook.message_ts), None)

    def respond(self, token: str, body: dict[str, Any]) -> None:
        """Apply one response_url POST: at most 5 uses within 30 minutes of the payload."""
        hook = self.response_urls.get(token)
        if hook is None or self.now() - hook.issued_at > RESPONSE_URL_TTL_SECONDS:
            raise SlackError("expired_url")
        if hook.uses >= RESPONSE_URL_MAX_USES:
            raise SlackError("used_url")
        text = body.get("text") if isinstance(body.get("text"), str) else None
        blocks = parse_blocks(body.get("blocks"))
        original = self._original(hook)
        if body.get("delete_original"):
            if isinstance(original, Message):
                self.messages[hook.channel].remove(original)
            elif isinstance(original, Ephemeral):
                self.ephemerals.remove(original)
            else:
                raise SlackError("no_original_message")
        elif body.get("replace_original") and original is not None:
            check_message_content(text, blocks)
            original.text = text or ""
            original.blocks = list(blocks or [])
            if isinstance(original, Message):
                original.edited = {"user": self.bot_user_id, "ts": self.next_ts()}
        elif body.get("response_type") == "in_channel":
            thread_ts = body.get("thread_ts")
            self.post_message(
                hook.channel,
                text=text,
                blocks=blocks,
                thread_ts=thread_ts if isinstance(thread_ts, str) else None,
                require_membership=False,
            )
        else:
            self.post_ephemeral(hook.channel, hook.user, text=text, blocks=blocks, source="response_url")
        hook.uses += 1
        self.changed()
