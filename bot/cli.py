"""The `warroom` command line: serve, db upgrade (more commands arrive with their features)."""

import argparse
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from bot.config import Settings


def _fail(message: str) -> int:
    sys.stderr.write(f"warroom: {message}\n")
    return 2


def _settings() -> Settings:
    return Settings()


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.app import create_app
    from bot.db import upgrade
    from bot.observability import configure_logging

    settings = _settings()
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = settings.model_copy(update=overrides)
    configure_logging(settings.log_level, settings.log_format)
    if not args.no_migrate:
        upgrade(settings.database_url)
    if settings.sandbox_mode:
        sys.stdout.write(
            "No SLACK_BOT_TOKEN: running in sandbox mode on an offline Slack workspace.\n"
            f"Open {settings.base_url}/sandbox\n"
        )
        sys.stdout.flush()
    app = create_app(settings)
    # Graceful shutdown below Kubernetes' default 30 s grace period (PLATFORM.md 9).
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, timeout_graceful_shutdown=20)
    return 0


def db_upgrade(_args: argparse.Namespace) -> int:
    from bot.db import upgrade

    upgrade(_settings().database_url)
    sys.stdout.write("database is up to date\n")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="warroom", description="ChatOps incident-response bot for Slack.")
    commands = root.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="run the server (applies pending migrations first)")
    run.add_argument("--host", default=None, help="address to listen on (default HOST or 127.0.0.1)")
    run.add_argument("--port", type=int, default=None, help="port (default PORT or 3000)")
    run.add_argument("--no-migrate", action="store_true", help="do not apply pending migrations at start")
    run.set_defaults(func=serve)
    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply pending migrations").set_defaults(func=db_upgrade)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ValidationError as error:
        first = error.errors()[0]
        return _fail(f"bad setting {'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
    except KeyboardInterrupt:
        return 130
