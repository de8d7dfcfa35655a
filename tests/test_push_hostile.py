"""Hostile registries and trickling peers: only LightsailErrors, in bounded time.

Two halves:

- Property tests (hypothesis) push arbitrary header values and bodies through
  the pure distribution functions: whatever a registry sends, they return data
  or raise a ``RegistryError``, never ``ValueError``, ``UnicodeEncodeError`` or
  ``RecursionError``.
- A scripted registry on loopback answers a real push with what a broken or
  hostile registry could send (unparsable ``Location`` and realms, absurd
  ``Range``, tokens no header can carry, JSON nested thousands deep), and
  trickling peers (one byte at a time, just inside the read timeout) check the
  overall deadline of every non-streaming request, Lightsail's and the
  registry's.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from registry_support import PASSWORD, USERNAME, lightsail_for, make_oci_layout

import lightsail_images as li
from lightsail_images._protocol import HttpResponse
from lightsail_images._push import distribution
from lightsail_images._push.distribution import Challenge, Repository
from lightsail_images.testing import set_testing

REPOSITORY = Repository("https://registry.example", "sr")
NESTED = b"[" * 50_000 + b"]" * 50_000


@pytest.fixture(autouse=True)
def _no_backoff() -> Iterator[None]:
    with set_testing(True):
        yield


# -- the pure functions, with anything a registry could send ------------------------------

# http.client decodes header values as latin-1: any of those characters can arrive.
header_values = st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=300)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=30,
)
bodies = (
    st.binary(max_size=500)
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.builds(
        lambda errors: json.dumps({"errors": errors}).encode(),
        st.lists(st.dictionaries(st.sampled_from(["code", "message", "detail"]), json_values)),
    )
    | st.just(NESTED)
    | st.just(b'{"errors": [{"code": "X", "detail": ' + NESTED + b"}]}")
)


@given(header_values)
def test_challenges_parse_from_any_header(header: str) -> None:
    for challenge in distribution.parse_challenges(header):
        assert challenge.scheme == challenge.scheme.lower()


@given(bodies)
def test_error_bodies_parse_from_any_bytes(body: bytes) -> None:
    for detail in distribution.parse_error_body(body):
        for text in (detail.code, detail.message, detail.detail or ""):
            assert text.isprintable()
            assert len(text) <= 300


@given(bodies | st.builds(lambda t: json.dumps({"token": t}).encode(), header_values))
def test_tokens_are_usable_in_a_header_or_refused(body: bytes) -> None:
    token = distribution.parse_token(body)
    if token is not None:
        token.encode("ascii")  # http.client can write it
        assert "\r" not in token
        assert "\n" not in token
        assert " " not in token


@given(st.none() | header_values | st.from_regex(r"0-[0-9]{1,40}", fullmatch=True))
def test_ranges_parse_to_a_plausible_size_or_nothing(value: str | None) -> None:
    held = distribution.parse_range(value)
    assert held is None or 0 <= held <= 10**19


@given(header_values, st.sampled_from([201, 202, 307]))
def test_locations_resolve_to_a_usable_url_or_a_registry_error(location: str, status: int) -> None:
    answer = HttpResponse(status_code=status, headers={"location": location}, body=b"")
    base = "https://registry.example/v2/sr/blobs/uploads/"
    try:
        url = distribution.resolve_location(base, answer, "x")
    except li.RegistryError as err:
        error: li.RegistryError | None = err
    else:
        error = None
        requests.Request("PUT", url).prepare()  # requests can send it
    if error is not None:
        assert error.http_status_code == status
        assert str(error).isprintable()


@given(st.dictionaries(st.sampled_from(["realm", "service", "scope", "error"]), header_values))
def test_token_requests_are_built_or_refused(params: dict[str, str]) -> None:
    try:
        request = REPOSITORY.token(Challenge("bearer", params))
    except li.RegistryAuthError as err:
        message = str(err)
        assert message.isprintable()
        return
    requests.Request(request.method, request.url, headers=request.headers).prepare()


@given(st.integers(min_value=100, max_value=599), bodies)
def test_failures_are_registry_errors(status: int, body: bytes) -> None:
    error, retry = distribution.failure(HttpResponse(status, {}, body), "checking", REPOSITORY)
    assert isinstance(error, li.RegistryError)
    assert error.http_status_code == status
    assert retry == (status in {429, 500, 502, 503, 504})
    assert str(error).isprintable()


@given(header_values)
def test_registry_addresses_are_urls_or_clear_errors(address: str) -> None:
    try:
        url = distribution.registry_url(address, insecure_registry=True)
    except (li.RegistryError, li.ConfigurationError):
        return
    assert url.startswith(("http://", "https://"))


# -- a scripted registry on loopback -------------------------------------------------------

Respond = Callable[[http.server.BaseHTTPRequestHandler, str], bool]


@contextlib.contextmanager
def scripted_registry(respond: Respond) -> Iterator[str]:
    """A registry that accepts Basic auth and answers ``/v2/`` and HEADs sensibly.

    ``respond(handler, method)`` goes first; it returns True when it answered.
    Yields the registry's host:port.
    """

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            try:
                if respond(self, method):
                    return
            except OSError:
                return  # the client hung up on a trickle
            status = 404 if method == "HEAD" else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            self._answer("GET")

        def do_HEAD(self) -> None:
            self._answer("HEAD")

        def do_POST(self) -> None:
            self._answer("POST")

        def do_PUT(self) -> None:
            self._answer("PUT")

        def do_PATCH(self) -> None:
            self._answer("PATCH")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def reply(
    h: http.server.BaseHTTPRequestHandler, status: int, body: bytes = b"", **headers: str
) -> bool:
    h.send_response(status)
    for name, value in headers.items():
        h.send_header(name.replace("_", "-"), value)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(body)
    return True


def push_to(host: str, tmp_path: Path, **client_options: object) -> li.ContainerImage:
    make_oci_layout(tmp_path / "l")
    with lightsail_for(f"http://{host}", **client_options) as (fake, client):
        try:
            return client.push_container_image(
                service_name="svc", label="web", source=tmp_path / "l", insecure_registry=True
            )
        finally:
            assert fake.images("svc") == []  # nothing registered on failure


def test_an_unparsable_upload_location_is_a_registry_error(tmp_path: Path) -> None:
    def respond(h: http.server.BaseHTTPRequestHandler, method: str) -> bool:
        if method == "POST":
            return reply(h, 202, Location="http://[::1/v2/uploads/x")
        return False

    with scripted_registry(respond) as host, pytest.raises(li.RegistryError) as info:
        push_to(host, tmp_path, config=li.ClientConfig(max_attempts=1))
    assert "unusable upload location" in str(info.value)
    assert info.value.http_status_code == 202


@pytest.mark.parametrize(
    "location", ["http://host:99999/u", "http://h\u00f4st/u", "ftp://host/u", "https://"]
)
def test_other_unusable_locations(tmp_path: Path, location: str) -> None:
    def respond(h: http.server.BaseHTTPRequestHandler, method: str) -> bool:
        if method == "POST":
            h.send_response(202)
            h.send_header("Location", location)  # written as latin-1, as a registry could
            h.send_header("Content-Length", "0")
            h.end_headers()
            return True
        return False

    with scripted_registry(respond) as host, pytest.raises(li.RegistryError, match="location"):
        push_to(host, tmp_path, config=li.ClientConfig(max_attempts=1))


def test_an_unparsable_token_realm_is_an_auth_error(tmp_path: Path) -> None:
    def respond(h: http.server.BaseHTTPRequestHandler, method: str) -> bool:
        return reply(h, 401, WWW_Authenticate='Bearer realm="http://[::1/token",service="x"')

    with scripted_registry(respond) as host, pytest.raises(li.RegistryAuthError, match="realm"):
        push_to(host, tmp_path)


@pytest.mark.parametrize(
    "token", ["caf\u00e9", "\u2603snow", "line\r\nbreak", "spa ce", "x" * 20_000]
)
def test_a_token_no_header_can_carry_is_a_registry_error(tmp_path: Path, token: str) -> None:
    def respond(h: http.server.BaseHTTPRequestHandler, method: str) -> bool:
        if h.path.startswith("/token"):
            return reply(h, 200, json.dumps({"token": token}).encode())
        realm = f"http://{h.headers['Host']}/token"
        return reply(h, 401, WWW_Authenticate=f'Bearer realm="{realm}"')

    with scripted_registry(respond) as host, pytest.raises(li.RegistryError) as info:
        push_to(host, tmp_path)
    assert "without a token that can be sent in a header" in str(info.value)


@pytest.mark.parametrize("where", ["error", "token"])
def test_json_nested_thousands_deep(tmp_path: Path, where: str) -> None:
    def respond(h: http.server.BaseHTTPRequestHandler, method: str) -> bool:
        if where == "error" and method == "HEAD":
            return reply(h, 400, NESTED[:60_000], Content_Type="application/json")
        if where == "token":
            if h.path.startswith("/token"):
                return reply(h, 200, b'{"token": ' + NESTED + b"}")
            return reply(
                h, 401, WWW_Authenticate=f'Bearer realm="http://{h.headers["Host"]}/token"'
            )
        return False

    with scripted_registry(respond) as host, pytest.raises(li.RegistryError) as info:
        push_to(host, tmp_path)
    assert info.value.http_status_code in (200, 400)


def test_an_absurd_range_fails_the_upload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(distribution, "MONOLITHIC_MAX", 100)  # every blob goes by PATCH

    def respond(h: http.server.BaseHTTPRequestHandler, method: str) -> bool:
        if method == "POST":
            return reply(h, 202, Location="/v2/uploads/1")
        if method == "PATCH":
            return reply(h, 202, Range="0-" + "9" * 18, Location="/v2/uploads/1")
        return False

    with scripted_registry(respond) as host, pytest.raises(li.RegistryError, match="holds"):
        push_to(host, tmp_path, config=li.ClientConfig(max_attempts=2))


# -- trickling peers and the overall deadline ---------------------------------------------

TIMEOUT = 0.3  # the read timeout in these tests; the trickle stays well inside it
# The deadline is twice the read timeout; 200 bytes take 10 s to trickle.
DRIP = 0.05


def trickle(conn: socket.socket, head: bytes, body: bytes) -> None:
    """Send ``head`` at once, then ``body`` a byte at a time, inside the read timeout."""
    conn.sendall(head)
    for byte in body:
        conn.sendall(bytes([byte]))
        time.sleep(DRIP)


@contextlib.contextmanager
def trickling_server(head: bytes, body: bytes) -> Iterator[str]:
    """A raw server that answers every request with a trickle; yields host:port."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()
    connections: list[socket.socket] = []

    def serve(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.recv(65536)  # the request (small enough for one read)
            trickle(conn, head, body)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connections.append(conn)
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        acceptor.join()
        listener.close()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()


SLOW_BODY = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 200\r\n\r\n",
    b" " * 200,
)
SLOW_HEADERS = (b"HTTP/1.1 200 OK\r\n", b"X-Slow: " + b"a" * 200 + b"\r\n\r\n")


