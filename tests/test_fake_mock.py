"""fake.mock(): the same fake behind the responses library, with no socket at all."""

from __future__ import annotations

import json

import pytest
import requests
import responses

import lightsail_images as li

DIGEST = "sha256:" + "34" * 32


def make_client(fake, **kwargs):
    return li.Client(
        fake.region_name,
        aws_access_key_id=fake.access_key_id,
        aws_secret_access_key=fake.secret_access_key,
        **kwargs,
    )


def test_the_library_client_works_on_the_default_endpoint(fake):
    fake.add_container_service("svc")
    with fake.mock() as url, make_client(fake) as client:
        assert url == "https://lightsail.us-east-1.amazonaws.com"
        result = client.register_container_image(service_name="svc", label="web", digest=DIGEST)
    assert result.container_image.image == ":svc.web.1"
    (request,) = fake.requests
    assert request.signature_valid is True
    assert request.headers["host"] == "lightsail.us-east-1.amazonaws.com"
    assert request.peer is None


def test_plain_requests_get_the_fakes_answers(fake):
    with fake.mock() as url:
        response = requests.post(
            url + "/",
            data=b"{}",
            headers={"X-Amz-Target": "Lightsail_20161128.GetContainerServices"},
            timeout=5,
        )
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert response.headers["x-amzn-RequestId"]
    assert json.loads(response.content)["__type"].endswith("#MissingAuthenticationTokenException")


def test_an_explicit_host_header_is_kept(fake):
    with fake.mock() as url:
        requests.post(url + "/", data="{}", headers={"Host": "elsewhere.test"}, timeout=5)
    assert fake.requests[0].headers["host"] == "elsewhere.test"


def test_a_drop_is_a_connection_error(fake):
    fake.faults.drop()
    with fake.mock() as url, pytest.raises(requests.exceptions.ConnectionError, match="dropped"):
        requests.post(url + "/", data="{}", timeout=5)


def test_the_library_client_retries_a_drop_and_a_503(fake):
    fake.add_container_service("svc")
    fake.faults.drop()
    fake.faults.fail(status=503, error_type="ServiceUnavailable")
    fake.faults.delay(0.01)
    with fake.mock(), make_client(fake) as client:
        result = client.register_container_image(service_name="svc", label="web", digest=DIGEST)
    assert result.response_metadata.attempts == 3
    assert [r.status_code for r in fake.requests] == [0, 503, 200]


def test_a_custom_url_and_an_existing_requests_mock(fake):
    fake.add_container_service("svc")
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, "https://example.com/other", body="other")
        with (
            fake.mock(url="https://lightsail.example.test/", requests_mock=rsps) as url,
            make_client(fake, endpoint_url=url) as client,
        ):
            client.register_container_image(service_name="svc", label="web", digest=DIGEST)
        assert requests.get("https://example.com/other", timeout=5).text == "other"
        # The fake's routes are gone once its block ends.
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.post(url + "/", data="{}", timeout=5)
    assert fake.requests[0].headers["host"] == "lightsail.example.test"


def test_mock_and_serve_share_state(fake, boto_lightsail):
    fake.add_container_service("svc")
    with fake.mock(), make_client(fake) as client:
        client.register_container_image(service_name="svc", label="web", digest=DIGEST)
    images = boto_lightsail.get_container_images(serviceName="svc")["containerImages"]
    assert [image["image"] for image in images] == [":svc.web.1"]


def test_mock_without_responses_names_the_fix() -> None:
    # A user who installed only the package: responses cannot be imported.
    import subprocess
    import sys

    code = """
import sys
sys.modules["responses"] = None  # as if it were not installed
from lightsail_images.testing import FakeLightsail
try:
    FakeLightsail().mock()
except ModuleNotFoundError as err:
    assert err.name == "responses", err.name
    print(err)
else:
    raise SystemExit("no error")
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert 'pip install "lightsail-images[testing]"' in result.stdout
    assert "fake.serve() needs nothing extra" in result.stdout


def test_the_testing_extra_provides_what_mock_needs() -> None:
    import importlib.metadata

    requirements = importlib.metadata.requires("lightsail-images") or []
    testing = [r for r in requirements if r.replace('"', "'").endswith("extra == 'testing'")]
    assert any(r.startswith("responses") for r in testing), requirements
