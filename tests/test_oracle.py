"""botocore's own lightsail client as an oracle, over real HTTP on loopback."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import boto3
import botocore.auth
import botocore.config
import pytest
from botocore.exceptions import ClientError

import lightsail_images as li
from lightsail_images import _client
from tests.scripted_server import Reply, scripted_server
from tests.test_signing_oracle import botocore_clock

pytestmark = pytest.mark.oracle

DIGEST = "sha256:" + "5e" * 32
FROZEN = dt.datetime(2026, 5, 4, 3, 2, 1, tzinfo=dt.timezone.utc)
KEYS = {
    "aws_access_key_id": "AKIDORACLE",
    "aws_secret_access_key": "oracle/secret+key",
    "aws_session_token": "tok==",
}
ERROR_BODY = {
    "__type": "NotFoundException",
    "code": "DoesNotExist",
    "docs": "https://docs.example/ls",
    "message": "No container service named nope.",
    "tip": "Check the name and region.",
}


def botocore_client(url: str) -> object:
    return boto3.client(
        "lightsail",
        region_name="eu-west-2",
        endpoint_url=url,
        config=botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 3}),
        **KEYS,
    )


def our_client(url: str) -> li.Client:
    client = li.Client("eu-west-2", endpoint_url=url, **KEYS)
    client._signer._clock = lambda: FROZEN
    return client


def test_request_bytes_and_signature_match_botocore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(botocore.auth, *botocore_clock(FROZEN))
    success = Reply.json(
        200, {"containerImage": {"image": ":svc.web.1", "digest": DIGEST, "createdAt": 1.5}}
    )
    with scripted_server(default=success) as server:
        botocore_client(server.url).register_container_image(
            serviceName="svc", label="web", digest=DIGEST
        )
        our_client(server.url).register_container_image(
            service_name="svc", label="web", digest=DIGEST
        )
    theirs, ours = server.requests
    assert ours.method == theirs.method == "POST"
    assert ours.path == theirs.path == "/"
    assert ours.body == theirs.body
    # Every header botocore sends, we send with the same value, except the
    # two that name the SDK and the per-call random id.
    differ = {"User-Agent", "amz-sdk-invocation-id"}
    assert {k: v for k, v in ours.headers.items() if k not in differ} == {
        k: v for k, v in theirs.headers.items() if k not in differ
    }
    assert "Signature=" in ours.headers["Authorization"]
    assert ours.headers["X-Amz-Security-Token"] == "tok=="
    assert ours.headers["amz-sdk-request"] == "attempt=1; max=3"
    # The per-call id differs in value, never in form: a random (version 4)
    # UUID in its canonical text, as botocore's str(uuid.uuid4()).
    for headers in (ours.headers, theirs.headers):
        text = headers["amz-sdk-invocation-id"]
        assert str(uuid.UUID(text)) == text
        assert uuid.UUID(text).version == 4
        assert uuid.UUID(text).variant == uuid.RFC_4122


def test_invocation_ids_are_random_version_4_uuids() -> None:
    ids = {_client._invocation_id() for _ in range(2000)}
    assert len(ids) == 2000
    for text in ids:
        parsed = uuid.UUID(text)
        assert (str(parsed), parsed.version, parsed.variant) == (text, 4, uuid.RFC_4122)
    # Every one of the 122 random bits takes both values.
    ored, anded = 0, (1 << 128) - 1
    for text in ids:
        ored |= uuid.UUID(text).int
        anded &= uuid.UUID(text).int
    fixed = uuid.UUID(int=ored ^ anded ^ ((1 << 128) - 1))
    assert fixed.int.bit_count() == 6  # the version's 4 bits and the variant's 2


def test_service_error_response_matches_botocore() -> None:
    reply = Reply.json(400, ERROR_BODY, **{"x-amzn-RequestId": "req-oracle"})
    with scripted_server(reply, reply) as server:
        with pytest.raises(ClientError) as theirs:
            botocore_client(server.url).register_container_image(
                serviceName="nope", label="web", digest=DIGEST
            )
        with pytest.raises(li.NotFoundException) as ours:
            our_client(server.url).register_container_image(
                service_name="nope", label="web", digest=DIGEST
            )
    assert type(theirs.value).__name__ == "NotFoundException"
    assert isinstance(ours.value, ClientError)
    # The two answers were sent a moment apart: their Date headers may differ.
    for response in (ours.value.response, theirs.value.response):
        response["ResponseMetadata"]["HTTPHeaders"].pop("date")
    assert ours.value.response == theirs.value.response
    assert ours.value.operation_name == theirs.value.operation_name == "RegisterContainerImage"
    assert ours.value.response["code"] == "DoesNotExist"
    assert ours.value.response["Error"]["Code"] == "NotFoundException"


@pytest.mark.parametrize(
    "body",
    [
        {"__type": "ThrottlingException", "message": "Rate exceeded"},
        {"__type": "com.amazon.coral.service#UnrecognizedClientException", "message": "bad key"},
        {"__type": "InvalidInputException", "code": "InvalidInput", "message": "bad"},
        {"__type": "AccessDeniedException", "Message": "capital M"},
        {"__type": "UnauthenticatedException"},
    ],
)
def test_client_error_response_dicts_match_botocore_for_each_kind(body: dict[str, str]) -> None:
    status = 400
    reply = Reply.json(status, body, **{"x-amzn-RequestId": "rid"})
    with scripted_server(default=reply) as server:
        botocore = botocore_client(server.url)
        ours = li.Client(
            "eu-west-2", endpoint_url=server.url, config=li.ClientConfig(max_attempts=1), **KEYS
        )
        with pytest.raises(ClientError) as theirs_info:
            botocore.register_container_image(serviceName="svc", label="web", digest=DIGEST)  # type: ignore[attr-defined]
        with pytest.raises(li.ServiceError) as ours_info:
            ours.register_container_image(service_name="svc", label="web", digest=DIGEST)
    theirs_response = dict(theirs_info.value.response)
    ours_response = dict(ours_info.value.response)
    # botocore retries throttling 3 times under standard mode; we were told one attempt.
    theirs_response["ResponseMetadata"] = {
        k: v
        for k, v in theirs_response["ResponseMetadata"].items()
        if k not in {"RetryAttempts", "MaxAttemptsReached"}
    }
    ours_response["ResponseMetadata"] = {
        k: v for k, v in ours_response["ResponseMetadata"].items() if k != "RetryAttempts"
    }
    for response in (theirs_response, ours_response):
        response["ResponseMetadata"]["HTTPHeaders"].pop("date", None)
    assert ours_response == theirs_response


def test_success_models_match_what_botocore_parses() -> None:
    body = {
        "containerImage": {"image": ":svc.web.7", "digest": DIGEST, "createdAt": 1764385200.123}
    }
    with scripted_server(default=Reply.json(200, body, **{"x-amzn-RequestId": "ok-1"})) as server:
        theirs = botocore_client(server.url).register_container_image(
            serviceName="svc", label="web", digest=DIGEST
        )
        ours = our_client(server.url).register_container_image(
            service_name="svc", label="web", digest=DIGEST
        )
    assert ours.container_image.image == theirs["containerImage"]["image"]
    assert ours.container_image.digest == theirs["containerImage"]["digest"]
    assert ours.container_image.created_at == theirs["containerImage"]["createdAt"]
    assert ours.response_metadata.request_id == theirs["ResponseMetadata"]["RequestId"]
    assert json.loads(server.requests[0].body) == json.loads(server.requests[1].body)


@pytest.mark.parametrize(
    ("ours_call", "theirs_call", "reply"),
    [
        (
            lambda c: c.get_container_images(service_name="svc"),
            lambda b: b.get_container_images(serviceName="svc"),
            {"containerImages": [{"image": ":svc.web.1", "digest": DIGEST, "createdAt": 1.5}]},
        ),
        (
            lambda c: c.delete_container_image(service_name="svc", image=":svc.web.1"),
            lambda b: b.delete_container_image(serviceName="svc", image=":svc.web.1"),
            {},
        ),
        (
            lambda c: c.create_container_service_registry_login(),
            lambda b: b.create_container_service_registry_login(),
            {
                "registryLogin": {
                    "username": "AWS",
                    "password": "pw",
                    "expiresAt": 1.7e9,
                    "registry": "r.example",
                }
            },
        ),
    ],
    ids=["GetContainerImages", "DeleteContainerImage", "CreateContainerServiceRegistryLogin"],
)
def test_lifecycle_requests_match_botocore_byte_for_byte(
    monkeypatch: pytest.MonkeyPatch,
    ours_call: object,
    theirs_call: object,
    reply: dict[str, object],
) -> None:
    monkeypatch.setattr(botocore.auth, *botocore_clock(FROZEN))
    with scripted_server(default=Reply.json(200, reply)) as server:
        theirs_call(botocore_client(server.url))  # type: ignore[operator]
        ours_call(our_client(server.url))  # type: ignore[operator]
    theirs, ours = server.requests
    assert ours.body == theirs.body
    differ = {"User-Agent", "amz-sdk-invocation-id"}
    assert {k: v for k, v in ours.headers.items() if k not in differ} == {
        k: v for k, v in theirs.headers.items() if k not in differ
    }
