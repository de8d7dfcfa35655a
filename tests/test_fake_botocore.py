"""botocore's own lightsail client, unchanged, against fake.serve().

If boto3 can use the fake for every operation, errors included, the fake
speaks the wire format where it matters: targets, member names, timestamps,
error types and the modelled error members.
"""

from __future__ import annotations

import contextlib
import datetime as dt

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lightsail_images.testing import FakeLightsail

pytestmark = pytest.mark.oracle

DIGEST = "sha256:" + "cd" * 32


def test_every_operation_works(fake, boto_lightsail):
    fake.add_container_service("svc")
    before = dt.datetime.now(dt.timezone.utc)
    registered = boto_lightsail.register_container_image(
        serviceName="svc", label="web", digest=DIGEST
    )["containerImage"]
    assert registered["image"] == ":svc.web.1"
    assert registered["digest"] == DIGEST
    assert (
        before - dt.timedelta(seconds=1)
        <= registered["createdAt"]
        <= before + dt.timedelta(seconds=5)
    )
    boto_lightsail.register_container_image(serviceName="svc", label="web", digest=DIGEST)

    images = boto_lightsail.get_container_images(serviceName="svc")["containerImages"]
    assert [image["image"] for image in images] == [":svc.web.2", ":svc.web.1"]

    deleted = boto_lightsail.delete_container_image(serviceName="svc", image=":svc.web.2")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert [i.image for i in fake.images("svc")] == [":svc.web.1"]

    login = boto_lightsail.create_container_service_registry_login()["registryLogin"]
    assert login["username"] == "AWS"
    assert login["password"]
    assert login["registry"]
    assert login["expiresAt"] - dt.datetime.now(dt.timezone.utc) > dt.timedelta(hours=11)

    fake.set_deployment("svc", {"app": ":svc.web.1"})
    services = boto_lightsail.get_container_services()["containerServices"]
    assert [s["containerServiceName"] for s in services] == ["svc"]
    assert services[0]["arn"].startswith("arn:aws:lightsail:us-east-1:")
    assert services[0]["state"] == "RUNNING"
    assert services[0]["currentDeployment"]["containers"]["app"]["image"] == ":svc.web.1"
    one = boto_lightsail.get_container_services(serviceName="svc")["containerServices"]
    assert one[0]["containerServiceName"] == "svc"

    assert all(request.signature_valid for request in fake.requests)
    assert [request.operation for request in fake.requests] == [
        "RegisterContainerImage",
        "RegisterContainerImage",
        "GetContainerImages",
        "DeleteContainerImage",
        "CreateContainerServiceRegistryLogin",
        "GetContainerServices",
        "GetContainerServices",
    ]


def test_not_found_is_botocores_modelled_exception(boto_lightsail):
    with pytest.raises(boto_lightsail.exceptions.NotFoundException) as caught:
        boto_lightsail.register_container_image(serviceName="nope", label="web", digest=DIGEST)
    response = caught.value.response
    assert response["Error"]["Code"] == "NotFoundException"
    assert "nope" in response["Error"]["Message"]
    assert response["code"] == "DoesNotExist"
    assert response["docs"].startswith("https://")
    assert response["tip"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["ResponseMetadata"]["RequestId"]


def test_invalid_input_is_botocores_modelled_exception(fake, boto_lightsail):
    fake.add_container_service("svc")
    fake.register_image("svc", "web", DIGEST)
    fake.set_deployment("svc", {"app": ":svc.web.1"})
    with pytest.raises(boto_lightsail.exceptions.InvalidInputException) as caught:
        boto_lightsail.delete_container_image(serviceName="svc", image=":svc.web.1")
    assert caught.value.response["code"] == "InvalidInput"


def test_server_side_validation_reaches_botocore(fake, fake_url):
    # botocore checks lengths but not the pattern; the fake catches the rest.
    with _client(fake, fake_url) as client:
        with pytest.raises(client.exceptions.InvalidInputException) as caught:
            client.get_container_images(serviceName="Not_Valid")
        assert "serviceName" in caught.value.response["Error"]["Message"]


def test_missing_image_is_not_found(fake, boto_lightsail):
    fake.add_container_service("svc")
    with pytest.raises(boto_lightsail.exceptions.NotFoundException):
        boto_lightsail.delete_container_image(serviceName="svc", image=":svc.web.1")
    with pytest.raises(boto_lightsail.exceptions.NotFoundException):
        boto_lightsail.get_container_services(serviceName="other")


def _client(fake, url, **overrides):
    arguments = {
        "endpoint_url": url,
        "region_name": fake.region_name,
        "aws_access_key_id": fake.access_key_id,
        "aws_secret_access_key": fake.secret_access_key,
        "config": Config(retries={"mode": "standard", "total_max_attempts": 1}),
        **overrides,
    }
    return contextlib.closing(boto3.client("lightsail", **arguments))


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"aws_secret_access_key": "wrong"}, 403, "InvalidSignatureException"),
        ({"aws_access_key_id": "AKIAWHOISTHIS0000000"}, 403, "UnrecognizedClientException"),
        ({"region_name": "eu-west-1"}, 403, "InvalidSignatureException"),
        ({"aws_session_token": "surprise"}, 403, "UnrecognizedClientException"),
    ],
)
def test_authentication_failures_reach_botocore(fake, fake_url, overrides, status, code):
    with _client(fake, fake_url, **overrides) as client, pytest.raises(ClientError) as caught:
        client.get_container_services()
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_expired_signature_reaches_botocore(fake, boto_lightsail):
    fake.clock_skew = dt.timedelta(minutes=15)
    with pytest.raises(ClientError) as caught:
        boto_lightsail.get_container_services()
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidSignatureException"
    assert error["Message"].startswith("Signature expired")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_temporary_credentials():
    fake = FakeLightsail(session_token="session-token-1")
    with fake.serve() as url, _client(fake, url, aws_session_token="session-token-1") as client:
        assert client.get_container_services()["containerServices"] == []
    assert fake.requests[0].headers["x-amz-security-token"] == "session-token-1"


def test_unknown_operation_reaches_botocore(fake, boto_lightsail):
    # An operation the fake does not implement: botocore sees the front door's answer.
    with pytest.raises(ClientError) as caught:
        boto_lightsail.get_container_service_powers()
    assert caught.value.response["Error"]["Code"] == "UnknownOperationException"