def timed_client_call(
    host: str, call: Callable[[li.Client], object], **options: object
) -> tuple[BaseException, float]:
    config = li.ClientConfig(connect_timeout=TIMEOUT, read_timeout=TIMEOUT, max_attempts=2)
    with li.Client(
        "us-east-1",
        endpoint_url=f"http://{host}",
        aws_access_key_id="AKIDTRICKLE",
        aws_secret_access_key="trickle-secret",
        config=config,
        **options,  # type: ignore[arg-type]
    ) as client:
        start = time.monotonic()
        with pytest.raises(li.TransportError) as info:
            call(client)
        return info.value, time.monotonic() - start


@pytest.mark.parametrize("answer", [SLOW_BODY, SLOW_HEADERS], ids=["body", "headers"])
def test_a_trickling_lightsail_endpoint_is_cut_off_at_the_deadline(
    answer: tuple[bytes, bytes],
) -> None:
    with trickling_server(*answer) as host:
        error, elapsed = timed_client_call(
            host, lambda c: c.get_container_images(service_name="svc")
        )
    assert error.attempts == 2  # a timeout, retried per policy
    assert f"did not arrive in full within {2 * TIMEOUT:g} s" in str(error)
    # Two attempts of twice TIMEOUT each, not 200 bytes x DRIP = 10 s apiece.
    assert elapsed < 4 * TIMEOUT + 1


