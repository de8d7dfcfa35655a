"""The socket shell: serve a FakeLightsail over real HTTP/1.1 on loopback.

A ``ThreadingHTTPServer`` with one thread per connection and keep-alive, so
clients reuse connections as they would with AWS.  Every request is handed to
:meth:`FakeLightsail.handle`; this module only moves bytes, waits when told to
and drops connections when told to.

Clean shutdown matters in tests: :func:`serve` stops accepting, wakes any
response held back by a delay fault, closes idle keep-alive connections (whose
threads would otherwise wait for the client's next request forever) and joins
every handler thread before it returns.  The threads are daemons all the same,
and tracked here rather than by ``socketserver``: a fake its caller never
stops must not keep the interpreter from exiting.

Request bodies are read strictly: one decimal ``Content-Length``, or
``Transfer-Encoding: chunked`` with hexadecimal sizes and CRLFs where they
belong, never both, at most :attr:`FakeLightsail.MAX_BODY_BYTES`.  Anything
else is answered through :meth:`FakeLightsail.reject` (400, or 413 past the
cap, before the body is read) and the connection is closed, since where the
next request would start is unknown; the rest of what the client sends is
read and dropped for a moment first, so that it gets the answer rather than
a reset.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import re
import socket
import threading
import time
import weakref
from collections.abc import Generator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from lightsail_images.testing._fake import FakeLightsail, FakeResponse

__all__ = ["serve"]

logger = logging.getLogger("lightsail_images.testing")


# One chunk-size or trailer line, and how many trailer lines, at most.
_MAX_LINE = 8 * 1024
_MAX_TRAILERS = 64
# After refusing a request: how long, and how much, to read and drop of what
# the client is still sending before closing, so that it reads the answer
# instead of a connection reset.
_LINGER_SECONDS = 1.0
_LINGER_BYTES = 4 * 1024 * 1024
# ASCII digits only: int() also takes "+5", " 5_0" and other scripts' digits.
_DECIMAL = re.compile(r"[0-9]+")
_HEX = re.compile(rb"[0-9a-fA-F]+")


class _Unreadable(Exception):
    """The request's body cannot or will not be read: answer ``status`` and close."""

    def __init__(self, status: int, message: str, size: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.size = size


class _ClientGone(Exception):
    """The client closed the connection in the middle of its request."""


class _Server(ThreadingHTTPServer):
    # Handler threads are daemons, so a server nobody stops cannot hold the
    # interpreter at exit; this class tracks them itself (socketserver only
    # tracks non-daemon ones) so that a clean stop still joins every one.
    daemon_threads = True

    def __init__(self, address: tuple[str, int], fake: FakeLightsail, family: int) -> None:
        self.address_family = family
        self.fake = fake
        self.stopping = threading.Event()
        self._open: set[socket.socket] = set()
        self._handlers: set[threading.Thread] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._handle_connection,
            args=(request, client_address),
            name=f"FakeLightsail-{self.server_address[1]}-connection",
            daemon=True,
        )
        with self._open_lock:
            self._open.add(request)
            self._handlers.add(thread)
        thread.start()

    def _handle_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._handlers.discard(threading.current_thread())

    def start(self) -> None:
        """Serve on a daemon thread until :meth:`stop`."""
        self._serving = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeLightsail-{self.server_address[1]}",
            daemon=True,
        )
        self._serving.start()
        _RUNNING.add(self)

    def stop(self, *, join_timeout: float | None = None) -> None:
        """Stop serving, close every connection and join every thread; once.

        ``join_timeout`` bounds the wait for connection threads (``None``: all
        of them, which the close makes prompt).
        """
        with self._open_lock:
            if self.stopping.is_set():
                return
            self.stopping.set()  # also wakes responses held back by a delay fault
        _RUNNING.discard(self)
        self.shutdown()
        self._serving.join()
        self.close_connections()
        self.server_close()
        deadline = None if join_timeout is None else time.monotonic() + join_timeout
        with self._open_lock:
            handlers = list(self._handlers)
        for thread in handlers:
            thread.join(None if deadline is None else max(deadline - time.monotonic(), 0))

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
        limit = self._server.fake.MAX_BODY_BYTES
        codings = self.headers.get_all("Transfer-Encoding") or []
        lengths = self.headers.get_all("Content-Length") or []
        if codings:
            if lengths:
                raise _Unreadable(
                    400,
                    "The request has both Content-Length and Transfer-Encoding; send one "
                    "of them (RFC 9112, section 6.3).",
                )
            coding = ",".join(codings).strip().lower()
            if coding != "chunked":
                raise _Unreadable(
                    400,
                    f"Transfer-Encoding {coding[:40]!r} is not supported; send "
                    "Content-Length, or Transfer-Encoding: chunked.",
                )
            # awsJson clients send Content-Length, but a streaming one may not.
            return self._read_chunked(limit)
        if not lengths:
            return b""
        values = {value.strip() for value in ",".join(lengths).split(",")}
        text = values.pop() if len(values) == 1 else ""
        if not _DECIMAL.fullmatch(text):
            shown = ", ".join(lengths)[:40]
            raise _Unreadable(
                400, f"Content-Length must be one decimal number of bytes, got {shown!r}."
            )
        size = int(text)
        if size > limit:
            raise _Unreadable(413, self._server.fake.too_large_message(size), size)
        body = self.rfile.read(size)
        if len(body) < size:
            raise _ClientGone
        return body

    def _read_chunked(self, limit: int) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self._line()
            size_text = line.split(b";", 1)[0].strip()
            if not _HEX.fullmatch(size_text):
                raise _Unreadable(
                    400,
                    f"Bad chunked encoding: the chunk size line {line[:40]!r} is not a "
                    "hexadecimal number.",
                )
            size = int(size_text, 16)
            if size == 0:
                break
            total += size
            if total > limit:
                raise _Unreadable(413, self._server.fake.too_large_message(None))
            data = self.rfile.read(size)
            if len(data) < size:
                raise _ClientGone
            if self._line() != b"\r\n":
                raise _Unreadable(
                    400, "Bad chunked encoding: a chunk's data is not followed by CRLF."
                )
            chunks.append(data)
        for _ in range(_MAX_TRAILERS):
            if self._line() in {b"\r\n", b"\n"}:
                return b"".join(chunks)
        raise _Unreadable(400, f"Bad chunked encoding: more than {_MAX_TRAILERS} trailer lines.")

    def _line(self) -> bytes:
        line = self.rfile.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise _Unreadable(400, f"Bad chunked encoding: a line longer than {_MAX_LINE} bytes.")
        if not line.endswith(b"\n"):
            raise _ClientGone
        return line

    def _answer(self) -> None:
        fake = self._server.fake
        peer = (self.client_address[0], self.client_address[1])
        try:
            body = self._read_body()
        except _ClientGone:
            self.close_connection = True
            return
        except _Unreadable as problem:
            response = fake.reject(
                self.command,
                self.path,
                self.headers.items(),
                status=problem.status,
                message=problem.message,
                body_size=problem.size,
                peer=peer,
            )
            self._send(response, close=True)
            self._linger()
            return
        response = fake.handle(self.command, self.path, self.headers.items(), body, peer=peer)
        if response.delay and self._server.stopping.wait(response.delay):
            response = type(response)(0, (), b"", drop=True)
        if response.drop:
            self.close_connection = True
            return
        self._send(response)

    def _send(self, response: FakeResponse, *, close: bool = False) -> None:
        self.log_request(response.status_code)
        self.send_response_only(response.status_code)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if close:
            self.send_header("Connection", "close")  # also sets close_connection
        self.end_headers()
        self.wfile.write(response.body)

    def _linger(self) -> None:
        # Say we are done, then read and drop what the client still sends,
        # briefly: closing with unread data would reset the connection, and a
        # reset can destroy the answer before the client reads it.
        self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + _LINGER_SECONDS
            drained = 0
            while drained < _LINGER_BYTES and (left := deadline - time.monotonic()) > 0:
                self.connection.settimeout(left)
                data = self.connection.recv(65536)
                if not data:
                    break
                drained += len(data)

    do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = _answer  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("fake lightsail %s: %s", self.client_address[0], format % args)


@contextlib.contextmanager
def serve(fake: FakeLightsail, host: str, port: int) -> Generator[str, None, None]:
    """Run ``fake`` on ``host:port`` (0 picks a free port) and yield its URL."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = _Server((host, port), fake, family)
    server.start()
    bound = server.server_address[1]
    try:
        yield f"http://[{host}]:{bound}" if family == socket.AF_INET6 else f"http://{host}:{bound}"
    finally:
        server.stop()


# Servers started and not stopped.  At exit they are stopped while their daemon
# threads still run: a generator finalized later in interpreter shutdown would
# otherwise wait in shutdown() for a serving thread that can no longer run.
_RUNNING: weakref.WeakSet[_Server] = weakref.WeakSet()
# How long the exit hook waits for connection threads before leaving them.
_EXIT_JOIN_SECONDS = 5.0


@atexit.register
def _stop_forgotten_servers() -> None:
    for server in list(_RUNNING):
        server.stop(join_timeout=_EXIT_JOIN_SECONDS)
