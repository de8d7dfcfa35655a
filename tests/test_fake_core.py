"""FakeLightsail's request-handling core, driven with bytes through fake.handle().

No socket is involved: requests are signed by botocore and handed to the core,
which is what both fake.serve() and fake.mock() do.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lightsail_images as li
from lightsail_images._operations import REGISTER_CONTAINER_IMAGE
from lightsail_images._validation import validate
from lightsail_images.testing import FakeLightsail, FakeResponse

DIGEST = "sha256:" + "ab" * 32
LIGHTSAIL_NS = "http://internal.amazon.com/coral/com.amazonaws.lightsail/"


@pytest.fixture
def call(fake, sign_request):
    def call(operation, params=None, **overrides) -> FakeResponse:
        headers, body = sign_request(fake, operation, params, **overrides)
        return fake.handle("POST", "/", headers, body)

    return call


def register(call, service="svc", label="web", digest=DIGEST):
    return call(
        "RegisterContainerImage", {"serviceName": service, "label": label, "digest": digest}
    )


# --- semantics ---------------------------------------------------------------------


def test_versions_count_per_service_and_label(fake, call):
    fake.add_container_service("svc")
    fake.add_container_service("other")
    names = [
        register(call, service, label).json()["containerImage"]["image"]
        for service, label in [
            ("svc", "web"),
            ("svc", "web"),
            ("svc", "worker"),
            ("other", "web"),
            ("svc", "web"),
        ]
    ]
    assert names == [":svc.web.1", ":svc.web.2", ":svc.worker.1", ":other.web.1", ":svc.web.3"]


def test_deleting_never_frees_a_version_number(fake, call):
    fake.add_container_service("svc")
    register(call)
    register(call)
    assert call("DeleteContainerImage", {"serviceName": "svc", "image": ":svc.web.2"}).json() == {}
    assert register(call).json()["containerImage"]["image"] == ":svc.web.3"
    assert [image.image for image in fake.images("svc")] == [":svc.web.1", ":svc.web.3"]


def test_created_at_is_the_registration_time_in_fractional_epoch_seconds(sign_request):
    moment = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.timezone.utc)
    fake = FakeLightsail(clock=lambda: moment)
    fake.add_container_service("svc")
    # Requests are signed now; let the fake's fixed clock accept them.
    fake.clock_skew = dt.datetime.now(dt.timezone.utc) - moment
    headers, body = sign_request(
        fake, "RegisterContainerImage", {"serviceName": "svc", "label": "web", "digest": DIGEST}
    )
    image = fake.handle("POST", "/", headers, body).json()["containerImage"]
    assert isinstance(image["createdAt"], float)
    assert image == {
        "image": ":svc.web.1",
        "digest": DIGEST,
        "createdAt": pytest.approx(fake.now().timestamp(), abs=1e-3),
    }
    assert fake.images("svc")[0].created_at.timestamp() == image["createdAt"]


def test_registering_needs_an_existing_service(fake, call):
    response = register(call, service="missing")
    assert response.status_code == 400
    assert response.header("x-amzn-ErrorType") == f"NotFoundException:{LIGHTSAIL_NS}"
    assert response.header("Content-Type") == "application/x-amz-json-1.1"
    uuid.UUID(response.header("x-amzn-RequestId"))
    body = response.json()
    assert body["__type"] == "NotFoundException"
    assert body["code"] == "DoesNotExist"
    assert body["docs"].startswith("https://")
    assert "missing" in body["message"]
    assert body["tip"]


def test_get_container_images_lists_newest_first_and_handles_thousands(fake, call):
    fake.add_container_service("svc")
    for _ in range(1200):
        fake.register_image("svc", "web", DIGEST)
    register(call, label="api")
    images = call("GetContainerImages", {"serviceName": "svc"}).json()["containerImages"]
    assert len(images) == 1201
    assert images[0]["image"] == ":svc.api.1"
    assert images[1]["image"] == ":svc.web.1200"
    assert images[-1]["image"] == ":svc.web.1"


def test_get_container_images_of_a_missing_service(fake, call):
    assert call("GetContainerImages", {"serviceName": "nope"}).json()["code"] == "DoesNotExist"


def test_images_used_by_a_deployment_cannot_be_deleted(fake, call):
    fake.add_container_service("svc")
    for _ in range(3):
        register(call)
    fake.set_deployment("svc", {"app": ":svc.web.1", "proxy": "nginx:latest"})
    fake.set_deployment("svc", {"app": ":svc.web.2"}, next_deployment=True)
    for image in (":svc.web.1", ":svc.web.2"):
        response = call("DeleteContainerImage", {"serviceName": "svc", "image": image})
        assert response.status_code == 400
        assert response.json()["__type"] == "InvalidInputException"
        assert response.json()["code"] == "InvalidInput"
        assert "deployment" in response.json()["message"]
    assert call("DeleteContainerImage", {"serviceName": "svc", "image": ":svc.web.3"}).json() == {}
    fake.set_deployment("svc", None, next_deployment=True)
    assert call("DeleteContainerImage", {"serviceName": "svc", "image": ":svc.web.2"}).json() == {}


@pytest.mark.parametrize(
    ("image", "error_type"),
    [
        (":svc.web.9", "NotFoundException"),
        (":svc.api.1", "NotFoundException"),
        (":other.web.1", "NotFoundException"),
        ("nginx:latest", "InvalidInputException"),
        (":svc.web", "InvalidInputException"),
        (":svc.web.x", "InvalidInputException"),
        (":svc..1", "InvalidInputException"),
    ],
)
def test_delete_container_image_errors(fake, call, image, error_type):
    fake.add_container_service("svc")
    register(call)
    response = call("DeleteContainerImage", {"serviceName": "svc", "image": image})
    assert (response.status_code, response.json()["__type"]) == (400, error_type)


def test_get_container_services(fake, call):
    fake.add_container_service("zeta")
    fake.add_container_service("alpha")
    fake.add_container_service("mid")
    fake.register_image("alpha", "web", DIGEST)
    fake.set_deployment("alpha", {"app": ":alpha.web.1"})
    fake.set_deployment("mid", {"app": "nginx"}, next_deployment=True)
    services = call("GetContainerServices").json()["containerServices"]
    assert [s["containerServiceName"] for s in services] == ["alpha", "mid", "zeta"]
    alpha, mid, zeta = services
    assert alpha["arn"].startswith("arn:aws:lightsail:us-east-1:123456789012:ContainerService/")
    assert (alpha["state"], mid["state"], zeta["state"]) == ("RUNNING", "DEPLOYING", "READY")
    assert alpha["currentDeployment"]["containers"]["app"]["image"] == ":alpha.web.1"
    assert alpha["currentDeployment"]["state"] == "ACTIVE"
    assert "nextDeployment" not in alpha
    assert mid["nextDeployment"]["containers"] == {
        "app": {"image": "nginx", "command": [], "environment": {}, "ports": {}}
    }
    assert "currentDeployment" not in zeta
    one = call("GetContainerServices", {"serviceName": "mid"}).json()["containerServices"]
    assert one == [mid]
    missing = call("GetContainerServices", {"serviceName": "nope"})
    assert missing.json()["code"] == "DoesNotExist"


def test_registry_login_defaults(fake, call):
    first = call("CreateContainerServiceRegistryLogin").json()["registryLogin"]
    second = call("CreateContainerServiceRegistryLogin").json()["registryLogin"]
    assert first["username"] == "AWS"
    assert first["password"] != second["password"]
    assert first["registry"].endswith(".invalid")
    expected = (fake.now() + dt.timedelta(hours=12)).timestamp()
    assert first["expiresAt"] == pytest.approx(expected, abs=5)


def test_registry_login_can_point_at_a_real_registry(fake, call):
    fake.set_registry("127.0.0.1:5000", username="tester", password="pw")
    login = call("CreateContainerServiceRegistryLogin").json()["registryLogin"]
    assert (login["registry"], login["username"], login["password"]) == (
        "127.0.0.1:5000",
        "tester",
        "pw",
    )


# --- input validation, server side ---------------------------------------------------


@pytest.mark.parametrize(
    ("params", "member"),
    [
        ({"serviceName": "ab!!", "label": "web", "digest": DIGEST}, "serviceName"),
        ({"serviceName": "!!ab", "label": "web", "digest": DIGEST}, "serviceName"),
        ({"serviceName": "svc\n", "label": "web", "digest": DIGEST}, "serviceName"),
        ({"serviceName": "-svc", "label": "web", "digest": DIGEST}, "serviceName"),
        ({"serviceName": "", "label": "web", "digest": DIGEST}, "serviceName"),
        ({"serviceName": "a" * 64, "label": "web", "digest": DIGEST}, "serviceName"),
        ({"serviceName": "svc", "label": "a" * 54, "digest": DIGEST}, "label"),
        ({"serviceName": "svc", "label": "Web", "digest": DIGEST}, "label"),
        ({"serviceName": "svc", "label": "web", "digest": "sha256:abc"}, "digest"),
        ({"serviceName": "svc", "label": "web", "digest": "sha256:" + "AB" * 32}, "digest"),
        ({"serviceName": "svc", "label": "web"}, "digest"),
        ({"label": "web", "digest": DIGEST}, "serviceName"),
    ],
)
def test_invalid_input_is_refused_like_the_service(fake, call, params, member):
    fake.add_container_service("svc")
    response = call("RegisterContainerImage", params)
    assert response.status_code == 400
    body = response.json()
    assert (body["__type"], body["code"]) == ("InvalidInputException", "InvalidInput")
    assert member in body["message"]
    assert body["tip"]
    assert fake.images("svc") == []


def test_every_problem_is_reported_at_once(fake, call):
    response = call("RegisterContainerImage", {"serviceName": "A", "label": "-"})
    message = response.json()["message"]
    assert "serviceName" in message
    assert "label" in message
    assert "digest: is required" in message


@settings(max_examples=80, deadline=None)
@given(st.text(st.sampled_from("ab-9!A\n"), max_size=5))
def test_the_server_accepts_exactly_the_names_the_client_accepts(sign_request, name):
    fake = FakeLightsail()
    if not validate(REGISTER_CONTAINER_IMAGE.params[:1], {"service_name": name}):
        fake.add_container_service(name)
    headers, body = sign_request(
        fake, "RegisterContainerImage", {"serviceName": name, "label": "web", "digest": DIGEST}
    )
    client_ok = not validate(
        REGISTER_CONTAINER_IMAGE.params,
        {"service_name": name, "label": "web", "digest": DIGEST},
    )
    assert (fake.handle("POST", "/", headers, body).status_code == 200) is client_ok


@pytest.mark.parametrize(
    "params",
    [
        {"serviceName": 7, "label": "web", "digest": DIGEST},
        {"serviceName": "svc", "label": ["web"], "digest": DIGEST},
    ],
)
def test_wrong_json_types_are_serialization_errors(fake, call, params):
    fake.add_container_service("svc")
    response = call("RegisterContainerImage", params)
    assert response.status_code == 400
    assert response.json()["__type"] == "com.amazon.coral.service#SerializationException"
    assert "code" not in response.json()


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_bodies_that_are_not_json_objects_are_serialization_errors(fake, sign_request, body):
    response = fake.handle("POST", "/", *sign_request(fake, body=body))
    assert response.status_code == 400
    assert response.json()["__type"].endswith("#SerializationException")


def test_an_empty_body_means_no_members(fake, sign_request):
    response = fake.handle("POST", "/", *sign_request(fake, body=b""))
    assert response.json() == {"containerServices": []}


@pytest.mark.parametrize(
    "target", ["Lightsail_20161128.CreateInstances", "Other_20161128.GetContainerImages", "nodot"]
)
def test_unknown_operations(fake, sign_request, target):
    response = fake.handle("POST", "/", *sign_request(fake, target=target))
    assert response.status_code == 400
    assert response.json()["__type"] == "com.amazon.coral.service#UnknownOperationException"
    assert response.header("x-amzn-ErrorType").startswith("UnknownOperationException:")
    assert fake.requests[-1].signature_valid is True


@pytest.mark.parametrize(("method", "path"), [("GET", "/"), ("POST", "/other")])
def test_only_post_to_the_root_is_served(fake, sign_request, method, path):
    headers, body = sign_request(fake, method=method, path=path)
    response = fake.handle(method, path, headers, body)
    assert response.status_code == 400
    assert response.json()["__type"].endswith("#UnknownOperationException")
    assert fake.requests[-1].signature_valid is True


def test_a_request_signed_for_another_method_fails_the_signature(fake, sign_request):
    response = fake.handle("PUT", "/", *sign_request(fake))
    assert response.status_code == 403


# --- recording, concurrency and the Python API -------------------------------------------


def test_requests_are_recorded(fake, call):
    fake.add_container_service("svc")
    register(call)
    register(call, service="nope")
    first, second = fake.requests
    assert first.operation == "RegisterContainerImage"
    assert first.params == {"serviceName": "svc", "label": "web", "digest": DIGEST}
    assert first.signature_valid is True
    assert first.status_code == 200
    assert first.error_type is None
    assert first.fault is None
    assert first.headers["x-amz-target"] == "Lightsail_20161128.RegisterContainerImage"
    assert json.loads(first.body) == first.params
    assert first.method == "POST"
    assert first.target == "/"
    assert first.received_at.tzinfo is not None
    assert (second.status_code, second.error_type) == (400, "NotFoundException")
    assert first.request_id != second.request_id
    fake.clear_requests()
    assert fake.requests == ()


def test_repeated_headers_are_joined(fake):
    fake.handle("POST", "/", [("X-A", "1"), ("x-a", "2")], b"{}")
    assert fake.requests[-1].headers["x-a"] == "1,2"


def test_concurrent_registrations_get_distinct_versions(fake, call):
    fake.add_container_service("svc")
    names: list[str] = []

    def worker():
        names.extend(register(call).json()["containerImage"]["image"] for _ in range(20))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(names) == sorted(f":svc.web.{n}" for n in range(1, 121))
    assert len(fake.requests) == 120


def test_python_api_errors(fake):
    fake.add_container_service("svc")
    with pytest.raises(ValueError, match="exists already"):
        fake.add_container_service("svc")
    with pytest.raises(li.ParamValidationError):
        fake.add_container_service("Bad_Name")
    with pytest.raises(li.ParamValidationError):
        fake.register_image("svc", "web", "sha256:nope")
    with pytest.raises(LookupError, match="nope"):
        fake.register_image("nope", "web", DIGEST)
    with pytest.raises(LookupError):
        fake.images("nope")
    with pytest.raises(ValueError, match="register it first"):
        fake.set_deployment("svc", {"app": ":svc.web.1"})
    with pytest.raises(li.ParamValidationError, match="container_name"):
        fake.set_deployment("svc", {"Bad Name": "nginx"})
    with pytest.raises(LookupError):
        fake.set_deployment("nope", {"app": "nginx"})
    fake.register_image("svc", "web", DIGEST)
    fake.set_deployment("svc", {"app": ":svc.web.1"})
    with pytest.raises(ValueError, match="deployment"):
        fake.delete_image("svc", ":svc.web.1")
    with pytest.raises(li.ParamValidationError):
        fake.delete_image("svc", "nginx:latest")
    with pytest.raises(LookupError):
        fake.delete_image("svc", ":svc.web.7")
    with pytest.raises(LookupError):
        fake.remove_container_service("nope")


def test_python_api_state(fake):
    info = fake.add_container_service("svc")
    assert (info.name, info.state) == ("svc", "READY")
    image = fake.register_image("svc", "web", DIGEST)
    assert isinstance(image, li.ContainerImage)
    assert image.image == ":svc.web.1"
    deployment = fake.set_deployment("svc", {"app": ":svc.web.1"})
    assert deployment is not None
    assert (deployment.version, deployment.state) == (1, "ACTIVE")
    assert fake.container_services()[0].current_deployment == deployment
    assert fake.set_deployment("svc", None) is None
    fake.delete_image("svc", ":svc.web.1")
    assert fake.images("svc") == []
    fake.remove_container_service("svc")
    assert fake.container_services() == []
    fake.add_container_service("svc")  # a new service starts counting again
    assert fake.register_image("svc", "web", DIGEST).image == ":svc.web.1"


def test_attributes_and_repr():
    fake = FakeLightsail("eu-west-2", access_key_id="AKIAX", secret_access_key="s", account_id="1")
    assert (fake.region_name, fake.access_key_id, fake.secret_access_key) == (
        "eu-west-2",
        "AKIAX",
        "s",
    )
    assert fake.account_id == "1"
    assert fake.session_token is None
    assert fake.endpoint_url == "https://lightsail.eu-west-2.amazonaws.com"
    assert "eu-west-2" in repr(fake)
    assert "s" not in repr(fake).replace("eu-west-2", "").replace("FakeLightsail", "").replace(
        "region", ""
    )
    assert fake.now().tzinfo == dt.timezone.utc


def test_fake_response_helpers():
    response = FakeResponse(200, (("Content-Type", "x"),), b'{"a": 1}')
    assert response.header("content-type") == "x"
    assert response.header("missing") is None
    assert response.json() == {"a": 1}


def test_the_testing_module_exports_what_it_documents():
    from lightsail_images import testing

    assert sorted(testing.__all__) == sorted(
        [
            "DEFAULT_ACCESS_KEY_ID",
            "DEFAULT_ACCOUNT_ID",
            "DEFAULT_SECRET_ACCESS_KEY",
            "ContainerServiceInfo",
            "Deployment",
            "DeploymentRule",
            "FakeLightsail",
            "FakeResponse",
            "Fault",
            "FaultKind",
            "Faults",
            "RecordedRequest",
            "is_testing",
            "set_testing",
        ]
    )
    for name in testing.__all__:
        assert getattr(testing, name).__doc__ or name.startswith("DEFAULT_")
