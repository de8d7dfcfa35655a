"""The deployment operations against botocore's own lightsail client, over loopback.

For each of CreateContainerServiceDeployment, GetContainerServices,
GetContainerServiceDeployments and GetContainerLog: the request bytes and
headers (signature included, with a frozen clock) equal botocore's, and the
same answer parses to the same values.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import botocore.auth
import pytest

import lightsail_images as li
from lightsail_images._protocol import converter
from tests.scripted_server import Reply, scripted_server
from tests.test_oracle import FROZEN, botocore_client, our_client
from tests.test_signing_oracle import botocore_clock

pytestmark = pytest.mark.oracle

WEB = li.Container(
    image=":svc.web.7",
    command=("gunicorn", "app:app", "--bind", "0.0.0.0:8080"),
    environment={"ZETA": "last", "ALPHA": "first", "EMPTY": ""},
    ports={"8080": "HTTP", "9090": "TCP"},
)
SIDECAR = li.Container(image="public.ecr.aws/nginx/nginx:1.27", ports={"443": "HTTPS"})
ENDPOINT = li.EndpointRequest(
    container_name="web",
    container_port=8080,
    health_check=li.HealthCheckConfig(
        healthy_threshold=2,
        unhealthy_threshold=3,
        timeout_seconds=4,
        interval_seconds=10,
        path="/healthz",
        success_codes="200-299",
    ),
)
# The same deployment as botocore's callers spell it.
BOTO_CONTAINERS = {
    "web": {
        "image": ":svc.web.7",
        "command": ["gunicorn", "app:app", "--bind", "0.0.0.0:8080"],
        "environment": {"ZETA": "last", "ALPHA": "first", "EMPTY": ""},
        "ports": {"8080": "HTTP", "9090": "TCP"},
    },
    "sidecar": {"image": "public.ecr.aws/nginx/nginx:1.27", "ports": {"443": "HTTPS"}},
}
BOTO_ENDPOINT = {
    "containerName": "web",
    "containerPort": 8080,
    "healthCheck": {
        "healthyThreshold": 2,
        "unhealthyThreshold": 3,
        "timeoutSeconds": 4,
        "intervalSeconds": 10,
        "path": "/healthz",
        "successCodes": "200-299",
    },
}
DEPLOYMENT_JSON = {
    "version": 4,
    "state": "ACTIVATING",
    "containers": BOTO_CONTAINERS,
    "publicEndpoint": BOTO_ENDPOINT,
    "createdAt": 1764385200.25,
}
SERVICE_JSON = {
    "containerServiceName": "svc",
    "arn": "arn:aws:lightsail:eu-west-2:123456789012:ContainerService/abc",
    "createdAt": 1764300000,
    "location": {"availabilityZone": "all", "regionName": "eu-west-2"},
    "resourceType": "ContainerService",
    "tags": [{"key": "team", "value": "web"}],
    "power": "micro",
    "powerId": "micro-1",
    "state": "DEPLOYING",
    "stateDetail": {"code": "ACTIVATING_DEPLOYMENT", "message": "activating"},
    "scale": 2,
    "currentDeployment": {**DEPLOYMENT_JSON, "version": 3, "state": "ACTIVE"},
    "nextDeployment": DEPLOYMENT_JSON,
    "isDisabled": False,
    "principalArn": "arn:aws:iam::123456789012:role/amazon/lightsail/svc",
    "privateDomainName": "svc.service.local",
    "publicDomainNames": {"cert-1": ["www.example.com", "example.com"]},
    "url": "https://svc.abc.eu-west-2.cs.amazonlightsail.com/",
    "privateRegistryAccess": {
        "ecrImagePullerRole": {"isActive": True, "principalArn": "arn:aws:iam::1:role/x"}
    },
    "someFutureMember": {"ignored": True},
}
LOG_JSON = {
    "logEvents": [
        {"createdAt": 1764385201, "message": "[deployment:4] Creating your deployment"},
        {"createdAt": 1764385202.5, "message": "listening on 0.0.0.0:8080"},
    ],
    "nextPageToken": "page-2",
}
START = dt.datetime(2026, 5, 4, 3, 0, 0, tzinfo=dt.timezone.utc)
END = dt.datetime(2026, 5, 4, 3, 30, 0, 123456, tzinfo=dt.timezone.utc)

CASES: list[tuple[str, Any, Any, dict[str, Any], str]] = [
    (
        "CreateContainerServiceDeployment",
        lambda c: c.create_container_service_deployment(
            service_name="svc",
            containers={"web": WEB, "sidecar": SIDECAR},
            public_endpoint=ENDPOINT,
        ),
        lambda b: b.create_container_service_deployment(
            serviceName="svc", containers=BOTO_CONTAINERS, publicEndpoint=BOTO_ENDPOINT
        ),
        {"containerService": SERVICE_JSON},
        "containerService",
    ),
    (
        "GetContainerServices",
        lambda c: c.get_container_services(service_name="svc"),
        lambda b: b.get_container_services(serviceName="svc"),
        {"containerServices": [SERVICE_JSON]},
        "containerServices",
    ),
    (
        "GetContainerServices-all",
        lambda c: c.get_container_services(),
        lambda b: b.get_container_services(),
        {"containerServices": [SERVICE_JSON, {"containerServiceName": "other"}]},
        "containerServices",
    ),
    (
        "GetContainerServiceDeployments",
        lambda c: c.get_container_service_deployments(service_name="svc"),
        lambda b: b.get_container_service_deployments(serviceName="svc"),
        {"deployments": [DEPLOYMENT_JSON, {**DEPLOYMENT_JSON, "version": 3, "state": "ACTIVE"}]},
        "deployments",
    ),
    (
        "GetContainerLog",
        lambda c: list(
            c.get_container_log(
                service_name="svc",
                container_name="web",
                start_time=START,
                end_time=END,
                filter_pattern="-DEBUG",
            )
        ),
        lambda b: b.get_container_log(
            serviceName="svc",
            containerName="web",
            startTime=START,
            endTime=END,
            filterPattern="-DEBUG",
        ),
        {"logEvents": LOG_JSON["logEvents"]},
        "logEvents",
    ),
]


def _plain(value: Any) -> Any:
    """Our model or botocore's dict, as JSON-comparable data (datetimes as epoch seconds)."""
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(type(value), "__attrs_attrs__"):
        return _plain(converter.unstructure(value))
    return value


