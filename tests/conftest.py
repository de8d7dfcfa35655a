"""Shared fixtures: every test runs with a clean, offline AWS environment."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from lightsail_images.testing import set_testing

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
