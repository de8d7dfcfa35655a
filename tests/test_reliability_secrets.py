"""Secrets under DEBUG logging, over real HTTP, on every path a call can take.

Every logger (root, botocore, urllib3, lightsail_images) is set to DEBUG and
every record is formatted, tracebacks included.  Across success, error, retry,
transport failure, timeout, clock-skew correction, ``ensure_container_image``,
registry login and credentials from the botocore chain, nothing logged,
raised, repr'd, str'd or pickled may contain the secret key, the session
token, the registry password or a ``Signature=``.

The contrast test shows why the quiet signer exists: botocore's own client,
at the same log level, writes the session token (``botocore.auth``), the
signature (``botocore.endpoint``) and the registry password
(``botocore.parsers``); and our client leaves that logging of the user's alone.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import pathlib
import pickle
import traceback
from collections.abc import Iterator

import boto3
import botocore.config
import pytest

import lightsail_images as li
from lightsail_images.testing import FakeLightsail

pytestmark = pytest.mark.reliability

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzRELIABILITYsecretKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE/reliability+session=token//value"
PASSWORD = "registry-password-RELIABILITY-0123456789abcdef"
ACCESS_KEY = "AKIARELIABILITYKEY01"
NEEDLES = (SECRET, TOKEN, PASSWORD, "Signature=")
DIGEST = "sha256:" + "5e" * 32

LOGGERS = (
    "",
    "botocore",
    "botocore.auth",
    "botocore.credentials",
    "botocore.endpoint",
    "botocore.parsers",
    "botocore.hooks",
    "urllib3",
    "urllib3.connectionpool",
    "requests",
    "lightsail_images",
    "lightsail_images.testing",
)


class Collect(logging.Handler):
    """Keeps every record, formatted with its traceback, and its logger name."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.name, self.format(record)))


@pytest.fixture
def debug_everything() -> Iterator[Collect]:
    handler = Collect()
    saved = {name: logging.getLogger(name).level for name in LOGGERS}
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


@pytest.fixture
def served() -> Iterator[tuple[FakeLightsail, str]]:
    fake = FakeLightsail(access_key_id=ACCESS_KEY, secret_access_key=SECRET, session_token=TOKEN)
    fake.add_container_service("svc")
    fake.set_registry("registry.reliability.invalid", username="AWS", password=PASSWORD)
    with fake.serve() as url:
        yield fake, url


def texts_of(thing: object) -> list[str]:
    """Everything a user could print of ``thing``: str, repr, traceback, pickle, vars."""
    out = [str(thing), repr(thing)]
    if isinstance(thing, BaseException):
        out.append("".join(traceback.format_exception(thing)))
        cause = thing.__cause__ or thing.__context__
        while cause is not None:
            out += [str(cause), repr(cause)]
            cause = cause.__cause__ or cause.__context__
        out.append(repr(vars(thing)))
        out.append(pickle.dumps(thing).decode("latin-1"))
    if isinstance(thing, li.ServiceError):
        out.append(repr(thing.response))
    return out


def assert_clean(texts: list[str]) -> None:
    for text in texts:
        for needle in NEEDLES:
            assert needle not in text, f"{needle[:12]}... leaked in: {text[:300]}"


def client_for(url: str, **config: object) -> li.Client:
    return li.Client(
        "us-east-1",
        endpoint_url=url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET,
        aws_session_token=TOKEN,
        config=li.ClientConfig(**config),  # type: ignore[arg-type]
    )


