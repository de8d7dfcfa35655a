"""Secrets never show: not in repr, str, logs (any logger, DEBUG) or errors."""

from __future__ import annotations

import logging

import pytest
import requests
import responses

import lightsail_images as li
from lightsail_images._signing import FrozenCredentials

URL = "https://lightsail.us-east-1.amazonaws.com/"
DIGEST = "sha256:" + "e7" * 32
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEYsecret"
TOKEN = "FwoGZXIvYXdzEXAMPLEsessionTOKEN+token/value=="
OK = {"containerImage": {"image": ":svc.web.1", "digest": DIGEST, "createdAt": 1}}


@pytest.fixture
def everything_logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # the root logger: botocore, urllib3, ours
    for name in (
        "botocore",
        "urllib3",
        "lightsail_images",
        "botocore.auth",
        "botocore.credentials",
    ):
        logging.getLogger(name).setLevel(logging.DEBUG)
    return caplog


def assert_clean(text: str) -> None:
    assert SECRET not in text
    assert TOKEN not in text
    assert "Signature=" not in text


@responses.activate
def test_no_secret_anywhere_across_success_error_and_retry_paths(
    everything_logged: pytest.LogCaptureFixture,
) -> None:
    responses.post(URL, status=503, json={"__type": "ServiceUnavailable"})
    responses.post(URL, json=OK)
    responses.post(
        URL, status=400, json={"__type": "NotFoundException", "message": "no", "tip": "t"}
    )
    responses.post(URL, body=requests.exceptions.ConnectionError("reset"))
    client = li.Client(
        "us-east-1",
        aws_access_key_id="AKIDSECRETS",
        aws_secret_access_key=SECRET,
        aws_session_token=TOKEN,
        config=li.ClientConfig(max_attempts=1),
    )
    seen: list[str] = [
        repr(client),
        str(client),
        repr(client.config),
        repr(client._signer._credentials),
    ]
    with pytest.raises(li.ServiceError) as first:
        client.register_container_image(service_name="svc", label="web", digest=DIGEST)
    seen += [str(first.value), repr(first.value), repr(first.value.response)]
    result = client.register_container_image(service_name="svc", label="web", digest=DIGEST)
    seen += [repr(result), str(result)]
    with pytest.raises(li.NotFoundException) as second:
        client.register_container_image(service_name="svc", label="web", digest=DIGEST)
    seen += [str(second.value), repr(second.value), repr(second.value.response)]
    with pytest.raises(li.TransportError) as third:
        client.register_container_image(service_name="svc", label="web", digest=DIGEST)
    seen += [str(third.value), repr(third.value), repr(third.value.__cause__)]
    seen += [record.getMessage() for record in everything_logged.records]
    assert any(record.name == "lightsail_images" for record in everything_logged.records)
    for text in seen:
        assert_clean(text)
    # ...yet the token really was sent.
    assert responses.calls[0].request.headers["X-Amz-Security-Token"] == TOKEN


def test_botocore_debug_logging_stays_on_for_the_user(
    everything_logged: pytest.LogCaptureFixture,
) -> None:
    # We do not silence botocore: a user's own botocore logging still works.
    logging.getLogger("botocore.auth").debug("user message")
    assert any(r.getMessage() == "user message" for r in everything_logged.records)
    assert logging.getLogger("botocore.auth").isEnabledFor(logging.DEBUG)


def test_frozen_credentials_repr_hides_the_secret() -> None:
    creds = FrozenCredentials("AKIDREPRTEST", SECRET, TOKEN)
    assert_clean(repr(creds))
    assert "AKID" in repr(creds)


@responses.activate
def test_credential_errors_do_not_echo_key_material(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDONLY")  # no secret: botocore finds nothing usable
    client = li.Client("us-east-1")
    with pytest.raises(li.NoCredentialsError) as info:
        client.register_container_image(service_name="svc", label="web", digest=DIGEST)
    assert_clean(str(info.value))
