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


# --- deployments: boto3's calls, unchanged, against the fake's deployment model ---

BOTO_WEB = {
    "image": ":svc.web.1",
    "command": ["serve", "--port", "8080"],
    "environment": {"MODE": "prod"},
    "ports": {"8080": "HTTP"},
}
BOTO_ENDPOINT = {"containerName": "web", "containerPort": 8080, "healthCheck": {"path": "/up"}}


def test_every_deployment_operation_works(fake, boto_lightsail):
    fake.add_container_service("svc")
    fake.register_image("svc", "web", DIGEST)
    fake.register_image("svc", "web", DIGEST)
    created = boto_lightsail.create_container_service_deployment(
        serviceName="svc", containers={"web": BOTO_WEB}, publicEndpoint=BOTO_ENDPOINT
    )["containerService"]
    assert created["state"] == "DEPLOYING"
    pending = created["nextDeployment"]
    assert (pending["version"], pending["state"]) == (1, "ACTIVATING")
    assert pending["containers"] == {"web": BOTO_WEB}
    # The service reports the health check's defaults for the members not sent.
    assert pending["publicEndpoint"]["healthCheck"] == {
        "healthyThreshold": 2,
        "unhealthyThreshold": 2,
        "timeoutSeconds": 2,
        "intervalSeconds": 5,
        "path": "/up",
        "successCodes": "200-499",
    }
    assert isinstance(pending["createdAt"], dt.datetime)

    # The default rule: one read sees it activating, the next sees it active.
    first = boto_lightsail.get_container_services(serviceName="svc")["containerServices"][0]
    assert (first["state"], first["nextDeployment"]["state"]) == ("DEPLOYING", "ACTIVATING")
    second = boto_lightsail.get_container_services(serviceName="svc")["containerServices"][0]
    assert second["state"] == "RUNNING"
    assert "nextDeployment" not in second
    assert (second["currentDeployment"]["version"], second["currentDeployment"]["state"]) == (
        1,
        "ACTIVE",
    )

    second_web = {**BOTO_WEB, "image": ":svc.web.latest"}
    boto_lightsail.create_container_service_deployment(
        serviceName="svc", containers={"web": second_web}
    )
    deployments = boto_lightsail.get_container_service_deployments(serviceName="svc")["deployments"]
    assert [(d["version"], d["state"]) for d in deployments] == [(2, "ACTIVATING"), (1, "ACTIVE")]
    deployments = boto_lightsail.get_container_service_deployments(serviceName="svc")["deployments"]
    assert [(d["version"], d["state"]) for d in deployments] == [(2, "ACTIVE"), (1, "INACTIVE")]

    log = boto_lightsail.get_container_log(serviceName="svc", containerName="web")
    assert [event["message"] for event in log["logEvents"]] == [
        "[deployment:1] Creating your deployment",
        "[deployment:1] Reached a steady state",
        "[deployment:2] Creating your deployment",
        "[deployment:2] Reached a steady state",
    ]
    assert all(isinstance(event["createdAt"], dt.datetime) for event in log["logEvents"])
    assert "nextPageToken" not in log
    assert all(request.signature_valid for request in fake.requests)


def test_container_log_pages_filters_and_time_range(fake, boto_lightsail):
    fake.add_container_service("svc")
    fake.set_deployment("svc", {"web": "nginx"})
    fake.write_log("svc", "web", "one", "ERROR two", "three", "ERROR four", "five")
    fake.log_page_size = 2
    pages, token = [], None
    while True:
        kwargs = {"pageToken": token} if token else {}
        page = boto_lightsail.get_container_log(serviceName="svc", containerName="web", **kwargs)
        pages.append([event["message"] for event in page["logEvents"]])
        token = page.get("nextPageToken")
        if not token:
            break
    assert pages == [["one", "ERROR two"], ["three", "ERROR four"], ["five"]]
    errors = boto_lightsail.get_container_log(
        serviceName="svc", containerName="web", filterPattern="ERROR"
    )["logEvents"]
    assert [event["message"] for event in errors] == ["ERROR two", "ERROR four"]
    quiet = boto_lightsail.get_container_log(
        serviceName="svc", containerName="web", filterPattern="-ERROR"
    )["logEvents"]
    assert [event["message"] for event in quiet] == ["one", "three"]
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    later = boto_lightsail.get_container_log(
        serviceName="svc", containerName="web", startTime=future
    )["logEvents"]
    assert later == []
    with pytest.raises(boto_lightsail.exceptions.InvalidInputException):
        boto_lightsail.get_container_log(
            serviceName="svc", containerName="web", pageToken="made-up"
        )
    with pytest.raises(boto_lightsail.exceptions.NotFoundException):
        boto_lightsail.get_container_log(serviceName="svc", containerName="never-ran")


@pytest.mark.parametrize(
    ("containers", "endpoint", "expected"),
    [
        ({"web": {**BOTO_WEB, "image": ":svc.web.9"}}, None, "not registered"),
        ({"web": {**BOTO_WEB, "image": ":other.web.1"}}, None, "registered to container service"),
        ({"web": BOTO_WEB}, {"containerName": "api", "containerPort": 8080}, "'api' is not"),
        ({"web": BOTO_WEB}, {"containerName": "web", "containerPort": 80}, "port 80"),
        ({"web": {**BOTO_WEB, "ports": {"8080": "SCTP"}}}, None, "HTTP, HTTPS, TCP, UDP"),
        ({"Web": BOTO_WEB}, None, "container name"),
        (
            {"web": BOTO_WEB},
            {"containerName": "web", "containerPort": 8080, "healthCheck": {"intervalSeconds": 1}},
            "publicEndpoint.healthCheck.intervalSeconds",
        ),
    ],
)
def test_deployment_validation_reaches_botocore(
    fake, boto_lightsail, containers, endpoint, expected
):
    fake.add_container_service("svc")
    fake.register_image("svc", "web", DIGEST)
    extra = {"publicEndpoint": endpoint} if endpoint else {}
    with pytest.raises(boto_lightsail.exceptions.InvalidInputException) as caught:
        boto_lightsail.create_container_service_deployment(
            serviceName="svc", containers=containers, **extra
        )
    assert expected in caught.value.response["Error"]["Message"]
    assert fake.deployments("svc") == []


def test_one_deployment_activates_at_a_time(fake, boto_lightsail):
    fake.add_container_service("svc")
    boto_lightsail.create_container_service_deployment(
        serviceName="svc", containers={"web": {"image": "nginx"}}
    )
    with pytest.raises(boto_lightsail.exceptions.InvalidInputException) as caught:
        boto_lightsail.create_container_service_deployment(
            serviceName="svc", containers={"web": {"image": "nginx:2"}}
        )
    assert "still activating" in caught.value.response["Error"]["Message"]


def test_every_operation_has_a_client_method_and_a_fake_handler():
    # Operations are data in _operations.py; each one is callable from the
    # client (snake_case of its name) and answered by the fake.
    import re

    import lightsail_images as li
    from lightsail_images import _operations
    from lightsail_images._protocol import Operation

    names = {v.name for v in vars(_operations).values() if isinstance(v, Operation)}
    assert "CreateContainerServiceDeployment" in names
    fake = FakeLightsail()
    for name in names:
        method = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
        assert callable(getattr(li.Client, method, None)), method
        assert name in fake._operations, name
