"""A fakeredis server on a loopback TCP port, for machines without a Redis.

Celery worker *processes* connect to it like to a real server, so the demo, the parity
harness and the tests run where nothing but Python is installed.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from fakeredis import TcpFakeServer
from fakeredis._clients._tcp_server import TCPFakeRequestHandler

__all__ = ["embedded_redis", "resolve_redis_url"]


# A reply the client does not read for this long (no byte accepted) drops the connection.
_STALLED_WRITE_SECONDS = 30.0


class _DrainingWriter:
    """Writes a whole reply to the handler's socket, waiting for it to drain.

    fakeredis makes the socket non-blocking (for its read loop), so a plain ``sendall`` of
    a reply larger than the kernel's send buffer (a few MB: a big task message) raises
    BlockingIOError and the server drops the connection mid-reply.
    """

    def __init__(self, sock: socket.socket, stopping: threading.Event) -> None:
        self._sock = sock
        self._stopping = stopping

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        stalled_since: float | None = None
        while view:
            try:
                sent = self._sock.send(view)
            except BlockingIOError:
                sent = 0
            if sent:
                view = view[sent:]
                stalled_since = None
                continue
            now = time.monotonic()
            stalled_since = stalled_since or now
            if self._stopping.is_set() or now - stalled_since > _STALLED_WRITE_SECONDS:
                raise ConnectionError("the client stopped reading its reply")
            select.select([], [self._sock], [], 0.5)
        return len(data)

    def flush(self) -> None:
        """Nothing is buffered: ``write`` sends everything."""


class _NoDelayHandler(TCPFakeRequestHandler):
    def setup(self) -> None:
        # Without TCP_NODELAY every MULTI/EXEC waits ~40 ms for a delayed ACK (Nagle),
        # and a worker drops from ~150 tasks/s to ~11.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()
        self.writer.writer = _DrainingWriter(  # type: ignore[assignment]
            self.request, self.server._shutdown_event
        )


class _Server(TcpFakeServer):
    # Handler threads are joined on close (block_on_close), so shutdown leaves none behind.
    daemon_threads = False

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address)
        self.RequestHandlerClass = _NoDelayHandler


def _require_lua() -> None:
    try:
        import lupa  # noqa: F401
    except ImportError as exc:  # pragma: no cover - only without the lua extra
        raise RuntimeError(
            "fakeredis needs its 'lua' extra for Celery workers (kombu runs EVALSHA at start): "
            "pip install 'fakeredis[lua]'"
        ) from exc


@contextmanager
def embedded_redis(host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve fakeredis on ``host:port`` (a free port by default) and yield its ``redis://`` URL.

    On exit the server stops accepting, every client connection thread is joined and the
    port is closed.
    """
    _require_lua()
    server = _Server((host, port))
    bound_port = server.server_address[1]
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"q2c-embedded-redis-{bound_port}",
        daemon=True,
    )
    thread.start()
    try:
        yield f"redis://{host}:{bound_port}/0"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def resolve_redis_url(explicit: str | None = None) -> str | None:
    """The explicit URL, else ``REDIS_URL``, else None (the caller may then embed one)."""
    if explicit:
        return explicit
    return os.environ.get("REDIS_URL") or None
