"""deploy_container_image over real HTTP against the served FakeLightsail.

The fake models deployments as the service does (versions, ACTIVATING and
DEPLOYING, settling by a DeploymentRule, logs), so these tests see the same
wire traffic a real deploy makes.  Retry and poll sleeps are off (conftest),
and the deadline counts the skipped sleeps, so every wait is instant.
"""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

import lightsail_images as li
from lightsail_images import _retry
from lightsail_images.testing import DeploymentRule, FakeLightsail
from tests.scripted_server import Reply, scripted_server

DIGEST = "sha256:" + "d0" * 32
WEB = li.Container(
    image=":svc.web.1",
    command=("serve", "--port", "8080"),
    environment={"ZETA": "z", "ALPHA": "a", "EMPTY": ""},
    ports={"8080": "HTTP"},
)
WORKER = li.Container(image=":svc.web.1", command=("work", "--queue", "jobs"))
API = li.Container(image=":svc.api.1", ports={"9000": "TCP"})
PROXY = li.Container(image="nginx:1.27", ports={"80": "HTTP", "443": "HTTPS"})
ENDPOINT = li.EndpointRequest(
    container_name="web",
    container_port=8080,
    health_check=li.HealthCheckConfig(path="/healthz", interval_seconds=10, success_codes="200"),
)


@pytest.fixture
def seeded(fake: FakeLightsail) -> FakeLightsail:
    fake.add_container_service("svc")
    for _ in range(3):
        fake.register_image("svc", "web", DIGEST)
    for _ in range(2):
        fake.register_image("svc", "api", DIGEST)
    fake.set_deployment(
        "svc",
        {"web": WEB, "worker": WORKER, "api": API, "proxy": PROXY},
        public_endpoint=ENDPOINT,
    )
    return fake


@pytest.fixture
def client(fake: FakeLightsail, fake_url: str) -> Any:
    with li.Client(
        fake.region_name,
        endpoint_url=fake_url,
        aws_access_key_id=fake.access_key_id,
        aws_secret_access_key=fake.secret_access_key,
    ) as client:
        yield client


def creates(fake: FakeLightsail) -> list[Any]:
    return [r for r in fake.requests if r.operation == "CreateContainerServiceDeployment"]


def current_as_boto3_sees_it(fake: FakeLightsail, url: str) -> dict[str, Any]:
    boto = boto3.client(
        "lightsail",
        endpoint_url=url,
        region_name=fake.region_name,
        aws_access_key_id=fake.access_key_id,
        aws_secret_access_key=fake.secret_access_key,
    )
    try:
        service = boto.get_container_services(serviceName="svc")["containerServices"][0]
    finally:
        boto.close()
    return service["currentDeployment"]


def test_the_image_swap_keeps_every_other_field_byte_for_byte(
    seeded: FakeLightsail, fake_url: str, client: li.Client
) -> None:
    before = current_as_boto3_sees_it(seeded, fake_url)
    deployment = client.deploy_container_image(service_name="svc", image=":svc.web.3")
    (request,) = creates(seeded)
    sent = json.loads(request.body)
    assert list(sent) == ["serviceName", "containers", "publicEndpoint"]
    expected = {
        name: {**spec, "image": ":svc.web.3"} if name in {"web", "worker"} else spec
        for name, spec in before["containers"].items()
    }
    # Member for member, in the order the service reported them.
    assert json.dumps(sent["containers"]) == json.dumps(expected)
    assert json.dumps(sent["publicEndpoint"]) == json.dumps(before["publicEndpoint"])
    assert deployment.state == "ACTIVE"
    assert deployment.version == before["version"] + 1
    assert deployment.containers is not None
    assert deployment.containers["web"] == li.Container(
        image=":svc.web.3",
        command=WEB.command,
        environment=WEB.environment,
        ports=WEB.ports,
    )


def test_the_deploy_request_is_byte_for_byte_what_botocore_sends(
    seeded: FakeLightsail, client: li.Client
) -> None:
    client.deploy_container_image(service_name="svc", image=":svc.web.2", wait=False)
    (ours,) = creates(seeded)
    params = json.loads(ours.body)
    with scripted_server(default=Reply.json(200, {})) as server:
        boto = boto3.client(
            "lightsail",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id="AKID",
            aws_secret_access_key="secret",
        )
        boto.create_container_service_deployment(**params)
        boto.close()
    (theirs,) = server.requests
    assert theirs.body == ours.body


