"""The CLI's bad endpoint URLs: exit 5 with a message naming where the URL came from.

Through a real subprocess (``python -m lightsail_images``), as a user meets
them: a flag, or one of the environment variables botocore reads.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CLI = [sys.executable, "-m", "lightsail_images"]
BASE_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "AKIAENDPOINTTEST0001",
    "AWS_SECRET_ACCESS_KEY": "endpoint/test/secret/key/not+real",
    "AWS_MAX_ATTEMPTS": "1",
}
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX shells")


def run_cli(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [*CLI, *argv],
        env={**clean, **BASE_ENV, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://[::1", "invalid ipv6 url"),
        ("http://127.0.0.1:99999", "port out of range"),
        ("http://localhost:port", "port could not be cast"),
    ],
)
@pytest.mark.parametrize(
    ("where", "named"),
    [
        ("flag", "--endpoint-url"),
        ("AWS_ENDPOINT_URL_LIGHTSAIL", "AWS_ENDPOINT_URL_LIGHTSAIL"),
        ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL"),
    ],
)
def test_a_bad_endpoint_url_is_a_configuration_error(
    url: str, reason: str, where: str, named: str
) -> None:
    if where == "flag":
        result = run_cli("list", "--service-name", "svc", "--endpoint-url", url)
    else:
        result = run_cli("list", "--service-name", "svc", **{where: url})
    assert (result.returncode, result.stdout) == (5, "")
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith(
        f"lightsail-images: error: ConfigurationError: {named} {url!r} is not a valid endpoint URL"
    ), first
    assert reason in first.lower()
