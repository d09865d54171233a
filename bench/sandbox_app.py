"""The sandbox Slack for the intake benchmark, in its own process, plus two bench-only routes.

`python bench/sandbox_app.py --port P --bot-url URL --speed S` serves `bot.sandbox` (rate limits on,
windows `S` times shorter) and adds:

- `POST /_bench/click`: a person clicks Acknowledge on a card that shows the button (a random
  one), delivered to the bot exactly as Slack does (signed `block_actions`); answers how long the
  bot took to acknowledge the HTTP request, measured here, where Slack's 3-second clock runs.
- `GET /_bench/summary`: Web API calls by method and HTTP status, 429s, channels and messages,
  without shipping the whole call log over the wire.
"""

import argparse
import itertools
import random
import time
from collections import Counter
from typing import Any

import httpx
import uvicorn
from fastapi.responses import JSONResponse

from bot.sandbox import SlackSender, Workspace, create_sandbox_app
from bot.sandbox.live import bind_socket, url_for

ACK_ACTION = "incident_acknowledge"
CLICKERS = ("U0ALICE", "U0BOB", "U0CAROL", "U0DAVE")


class TimedSender(SlackSender):
    """Times only the HTTP exchange with the bot (building the payload is Slack's business)."""

    last_seconds: float = 0.0

    async def post(self, body: str, content_type: str, extra_headers: dict[str, str] | None = None) -> httpx.Response:
        began = time.perf_counter()
        response = await super().post(body, content_type, extra_headers)
        self.last_seconds = time.perf_counter() - began
        return response


def _has_action(blocks: list[dict[str, Any]], action_id: str) -> bool:
    for block in blocks:
        for element in block.get("elements") or []:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return True
        accessory = block.get("accessory")
        if isinstance(accessory, dict) and accessory.get("action_id") == action_id:
            return True
    return False


def _value_of(blocks: list[dict[str, Any]], action_id: str) -> str | None:
    """The value of a random element with this action id (a checklist has one Done per step)."""
    values = [
        str(element.get("value"))
        for block in blocks
        for element in block.get("elements") or []
        if isinstance(element, dict) and element.get("action_id") == action_id
    ]
    return random.choice(values) if values else None


def build(args: argparse.Namespace, sandbox_url: str) -> Any:
    workspace = Workspace(rate_limits=True, speed=args.speed)
    app = create_sandbox_app(workspace, signing_secret=args.signing_secret, bot_url=args.bot_url)
    clickers = itertools.cycle(CLICKERS)
    state: dict[str, Any] = {"sender": None}
    rng = random.Random(7)

    def sender() -> TimedSender:
        if state["sender"] is None:
            state["sender"] = TimedSender(args.bot_url, args.signing_secret, workspace, sandbox_url=sandbox_url)
        current: TimedSender = state["sender"]
        return current

    @app.post("/_bench/click", include_in_schema=False)
    async def click(action_id: str = ACK_ACTION) -> JSONResponse:
        cards = [
            (channel_id, message.ts)
            for channel_id, messages in workspace.messages.items()
            for message in messages
            if message.bot_id and _has_action(message.blocks, action_id)
        ]
        if not cards:
            return JSONResponse({"ok": False, "error": "no_card_with_ack_button"})
        channel_id, ts = rng.choice(cards)
        timed = sender()
        try:
            value = _value_of(workspace.get_message(channel_id, ts).blocks, action_id)
            response = await timed.block_action(next(clickers), channel_id, ts, action_id, value=value)
        except httpx.HTTPError as error:
            return JSONResponse({"ok": False, "error": f"bot unreachable: {error!r}"})
        return JSONResponse(
            {"ok": True, "status": response.status_code, "seconds": timed.last_seconds, "cards": len(cards)}
        )

    @app.get("/_bench/summary", include_in_schema=False)
    async def summary() -> dict[str, Any]:
        by_method: dict[str, Counter[str]] = {}
        for call in workspace.calls:
            outcome = "ratelimited" if call.status == 429 else "ok" if call.ok else f"error:{call.error}"
            by_method.setdefault(call.method, Counter())[outcome] += 1
        posts_per_channel: Counter[str] = Counter(
            str(call.args.get("channel"))
            for call in workspace.calls
            if call.method == "chat.postMessage" and call.status == 200
        )
        bot_messages = sum(1 for msgs in workspace.messages.values() for m in msgs if m.bot_id)
        return {
            "calls": {method: dict(counts) for method, counts in sorted(by_method.items())},
            "total_calls": len(workspace.calls),
            "channels": {c.name: c.id for c in workspace.channels.values()},
            "bot_messages": bot_messages,
            "posts_per_channel": dict(posts_per_channel),
            "speed": workspace.rate_limits.speed,
        }

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bot-url", required=True)
    parser.add_argument("--signing-secret", required=True)
    parser.add_argument("--speed", type=float, default=1.0)
    args = parser.parse_args()
    sock = bind_socket("127.0.0.1", args.port)
    app = build(args, url_for(sock))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