def test_label_matching_swaps_every_container_of_the_label_and_only_those(
    seeded: FakeLightsail, client: li.Client
) -> None:
    deployment = client.deploy_container_image(
        service_name="svc", image=li.ImageRef("svc", "web", 2)
    )
    assert deployment.containers is not None
    images = {name: spec.image for name, spec in deployment.containers.items()}
    assert images == {
        "web": ":svc.web.2",
        "worker": ":svc.web.2",
        "api": ":svc.api.1",
        "proxy": "nginx:1.27",
    }


def test_label_matching_finds_latest_references(seeded: FakeLightsail, client: li.Client) -> None:
    seeded.set_deployment("svc", {"app": li.Container(image=":svc.web.latest")})
    image = seeded.images("svc")[1]  # a ContainerImage, as push_container_image returns
    deployment = client.deploy_container_image(service_name="svc", image=image)
    assert deployment.containers == {
        "app": li.Container(image=":svc.web.2", command=(), environment={}, ports={})
    }


def test_container_name_chooses_the_container(seeded: FakeLightsail, client: li.Client) -> None:
    deployment = client.deploy_container_image(
        service_name="svc", image="nginx:1.28", container_name="proxy"
    )
    assert deployment.containers is not None
    assert deployment.containers["proxy"].image == "nginx:1.28"
    assert deployment.containers["web"].image == ":svc.web.1"
    only_worker = client.deploy_container_image(
        service_name="svc", image=":svc.web.3", container_name="worker"
    )
    assert only_worker.containers is not None
    assert only_worker.containers["worker"].image == ":svc.web.3"
    assert only_worker.containers["web"].image == ":svc.web.1"


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        (
            {"image": ":svc.db.1"},
            "image",
            ["labelled 'db'", "web (:svc.web.1)", "api (:svc.api.1)", "proxy (nginx:1.27)"],
        ),
        ({"image": "nginx:2", "container_name": None}, "container_name", ["pass container_name"]),
        (
            {"image": ":svc.web.2", "container_name": "cache"},
            "container_name",
            ["no container 'cache'", "worker (:svc.web.1)"],
        ),
        ({"image": ":other.web.2"}, "image", ["registered to container service 'other'"]),
        ({"image": 42}, "image", ["got int"]),
        ({"image": ":svc.web.2", "timeout": 0}, "timeout", ["greater than 0"]),
    ],
)
def test_clear_errors_list_the_containers_and_create_nothing(
    seeded: FakeLightsail, client: li.Client, kwargs: dict[str, Any], field: str, words: list[str]
) -> None:
    with pytest.raises(li.ParamValidationError) as caught:
        client.deploy_container_image(service_name="svc", **kwargs)
    (problem,) = caught.value.errors
    assert problem.field == field
    for word in words:
        assert word in problem.message
    assert creates(seeded) == []


def test_no_current_deployment_points_at_create_container_service_deployment(
    fake: FakeLightsail, client: li.Client
) -> None:
    fake.add_container_service("svc")
    fake.register_image("svc", "web", DIGEST)
    with pytest.raises(li.ParamValidationError, match="create_container_service_deployment"):
        client.deploy_container_image(service_name="svc", image=":svc.web.1")
    with pytest.raises(li.NotFoundException):
        client.deploy_container_image(service_name="nope", image=":nope.web.1")


def test_re_runs_are_idempotent(seeded: FakeLightsail, client: li.Client) -> None:
    events: list[li.DeploymentProgress] = []
    first = client.deploy_container_image(service_name="svc", image=":svc.web.2")
    again = client.deploy_container_image(
        service_name="svc", image=":svc.web.2", on_progress=events.append
    )
    assert again == first
    assert [event.kind for event in events] == ["unchanged"]
    assert len(creates(seeded)) == 1
    # A pending deployment of the same image is joined, not stacked.
    seeded.set_deployment_rule("svc", DeploymentRule(polls=3))
    pending = client.deploy_container_image(service_name="svc", image=":svc.web.3", wait=False)
    assert pending.state == "ACTIVATING"
    events.clear()
    joined = client.deploy_container_image(
        service_name="svc", image=":svc.web.3", on_progress=events.append
    )
    assert joined.version == pending.version
    assert joined.state == "ACTIVE"
    assert events[0].kind == "joined"
    assert events[-1].kind == "active"
    assert len(creates(seeded)) == 2
    assert [d.state for d in seeded.deployments("svc")] == ["ACTIVE", "INACTIVE", "INACTIVE"]


