"""structlog JSON logging and the Prometheus metrics, one registry per app instance."""

import logging
import sys
import threading

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class StderrLogger:
    """Writes each rendered line to the current `sys.stderr`, the way a logging handler would.

    structlog's own loggers skip the standard library's record, handler and formatter, which cost
    more than rendering (24 against 10 µs a line, docs/performance.md) on the busiest paths. Looked
    up at each write, not bound once, so a replaced `sys.stderr` (a test's capture) is followed.
    """

    _lock = threading.Lock()

    def __init__(self, name: str = "") -> None:
        self.name = name  # for `add_logger_name`

    def msg(self, message: str) -> None:
        with self._lock:
            try:
                sys.stderr.write(message + "\n")
                sys.stderr.flush()
            except (OSError, ValueError):  # a broken or closed stderr: lose the line, never the request
                pass

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def _stderr_logger(*args: object) -> StderrLogger:
    return StderrLogger(str(args[0]) if args else "")


def _level_number(level: str) -> int:
    number = logging.getLevelNamesMapping().get(level.upper())
    if number is None:
        raise ValueError(f"unknown LOG_LEVEL {level!r}: use DEBUG, INFO, WARNING or ERROR")
    return number


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """One JSON (or console) line per event on stderr, from structlog and the standard library alike."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(_level_number(level)),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=True,
    )
    # Libraries (uvicorn, APScheduler, Bolt, Alembic) log through the standard library.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class Metrics:
    """Names follow Prometheus conventions: `warroom_` prefix, base units, `_total` counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.intake = Counter(
            "warroom_intake_total",
            "Webhook deliveries by source and outcome",
            ["source", "outcome"],
            registry=r,
        )
        self.processed = Counter(
            "warroom_deliveries_processed_total",
            "Deliveries applied, by source and outcome",
            ["source", "outcome"],
            registry=r,
        )
        self.incidents_opened = Counter("warroom_incidents_opened_total", "Incidents opened", registry=r)
        self.slack_calls = Counter(
            "warroom_slack_calls_total",
            "Slack Web API calls by method and outcome",
            ["method", "outcome"],
            registry=r,
        )
        self.slack_ratelimited = Counter(
            "warroom_slack_ratelimited_total", "Slack 429 answers by method", ["method"], registry=r
        )
        self.outbox_done = Counter(
            "warroom_outbox_done_total",
            "Outbox rows finished, by op and outcome",
            ["op", "outcome"],
            registry=r,
        )
        self.outbox_latency = Histogram(
            "warroom_outbox_latency_seconds",
            "From enqueue to delivered in Slack",
            ["op"],
            registry=r,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800),
        )
        self.outbox_pending = Gauge("warroom_outbox_pending", "Outbox rows waiting", registry=r)
        self.outbox_oldest = Gauge("warroom_outbox_oldest_seconds", "Age of the oldest waiting outbox row", registry=r)
        self.deliveries_pending = Gauge("warroom_deliveries_pending", "Stored deliveries not yet processed", registry=r)

    def observe_slack(self, method: str, outcome: str) -> None:
        self.slack_calls.labels(method, outcome).inc()
        if outcome == "ratelimited":
            self.slack_ratelimited.labels(method).inc()