def test_the_deadline_covers_the_body_through_a_callers_session() -> None:
    with trickling_server(*SLOW_BODY) as host, requests.Session() as session:
        error, elapsed = timed_client_call(
            host, lambda c: c.get_container_images(service_name="svc"), http_session=session
        )
    assert "did not arrive in full" in str(error)
    assert elapsed < 4 * TIMEOUT + 1


@pytest.mark.parametrize("answer", [SLOW_BODY, SLOW_HEADERS], ids=["body", "headers"])
def test_a_trickling_registry_is_cut_off_at_the_deadline(
    tmp_path: Path, answer: tuple[bytes, bytes]
) -> None:
    config = li.ClientConfig(connect_timeout=5, read_timeout=TIMEOUT, max_attempts=2)
    with trickling_server(*answer) as host:
        start = time.monotonic()
        with pytest.raises(li.TransportError) as info:
            push_to(host, tmp_path, config=config)
        elapsed = time.monotonic() - start
    assert "contacting the registry" in str(info.value)
    assert "did not arrive in full" in str(info.value)
    assert info.value.attempts == 2
    assert elapsed < 4 * TIMEOUT + 2


def test_a_fast_peer_is_not_cut_off(tmp_path: Path) -> None:
    # The deadline ends only what overruns it: a normal push with the same
    # short read timeout goes through, connections are reused, nothing leaks.
    def respond(h: http.server.BaseHTTPRequestHandler, method: str) -> bool:
        if method == "POST":
            return reply(h, 202, Location="/v2/uploads/1")
        if method == "PUT" and "/uploads/" in h.path:
            digest = h.path.split("digest=")[1].replace("%3A", ":")
            return reply(h, 201, Docker_Content_Digest=digest)
        if method == "PUT":
            return reply(h, 201)
        return False

    config = li.ClientConfig(read_timeout=TIMEOUT)
    with scripted_registry(respond) as host:
        for _ in range(3):
            image = push_to_registered(host, tmp_path, config=config)
            assert image.digest.startswith("sha256:")


def push_to_registered(host: str, tmp_path: Path, **client_options: object) -> li.ContainerImage:
    make_oci_layout(tmp_path / "ok")
    with lightsail_for(
        f"http://{host}", username=USERNAME, password=PASSWORD, **client_options
    ) as (_, client):
        return client.push_container_image(
            service_name="svc", label="web", source=tmp_path / "ok", insecure_registry=True
        )
