"""The served fake against hostile or broken HTTP, through raw sockets on loopback.

Every malformed request gets a clean answer in the Lightsail error shape (400
for framing it cannot read, 413 past the body cap) and the connection is then
closed, since where the next request would start is unknown; nothing hangs a
handler, drops a connection without an answer, or stops the server serving
the next client.  Large bodies are recorded as a bounded prefix plus their
size.  And a served fake that nobody closes does not keep the interpreter
from exiting.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

import lightsail_images as li
from lightsail_images.testing import FakeLightsail

DIGEST = "sha256:" + "4f" * 32
CAP = FakeLightsail.MAX_BODY_BYTES
KEPT = FakeLightsail.RECORDED_BODY_BYTES


@pytest.fixture
def served(fake: FakeLightsail) -> Iterator[tuple[FakeLightsail, str]]:
    fake.add_container_service("svc")
    with fake.serve() as url:
        yield fake, url


class Answer:
    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.status = response.status
        self.headers = {name.lower(): value for name, value in response.getheaders()}
        self.body = response.read()
        self.json = json.loads(self.body)


def raw(url: str, data: bytes) -> tuple[Answer, bool]:
    """Send ``data`` on a fresh connection and read one answer.

    Returns the answer and whether the server closed the connection after it.
    """
    split = urlsplit(url)
    with socket.create_connection((split.hostname, split.port), timeout=5) as sock:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        try:
            response.begin()
            answer = Answer(response)
        finally:
            response.close()
        sock.settimeout(1)
        try:
            closed = sock.recv(1) == b""
        except ConnectionResetError:
            closed = True
        except TimeoutError:  # still open, waiting for the next request
            closed = False
        return answer, closed


def request(headers: str, body: bytes = b"") -> bytes:
    head = "POST / HTTP/1.1\r\nHost: fake\r\nContent-Type: application/x-amz-json-1.1\r\n"
    return (head + headers + "\r\n").encode("latin-1") + body


def assert_lightsail_error(answer: Answer, status: int, *words: str) -> None:
    assert answer.status == status
    assert answer.json["__type"] == "InvalidInputException"
    assert set(answer.json) == {"__type", "code", "docs", "message", "tip"}
    assert answer.headers["x-amzn-errortype"].startswith("InvalidInputException:")
    assert answer.headers["connection"] == "close"
    for word in words:
        assert word in answer.json["message"]


def assert_still_serving(fake: FakeLightsail, url: str) -> None:
    with li.Client(
        fake.region_name,
        endpoint_url=url,
        aws_access_key_id=fake.access_key_id,
        aws_secret_access_key=fake.secret_access_key,
        config=li.ClientConfig(max_attempts=1, read_timeout=5),
    ) as client:
        client.register_container_image(service_name="svc", label="web", digest=DIGEST)


BAD_LENGTHS = ["abc", "-1", "+5", "5_0", "1, 2", "0x10", "1e3", "12 34", ""]


@pytest.mark.parametrize("value", BAD_LENGTHS)
def test_a_malformed_content_length_is_a_clean_400(
    served: tuple[FakeLightsail, str], value: str
) -> None:
    fake, url = served
    started = time.monotonic()
    answer, closed = raw(url, request(f"Content-Length: {value}\r\n", b"{}"))
    assert time.monotonic() - started < 3  # "-1" once read until the client hung up
    assert_lightsail_error(answer, 400, "Content-Length")
    assert closed
    assert fake.requests[-1].status_code == 400
    assert_still_serving(fake, url)


def test_two_different_content_lengths_are_a_400(served: tuple[FakeLightsail, str]) -> None:
    _, url = served
    answer, closed = raw(url, request("Content-Length: 2\r\nContent-Length: 3\r\n", b"{}"))
    assert_lightsail_error(answer, 400, "Content-Length")
    assert closed


def test_content_length_with_transfer_encoding_is_a_400(served: tuple[FakeLightsail, str]) -> None:
    # The classic request-smuggling shape: refuse it rather than pick one.
    _, url = served
    answer, closed = raw(
        url,
        request("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", b"2\r\n{}\r\n0\r\n\r\n"),
    )
    assert_lightsail_error(answer, 400, "Transfer-Encoding")
    assert closed


def test_an_unknown_transfer_encoding_is_a_400(served: tuple[FakeLightsail, str]) -> None:
    _, url = served
    answer, _ = raw(url, request("Transfer-Encoding: gzip\r\n", b"{}"))
    assert_lightsail_error(answer, 400, "Transfer-Encoding")


def test_a_declared_body_past_the_cap_is_413_before_it_is_sent(
    served: tuple[FakeLightsail, str],
) -> None:
    fake, url = served
    # Only the headers go out: the answer must not wait for 10 GB.
    answer, closed = raw(url, request("Content-Length: 10000000000\r\n"))
    assert_lightsail_error(answer, 413, str(CAP))
    assert closed
    recorded = fake.requests[-1]
    assert (recorded.status_code, recorded.body, recorded.body_size) == (413, b"", 10_000_000_000)
    assert_still_serving(fake, url)


def test_a_body_one_byte_past_the_cap_is_413(served: tuple[FakeLightsail, str]) -> None:
    fake, url = served
    answer, _ = raw(url, request(f"Content-Length: {CAP + 1}\r\n", b"x" * (CAP + 1)))
    assert_lightsail_error(answer, 413)
    assert_still_serving(fake, url)


def test_a_body_at_the_cap_is_read_and_recorded_as_a_prefix_and_a_size(
    served: tuple[FakeLightsail, str],
) -> None:
    fake, url = served
    body = b'{"pad":"' + b"p" * (CAP - 10) + b'"}'
    assert len(body) == CAP
    answer, closed = raw(url, request(f"Content-Length: {CAP}\r\n", body))
    assert answer.status == 403  # read and judged: it is not signed
    assert not closed  # a request read in full leaves the connection usable
    recorded = fake.requests[-1]
    assert recorded.body == body[:KEPT]
    assert recorded.body_size == CAP
    assert recorded.params is None  # not kept for a body over the recorded prefix


def test_small_bodies_are_recorded_whole(served: tuple[FakeLightsail, str]) -> None:
    fake, url = served
    raw(url, request("Content-Length: 2\r\n", b"{}"))
    assert (fake.requests[-1].body, fake.requests[-1].body_size) == (b"{}", 2)
    assert fake.requests[-1].params == {}


CHUNKED = "Transfer-Encoding: chunked\r\n"
BAD_CHUNKS = {
    "size not hex": b"zz\r\n{}\r\n0\r\n\r\n",
    "negative size": b"-2\r\n{}\r\n0\r\n\r\n",
    "no CRLF after data": b"2\r\n{}XX0\r\n\r\n",
    "empty size line": b"\r\n{}\r\n0\r\n\r\n",
    "size with a sign": b"+2\r\n{}\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("chunks", list(BAD_CHUNKS.values()), ids=list(BAD_CHUNKS))
def test_bad_chunked_framing_is_a_clean_400(
    served: tuple[FakeLightsail, str], chunks: bytes
) -> None:
    fake, url = served
    answer, closed = raw(url, request(CHUNKED, chunks))
    assert_lightsail_error(answer, 400, "chunked")
    assert closed
    assert_still_serving(fake, url)


def test_chunks_past_the_cap_are_413(served: tuple[FakeLightsail, str]) -> None:
    fake, url = served
    # One chunk declared far past the cap: refused before its data arrives.
    answer, closed = raw(url, request(CHUNKED, b"%x\r\n" % (CAP * 10)))
    assert_lightsail_error(answer, 413)
    assert closed
    # Many small chunks adding up past the cap.
    chunk = b"%x\r\n" % 65536 + b"c" * 65536 + b"\r\n"
    answer, _ = raw(url, request(CHUNKED, chunk * (CAP // 65536 + 1)))
    assert_lightsail_error(answer, 413)
    assert_still_serving(fake, url)


def test_too_many_trailers_are_a_400(served: tuple[FakeLightsail, str]) -> None:
    _, url = served
    trailers = b"".join(b"X-T%d: v\r\n" % i for i in range(200))
    answer, _ = raw(url, request(CHUNKED, b"2\r\n{}\r\n0\r\n" + trailers + b"\r\n"))
    assert_lightsail_error(answer, 400, "trailer")


def test_a_client_that_hangs_up_mid_body_leaves_the_server_serving(
    served: tuple[FakeLightsail, str],
) -> None:
    fake, url = served
    split = urlsplit(url)
    for data in (request("Content-Length: 100\r\n", b"{"), request(CHUNKED, b"10\r\n{")):
        with socket.create_connection((split.hostname, split.port), timeout=5) as sock:
            sock.sendall(data)
    assert_still_serving(fake, url)


@pytest.mark.parametrize(
    "signature", ["\u00ff\u00fe" + "0" * 62, "\u00e9" * 64, "abc\u0080"], ids=["ff", "e9", "c1"]
)
def test_a_non_ascii_signature_is_answered_not_dropped(
    served: tuple[FakeLightsail, str], signature: str
) -> None:
    fake, url = served
    # Everything right but the signature, so that the check reaches the comparison.
    now = fake.now().strftime("%Y%m%dT%H%M%SZ")
    authorization = (
        "AWS4-HMAC-SHA256 Credential="
        f"{fake.access_key_id}/{now[:8]}/us-east-1/lightsail/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={signature}"
    )
    answer, _ = raw(
        url,
        request(
            f"X-Amz-Date: {now}\r\nAuthorization: {authorization}\r\nContent-Length: 2\r\n", b"{}"
        ),
    )
    assert answer.status == 400
    assert answer.json["__type"].endswith("#IncompleteSignatureException")
    assert "non-ASCII" in answer.json["message"]
    assert fake.requests[-1].status_code == 400
    assert_still_serving(fake, url)


def test_non_ascii_bytes_in_any_header_are_answered(served: tuple[FakeLightsail, str]) -> None:
    fake, url = served
    data = (
        b"POST / HTTP/1.1\r\nHost: fake\r\nX-Amz-Target: Lightsail_20161128.\xff\xfe\r\n"
        b"Authorization: \xc3\xa9\xff\r\nX-Amz-Date: \xff\r\nContent-Length: 2\r\n\r\n{}"
    )
    answer, _ = raw(url, data)
    assert 400 <= answer.status < 500
    assert_still_serving(fake, url)


# --- the core, without sockets: the same cap and recording ------------------------------


def test_the_core_applies_the_cap_for_mock_too(fake: FakeLightsail) -> None:
    response = fake.handle(
        "POST", "/", {"content-type": "application/x-amz-json-1.1"}, b"x" * (CAP + 1)
    )
    assert response.status_code == 413
    assert response.json()["__type"] == "InvalidInputException"
    recorded = fake.requests[-1]
    assert (len(recorded.body), recorded.body_size) == (KEPT, CAP + 1)


@given(
    headers=st.lists(
        st.tuples(
            st.sampled_from(
                ["Authorization", "X-Amz-Date", "X-Amz-Target", "X-Amz-Security-Token", "Host"]
            )
            | st.text(min_size=1, max_size=10),
            st.text(alphabet=st.characters(max_codepoint=255), max_size=80),
        ),
        max_size=6,
    ),
    body=st.binary(max_size=200),
    target=st.sampled_from(["/", "/?a=b", "//..//x", "/%zz", "/?%ff=%"]),
)
def test_the_core_answers_every_request(
    headers: list[tuple[str, str]], body: bytes, target: str
) -> None:
    fake = FakeLightsail()
    response = fake.handle("POST", target, headers, body)
    assert 200 <= response.status_code < 600
    json.loads(response.body)


# --- a fake nobody closes does not hold the interpreter at exit --------------------------


def test_an_unclosed_served_fake_does_not_keep_the_interpreter_alive() -> None:
    script = textwrap.dedent(
        """
        import http.client, sys
        from urllib.parse import urlsplit
        from lightsail_images.testing import FakeLightsail

        fake = FakeLightsail()
        serving = fake.serve()
        url = serving.__enter__()  # and never __exit__
        split = urlsplit(url)
        # A kept-alive connection with its handler thread waiting for the next request.
        connection = http.client.HTTPConnection(split.hostname, split.port, timeout=5)
        connection.request("POST", "/", body=b"{}")
        assert connection.getresponse().read()
        print("served", flush=True)
        """
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    elapsed = time.monotonic() - started
    assert (result.returncode, result.stdout) == (0, "served\n"), result.stderr
    assert "Traceback" not in result.stderr
    assert elapsed < 5, f"the interpreter took {elapsed:.1f} s to exit"
