"""A loopback HTTP server that records requests and answers from a script.

Used where a test needs exact control of the bytes on the wire (the botocore
oracle comparison, dropped connections, odd bodies).  The behavioural fake of
Lightsail lives in ``lightsail_images.testing``.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    peer: tuple[str, int] = ("", 0)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering

    @classmethod
    def json(cls, status: int, payload: object, **headers: str) -> Reply:
        return cls(
            status,
            json.dumps(payload).encode(),
            {"Content-Type": "application/x-amz-json-1.1", **headers},
        )


@dataclass
class ScriptedServer:
    url: str
    replies: list[Reply]
    requests: list[Recorded]
    default: Reply


@contextmanager
def scripted_server(*replies: Reply, default: Reply | None = None) -> Iterator[ScriptedServer]:
    state = ScriptedServer("", list(replies), [], default or Reply())
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with lock:
                state.requests.append(
                    Recorded(
                        self.command,
                        self.path,
                        dict(self.headers.items()),
                        body,
                        self.client_address,
                    )
                )
                reply = state.replies.pop(0) if state.replies else state.default
            if reply.drop:
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
