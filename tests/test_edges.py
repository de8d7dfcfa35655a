"""Edge cases of the core that the feature tests do not reach."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import requests
import responses

import lightsail_images as li
from lightsail_images._config import SessionSource, _EnvironView
from lightsail_images._lifecycle import find_registered, plan_prune
from lightsail_images._operations import GET_CONTAINER_IMAGES, GET_CONTAINER_SERVICES
from lightsail_images._protocol import HttpResponse, parse_response
from lightsail_images._transport import MAX_ERROR_BODY_BYTES
from lightsail_images._validation import image_belongs_to_service

URL = "https://lightsail.us-east-1.amazonaws.com/"
DIGEST = "sha256:" + "ed" * 32
T0 = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)


def ok(body: object) -> HttpResponse:
    return HttpResponse(200, {}, json.dumps(body).encode())


def test_iso_timestamps_without_zone_are_utc_and_others_are_converted() -> None:
    body = {
        "containerImages": [
            {"image": ":s.l.1", "digest": DIGEST, "createdAt": "2025-01-01T00:00:00"},
            {"image": ":s.l.2", "digest": DIGEST, "createdAt": "2025-01-01T02:00:00+02:00"},
        ]
    }
    result = parse_response(GET_CONTAINER_IMAGES, ok(body), attempts=1)
    assert isinstance(result, li.GetContainerImagesResult)
    assert [i.created_at for i in result.container_images] == [T0, T0]


@pytest.mark.parametrize("images", [{"not": "a list"}, "x", 3])
def test_a_list_member_that_is_not_a_list_is_malformed(images: object) -> None:
    with pytest.raises(li.MalformedResponseError, match=r"containerImages|container_images"):
        parse_response(GET_CONTAINER_IMAGES, ok({"containerImages": images}), attempts=1)


def test_container_services_parse_only_what_pruning_needs() -> None:
    body = {
        "containerServices": [
            {
                "containerServiceName": "svc",
                "power": "nano",
                "currentDeployment": {
                    "state": "ACTIVE",
                    "containers": {
                        "app": {"image": ":svc.web.2", "ports": {"80": "HTTP"}},
                        "side": {},
                    },
                },
                "nextDeployment": None,
            }
        ]
    }
    result = parse_response(GET_CONTAINER_SERVICES, ok(body), attempts=1)
    (service,) = result.container_services  # type: ignore[union-attr]
    assert service.images_in_use() == frozenset({":svc.web.2"})


def test_lifecycle_decisions_skip_names_that_are_not_registered_images() -> None:
    public = li.ContainerImage("nginx:latest", DIGEST, T0)
    mine = li.ContainerImage(":s.web.1", DIGEST, T0)
    assert find_registered([public, mine], label="web", digest=DIGEST) == mine
    assert find_registered([public], label="web", digest=DIGEST) is None
    plan = plan_prune([public, mine], keep=0, label=None, in_use=frozenset())
    assert plan.delete == (mine,)


def test_image_ref_parse_of_a_non_string() -> None:
    with pytest.raises(ValueError, match="not a registered"):
        li.ImageRef.parse(3)  # type: ignore[arg-type]


def test_cross_rule_leaves_other_problems_to_the_field_rules() -> None:
    assert image_belongs_to_service({"service_name": "s", "image": None}) == []
    assert image_belongs_to_service({"service_name": "s", "image": "nginx"}) == []


def test_environ_view_behaves_like_a_mapping() -> None:
    view = _EnvironView({"A": "1"}.get)
    assert "A" in view
    assert "B" not in view
    assert 5 not in view
    assert view["A"] == "1"
    assert view.get("B", "d") == "d"
    with pytest.raises(KeyError):
        view["B"]


def test_config_errors_from_botocore_are_translated(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import pathlib

    pathlib.Path(os.environ["AWS_CONFIG_FILE"]).write_text("[default\nregion = x\n")  # unparsable
    with pytest.raises(li.ConfigurationError, match="could not read the AWS configuration"):
        li.Client()
    sessions = SessionSource(botocore_session=None, profile_name=None)
    with pytest.raises(li.ConfigurationError):
        sessions.scoped_and_full_config()


def test_a_bad_value_in_a_profile_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import pathlib

    pathlib.Path(os.environ["AWS_CONFIG_FILE"]).write_text("[default]\nmax_attempts = many\n")
    with pytest.raises(li.ConfigurationError, match="max_attempts"):
        li.Client("us-east-1")


@responses.activate
def test_huge_error_bodies_are_read_only_up_to_the_cap() -> None:
    huge = (
        b'{"__type": "ServiceException", "message": "' + b"x" * (MAX_ERROR_BODY_BYTES * 4) + b'"}'
    )
    responses.post(URL, status=500, body=huge, headers={"x-amzn-ErrorType": "ServiceException"})
    client = li.Client(
        "us-east-1",
        aws_access_key_id="AKID",
        aws_secret_access_key="s",
        config=li.ClientConfig(max_attempts=1),
    )
    with pytest.raises(li.ServiceException) as info:
        client.register_container_image(service_name="svc", label="web", digest=DIGEST)
    # Truncated JSON: the header still names the type; the message is not kept whole.
    assert len(info.value.message) <= MAX_ERROR_BODY_BYTES


@responses.activate
def test_an_unexpected_requests_error_is_a_transport_error() -> None:
    responses.post(URL, body=requests.exceptions.InvalidHeader("bad header"))
    client = li.Client(
        "us-east-1",
        aws_access_key_id="AKID",
        aws_secret_access_key="s",
        config=li.ClientConfig(max_attempts=1),
    )
    with pytest.raises(li.TransportError, match="InvalidHeader"):
        client.register_container_image(service_name="svc", label="web", digest=DIGEST)


@responses.activate
def test_ensure_gives_up_on_transport_errors_with_the_attempt_count() -> None:
    responses.post(
        URL,
        json={"containerImages": []},
        match=[
            responses.matchers.header_matcher(
                {"X-Amz-Target": "Lightsail_20161128.GetContainerImages"}
            )
        ],
    )
    responses.post(URL, body=requests.exceptions.ReadTimeout("slow"))
    client = li.Client("us-east-1", aws_access_key_id="AKID", aws_secret_access_key="s")
    with pytest.raises(li.TransportError) as info:
        client.ensure_container_image(service_name="svc", label="web", digest=DIGEST)
    assert info.value.attempts == 3


def test_a_netrc_entry_for_the_endpoint_does_not_replace_the_signature(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    from pathlib import Path

    from tests.scripted_server import Reply, scripted_server

    netrc = Path(str(tmp_path)) / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    ok_reply = Reply.json(
        200, {"containerImage": {"image": ":s.l.1", "digest": DIGEST, "createdAt": 1}}
    )
    with scripted_server(default=ok_reply) as server:
        client = li.Client(
            server.url and "us-east-1",
            endpoint_url=server.url,
            aws_access_key_id="AKID",
            aws_secret_access_key="s",
        )
        client.register_container_image(service_name="svc", label="web", digest=DIGEST)
    assert server.requests[0].headers["Authorization"].startswith("AWS4-HMAC-SHA256 ")
