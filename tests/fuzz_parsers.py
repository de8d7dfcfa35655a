"""Fuzz target for the pure response parsers: any bytes in, a result or a LightsailError out.

``check_one(data)`` turns arbitrary bytes into one HTTP response (operation,
status, headers, body) and runs it through ``parse_response`` and, for
errors, ``clock_skew``.  The properties, for every input:

* only ``LightsailError`` subclasses escape (here: ``MalformedResponseError``,
  and only for 2xx answers); error answers never raise, they return a
  ``ServiceError`` with a non-empty code and the response's status;
* a 2xx answer that parses is the operation's result model, with the status;
* whatever is returned can be printed (``str``, ``repr``, ``response``);
* a clock offset taken from the ``Date`` header keeps signing possible (no
  datetime overflow a day later).

CI runs ``check_one`` under hypothesis (``tests/test_reliability_hostile.py``).
To fuzz for longer with coverage guidance, by hand::

    python -m pip install atheris                  # Linux wheels (3.0.0 tested on CPython 3.11)
    python tests/fuzz_parsers.py -runs=500000      # libFuzzer options; Ctrl-C to stop
    python tests/fuzz_parsers.py -max_total_time=300 corpus/

Without atheris (or with ``--examples N``), ``python tests/fuzz_parsers.py``
runs the same target under hypothesis for N inputs (default 20,000).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from pathlib import Path

# Runnable as a script from anywhere in the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

try:
    import atheris
except ImportError:
    atheris = None

# Coverage guidance for atheris: instrument the parsers and cattrs as they are
# imported (only when run as a fuzzer; under pytest this is a plain import).
_instrumented = (
    atheris.instrument_imports(include=["lightsail_images", "cattrs"])
    if atheris is not None and __name__ == "__main__"
    else contextlib.nullcontext()
)
with _instrumented:
    from lightsail_images._errors import LightsailError, MalformedResponseError, ServiceError
    from lightsail_images._operations import (
        CREATE_CONTAINER_SERVICE_REGISTRY_LOGIN,
        DELETE_CONTAINER_IMAGE,
        GET_CONTAINER_IMAGES,
        GET_CONTAINER_SERVICES,
        REGISTER_CONTAINER_IMAGE,
    )
    from lightsail_images._protocol import HttpResponse, parse_response
    from lightsail_images._retry import clock_skew

OPERATIONS = (
    REGISTER_CONTAINER_IMAGE,
    GET_CONTAINER_IMAGES,
    DELETE_CONTAINER_IMAGE,
    CREATE_CONTAINER_SERVICE_REGISTRY_LOGIN,
    GET_CONTAINER_SERVICES,
)
# Header names the parsers read (lowercased, as the transport hands them over).
HEADERS = ("x-amzn-errortype", "x-amzn-requestid", "content-type", "date")
NOW = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
DAY = dt.timedelta(days=1)


def split(data: bytes) -> tuple[int, int, dict[str, str], bytes]:
    """Decode fuzzer bytes: operation index, status, headers, body.

    Byte 0 picks the operation, bytes 1-2 the status (100-599), byte 3 which
    headers are present; each present header takes its value from the front
    of the rest, up to a NUL byte (decoded as latin-1, as http.client does).
    """
    head, rest = data[:4].ljust(4, b"\0"), data[4:]
    operation = head[0] % len(OPERATIONS)
    status = 100 + int.from_bytes(head[1:3], "big") % 500
    headers: dict[str, str] = {}
    for bit, name in enumerate(HEADERS):
        if head[3] & (1 << bit):
            value, _, rest = rest.partition(b"\0")
            headers[name] = value.decode("latin-1")
    return operation, status, headers, rest


def check_one(data: bytes) -> None:
    """Run one fuzz input through the parsers and check the properties above."""
    index, status, headers, body = split(data)
    operation = OPERATIONS[index]
    ok = 200 <= status < 300
    try:
        outcome = parse_response(operation, HttpResponse(status, headers, body), attempts=1)
    except LightsailError as exc:
        raised: LightsailError | None = exc
    else:
        raised = None
    if raised is not None:
        assert isinstance(raised, MalformedResponseError), raised
        assert ok, f"a {status} error answer raised instead of returning: {raised!r}"
        assert raised.http_status_code == status
        assert str(raised)
        repr(raised)
        return
    if ok:
        assert isinstance(outcome, operation.output), outcome
        assert outcome.response_metadata.http_status_code == status  # type: ignore[attr-defined]
        repr(outcome)
        return
    assert isinstance(outcome, ServiceError), outcome
    assert outcome.code
    assert outcome.http_status_code == status
    assert outcome.response["Error"]["Code"] == outcome.code
    str(outcome)
    repr(outcome)
    offset = clock_skew(outcome.code, headers, NOW)
    if offset is not None:
        # The signer will sign at NOW + offset from now on: that must stay a
        # representable time (clocks move on, by a day or so).
        assert (NOW + offset + DAY).year > (NOW + offset - DAY).year - 2


def _atheris_main() -> None:  # pragma: no cover - run by hand
    atheris.Setup(sys.argv, check_one)
    atheris.Fuzz()


def _hypothesis_main(examples: int) -> None:  # pragma: no cover - run by hand
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(st.binary(max_size=4096))
    def run(data: bytes) -> None:
        check_one(data)

    run()
    print(f"{examples} examples: no property violated")


if __name__ == "__main__":  # pragma: no cover - run by hand
    if atheris is not None and "--examples" not in sys.argv:
        _atheris_main()
    else:
        count = 20_000
        if "--examples" in sys.argv:
            count = int(sys.argv[sys.argv.index("--examples") + 1])
        _hypothesis_main(count)
