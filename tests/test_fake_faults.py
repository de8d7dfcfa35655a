"""Fault injection: each kind of misbehaviour, in the core and through real HTTP."""

from __future__ import annotations

import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

from lightsail_images.testing import Fault, FaultKind, Faults

DIGEST = "sha256:" + "ef" * 32


@pytest.fixture
def register(fake, sign_request):
    fake.add_container_service("svc")

    def register(operation="RegisterContainerImage"):
        params = {"serviceName": "svc", "label": "web", "digest": DIGEST}
        return fake.handle("POST", "/", *sign_request(fake, operation, params))

    return register


# --- the queue ---------------------------------------------------------------------------


def test_rules_apply_in_order_and_expire():
    faults = Faults()
    faults.fail(times=2, status=503, error_type="ServiceUnavailable")
    faults.throttle()
    assert faults.pending == 3
    assert [faults.take("X").error_type for _ in range(3)] == [
        "ServiceUnavailable",
        "ServiceUnavailable",
        "ThrottlingException",
    ]
    assert faults.take("X") is None
    assert faults.pending == 0


def test_rules_can_target_one_operation():
    faults = Faults()
    faults.drop(operation="GetContainerImages")
    assert faults.take("RegisterContainerImage") is None
    assert faults.take(None) is None
    assert faults.take("GetContainerImages") == Fault(FaultKind.DROP, "GetContainerImages")
    assert faults.take("GetContainerImages") is None


def test_clear_and_repr():
    faults = Faults()
    faults.delay(1, times=4)
    assert "pending=4" in repr(faults)
    faults.clear()
    assert faults.pending == 0


@pytest.mark.parametrize("times", [0, -1, 1.5, True, "2"])
def test_times_must_be_a_positive_whole_number(times):
    with pytest.raises(ValueError, match="times"):
        Faults().fail(times=times)


@pytest.mark.parametrize("seconds", [-1, True, "2"])
def test_delay_must_be_a_non_negative_number(seconds):
    with pytest.raises(ValueError, match="seconds"):
        Faults().delay(seconds)


# --- what each fault does, in the core -------------------------------------------------------


def test_fail_answers_an_error_without_processing(fake, register):
    fake.faults.fail(status=503, error_type="ServiceUnavailable")
    response = register()
    assert response.status_code == 503
    assert response.json()["__type"] == "com.amazon.coral.service#ServiceUnavailable"
    assert "injected" in response.json()["message"]
    assert response.header("x-amzn-ErrorType").startswith("ServiceUnavailable:")
    assert fake.images("svc") == []
    assert fake.requests[-1].fault.kind is FaultKind.FAIL
    assert fake.requests[-1].error_type == "ServiceUnavailable"
    assert register().status_code == 200


def test_a_lightsail_error_type_gets_lightsails_body(fake, register):
    fake.faults.fail(error_type="ServiceException", message="boom")
    body = register().json()
    assert (body["__type"], body["code"], body["message"]) == (
        "ServiceException",
        "InternalFailure",
        "boom",
    )
    assert body["tip"]


def test_throttle(fake, register):
    fake.faults.throttle(operation="RegisterContainerImage")
    response = register()
    assert response.status_code == 400
    assert response.json()["__type"].endswith("#ThrottlingException")


def test_fail_after_processing_keeps_the_effect(fake, register):
    fake.faults.fail_after_processing()
    response = register()
    assert response.status_code == 500
    assert response.json()["__type"] == "ServiceException"
    assert "after the request was processed" in response.json()["message"]
    assert [image.image for image in fake.images("svc")] == [":svc.web.1"]


@pytest.mark.parametrize(("after_processing", "images"), [(False, 0), (True, 1)])
def test_drop(fake, register, after_processing, images):
    fake.faults.drop(after_processing=after_processing)
    response = register()
    assert response.drop is True
    assert response.status_code == 0
    assert len(fake.images("svc")) == images
    assert fake.requests[-1].status_code == 0


def test_delay_processes_then_holds_the_response(fake, register):
    fake.faults.delay(1.5)
    response = register()
    assert response.delay == 1.5
    assert response.status_code == 200
    assert len(fake.images("svc")) == 1


def test_a_fault_wins_over_a_bad_signature(fake, register, sign_request):
    fake.faults.fail(status=503, error_type="ServiceUnavailable")
    headers, body = sign_request(fake, secret="wrong")
    assert fake.handle("POST", "/", headers, body).status_code == 503
    assert fake.requests[-1].signature_valid is False


# --- through real HTTP, with botocore -----------------------------------------------------------


def _client(fake, url, **config):
    return boto3.client(
        "lightsail",
        endpoint_url=url,
        region_name=fake.region_name,
        aws_access_key_id=fake.access_key_id,
        aws_secret_access_key=fake.secret_access_key,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}, **config),
    )


def test_botocore_sees_the_injected_error(fake, boto_lightsail):
    fake.faults.fail(status=503, error_type="ServiceUnavailable")
    with pytest.raises(ClientError) as caught:
        boto_lightsail.get_container_services()
    assert caught.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503


def test_botocore_retries_an_injected_throttle(fake, fake_url, monkeypatch):
    monkeypatch.setattr("botocore.retries.standard.ExponentialBackoff.delay_amount", lambda *_: 0)
    fake.faults.throttle()
    client = boto3.client(
        "lightsail",
        endpoint_url=fake_url,
        region_name=fake.region_name,
        aws_access_key_id=fake.access_key_id,
        aws_secret_access_key=fake.secret_access_key,
        config=Config(retries={"mode": "standard", "total_max_attempts": 2}),
    )
    try:
        response = client.get_container_services()
    finally:
        client.close()
    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    assert [r.status_code for r in fake.requests] == [400, 200]


def test_a_dropped_connection_is_a_connection_error_for_botocore(fake, boto_lightsail):
    fake.faults.drop()
    with pytest.raises(BotoCoreError):
        boto_lightsail.get_container_services()
    # The fake is fine afterwards; the client reconnects.
    assert boto_lightsail.get_container_services()["containerServices"] == []


def test_a_delay_trips_the_client_read_timeout(fake, fake_url):
    fake.add_container_service("svc")
    fake.faults.delay(2.0)
    client = _client(fake, fake_url, read_timeout=0.2)
    try:
        started = time.monotonic()
        with pytest.raises(ReadTimeoutError):
            client.register_container_image(serviceName="svc", label="web", digest=DIGEST)
        assert time.monotonic() - started < 1.5
    finally:
        client.close()
    # The slow attempt was processed all the same.
    assert [image.image for image in fake.images("svc")] == [":svc.web.1"]
