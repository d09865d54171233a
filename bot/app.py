"""`create_app(settings)`: the composition root. Nothing connects or starts until the lifespan runs."""

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import structlog
from fastapi import FastAPI, Request, Response
from pydantic import SecretStr
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler

from bot import llm
from bot.alerts.grouping import Outcome, Policy
from bot.alerts.intake import DeliveryWriter
from bot.alerts.processor import DeliveryProcessor
from bot.config import Settings
from bot.db import Database
from bot.handoff_engine import HandoffEngine
from bot.observability import Metrics
from bot.oncall.directory import OncallDirectory
from bot.outbox import OutboxRow
from bot.pagerduty import PagerDutyOncalls
from bot.playbooks.registry import PlaybookRegistry
from bot.postmortems.links import PostmortemLinks
from bot.postmortems.setup import PostmortemSetup
from bot.runner.http import HttpActionRunner
from bot.runner.worker import StepRunner
from bot.scheduler import build_scheduler
from bot.slack.bolt_app import build_bolt, make_client
from bot.slack.gateway import SlackGateway
from bot.slack.listeners.boundary import SlackDeps
from bot.slack.members import MemberDirectory
from bot.slack.ops import OpContext
from bot.slack.relay import OutboxRelay
from bot.web import api, health, webhooks
from bot.web import postmortems as postmortems_web
from bot.web.requests import RequestContextMiddleware

log = structlog.get_logger(__name__)

SANDBOX_TOKEN = "xoxb-sandbox"  # noqa: S105 - the offline workspace's fixed token, not a secret
SANDBOX_SIGNING_SECRET = "sandbox-signing-secret"  # noqa: S105 - same
SANDBOX_WEBHOOK_TOKEN = "sandbox-webhook-token"  # noqa: S105 - same
SANDBOX_API_TOKEN = "sandbox-api-token"  # noqa: S105 - same
SANDBOX_PAGERDUTY_SECRET = "sandbox-pagerduty-secret"  # noqa: S105 - same; the sandbox page signs its samples


@dataclass(frozen=True)
class SlackCredentials:
    token: str
    signing_secret: str
    api_url: str


def slack_credentials(settings: Settings) -> SlackCredentials:
    if settings.sandbox_mode:
        # Always loopback: the sandbox is mounted on this very server, whatever PUBLIC_URL says.
        return SlackCredentials(SANDBOX_TOKEN, SANDBOX_SIGNING_SECRET, f"http://127.0.0.1:{settings.port}/sandbox/api/")
    assert settings.slack_bot_token is not None
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    return SlackCredentials(settings.slack_bot_token.get_secret_value(), secret, settings.slack_api_url)


def effective_settings(settings: Settings) -> Settings:
    """Sandbox mode works with no configuration at all: it fills in its own tokens (printed at start)."""
    if not settings.sandbox_mode:
        return settings
    tokens = {"alert_webhook_token": SANDBOX_WEBHOOK_TOKEN, "api_token": SANDBOX_API_TOKEN}
    update: dict[str, object] = {k: SecretStr(v) for k, v in tokens.items() if getattr(settings, k) is None}
    if not settings.incident_announce_channel:
        update["incident_announce_channel"] = "#incidents"  # seeded in every sandbox workspace
    if not settings.pagerduty_webhook_secret:
        update["pagerduty_webhook_secret"] = [SecretStr(SANDBOX_PAGERDUTY_SECRET)]
    return settings.model_copy(update=update)


