"""A deliberately thin HTTP/1.1 keep-alive client for load generation.

httpx spends more CPU per request than the servers under test, and this machine has two cores, so
the benchmark would measure the client. This client writes pre-encoded requests on persistent
connections and reads back only the status line, headers and body: it does what Alertmanager's Go
client does on the wire (one request at a time per connection, no pipelining) at a fraction of the cost.
"""

import asyncio
import contextlib
import math
import time
from dataclasses import dataclass, field

READ_LIMIT = 1 << 20


class HttpError(Exception):
    pass


def encode_post(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port, limit=READ_LIMIT)

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        """Send one pre-encoded request; returns (status, body). Reconnects once on a dropped connection."""
        for attempt in (1, 2):
            if self._writer is None:
                await self._open()
            try:
                return await self._exchange(raw)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _exchange(self, raw: bytes) -> tuple[int, bytes]:
        assert self._reader is not None and self._writer is not None
        self._writer.write(raw)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].split(b"\r\n")
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise HttpError(f"bad status line {status_line!r}")
        status = int(parts[1])
        length = 0
        chunked = False
        close = False
        for line in header_lines:
            name, _, value = line.partition(b":")
            lowered = name.strip().lower()
            if lowered == b"content-length":
                length = int(value.strip())
            elif lowered == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif lowered == b"connection" and b"close" in value.lower():
                close = True
        body = await self._read_chunked() if chunked else await self._reader.readexactly(length)
        if close:
            await self.close()
        return status, body

    async def _read_chunked(self) -> bytes:
        assert self._reader is not None
        chunks = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            if size == 0:
                await self._reader.readuntil(b"\r\n")
                return b"".join(chunks)
            chunks.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


@dataclass
class Result:
    """Outcome of one load run: per-request latencies (seconds) and status counts."""

    started: float = 0.0
    finished: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    bodies: dict[str, int] = field(default_factory=dict)  # 202 answers by their "status" word
    errors: list[str] = field(default_factory=list)
    late_starts: int = 0  # open loop: requests the pacer could not start on time (> 5 ms late)

    @property
    def elapsed(self) -> float:
        return max(1e-9, self.finished - self.started)

    def record(self, status: int, body: bytes, latency: float) -> None:
        self.latencies.append(latency)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status == 202:
            word = "accepted" if b'"accepted"' in body else "duplicate" if b'"duplicate"' in body else "other"
            self.bodies[word] = self.bodies.get(word, 0) + 1

    @property
    def accepted(self) -> int:
        return self.bodies.get("accepted", 0)


async def closed_loop(host: str, port: int, requests: list[bytes], concurrency: int) -> Result:
    """Send every request as fast as `concurrency` connections allow (each waits for its answer)."""
    result = Result()
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        connection = Connection(host, port)
        try:
            while next_index < len(requests):
                raw = requests[next_index]
                next_index += 1
                began = time.perf_counter()
                try:
                    status, body = await connection.send(raw)
                except (OSError, HttpError, asyncio.IncompleteReadError) as error:
                    result.errors.append(repr(error))
                    continue
                result.record(status, body, time.perf_counter() - began)
        finally:
            await connection.close()

    result.started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.finished = time.perf_counter()
    return result


async def open_loop(host: str, port: int, requests: list[bytes], rate: float, max_connections: int = 256) -> Result:
    """Start request i at t0 + i/rate whatever happened to earlier ones (no coordinated omission):
    latency counts from the scheduled start, so time spent waiting for a free connection is included."""
    result = Result()
    idle: list[Connection] = []
    opened = 0
    slots = asyncio.Semaphore(max_connections)
    tasks: set[asyncio.Task[None]] = set()

    async def one(raw: bytes, scheduled: float) -> None:
        nonlocal opened
        async with slots:
            if idle:
                connection = idle.pop()
            else:
                connection = Connection(host, port)
                opened += 1
            try:
                status, body = await connection.send(raw)
            except (OSError, HttpError, asyncio.IncompleteReadError) as error:
                result.errors.append(repr(error))
                await connection.close()
                return
            result.record(status, body, time.perf_counter() - scheduled)
            idle.append(connection)

    result.started = start = time.perf_counter()
    for i, raw in enumerate(requests):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.005:
            result.late_starts += 1
        task = asyncio.create_task(one(raw, scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    while tasks:
        await asyncio.gather(*list(tasks))
    result.finished = time.perf_counter()
    for connection in idle:
        await connection.close()
    return result


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]
