"""Client-side rules of CreateContainerServiceDeployment and GetContainerLog.

Every problem is reported at once, names the field as the caller typed it,
and nothing is sent (the client points at a closed port: a request would fail
with TransportError instead of ParamValidationError).
"""

from __future__ import annotations

from typing import Any

import pytest

import lightsail_images as li

WEB = li.Container(image=":svc.web.1", ports={"8080": "HTTP"})


@pytest.fixture
def client() -> li.Client:
    return li.Client(
        "us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="AKID",
        aws_secret_access_key="secret",
        config=li.ClientConfig(max_attempts=1),
    )


def problems(client: li.Client, **kwargs: Any) -> list[tuple[str, str, str]]:
    kwargs.setdefault("service_name", "svc")
    with pytest.raises(li.ParamValidationError) as caught:
        client.create_container_service_deployment(**kwargs)
    return [(p.field, p.rule, p.message) for p in caught.value.errors]


def test_a_valid_deployment_passes_validation_and_reaches_the_wire(client: li.Client) -> None:
    with pytest.raises(li.TransportError):
        client.create_container_service_deployment(
            service_name="svc",
            containers={"web": WEB, "proxy": li.Container(image="nginx:1.27")},
            public_endpoint=li.EndpointRequest(
                container_name="web",
                container_port=8080,
                health_check=li.HealthCheckConfig(
                    healthy_threshold=10,
                    unhealthy_threshold=2,
                    timeout_seconds=60,
                    interval_seconds=5,
                    path="/",
                    success_codes="200,202,300-499",
                ),
            ),
        )


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("a", True),
        ("a" * 53, True),
        ("web-1", True),
        ("a" * 54, False),
        ("Web", False),
        ("-web", False),
        ("web-", False),
        ("we_b", False),
        ("", False),
        ("web\n", False),
    ],
)
def test_container_names(client: li.Client, name: str, ok: bool) -> None:
    if ok:
        with pytest.raises(li.TransportError):
            client.create_container_service_deployment(service_name="svc", containers={name: WEB})
    else:
        (problem,) = problems(client, containers={name: WEB})
        assert problem[:2] == ("containers", "pattern")
        assert repr(name) in problem[2]


def test_ports_and_protocols(client: li.Client) -> None:
    found = problems(
        client,
        containers={
            "web": li.Container(image="nginx", ports={"0": "HTTP", "80": "http", "x": "TCP"})
        },
    )
    messages = [message for _, _, message in found]
    assert any("ports" in m and "'0'" in m for m in messages)
    assert any("HTTP, HTTPS, TCP, UDP" in m and "'http'" in m for m in messages)
    assert any("'x'" in m for m in messages)
    assert len(found) == 3


@pytest.mark.parametrize(
    ("check", "member"),
    [
        (li.HealthCheckConfig(healthy_threshold=1), "healthy_threshold"),
        (li.HealthCheckConfig(unhealthy_threshold=11), "unhealthy_threshold"),
        (li.HealthCheckConfig(timeout_seconds=1), "timeout_seconds"),
        (li.HealthCheckConfig(timeout_seconds=61), "timeout_seconds"),
        (li.HealthCheckConfig(interval_seconds=4), "interval_seconds"),
        (li.HealthCheckConfig(interval_seconds=301), "interval_seconds"),
        (li.HealthCheckConfig(path="healthz"), "path"),
        (li.HealthCheckConfig(success_codes="199"), "success_codes"),
        (li.HealthCheckConfig(success_codes="200-500"), "success_codes"),
        (li.HealthCheckConfig(success_codes="299-200"), "success_codes"),
        (li.HealthCheckConfig(success_codes="200;201"), "success_codes"),
    ],
)
def test_health_check_ranges(client: li.Client, check: li.HealthCheckConfig, member: str) -> None:
    endpoint = li.EndpointRequest(container_name="web", container_port=8080, health_check=check)
    (problem,) = problems(client, containers={"web": WEB}, public_endpoint=endpoint)
    assert problem[0] == "public_endpoint"
    assert problem[2].startswith(f"public_endpoint.health_check.{member}:")


def test_the_endpoint_must_name_a_container_and_one_of_its_ports(client: li.Client) -> None:
    (missing,) = problems(
        client,
        containers={"web": WEB},
        public_endpoint=li.EndpointRequest(container_name="api", container_port=8080),
    )
    assert "'api' is not a container of this deployment (its containers: 'web')" in missing[2]
    (port,) = problems(
        client,
        containers={"web": WEB},
        public_endpoint=li.EndpointRequest(container_name="web", container_port=80),
    )
    assert "does not open port 80 (its ports: 8080)" in port[2]


def test_images_of_another_service_or_malformed_names(client: li.Client) -> None:
    found = problems(
        client,
        containers={
            "a": li.Container(image=":other.web.1"),
            "b": li.Container(image=":svc.web"),
            "c": li.Container(image=":svc.web.latest"),
            "d": li.Container(image="nginx:latest"),
        },
    )
    assert [(field, rule) for field, rule, _ in found] == [("containers", "image")] * 2
    assert "registered to container service 'other'" in found[0][2]


def test_every_problem_at_once_and_nothing_empty(client: li.Client) -> None:
    found = problems(client, service_name="Bad!", containers={})
    assert {field for field, _, _ in found} == {"service_name", "containers"}


def test_wrong_types_are_rejected_even_with_validation_off() -> None:
    lax = li.Client(
        "us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="AKID",
        aws_secret_access_key="secret",
        config=li.ClientConfig(parameter_validation=False, max_attempts=1),
    )
    bad: Any = {"web": {"image": "nginx"}}
    with pytest.raises(
        li.ParamValidationError, match=r"containers\['web'\]: must be a lightsail_images.Container"
    ):
        lax.create_container_service_deployment(service_name="svc", containers=bad)
    port: Any = "80"
    with pytest.raises(li.ParamValidationError, match="container_port: must be an int"):
        lax.create_container_service_deployment(
            service_name="svc",
            containers={"web": WEB},
            public_endpoint=li.EndpointRequest(container_name="web", container_port=port),
        )
    env: Any = {"A": 1}
    with pytest.raises(li.ParamValidationError, match=r"environment\['A'\]: must be a str"):
        lax.create_container_service_deployment(
            service_name="svc", containers={"web": li.Container(image="x", environment=env)}
        )
    # ...but the rules are off: a name the API would refuse is sent.
    with pytest.raises(li.TransportError):
        lax.create_container_service_deployment(service_name="svc", containers={"Web!": WEB})


def test_get_container_log_checks_before_the_first_page(client: li.Client) -> None:
    start: Any = "yesterday"
    with pytest.raises(li.ParamValidationError) as caught:
        client.get_container_log(service_name="svc", container_name="Web!", start_time=start)
    assert {p.field for p in caught.value.errors} == {"container_name", "start_time"}