def create_app(settings: Settings) -> FastAPI:
    settings = effective_settings(settings)
    credentials = slack_credentials(settings)
    metrics = Metrics()
    db = Database(settings.database_url)
    registry = PlaybookRegistry(settings.playbooks_dir)
    policy = Policy(
        auto_resolve=settings.auto_resolve,
        responders=tuple(settings.incident_responders),
        playbooks=registry.playbooks,
    )
    client = make_client(credentials.token, credentials.api_url, settings.slack_timeout_seconds)
    gateway = SlackGateway(
        client, posts_per_second=settings.slack_channel_posts_per_second, observe=metrics.observe_slack
    )
    http = httpx.AsyncClient(timeout=httpx.Timeout(settings.slack_timeout_seconds))
    members = MemberDirectory(gateway)
    # Its own client: PagerDuty's lookups have their own overall timeout (bot/pagerduty.py).
    pagerduty_http = httpx.AsyncClient()
    pagerduty = (
        PagerDutyOncalls(pagerduty_http, settings.pagerduty_api_url, settings.pagerduty_api_token.get_secret_value())
        if settings.pagerduty_api_token is not None
        else None
    )
    oncall = OncallDirectory(pagerduty)
    # Its own client: the model's timeout (a minute) has nothing to do with Slack's.
    model_http = httpx.AsyncClient()
    postmortems = PostmortemSetup(
        wording=llm.from_settings(settings, model_http),
        template_dir=Path(settings.playbooks_dir) / "templates",
        # Page links are signed: only someone who saw the link can open it (POSTMORTEM_LINK_SECRET revokes all).
        links=PostmortemLinks(
            settings.base_url,
            settings.postmortem_link_secret.get_secret_value()
            if settings.postmortem_link_secret
            else credentials.signing_secret,
        ),
    )
    context = OpContext(
        postmortems=postmortems,
        members=members,
        registry=registry,
        oncall=oncall,
        db=db,
        gateway=gateway,
        http=http,
        channel_template=settings.incident_channel_template,
        announce_channel=settings.incident_announce_channel,
    )

    def on_outbox_done(row: OutboxRow, outcome: str, latency: float) -> None:
        metrics.outbox_done.labels(row.op, outcome).inc()
        if outcome == "done":
            metrics.outbox_latency.labels(row.op).observe(latency)

    relay = OutboxRelay(
        db,
        context,
        concurrency=settings.outbox_concurrency,
        lease_seconds=settings.outbox_lease_seconds,
        max_attempts=settings.outbox_max_attempts,
        on_done=on_outbox_done,
    )
    db.on_outbox_commit(relay.wake)

    def on_processed(source: str, outcome: str, result: Outcome | None) -> None:
        metrics.processed.labels(source, outcome).inc()
        if result is not None and result.opened:
            metrics.incidents_opened.inc(len(result.opened))

    processor = DeliveryProcessor(db, policy, on_processed=on_processed)
    writer = DeliveryWriter(db, on_stored=processor.wake)
    # Its own client: runbook targets are not Slack, and their timeouts come from each step.
    actions_http = httpx.AsyncClient()
    step_runner = StepRunner(
        db,
        HttpActionRunner(actions_http, settings.playbook_http_allowed_hosts),
        lease_seconds=settings.runbook_run_lease_seconds,
    )
    readiness = health.Readiness(
        workers=[relay, processor, step_runner], extra_checks=[writer.readiness, registry.health]
    )
    scheduler = build_scheduler(db)
    handoff_engine = HandoffEngine(
        db, registry, scheduler, grace=timedelta(seconds=settings.handoff_grace_seconds), directory=oncall
    )
    bolt = build_bolt(
        SlackDeps(
            db=db,
            settings=settings,
            policy=policy,
            registry=registry,
            members=members,
            oncall=oncall,
            postmortems=postmortems,
        ),
        client=client,
        signing_secret=credentials.signing_secret,
    )
    slack_handler = AsyncSlackRequestHandler(bolt)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(registry.reload)
        # Edits in PLAYBOOKS_DIR take effect within seconds; `kill -HUP` reloads at once.
        scheduler.add_job(registry.reload_if_changed, "interval", seconds=2, id="playbooks_reload")
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, registry.reload)
        await db.checkpoint_in_background()
        writer.start()
        relay.start()
        processor.start()
        step_runner.start()
        handoff_engine.start()
        scheduler.start()
        log.info("warroom_started", sandbox=settings.sandbox_mode, database=db.engine.dialect.name)
        try:
            yield
        finally:
            # Order from PLATFORM.md 9: fail readiness, stop claiming, finish in-flight work,
            # hand leases back, stop the scheduler, close connections.
            readiness.shutting_down = True
            await writer.stop()  # the server has answered its last request: store what is waiting
            await processor.stop()
            await step_runner.stop()
            await relay.stop()
            with contextlib.suppress(Exception):
                await relay.release()
            scheduler.shutdown(wait=False)
            await http.aclose()
            await actions_http.aclose()
            await pagerduty_http.aclose()
            await model_http.aclose()
            await db.dispose()
            log.info("warroom_stopped")

    app = FastAPI(title="Warroom", version="0.1.0", lifespan=lifespan)
    app.add_middleware(RequestContextMiddleware)
    app.state.settings = settings
    app.state.db = db
    app.state.metrics = metrics
    app.state.relay = relay
    app.state.processor = processor
    app.state.playbooks = registry
    app.state.handoffs = handoff_engine

    def observe_intake(source: str, outcome: str) -> None:
        metrics.intake.labels(source, outcome).inc()

    app.include_router(webhooks.build_router(settings, writer, observe=observe_intake))
    app.include_router(api.build_router(settings, db))
    app.include_router(postmortems_web.build_router(db, postmortems.links, settings=settings))
    app.include_router(health.build_router(db, metrics, readiness, max_backlog=settings.outbox_ready_backlog))

    @app.post("/slack/events", include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        response: Any = await slack_handler.handle(request)
        return response  # type: ignore[no-any-return]

    if settings.sandbox_mode:
        from bot.sandbox import mount_sandbox

        mount_sandbox(app, settings=settings, signing_secret=credentials.signing_secret)
    return app