def test_nothing_logged_raised_or_repred_holds_a_secret(
    served: tuple[FakeLightsail, str],
    debug_everything: Collect,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: pathlib.Path,
) -> None:
    fake, url = served
    seen: list[object] = []

    def attempt(call: object) -> object:
        try:
            outcome = call()  # type: ignore[operator]
        except li.LightsailError as exc:
            outcome = exc
        seen.append(outcome)
        return outcome

    def register(client: li.Client, service: str = "svc") -> object:
        return attempt(
            lambda: client.register_container_image(
                service_name=service, label="web", digest=DIGEST
            )
        )

    with client_for(url) as client:
        assert isinstance(register(client), li.RegisterContainerImageResult)  # success
        assert isinstance(register(client, "missing"), li.NotFoundException)  # error
        fake.faults.fail(times=2, status=503, error_type="ServiceUnavailable")
        assert register(client).response_metadata.attempts == 3  # type: ignore[attr-defined]
        fake.faults.throttle(times=3)
        assert isinstance(register(client), li.ServiceError)  # retries exhausted
        fake.faults.drop(times=3)
        assert isinstance(register(client), li.TransportError)  # no response
        fake.clock_skew = dt.timedelta(hours=2)
        assert register(client).response_metadata.attempts == 2  # type: ignore[attr-defined]
        fake.faults.fail_after_processing(times=1, operation="RegisterContainerImage")
        image = attempt(
            lambda: client.ensure_container_image(
                service_name="svc", label="ensured", digest=DIGEST
            )
        )
        assert isinstance(image, li.ContainerImage)
        login = attempt(client.create_container_service_registry_login)
        assert login.registry_login.password == PASSWORD  # type: ignore[attr-defined]
        seen += [login.registry_login, client, client.config]  # type: ignore[attr-defined]
        internals = [
            repr(vars(client)),
            repr(vars(client._signer)),
            repr(vars(client._signer._credentials)),
        ]
    with client_for(url, read_timeout=0.2) as slow:
        fake.faults.delay(1.0, times=3)
        assert isinstance(register(slow), li.TransportError)  # read timeouts
    # Credentials from the environment rather than arguments (found without
    # botocore's chain), then from botocore's chain (a credential_process).
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    with li.Client("us-east-1", endpoint_url=url) as from_environment:
        assert isinstance(register(from_environment), li.RegisterContainerImageResult)
        internals.append(repr(vars(from_environment._signer._credentials)))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    process = json.dumps(
        {"Version": 1, "AccessKeyId": ACCESS_KEY, "SecretAccessKey": SECRET, "SessionToken": TOKEN}
    )
    config = tmp_path / "config"
    config.write_text(f"[default]\ncredential_process = echo '{process}'\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    with li.Client("us-east-1", endpoint_url=url) as chained:
        assert isinstance(register(chained), li.RegisterContainerImageResult)
        internals.append(repr(vars(chained._signer._credentials)))

    texts = [line for _, line in debug_everything.lines] + internals
    for thing in seen:
        texts += texts_of(thing)
    assert_clean(texts)

    # The scan saw real traffic: the token was sent on every request, and all
    # the loggers that could leak were really writing at DEBUG.
    assert fake.requests
    assert all(r.headers.get("x-amz-security-token") == TOKEN for r in fake.requests)
    assert all("Signature=" in r.headers["authorization"] for r in fake.requests)
    names = {name for name, _ in debug_everything.lines}
    assert {"lightsail_images", "urllib3.connectionpool", "botocore.credentials"} <= names
    logged = "\n".join(line for _, line in debug_everything.lines)
    assert "clock skew" in logged
    assert "ensure:" in logged


def logger_state() -> dict[str, tuple[object, ...]]:
    state: dict[str, tuple[object, ...]] = {}
    for name in LOGGERS:
        logger = logging.getLogger(name)
        state[name] = (
            logger.level,
            logger.disabled,
            logger.propagate,
            tuple(logger.handlers),
            tuple(logger.filters),
        )
    return state


def test_botocore_logs_secrets_at_debug_and_our_client_leaves_its_logging_alone(
    served: tuple[FakeLightsail, str], debug_everything: Collect
) -> None:
    _, url = served
    before = logger_state()
    with client_for(url) as client:
        client.register_container_image(service_name="svc", label="web", digest=DIGEST)
        client.create_container_service_registry_login()
    ours = list(debug_everything.lines)
    # Our client changed no logger: levels, handlers, filters, propagation.
    assert logger_state() == before
    assert_clean([line for _, line in ours])

    boto = boto3.client(
        "lightsail",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET,
        aws_session_token=TOKEN,
        config=botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    try:
        boto.register_container_image(serviceName="svc", label="web", digest=DIGEST)
        boto.create_container_service_registry_login()
    finally:
        boto.close()
    theirs = debug_everything.lines[len(ours) :]

    def leaked(needle: str) -> set[str]:
        return {name for name, line in theirs if needle in line}

    # botocore.auth logs the canonical request, which carries the token;
    # botocore.endpoint logs the prepared request with its Authorization header;
    # botocore.parsers logs the response body with the registry password.
    assert "botocore.auth" in leaked(TOKEN)
    assert "botocore.endpoint" in leaked("Signature=")
    assert "botocore.parsers" in leaked(PASSWORD)
    # The user's botocore logging still works after our client ran.
    assert any(name == "botocore.auth" for name, _ in theirs)
