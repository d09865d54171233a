"""`python -m bot.sandbox`: serve the fake Slack workspace on its own, so it outlives bot restarts."""

import argparse
from collections.abc import Sequence

import structlog
import uvicorn

from bot.sandbox.app import create_sandbox_app
from bot.sandbox.core import DEFAULT_BOT_TOKEN
from bot.sandbox.live import bind_socket, url_for
from bot.sandbox.workspace import Workspace

DEFAULT_SIGNING_SECRET = "sandbox-signing-secret"  # noqa: S105 - a local fake, printed in --help


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3999, help="0 picks a free port (the URL is logged)")
    parser.add_argument("--state", metavar="FILE", help="JSON file that keeps the workspace across restarts")
    parser.add_argument("--signing-secret", default=DEFAULT_SIGNING_SECRET)
    parser.add_argument("--bot-url", help="the bot's base URL, for /_control/send/*")
    parser.add_argument("--bot-token", default=DEFAULT_BOT_TOKEN)
    parser.add_argument("--no-rate-limits", action="store_true")
    parser.add_argument("--speed", type=float, default=1.0, help="run rate-limit windows this many times faster")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    options = {"bot_token": args.bot_token, "rate_limits": not args.no_rate_limits, "speed": args.speed}
    workspace = Workspace.open(args.state, **options) if args.state else Workspace(**options)
    app = create_sandbox_app(workspace, signing_secret=args.signing_secret, bot_url=args.bot_url)
    # bound and listening before the URL is announced, so a client that reads it can connect at once
    sock = bind_socket(args.host, args.port)
    url = url_for(sock)
    structlog.get_logger().info("sandbox listening", url=url, api=f"{url}/api/", state=args.state)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
