"""Hostile and broken responses: only LightsailError subclasses escape, memory stays bounded.

Three layers:

* property tests of the pure parsers (``parse_response`` for every operation
  in ``_operations.py``, the fuzz target in ``tests/fuzz_parsers.py``,
  ``clock_skew``): arbitrary bytes, JSON of the wrong shapes and types,
  100,000-deep nesting, huge bodies, invalid UTF-8, hostile ``Date`` headers;
* the same through real HTTP on loopback (a raw socket server sends bytes
  no well-behaved server would), where headers arrive in any casing;
* peak memory of a client process (a subprocess, so the server's memory and
  pytest's do not count) reading 200 MB-1 GiB bodies: the transport's caps
  hold, and decoding what it kept does not multiply it.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import gzip
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import responses
from hypothesis import example, given
from hypothesis import strategies as st

import lightsail_images as li
from lightsail_images import _operations
from lightsail_images._protocol import HttpResponse, Operation, parse_response
from lightsail_images._retry import clock_skew
from lightsail_images._transport import MAX_BODY_BYTES, MAX_ERROR_BODY_BYTES
from tests import fuzz_parsers
from tests.test_reliability_faults import RawServer, http_response, read_request

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parent.parent
DIGEST = "sha256:" + "ab" * 32
OPERATIONS: list[Operation[object]] = [
    value for value in vars(_operations).values() if isinstance(value, Operation)
]
IDS = [op.name for op in OPERATIONS]
MIB = 1024 * 1024


def test_every_operation_is_covered() -> None:
    assert {op.name for op in OPERATIONS} == {
        "RegisterContainerImage",
        "GetContainerImages",
        "DeleteContainerImage",
        "CreateContainerServiceRegistryLogin",
        "GetContainerServices",
        "CreateContainerServiceDeployment",
        "GetContainerServiceDeployments",
        "GetContainerLog",
    }


def outcome_of(operation: Operation[object], status: int, body: bytes, **headers: str) -> object:
    """Parse one response; return the result or ServiceError, or the LightsailError raised."""
    response = HttpResponse(status, {k.lower(): v for k, v in headers.items()}, body)
    try:
        outcome: object = parse_response(operation, response, attempts=1)
    except li.LightsailError as exc:
        outcome = exc
    if isinstance(outcome, li.LightsailError) and not isinstance(outcome, li.ServiceError):
        assert isinstance(outcome, li.MalformedResponseError)
        assert 200 <= status < 300  # error answers never raise: they are returned
        str(outcome)
        return outcome
    if 200 <= status < 300:
        assert isinstance(outcome, operation.output)
    else:
        assert isinstance(outcome, li.ServiceError)
        assert outcome.code
        assert outcome.http_status_code == status
    str(outcome)
    repr(outcome)
    return outcome


# --- the pure parsers, under hypothesis -----------------------------------------------

statuses = st.one_of(st.sampled_from([200, 204, 400, 403, 429, 500, 503]), st.integers(100, 599))


@pytest.mark.parametrize("operation", OPERATIONS, ids=IDS)
@given(body=st.binary(max_size=2048), status=statuses)
def test_arbitrary_bytes(operation: Operation[object], body: bytes, status: int) -> None:
    outcome_of(operation, status, body)


# Member names from every result model and error body, so generated JSON hits
# the parsers' real paths with the wrong types.
KEYS = st.sampled_from(
    [
        "containerImage",
        "containerImages",
        "image",
        "digest",
        "createdAt",
        "registryLogin",
        "username",
        "password",
        "expiresAt",
        "registry",
        "containerServices",
        "containerServiceName",
        "currentDeployment",
        "nextDeployment",
        "containers",
        "containerService",
        "deployments",
        "publicEndpoint",
        "healthCheck",
        "ports",
        "environment",
        "command",
        "logEvents",
        "nextPageToken",
        "version",
        "state",
        "__type",
        "code",
        "message",
        "Message",
        "tip",
        "docs",
        "ResponseMetadata",
        "",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "2026-01-01T00:00:00Z",
            "9999-12-31T23:59:59-12:00",
            "0001-01-01T00:00:00+01:00",
            "not a date",
            "NotFoundException",
            "a#b:c",
            ":",
            "#",
        ]
    ),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=6),
    max_leaves=40,
)


@pytest.mark.parametrize("operation", OPERATIONS, ids=IDS)
@given(body=st.dictionaries(KEYS, JSON_VALUES, max_size=6), status=statuses)
def test_json_of_the_wrong_shapes_and_types(
    operation: Operation[object], body: dict[str, object], status: int
) -> None:
    outcome_of(operation, status, json.dumps(body).encode())


@pytest.mark.parametrize("operation", OPERATIONS, ids=IDS)
@given(
    body=st.dictionaries(KEYS, JSON_VALUES, max_size=4),
    status=statuses,
    cut=st.integers(min_value=0),
    junk=st.binary(min_size=1, max_size=4).filter(lambda b: not _is_utf8(b)),
)
@example(body={"deployments": ["\x80"]}, status=200, cut=19, junk=b"\x80\xc2")
def test_truncated_and_invalid_utf8_json(
    operation: Operation[object], body: dict[str, object], status: int, cut: int, junk: bytes
) -> None:
    raw = json.dumps(body, ensure_ascii=False).encode()
    position = cut % (len(raw) + 1)
    outcome_of(operation, status, raw[:position])
    data = raw[:position] + junk + raw[position:]
    broken = outcome_of(operation, status, data)
    # Junk cut into a multi-byte character can complete it (b"\xc2" + b"\x80"):
    # only bytes that are not UTF-8 as a whole must be refused.
    if 200 <= status < 300 and not _is_utf8(data):
        assert isinstance(broken, li.MalformedResponseError)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@given(data=st.binary(max_size=4096))
@example(data=b"\x01\x01\x2c\x09" + b"RequestTimeTooSkewed\0Fri, 31 Dec 9999 23:59:59 GMT\0")
@example(data=b"\x01\x01\x2c\x09" + b"RequestTimeTooSkewed\0Mon, 01 Jan 0001 00:00:00 GMT\0")
def test_fuzz_target(data: bytes) -> None:
    # The CI half of tests/fuzz_parsers.py; the two examples are hostile Date
    # headers (see test_clock_offsets_from_any_date_header_keep_signing_possible).
    fuzz_parsers.check_one(data)


@given(
    server=st.datetimes(
        min_value=dt.datetime(1, 1, 2),  # noqa: DTZ001 - the zone is chosen below
        max_value=dt.datetime(9999, 12, 30),  # noqa: DTZ001
        timezones=st.just(dt.timezone.utc),
    ),
    code=st.sampled_from(["RequestTimeTooSkewed", "InvalidSignatureException", "RequestExpired"]),
)
@example(
    server=dt.datetime(9999, 12, 30, 23, 59, 59, tzinfo=dt.timezone.utc),
    code="RequestTimeTooSkewed",
)
def test_clock_offsets_from_any_date_header_keep_signing_possible(
    server: dt.datetime, code: str
) -> None:
    # A server (or anything in between) may send any Date.  An offset adopted
    # from it is added to the local clock on every later signature: it must
    # never make that addition overflow (a raw OverflowError on every call).
    # Guards the fix in _retry.py.
    now = fuzz_parsers.NOW
    header = {"date": email.utils.format_datetime(server, usegmt=True)}
    offset = clock_skew(code, header, now)
    if offset is not None:
        for later in (dt.timedelta(0), dt.timedelta(days=1), dt.timedelta(days=3650)):
            assert (now + later + offset).year >= 1


DEPTHS = [990, 2_000, 100_000]


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("operation", OPERATIONS, ids=IDS)
def test_deeply_nested_json(operation: Operation[object], depth: int) -> None:
    nested = b"[" * depth + b"]" * depth
    deep_object = b'{"a":' * depth + b"1" + b"}" * depth
    bodies = [
        nested,
        deep_object,
        b'{"containerImage": {"image": ' + nested + b', "digest": "d", "createdAt": 1}}',
        b'{"containerImages": ' + nested + b"}",
        b'{"__type": "NotFoundException", "message": ' + deep_object + b"}",
    ]
    for body in bodies:
        for status in (200, 400, 500):
            outcome_of(operation, status, body)


def test_huge_bodies_parse_or_fail_cleanly() -> None:
    images = [
        {"image": f":svc.web.{n}", "digest": DIGEST, "createdAt": 1_700_000_000 + n}
        for n in range(1, 20_001)
    ]
    body = json.dumps({"containerImages": images}).encode()
    result = outcome_of(_operations.GET_CONTAINER_IMAGES, 200, body)
    assert len(result.container_images) == 20_000  # type: ignore[attr-defined]
    long_message = "m" * (8 * MIB)
    error = outcome_of(
        _operations.REGISTER_CONTAINER_IMAGE,
        500,
        json.dumps({"__type": "ServiceException", "message": long_message}).encode(),
    )
    assert isinstance(error, li.ServiceException)
    assert error.message == long_message
    one_bad = [*images[:100], {"image": 1, "digest": DIGEST, "createdAt": 1}]
    malformed = outcome_of(
        _operations.GET_CONTAINER_IMAGES, 200, json.dumps({"containerImages": one_bad}).encode()
    )
    assert isinstance(malformed, li.MalformedResponseError)
    assert len(str(malformed)) < 2000  # names the problem, does not echo the body


# --- headers in any casing, through the transport (responses: no socket) ---------------

URL = "https://lightsail.us-east-1.amazonaws.com/"


def recase(name: str, flips: list[bool]) -> str:
    return "".join(c.upper() if flips[i % len(flips)] else c.lower() for i, c in enumerate(name))


@pytest.fixture(scope="module")
def mocked_client() -> li.Client:
    return li.Client(
        "us-east-1",
        aws_access_key_id="AKIDHOSTILE",
        aws_secret_access_key="hostile-secret",
        config=li.ClientConfig(max_attempts=1),
    )


@given(
    flips=st.lists(st.booleans(), min_size=1, max_size=16),
    code=st.sampled_from(
        ["NotFoundException", "InvalidInputException", "AccessDeniedException", "Weird"]
    ),
)
def test_error_headers_are_read_in_any_casing(
    mocked_client: li.Client, flips: list[bool], code: str
) -> None:
    headers = {
        recase("x-amzn-ErrorType", flips): f"{code}:http://internal.amazon.com/coral/x/",
        recase("x-amzn-RequestId", flips[::-1]): "rid-casing",
        recase("Content-Type", flips): "application/x-amz-json-1.1",
    }
    with responses.RequestsMock() as mock:
        mock.post(URL, status=400, body=b'{"message": "m"}', headers=headers)
        with pytest.raises(li.ServiceError) as info:
            mocked_client.register_container_image(service_name="svc", label="web", digest=DIGEST)
    assert info.value.code == code
    assert info.value.request_id == "rid-casing"
    assert info.value.response["ResponseMetadata"]["RequestId"] == "rid-casing"


# --- hostile bytes over real HTTP ------------------------------------------------------

OK_BODY = json.dumps(
    {"containerImage": {"image": ":svc.web.1", "digest": DIGEST, "createdAt": 1}}
).encode()
JSON_TYPE = "Content-Type: application/x-amz-json-1.1"
GZIP_GARBAGE = b"\x1f\x8b\x08\x00" + b"\xff" * 64

HOSTILE: dict[str, tuple[bytes, type[li.LightsailError] | None, int]] = {
    # name: (bytes sent, expected error (None: success), attempts)
    "odd-casing-headers": (
        http_response(
            400,
            b'{"message": "no such service"}',
            "X-AMZN-ERRORTYPE: NotFoundException:http://internal.amazon.com/coral/x/",
            "x-AmZn-ReQuEsTiD: rid-odd",
        ),
        li.NotFoundException,
        1,
    ),
    "duplicate-error-type-headers": (
        http_response(
            400,
            b"{}",
            "x-amzn-ErrorType: InvalidInputException",
            "X-Amzn-ErrorType: NotFoundException",
        ),
        li.ServiceError,  # joined into one unmodelled code: still a ServiceError
        1,
    ),
    "101-headers": (
        http_response(200, OK_BODY, *(f"X-Junk-{n}: {n}" for n in range(101))),
        li.TransportError,
        3,
    ),
    "70-KiB-header-line": (
        http_response(200, OK_BODY, "X-Huge: " + "h" * (70 * 1024)),
        li.TransportError,
        3,
    ),
    "not-http-at-all": (b"SSH-2.0-OpenSSH_9.6\r\n", li.TransportError, 3),
    "status-999": (http_response(999, b"{}", reason="Weird"), li.ServiceError, 1),
    "redirect-not-followed": (
        http_response(301, b"", "Location: http://127.0.0.1:1/"),
        li.ServiceError,
        1,
    ),
    "100-continue-then-200": (
        b"HTTP/1.1 100 Continue\r\n\r\n" + http_response(200, OK_BODY, JSON_TYPE),
        None,
        1,
    ),
    "http-1.0-close-delimited": (
        b"HTTP/1.0 200 OK\r\n" + JSON_TYPE.encode() + b"\r\n\r\n" + OK_BODY,
        None,
        1,
    ),
    "bad-chunk-size": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        li.TransportError,
        3,
    ),
    "gzip-garbage-despite-identity": (
        http_response(200, GZIP_GARBAGE, "Content-Encoding: gzip"),
        li.TransportError,
        3,
    ),
    "invalid-utf8-success": (
        http_response(200, b'{"containerImage": "\xff\xfe"}', JSON_TYPE),
        li.MalformedResponseError,
        1,
    ),
    "invalid-utf8-error": (
        http_response(500, b'{"__type": "\xff\xfe"}', JSON_TYPE),
        li.ServiceError,
        3,
    ),
    "100k-deep-success": (http_response(200, b"[" * 100_000), li.MalformedResponseError, 1),
    "100k-deep-error": (http_response(503, b"[" * 100_000), li.ServiceError, 3),
    "nul-bytes": (http_response(200, b"\0" * 4096), li.MalformedResponseError, 1),
    "204-for-register": (http_response(204, b""), li.MalformedResponseError, 1),
}


@pytest.mark.parametrize(("sent", "expected", "attempts"), HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_responses_over_http(
    sent: bytes, expected: type[li.LightsailError] | None, attempts: int
) -> None:
    # Without a length, the body ends where the connection does.
    close_delimited = b"Content-Length" not in sent and b"chunked" not in sent

    def handler(conn: socket.socket, _: int) -> None:
        while read_request(conn):  # the same answer to every request on the connection
            conn.sendall(sent)
            if close_delimited:
                conn.shutdown(socket.SHUT_WR)
                read_request(conn)
                return

    with (
        RawServer(handler) as server,
        li.Client(
            "us-east-1",
            endpoint_url=server.url,
            aws_access_key_id="AKIDHOSTILE",
            aws_secret_access_key="hostile-secret",
            config=li.ClientConfig(read_timeout=5, connect_timeout=2),
        ) as client,
    ):
        try:
            outcome: object = client.register_container_image(
                service_name="svc", label="web", digest=DIGEST
            )
        except li.LightsailError as exc:
            outcome = exc
    assert not server.errors
    if expected is None:
        assert isinstance(outcome, li.RegisterContainerImageResult)
        assert outcome.response_metadata.attempts == attempts
    else:
        assert type(outcome) is expected, outcome
        assert outcome.attempts == attempts  # type: ignore[attr-defined]
    # (A connection whose body was read whole may be reused by the next attempt.)
    assert 1 <= server.connections <= attempts
    if isinstance(outcome, li.ServiceError) and outcome.code == "NotFoundException":
        assert outcome.request_id == "rid-odd"


def test_a_hostile_date_header_cannot_break_later_signatures() -> None:
    # A RequestTimeTooSkewed whose Date is at the end of the calendar: adopting
    # it made every later call raise a raw OverflowError once the local clock
    # moved on a second.  Guards the fix in _retry.py.
    def handler(conn: socket.socket, _: int) -> None:
        while read_request(conn):
            conn.sendall(
                http_response(
                    400,
                    b'{"__type": "RequestTimeTooSkewed", "message": "skewed"}',
                    "x-amzn-ErrorType: RequestTimeTooSkewed",
                    "Date: Fri, 31 Dec 9999 23:59:59 GMT",
                )
            )

    with (
        RawServer(handler) as server,
        li.Client(
            "us-east-1",
            endpoint_url=server.url,
            aws_access_key_id="AKIDHOSTILE",
            aws_secret_access_key="hostile-secret",
        ) as client,
    ):
        real_clock = client._signer._clock
        outcomes = []
        for later in (0, 5, 3600):
            client._signer._clock = lambda later=later: real_clock() + dt.timedelta(seconds=later)
            try:
                client.register_container_image(service_name="svc", label="web", digest=DIGEST)
            except Exception as exc:
                outcomes.append(exc)
    assert all(isinstance(o, li.ServiceError) for o in outcomes), outcomes
    assert all(o.code == "RequestTimeTooSkewed" for o in outcomes)  # type: ignore[attr-defined]


# --- peak memory of a client reading huge bodies (subprocess) ------------------------------

CHILD = textwrap.dedent(
    """
    import json, resource, sys
    import lightsail_images as li

    client = li.Client(
        "us-east-1",
        endpoint_url=sys.argv[1],
        aws_access_key_id="AKIDMEMORY",
        aws_secret_access_key="memory-secret",
        config=li.ClientConfig(max_attempts=1, read_timeout=30),
    )
    # Warm up: every import, the connection pool, one small answer.
    client.get_container_images(service_name="svc")
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    digest = "sha256:" + "ab" * 32
    try:
        client.register_container_image(service_name="svc", label="web", digest=digest)
        outcome, detail = "result", 0
    except li.LightsailError as exc:
        outcome, detail = type(exc).__name__, len(str(exc))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    figures = {"baseline_kib": baseline, "peak_kib": peak, "outcome": outcome, "detail": detail}
    print(json.dumps(figures))
    """
)


def streaming_server(status: int, headers: list[str], total: int, chunk: bytes) -> RawServer:
    """Answer GetContainerImages small; answer anything else with ``total`` bytes of ``chunk``."""

    def handler(conn: socket.socket, _: int) -> None:
        while True:
            request = read_request(conn)
            if not request:
                return
            if b"GetContainerImages" in request:
                conn.sendall(http_response(200, b'{"containerImages": []}', JSON_TYPE))
                continue
            head = f"HTTP/1.1 {status} X\r\n" + "".join(f"{h}\r\n" for h in headers) + "\r\n"
            conn.sendall(head.encode())
            sent = 0
            while sent < total:  # until the client hangs up (OSError ends the handler)
                piece = chunk[: total - sent]
                conn.sendall(piece)
                sent += len(piece)
            return

    return RawServer(handler)


def child_peak(url: str, tmp_path: Path) -> dict[str, object]:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(script), url],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["growth_mib"] = (figures["peak_kib"] - figures["baseline_kib"]) / 1024
    print(figures)
    return figures


def error_body_chunk() -> bytes:
    return (b'{"__type": "ServiceException", "message": "' + b"x" * MIB)[:MIB]


def test_a_200_mb_error_body_is_read_only_up_to_its_cap(tmp_path: Path) -> None:
    total = 200 * 1000 * 1000
    headers = ["x-amzn-ErrorType: ServiceException", f"Content-Length: {total}", JSON_TYPE]
    with streaming_server(500, headers, total, error_body_chunk()) as server:
        figures = child_peak(server.url, tmp_path)
    assert figures["outcome"] == "ServiceException"
    assert figures["growth_mib"] < 32  # vs. a 200 MB body (cap: 64 KiB)
    assert figures["detail"] < 2 * MAX_ERROR_BODY_BYTES


def test_an_endless_chunked_error_body_is_read_only_up_to_its_cap(tmp_path: Path) -> None:
    piece = error_body_chunk()
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    headers = ["x-amzn-ErrorType: ServiceException", "Transfer-Encoding: chunked"]
    with streaming_server(503, headers, 200 * len(chunk), chunk) as server:
        figures = child_peak(server.url, tmp_path)
    assert figures["outcome"] == "ServiceException"
    assert figures["growth_mib"] < 32


def test_a_gzip_bomb_error_body_is_capped_after_decompression(tmp_path: Path) -> None:
    # 1 GiB of zeros in 1,024 gzip members of 1 MiB each (about 1 MiB on the
    # wire); sent although the client asks for identity.
    member = gzip.compress(bytes(MIB), compresslevel=9)
    bomb = member * 1024
    headers = [
        "x-amzn-ErrorType: ServiceException",
        "Content-Encoding: gzip",
        f"Content-Length: {len(bomb)}",
    ]
    with streaming_server(500, headers, len(bomb), bomb) as server:
        figures = child_peak(server.url, tmp_path)
    assert figures["outcome"] == "ServiceException"
    assert figures["growth_mib"] < 128  # vs. 1 GiB decompressed


def test_a_1_gib_success_body_is_read_only_up_to_its_cap(tmp_path: Path) -> None:
    total = 1024 * MIB
    chunk = (b'{"containerImage": {"pad": "' + b"p" * MIB)[:MIB]
    with streaming_server(200, [f"Content-Length: {total}", JSON_TYPE], total, chunk) as server:
        figures = child_peak(server.url, tmp_path)
    assert figures["outcome"] == "MalformedResponseError"  # the cut body is not JSON
    assert figures["growth_mib"] < 3 * MAX_BODY_BYTES / MIB + 32
    assert figures["growth_mib"] < total / MIB / 4


def test_decoding_a_capped_success_body_does_not_multiply_it(tmp_path: Path) -> None:
    # Within the cap, JSON can still cost ~25x its size as Python objects: a
    # body of empty objects, '{},{},...', is 3 bytes per dict.  With a 64 MiB
    # cap that is about 1.6 GB for one response.  Guards the fix
    # (_transport.py: MAX_BODY_BYTES 8 MiB, ample for these operations).
    total = 1024 * MIB
    chunk = b'{"containerImages": [' + b"{}," * (MIB // 3)
    with streaming_server(200, [f"Content-Length: {total}", JSON_TYPE], total, chunk) as server:
        figures = child_peak(server.url, tmp_path)
    assert figures["outcome"] == "MalformedResponseError"
    assert figures["growth_mib"] < 512
