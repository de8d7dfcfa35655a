"""Typed usage of the public API: checked by mypy --strict and pyright, never run.

Lines marked ``# type: ignore[...]`` (mypy) and ``# pyright: ignore[...]``
(pyright) are *expected* errors: both checkers fail on an unneeded marker, so
loosening a signature (accepting positional arguments, returning ``Any``)
makes this file fail the check.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from botocore.exceptions import ClientError
from typing_extensions import assert_type

import lightsail_images as li
from lightsail_images.testing import set_testing


def register(client: li.Client, digest: str) -> str:
    result = client.register_container_image(service_name="svc", label="web", digest=digest)
    assert_type(result, li.RegisterContainerImageResult)
    assert_type(result.container_image, li.ContainerImage)
    assert_type(result.container_image.image, str)
    assert_type(result.container_image.digest, str)
    assert_type(result.container_image.created_at, dt.datetime)
    assert_type(result.response_metadata.request_id, str | None)
    assert_type(result.response_metadata.http_status_code, int)
    assert_type(result.response_metadata.attempts, int)
    return result.container_image.image


def configure() -> li.Client:
    config = li.ClientConfig(
        connect_timeout=5, read_timeout=10.5, max_attempts=5, user_agent_extra="ci/1"
    )
    with li.Client("us-east-1", config=config) as client:
        assert_type(client, li.Client)
    return li.Client(region_name=None, endpoint_url="http://127.0.0.1:1", profile_name="ops")


def handle(client: li.Client) -> None:
    try:
        client.register_container_image(service_name="svc", label="web", digest="sha256:00")
    except li.ParamValidationError as err:
        for problem in err.errors:
            assert_type(problem, li.ValidationProblem)
            assert_type(problem.field, str)
    except li.NotFoundException as err:
        assert_type(err.tip, str | None)
        assert_type(err.details, li.ErrorDetails)
    except li.ServiceError as err:
        assert_type(err.code, str)
        assert_type(err.http_status_code, int)
        assert_type(err.attempts, int)
        assert_type(err.request_id, str | None)
    except li.TransportError as err:
        assert_type(err.attempts, int)
    except ClientError:
        pass
    except li.LightsailError:
        pass


def testing_switch() -> None:
    with set_testing(True):
        pass


def expected_errors(client: li.Client) -> None:
    # Operation parameters are keyword-only.
    client.register_container_image("svc", "web", "sha256:00")  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    # Every parameter is required.
    client.register_container_image(service_name="svc", label="web")  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    # Parameters are strings.
    client.register_container_image(service_name=1, label="web", digest="d")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    # Results are frozen.
    result = client.register_container_image(service_name="s", label="w", digest="d")
    result.container_image.image = "x"  # type: ignore[misc]  # pyright: ignore[reportAttributeAccessIssue]
    # Configuration is keyword-only after the region.
    li.Client("us-east-1", "http://x")  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    # ClientConfig has no such setting.
    li.ClientConfig(retries=3)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]


def deployments(client: li.Client) -> None:
    result = client.create_container_service_deployment(
        service_name="svc",
        containers={"web": li.Container(image=":svc.web.1", ports={"80": "HTTP"})},
        public_endpoint=li.EndpointRequest(
            container_name="web",
            container_port=80,
            health_check=li.HealthCheckConfig(path="/healthz", interval_seconds=10),
        ),
    )
    assert_type(result, li.CreateContainerServiceDeploymentResult)
    assert_type(result.container_service.next_deployment, li.Deployment | None)
    services = client.get_container_services().container_services
    assert_type(services, tuple[li.ContainerService, ...])
    assert_type(services[0].state, str | None)
    listing = client.get_container_service_deployments(service_name="svc")
    assert_type(listing.deployments, tuple[li.Deployment, ...])
    for event in client.get_container_log(service_name="svc", container_name="web"):
        assert_type(event, li.ContainerLogEvent)
        assert_type(event.message, str | None)
    client.create_container_service_deployment(service_name="svc")  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]


def deploy(client: li.Client, image: li.ContainerImage) -> None:
    def show(event: li.DeploymentProgress) -> None:
        assert_type(event.kind, str)
        assert_type(event.version, int | None)

    deployment = client.deploy_container_image(
        service_name="svc", image=image, container_name="web", timeout=600, on_progress=show
    )
    assert_type(deployment, li.Deployment)
    client.deploy_container_image(service_name="svc", image=li.ImageRef("svc", "web", 2))
    client.deploy_container_image(service_name="svc", image=":svc.web.2", wait=False)
    try:
        client.deploy_container_image(service_name="svc", image=":svc.web.3")
    except li.DeploymentFailedError as err:
        assert_type(err.version, int)
        for events in err.logs.values():
            assert_type(events, tuple[li.ContainerLogEvent, ...])
    except li.DeploymentTimeoutError as err:
        assert_type(err.version, int | None)
    client.deploy_container_image(service_name="svc", image=3)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def attribute_typos(
    *,
    lightsail: li.LightsailError,
    validation: li.ParamValidationError,
    configuration: li.ConfigurationError,
    no_region: li.NoRegionError,
    no_credentials: li.NoCredentialsError,
    image_source: li.ImageSourceError,
    platform: li.PlatformError,
    transport: li.TransportError,
    malformed: li.MalformedResponseError,
    deployment_failed: li.DeploymentFailedError,
    deployment_timeout: li.DeploymentTimeoutError,
    registry: li.RegistryError,
    registry_auth: li.RegistryAuthError,
    digest_mismatch: li.DigestMismatchError,
    service: li.ServiceError,
    access_denied: li.AccessDeniedException,
    invalid_input: li.InvalidInputException,
    not_found: li.NotFoundException,
    service_exception: li.ServiceException,
    unauthenticated: li.UnauthenticatedException,
    region_setup: li.RegionSetupInProgressException,
) -> None:
    # A misspelt attribute is an error on every public exception, the
    # botocore ClientError subclasses included (tests/test_typing_usage.py
    # checks that every exception in __all__ is listed here).
    _ = lightsail.reqeust_id  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]
    _ = validation.erors  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]
    _ = configuration.setings  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]
    _ = no_region.reson  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]
    _ = no_credentials.reson  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]
    _ = image_source.path  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]
    _ = platform.availble  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]
    _ = transport.attempt  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]
    _ = malformed.http_status  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]
    _ = deployment_failed.log  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]
    _ = deployment_timeout.versoin  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]
    _ = registry.http_status  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]
    _ = registry_auth.http_status  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]
    _ = digest_mismatch.expcted  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]
    _ = service.reqeust_id  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]
    _ = access_denied.http_status  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]
    _ = invalid_input.tips  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]
    _ = not_found.reqeust_id  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]
    _ = service_exception.attempt  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]
    _ = unauthenticated.responce  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]
    _ = region_setup.error_code  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]
    # What botocore's ClientError gives is typed too.
    assert_type(not_found.response, dict[str, Any])
    assert_type(not_found.operation_name, str)


def push_and_deploy(client: li.Client) -> None:
    image = client.push_container_image(
        service_name="svc",
        label="web",
        source="app.tar",
        deploy=True,
        container_name="web",
        deploy_timeout=600.0,
        on_deploy_progress=lambda event: print(event.message),
    )
    assert_type(image, li.ContainerImage)
