"""The `warroom` command line: serve, db upgrade, playbooks lint/render, oncall who, postmortem draft."""

import argparse
import gc
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
    # Everything imported and built so far lives as long as the process. Frozen, the collector no
    # longer walks it on each full collection: those walks were 100 to 150 ms pauses of the event
    # loop, the slowest webhook answers under load (docs/performance.md).
    gc.collect()
    gc.freeze()
    # Graceful shutdown below Kubernetes' default 30 s grace period (PLATFORM.md 9).
    # No uvicorn access log: RequestContextMiddleware writes one structured line per request.
    uvicorn.run(
        app, host=settings.host, port=settings.port, log_config=None, access_log=False, timeout_graceful_shutdown=20
    )
    return 0


def db_upgrade(_args: argparse.Namespace) -> int:
    from bot.db import upgrade

    upgrade(_settings().database_url)
    sys.stdout.write("database is up to date\n")
    return 0


def playbooks_lint(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.playbooks.lint import format_json, format_text, has_errors, lint_folder, summary

    directory = Path(args.dir if args.dir is not None else _settings().playbooks_dir)
    if not directory.is_dir():
        return _fail(f"no such directory: {directory}")
    problems = lint_folder(directory)
    if args.format == "json":
        sys.stdout.write(format_json(problems))
    else:
        sys.stdout.write(format_text(problems))
        sys.stderr.write(f"{directory}: {summary(problems)}\n")
    return 1 if has_errors(problems) else 0


def playbooks_render(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.errors import InvalidInput
    from bot.playbooks.lint import format_text
    from bot.playbooks.loader import read_playbook
    from bot.playbooks.render import parse_inputs, preview, read_payload

    path = Path(args.file)
    if not path.is_file():
        return _fail(f"no such file: {path}")
    playbook, problems = read_playbook(path)
    if playbook is None:
        sys.stdout.write(format_text(problems))
        return 1
    sys.stderr.write(format_text(problems))  # warnings only: they do not stop the preview
    try:
        alerts = read_payload(Path(args.alert), args.source)
        inputs = parse_inputs(args.input, playbook)
    except InvalidInput as error:
        return _fail(str(error))
    result = preview(playbook, alerts, inputs, file=str(path))
    sys.stdout.write("\n".join(result.lines) + "\n")
    return 1 if result.failures else 0


def oncall_who(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime
    from pathlib import Path

    from bot.errors import InvalidInput
    from bot.oncall.loader import load_schedules
    from bot.oncall.report_cli import answers, format_json, format_text, parse_at
    from bot.playbooks.lint import format_text as format_problems
    from bot.playbooks.lint import has_errors

    try:
        at = parse_at(args.at, datetime.now(UTC))
    except InvalidInput as error:
        return _fail(str(error))
    directory = Path(args.dir if args.dir is not None else _settings().playbooks_dir)
    if not directory.is_dir():
        return _fail(f"no such directory: {directory}")
    loaded = load_schedules(directory)
    # Problems go to stderr so that stdout stays the answer (and valid JSON with --json).
    sys.stderr.write(format_problems(loaded.problems))
    if has_errors(loaded.problems):
        sys.stderr.write(f"warroom: fix the schedule files above (warroom playbooks lint {directory})\n")
        return 1
    schedules = [loaded.schedules[key] for key in sorted(loaded.schedules)]
    if args.schedule is not None:
        if args.schedule not in loaded.schedules:
            known = ", ".join(sorted(loaded.schedules)) or f"none in {directory / 'oncall'}"
            return _fail(f"unknown schedule {args.schedule!r}; known schedules: {known}")
        schedules = [loaded.schedules[args.schedule]]
    if not schedules:
        return _fail(f"no on-call schedules in {directory / 'oncall'}")
    found = answers(schedules, at)
    sys.stdout.write(format_json(found, at) if args.json else format_text(found, at))
    return 0


def postmortem_draft(args: argparse.Namespace) -> int:
    import asyncio
    from pathlib import Path

    from bot.errors import WarroomError
    from bot.postmortems.cli_draft import draft_markdown, parse_number

    settings = _settings()
    try:
        number = parse_number(args.number, "NUMBER")
        version = parse_number(args.version, "--version") if args.version is not None else None
        drafted = asyncio.run(
            draft_markdown(
                settings.database_url,
                number,
                version=version,
                template_dir=Path(settings.playbooks_dir) / "templates",
            )
        )
    except WarroomError as error:
        return _fail(str(error))
    # Where the text came from goes to stderr, so stdout is exactly the Markdown (for `> file.md`).
    for note in drafted.notes:
        sys.stderr.write(f"warroom: {note}\n")
    sys.stdout.write(drafted.markdown)
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
    playbooks = commands.add_parser("playbooks", help="check and preview playbooks")
    playbook_commands = playbooks.add_subparsers(dest="playbooks_command", required=True)
    lint = playbook_commands.add_parser("lint", help="check every playbook in a folder; exit 1 on any error")
    lint.add_argument("dir", nargs="?", default=None, help="the playbooks folder (default PLAYBOOKS_DIR)")
    lint.add_argument("--format", choices=("text", "json"), default="text", help="json: an array for CI annotations")
    lint.set_defaults(func=playbooks_lint)
    render = playbook_commands.add_parser("render", help="show what a playbook's steps would say for an alert")
    render.add_argument("file", help="the playbook file")
    render.add_argument("--alert", required=True, metavar="PAYLOAD.json", help="a webhook payload (any source)")
    render.add_argument("--input", action="append", default=[], metavar="NAME=VALUE", help="a value for an input step")
    render.add_argument(
        "--source",
        choices=("pagerduty", "alertmanager", "grafana", "generic"),
        default=None,
        help="the payload's source (default: told by its shape)",
    )
    render.set_defaults(func=playbooks_render)
    oncall = commands.add_parser("oncall", help="on-call schedules")
    oncall_commands = oncall.add_subparsers(dest="oncall_command", required=True)
    who = oncall_commands.add_parser(
        "who",
        help="who is on call now and next, by the schedule files only (no overrides, no PagerDuty)",
        description="Who is on call now and next by the schedule files in PLAYBOOKS_DIR/oncall, with times in each "
        "schedule's zone and in UTC. Reads the files only: overrides (kept in the database) and PagerDuty are not "
        "consulted, so /oncall in Slack can differ.",
    )
    who.add_argument("--schedule", metavar="ID", default=None, help="only this schedule (default: every schedule)")
    who.add_argument("--at", metavar="ISO-8601", default=None, help="this instant, with an offset or Z (default: now)")
    who.add_argument("--json", action="store_true", help="a JSON array, one object per schedule")
    who.add_argument(
        "--dir", metavar="PLAYBOOKS_DIR", default=None, help="the playbooks folder (default PLAYBOOKS_DIR)"
    )
    who.set_defaults(func=oncall_who)
    postmortem = commands.add_parser("postmortem", help="postmortems")
    postmortem_commands = postmortem.add_subparsers(dest="postmortem_command", required=True)
    drafted = postmortem_commands.add_parser(
        "draft",
        help="print an incident's postmortem as Markdown",
        description="Print the current version of the incident's postmortem (or --version V) as Markdown. When the "
        "incident has no postmortem yet, print the draft Warroom would make from its timeline now, without storing "
        "it. Reads DATABASE_URL; run `warroom db upgrade` first.",
    )
    # strings, checked by the command: argparse's own error would be a usage block, not one line
    drafted.add_argument("number", metavar="NUMBER", help="the incident number")
    drafted.add_argument("--version", metavar="V", default=None, help="this version instead of the current one")
    drafted.set_defaults(func=postmortem_draft)
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
