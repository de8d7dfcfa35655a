"""Shared fixtures: every test runs with a clean, offline AWS environment."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from hypothesis import HealthCheck, settings

from lightsail_images.testing import FakeLightsail, set_testing

# These machines are shared and noisy: no per-example deadline, no "too slow"
# health check.  Properties are still checked on every example.
settings.register_profile(
    "lightsail", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=100
)
settings.load_profile("lightsail")


@pytest.fixture(autouse=True)
def _isolated_aws_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No test sees the developer's AWS settings, and none can reach AWS."""
    import os

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    empty = tmp_path_factory.mktemp("aws")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty / "credentials"))
    # Pushes keep compressed layer digests in the user cache dir: never the real one.
    monkeypatch.setenv("XDG_CACHE_HOME", str(empty / "cache"))
    # Never wait on the instance metadata service in the credential chain.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _no_retry_sleeps() -> object:
    """Retries happen, but their backoff sleeps do not."""
    with set_testing(True):
        yield


# --- FakeLightsail: the fake service, served on loopback, and botocore's client for it ---


@pytest.fixture
def fake():
    """A fresh fake with no container services."""
    return FakeLightsail()


@pytest.fixture
def fake_url(fake):
    """The fake served over HTTP on 127.0.0.1; stopped after the test."""
    with fake.serve() as url:
        yield url


@pytest.fixture
def boto_lightsail(fake, fake_url):
    """botocore's own lightsail client for the served fake, without retries."""
    client = boto3.client(
        "lightsail",
        endpoint_url=fake_url,
        region_name=fake.region_name,
        aws_access_key_id=fake.access_key_id,
        aws_secret_access_key=fake.secret_access_key,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    yield client
    client.close()


def _sign_request(
    fake,
    operation="GetContainerServices",
    params=None,
    *,
    body=None,
    target=None,
    method="POST",
    path="/",
    access_key=None,
    secret=None,
    token=None,
    region=None,
    service="lightsail",
    host="lightsail.us-east-1.amazonaws.com",
):
    """Sign an awsJson request with botocore; return (headers, body) as a client sends them.

    ``body`` (raw bytes) replaces the JSON of ``params``; ``target`` replaces the
    whole ``X-Amz-Target`` value.
    """
    if body is None:
        body = json.dumps(params or {}).encode()
    request = AWSRequest(
        method=method,
        url=f"https://{host}{path}",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": target or f"Lightsail_20161128.{operation}",
        },
    )
    credentials = Credentials(
        access_key or fake.access_key_id, secret or fake.secret_access_key, token
    )
    SigV4Auth(credentials, service, region or fake.region_name).add_auth(request)
    return {**dict(request.headers.items()), "Host": host}, body


@pytest.fixture(scope="session")
def sign_request():
    """sign_request(fake, operation, params, **overrides) -> (headers, body), via botocore."""
    return _sign_request