def test_progress_reports_each_state_change(seeded: FakeLightsail, client: li.Client) -> None:
    events: list[li.DeploymentProgress] = []
    client.deploy_container_image(service_name="svc", image=":svc.web.2", on_progress=events.append)
    assert [(e.kind, e.version, e.deployment_state, e.service_state) for e in events] == [
        ("created", 2, "ACTIVATING", "DEPLOYING"),
        ("state", 2, "ACTIVATING", "DEPLOYING"),
        ("active", 2, "ACTIVE", "RUNNING"),
    ]
    assert all(event.service_name == "svc" for event in events)
    assert events[-1].elapsed >= 2.0  # at least the first poll interval, slept or skipped


def test_waits_behind_an_activating_deployment_then_deploys_on_top_of_it(
    seeded: FakeLightsail, client: li.Client
) -> None:
    seeded.set_deployment(
        "svc",
        {"web": WEB, "worker": WORKER, "api": li.Container(image=":svc.api.2"), "proxy": PROXY},
        public_endpoint=ENDPOINT,
        next_deployment=True,
        rule=DeploymentRule(polls=2),
    )
    events: list[li.DeploymentProgress] = []
    deployment = client.deploy_container_image(
        service_name="svc", image=":svc.web.2", on_progress=events.append
    )
    assert events[0].kind == "waiting"
    assert events[0].version == 2
    assert "still activating" in events[0].message
    assert [e.kind for e in events][-2:] == ["state", "active"]
    assert "created" in [e.kind for e in events]
    assert deployment.version == 3
    assert deployment.containers is not None
    # Built from the deployment it waited for, not from the one before it.
    assert deployment.containers["api"].image == ":svc.api.2"
    assert deployment.containers["web"].image == ":svc.web.2"
    assert len(creates(seeded)) == 1


def test_failed_deployment_raises_with_the_new_containers_logs(
    seeded: FakeLightsail, client: li.Client
) -> None:
    seeded.write_log("svc", "web", "an old line from the previous deployment")
    time.sleep(0.01)  # the fake's clock must move past the old line
    seeded.set_deployment_rule(
        "svc",
        DeploymentRule(
            polls=1,
            healthy=False,
            log_lines=(
                "Traceback (most recent call last):",
                "ModuleNotFoundError: No module named 'app'",
            ),
        ),
    )
    events: list[li.DeploymentProgress] = []
    with pytest.raises(li.DeploymentFailedError) as caught:
        client.deploy_container_image(
            service_name="svc", image=":svc.web.2", on_progress=events.append
        )
    err = caught.value
    assert isinstance(err, li.LightsailError)
    assert err.version == 2
    assert set(err.logs) == {"web", "worker", "api", "proxy"}
    web_lines = [event.message for event in err.logs["web"]]
    assert "ModuleNotFoundError: No module named 'app'" in web_lines
    assert web_lines[0] == "[deployment:2] Creating your deployment"
    assert "an old line from the previous deployment" not in web_lines
    assert "ModuleNotFoundError: No module named 'app'" in str(err)
    assert "deployment 2 of container service 'svc' failed" in str(err)
    assert events[-1].kind == "failed"
    service = seeded.container_services()[0]
    assert service.current_deployment is not None
    assert service.current_deployment.version == 1  # the previous one keeps running
    assert [d.state for d in seeded.deployments("svc")] == ["FAILED", "ACTIVE"]


def test_timeout_says_it_may_still_finish(seeded: FakeLightsail, client: li.Client) -> None:
    seeded.set_deployment_rule("svc", DeploymentRule(polls=10_000))
    started = time.monotonic()
    with pytest.raises(li.DeploymentTimeoutError) as caught:
        client.deploy_container_image(service_name="svc", image=":svc.web.2", timeout=60)
    assert time.monotonic() - started < 10  # the skipped sleeps still count
    err = caught.value
    assert (err.version, err.state, err.timeout) == (2, "ACTIVATING", 60)
    assert "may still finish" in str(err)
    assert "get-container-services --service-name svc" in str(err)
    polls = [r for r in seeded.requests if r.operation == "GetContainerServices"]
    # 2 s, then x1.5 up to 15 s, +/-20%: a handful of polls in 60 s, not a busy loop.
    assert 5 <= len(polls) <= 12
    # Re-running waits on the same deployment instead of creating another.
    seeded.set_deployment_rule("svc", DeploymentRule())
    with pytest.raises(li.DeploymentTimeoutError):
        client.deploy_container_image(service_name="svc", image=":svc.web.2", timeout=1)
    assert len(creates(seeded)) == 1


