"""The socket shell: serve a FakeLightsail over real HTTP/1.1 on loopback.

A ``ThreadingHTTPServer`` with one thread per connection and keep-alive, so
clients reuse connections as they would with AWS.  Every request is handed to
:meth:`FakeLightsail.handle`; this module only moves bytes, waits when told to
and drops connections when told to.

Clean shutdown matters in tests: :func:`serve` stops accepting, wakes any
response held back by a delay fault, closes idle keep-alive connections (whose
threads would otherwise wait for the client's next request forever) and joins
every handler thread before it returns.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Generator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from lightsail_images.testing._fake import FakeLightsail

__all__ = ["serve"]

logger = logging.getLogger("lightsail_images.testing")


class _Server(ThreadingHTTPServer):
    # Non-daemon handler threads are tracked by socketserver and joined in
    # server_close(), which is what makes shutdown leave no thread behind.
    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], fake: FakeLightsail, family: int) -> None:
        self.address_family = family
        self.fake = fake
        self.stopping = threading.Event()
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake every handler thread blocked on an idle connection."""
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:  # noqa: ARG002
        # A client that hangs up mid-response is normal in timeout tests; do
        # not print tracebacks to stderr for it.  (Called inside an except block.)
        logger.debug("connection from %s failed", client_address, exc_info=True)  # noqa: LOG014


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm on, the
    # body waits for the client's delayed ACK (40 ms on Linux) on every
    # kept-alive request.
    disable_nagle_algorithm = True

    @property
    def _server(self) -> _Server:
        return cast("_Server", self.server)

    def _read_body(self) -> bytes:
        if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        # awsJson clients send Content-Length, but a streaming one may not.
        chunks: list[bytes] = []
        while size := int(self.rfile.readline().split(b";", 1)[0], 16):
            chunks.append(self.rfile.read(size))
            self.rfile.readline()  # the CRLF after each chunk
        while self.rfile.readline().strip():  # trailers, up to the blank line
            pass
        return b"".join(chunks)

    def _answer(self) -> None:
        body = self._read_body()
        response = self._server.fake.handle(
            self.command,
            self.path,
            self.headers.items(),
            body,
            peer=(self.client_address[0], self.client_address[1]),
        )
        if response.delay and self._server.stopping.wait(response.delay):
            response = type(response)(0, (), b"", drop=True)
        if response.drop:
            self.close_connection = True
            return
        self.log_request(response.status_code)
        self.send_response_only(response.status_code)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = _answer  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("fake lightsail %s: %s", self.client_address[0], format % args)


@contextlib.contextmanager
def serve(fake: FakeLightsail, host: str, port: int) -> Generator[str, None, None]:
    """Run ``fake`` on ``host:port`` (0 picks a free port) and yield its URL."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = _Server((host, port), fake, family)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"FakeLightsail-{server.server_address[1]}",
    )
    thread.start()
    bound = server.server_address[1]
    try:
        yield f"http://[{host}]:{bound}" if family == socket.AF_INET6 else f"http://{host}:{bound}"
    finally:
        server.stopping.set()
        server.shutdown()
        thread.join()
        server.close_connections()
        server.server_close()
