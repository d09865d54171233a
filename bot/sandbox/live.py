"""Run an ASGI app with uvicorn on a loopback port inside the running event loop (tests, benchmarks, sandbox)."""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Generator
from typing import Any, Literal

import uvicorn

TICK_SECONDS = 0.1


class EmbeddedServer(uvicorn.Server):
    """uvicorn for use inside someone else's process: no signal handlers, prompt shutdown."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._wake = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # the host (pytest, the bot) owns SIGINT/SIGTERM; uvicorn would swallow and re-raise them
        yield

    def stop(self) -> None:
        self.should_exit = True
        self._wake.set()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.server_state.connections or self.server_state.tasks:
            await super().shutdown(sockets)
            return
        # nothing in flight: skip uvicorn's fixed 0.1 s grace sleep, which dominates short test servers
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()

    async def main_loop(self) -> None:
        # uvicorn polls should_exit every 0.1 s; waking early makes stopping a test server immediate
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864_000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), TICK_SECONDS)
            should_exit = await self.on_tick(counter)


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket; with port 0 the OS picks a free port (read it back with url_for)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto is
    # IPPROTO_TCP, and without it every response pays a 40 ms Nagle/delayed-ACK stall
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def url_for(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def _wait_started(server: EmbeddedServer, task: "asyncio.Task[None]", within: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("ASGI server stopped before it started")
        if loop.time() > deadline:
            raise TimeoutError(f"ASGI server did not start within {within} s")
        await asyncio.sleep(0.005)


async def _stop(server: EmbeddedServer, task: "asyncio.Task[None]", within: float) -> None:
    if task.done():
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not warn about an unobserved failure
        return
    server.stop()
    try:
        await asyncio.wait_for(asyncio.shield(task), within)
    except TimeoutError:
        server.force_exit = True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def serve_app(
    app: Callable[..., Any],
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    lifespan: Literal["auto", "on", "off"] = "on",
    startup_timeout: float = 10.0,
    graceful_timeout: float = 5.0,
) -> AsyncIterator[str]:
    """Serve `app` until the block exits; yields the base URL such as `http://127.0.0.1:54321`.

    The app's lifespan runs ("on" by default, so a failing startup raises here instead of being
    mistaken for "lifespan unsupported"). Requests still running at exit get `graceful_timeout`
    seconds before they are cancelled.
    """
    sock = bind_socket(host, port)
    url = url_for(sock)
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan=lifespan,
        timeout_graceful_shutdown=int(graceful_timeout) or 1,
    )
    server = EmbeddedServer(config)

    async def run() -> None:
        try:
            await server.serve(sockets=[sock])
        except SystemExit as exc:
            # uvicorn exits the process when lifespan startup fails; here that must be an error instead
            raise RuntimeError(f"ASGI app failed to start at {url} (exit code {exc.code})") from None

    task = asyncio.create_task(run(), name=f"uvicorn {url}")
    try:
        await _wait_started(server, task, startup_timeout)
        yield url
    finally:
        try:
            await _stop(server, task, graceful_timeout + 2.0)
        finally:
            sock.close()