def test_timeout_while_waiting_behind_another_deployment(
    seeded: FakeLightsail, client: li.Client
) -> None:
    seeded.set_deployment(
        "svc",
        {"web": WEB},
        next_deployment=True,
        rule=None,  # never settles
    )
    with pytest.raises(li.DeploymentTimeoutError) as caught:
        client.deploy_container_image(service_name="svc", image=":svc.web.2", timeout=30)
    assert caught.value.version is None
    assert "none was created" in str(caught.value)
    assert creates(seeded) == []


def test_transient_errors_while_polling_are_retried(
    seeded: FakeLightsail, client: li.Client
) -> None:
    seeded.set_deployment_rule("svc", DeploymentRule(polls=2))
    polls = "GetContainerServices"
    # The first read (before creating) goes through untouched; then the polls
    # meet failures: the retry loop absorbs two per poll, the waiter the rest.
    seeded.faults.delay(0, operation=polls)
    seeded.faults.fail(times=2, status=503, error_type="ServiceUnavailable", operation=polls)
    seeded.faults.throttle(times=1, operation=polls)
    seeded.faults.drop(times=3, operation=polls)
    deployment = client.deploy_container_image(service_name="svc", image=":svc.web.2")
    assert deployment.state == "ACTIVE"
    assert seeded.faults.pending == 0
    failed = [r for r in seeded.requests if r.fault is not None and r.status_code != 200]
    assert len(failed) == 6
    assert len(creates(seeded)) == 1


def test_an_ambiguous_create_is_joined_not_repeated(
    seeded: FakeLightsail, client: li.Client
) -> None:
    # The service creates the deployment, then the answer is lost.
    seeded.faults.fail_after_processing(
        times=1, status=500, operation="CreateContainerServiceDeployment"
    )
    events: list[li.DeploymentProgress] = []
    deployment = client.deploy_container_image(
        service_name="svc", image=":svc.web.2", on_progress=events.append
    )
    assert deployment.version == 2
    assert deployment.state == "ACTIVE"
    assert len(creates(seeded)) == 1
    assert events[0].kind == "joined"


def test_wait_false_returns_the_created_deployment(
    seeded: FakeLightsail, client: li.Client
) -> None:
    deployment = client.deploy_container_image(service_name="svc", image=":svc.web.2", wait=False)
    assert (deployment.version, deployment.state) == (2, "ACTIVATING")
    assert [r.operation for r in seeded.requests] == [
        "GetContainerServices",
        "CreateContainerServiceDeployment",
    ]


def test_the_wait_never_sleeps_in_testing_mode(
    seeded: FakeLightsail, client: li.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(_retry, "_clock_sleep", slept.append)
    seeded.set_deployment_rule("svc", DeploymentRule(polls=4))
    client.deploy_container_image(service_name="svc", image=":svc.web.2")
    assert slept == []
    with _retry.set_testing(False):
        seeded.set_deployment_rule("svc", DeploymentRule(polls=2))
        client.deploy_container_image(service_name="svc", image=":svc.web.3")
    # Through the one sleep seam: first poll within seconds, growing, capped.
    assert len(slept) == 3
    assert 1.6 <= slept[0] <= 2.4
    assert 2.4 <= slept[1] <= 3.6
    assert all(delay <= 15 * 1.2 for delay in slept)


def test_a_clock_rule_settles_when_the_fake_clock_has_moved_on() -> None:
    import datetime as dt

    now = [dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)]
    fake = FakeLightsail(clock=lambda: now[0])
    fake.add_container_service("svc")
    fake.set_deployment("svc", {"web": "nginx:1"})
    fake.set_deployment_rule("svc", DeploymentRule(after=dt.timedelta(minutes=3)))
    with (
        fake.serve() as url,
        li.Client(
            fake.region_name,
            endpoint_url=url,
            aws_access_key_id=fake.access_key_id,
            aws_secret_access_key=fake.secret_access_key,
        ) as client,
    ):
        pending = client.deploy_container_image(
            service_name="svc", image="nginx:2", container_name="web", wait=False
        )
        for _ in range(5):  # reads do not settle it: only the clock does
            client.get_container_services(service_name="svc")
        assert [d.state for d in fake.deployments("svc")] == ["ACTIVATING", "ACTIVE"]
        now[0] += dt.timedelta(minutes=3)
        deployment = client.deploy_container_image(
            service_name="svc", image="nginx:2", container_name="web"
        )
    assert deployment.version == pending.version
    assert [d.state for d in fake.deployments("svc")] == ["ACTIVE", "INACTIVE"]