@pytest.mark.parametrize(
    ("ours_call", "theirs_call", "reply"),
    [case[1:4] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_requests_match_botocore_byte_for_byte(
    monkeypatch: pytest.MonkeyPatch, ours_call: Any, theirs_call: Any, reply: dict[str, Any]
) -> None:
    monkeypatch.setattr(botocore.auth, *botocore_clock(FROZEN))
    with scripted_server(default=Reply.json(200, reply)) as server:
        theirs_call(botocore_client(server.url))
        ours_call(our_client(server.url))
    theirs, ours = server.requests
    assert ours.body == theirs.body
    differ = {"User-Agent", "amz-sdk-invocation-id"}
    assert {k: v for k, v in ours.headers.items() if k not in differ} == {
        k: v for k, v in theirs.headers.items() if k not in differ
    }


@pytest.mark.parametrize(
    ("ours_call", "theirs_call", "reply", "member"),
    [case[1:5] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_responses_parse_to_what_botocore_parses(
    ours_call: Any, theirs_call: Any, reply: dict[str, Any], member: str
) -> None:
    with scripted_server(default=Reply.json(200, reply)) as server:
        theirs = theirs_call(botocore_client(server.url))[member]
        ours = ours_call(our_client(server.url))
    ours_value = ours if isinstance(ours, list) else getattr(ours, _snake(member))
    # botocore keeps unmodelled members out too; None members are absent in its dicts.
    assert _drop_none(_plain(ours_value)) == _plain(theirs)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def test_the_log_follows_next_page_token_until_the_last_page() -> None:
    pages = [
        Reply.json(200, LOG_JSON),
        Reply.json(200, {"logEvents": [{"createdAt": 1764385203, "message": "third"}]}),
    ]
    with scripted_server(*pages) as server:
        events = list(
            our_client(server.url).get_container_log(service_name="svc", container_name="web")
        )
    assert [event.message for event in events] == [
        "[deployment:4] Creating your deployment",
        "listening on 0.0.0.0:8080",
        "third",
    ]
    first, second = (json.loads(request.body) for request in server.requests)
    assert first == {"serviceName": "svc", "containerName": "web"}
    assert second == {"serviceName": "svc", "containerName": "web", "pageToken": "page-2"}


def test_a_token_handed_back_twice_ends_the_log_instead_of_looping() -> None:
    with scripted_server(default=Reply.json(200, LOG_JSON)) as server:
        events = list(
            our_client(server.url).get_container_log(service_name="svc", container_name="web")
        )
    assert len(server.requests) == 2
    assert len(events) == 4
