"""The models of container services, their deployments and their logs.

Frozen attrs classes like those of ``_models.py`` (see its docstring), loaded
on first use: building them is a cost that a script which only registers
images should not pay.  Their public names are importable from
``lightsail_images`` (and from ``_models``) as if they were defined there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import attrs

from lightsail_images._models import ResponseMetadata
from lightsail_images._public import present_when_loaded

__all__ = [
    "DEPLOYMENT_STATES",
    "PORT_PROTOCOLS",
    "Container",
    "ContainerLogEvent",
    "ContainerService",
    "ContainerServiceECRImagePullerRole",
    "ContainerServiceStateDetail",
    "CreateContainerServiceDeploymentResult",
    "Deployment",
    "EndpointRequest",
    "GetContainerLogResult",
    "GetContainerServiceDeploymentsResult",
    "GetContainerServicesResult",
    "HealthCheckConfig",
    "PrivateRegistryAccess",
    "ResourceLocation",
    "Tag",
]

# --- container services and their deployments -------------------------------
# Members and their order are the API's (botocore's lightsail model); a member
# the service left out is ``None``, never a default that would be sent back:
# re-deploying a deployment must send exactly what the service reported.

# ContainerServiceProtocol, as the API enumerates it.
PORT_PROTOCOLS = ("HTTP", "HTTPS", "TCP", "UDP")
# ContainerServiceDeploymentState.
DEPLOYMENT_STATES = ("ACTIVATING", "ACTIVE", "INACTIVE", "FAILED")


@attrs.frozen(kw_only=True)
class Container:
    """One container of a deployment: its image, launch command, environment and ports.

    The API's ``Container`` shape.  ``None`` means the member is absent, which
    is not the same as empty: the service keeps what it was sent.

    Attributes:
        image: a registered image (``":my-svc.web.3"``, or ``":my-svc.web.latest"``
            for the newest version of a label) or a public image (``"nginx:1.27"``).
        command: the launch command, overriding the image's.
        environment: environment variables.
        ports: open ports, port number (as a string) to protocol:
            ``"HTTP"``, ``"HTTPS"``, ``"TCP"`` or ``"UDP"``.

    Example::

        web = li.Container(
            image=":my-svc.web.3",
            environment={"LOG_LEVEL": "info"},
            ports={"8080": "HTTP"},
        )

    """

    image: str | None = None
    command: tuple[str, ...] | None = None
    environment: Mapping[str, str] | None = None
    ports: Mapping[str, str] | None = None


@attrs.frozen(kw_only=True)
class HealthCheckConfig:
    """How the public endpoint's container is checked.

    The API's ``ContainerServiceHealthCheckConfig``.

    Every member is optional; the service applies its default to an absent one.

    Attributes:
        healthy_threshold: consecutive successes before the container is healthy (2-10).
        unhealthy_threshold: consecutive failures before it is unhealthy (2-10).
        timeout_seconds: how long a check may take, 2-60 seconds.
        interval_seconds: time between checks, 5-300 seconds.
        path: the path checked, starting with ``/``.
        success_codes: HTTP codes that pass, 200-499: ``"200"``, ``"200,202"`` or ``"200-299"``.

    """

    healthy_threshold: int | None = None
    unhealthy_threshold: int | None = None
    timeout_seconds: int | None = None
    interval_seconds: int | None = None
    path: str | None = None
    success_codes: str | None = None


@attrs.frozen(kw_only=True)
class EndpointRequest:
    """The public endpoint of a deployment: which container and port get the traffic.

    What you send (the API's ``EndpointRequest``) and what a deployment reports
    (``ContainerServiceEndpoint``, the same members), so a deployment's
    endpoint can be sent back unchanged.

    Attributes:
        container_name: a container of the deployment.
        container_port: one of that container's ports.
        health_check: how the container is checked.

    Example::

        endpoint = li.EndpointRequest(
            container_name="web",
            container_port=8080,
            health_check=li.HealthCheckConfig(path="/healthz", success_codes="200-299"),
        )

    """

    container_name: str
    container_port: int
    health_check: HealthCheckConfig | None = None


@attrs.frozen(kw_only=True)
class Deployment:
    """A deployment of a container service (the API's ``ContainerServiceDeployment``).

    Attributes:
        version: its number within the service, from 1.
        state: ``"ACTIVATING"``, ``"ACTIVE"``, ``"INACTIVE"`` or ``"FAILED"``.
        containers: container name to :class:`Container`.
        public_endpoint: the container and port that receive public traffic, if any.
        created_at: when it was created, a UTC datetime.

    """

    version: int | None = None
    state: str | None = None
    containers: Mapping[str, Container] | None = None
    public_endpoint: EndpointRequest | None = None
    created_at: dt.datetime | None = None

    def images(self) -> frozenset[str]:
        """Return the images its containers run."""
        return frozenset(
            container.image
            for container in (self.containers or {}).values()
            if container.image is not None
        )


@attrs.frozen(kw_only=True)
class ResourceLocation:
    """Where a resource lives: its region, and ``"all"`` zones for a container service."""

    availability_zone: str | None = None
    region_name: str | None = None


@attrs.frozen(kw_only=True)
class Tag:
    """A resource tag."""

    key: str | None = None
    value: str | None = None


@attrs.frozen(kw_only=True)
class ContainerServiceStateDetail:
    """Why a container service is in its state, e.g. ``code="ACTIVATING_DEPLOYMENT"``."""

    code: str | None = None
    message: str | None = None


@attrs.frozen(kw_only=True)
class ContainerServiceECRImagePullerRole:
    """The role that lets a container service pull from private Amazon ECR repositories."""

    is_active: bool | None = None
    principal_arn: str | None = None


@attrs.frozen(kw_only=True)
class PrivateRegistryAccess:
    """A container service's access to private Amazon ECR repositories."""

    ecr_image_puller_role: ContainerServiceECRImagePullerRole | None = None


@attrs.frozen(kw_only=True)
class ContainerService:
    """A Lightsail container service, as ``GetContainerServices`` describes it.

    Attributes:
        container_service_name: its name.
        arn: its ARN.
        created_at: when it was created.
        location: its region.
        resource_type: ``"ContainerService"``.
        tags: its tags.
        power: its node size, ``"nano"`` to ``"xlarge"``.
        power_id: the power's ID.
        state: ``"PENDING"``, ``"READY"`` (no deployment yet), ``"RUNNING"``,
            ``"UPDATING"``, ``"DELETING"``, ``"DISABLED"`` or ``"DEPLOYING"``.
        state_detail: more about the state, while it changes.
        scale: how many nodes run (1-20).
        current_deployment: the deployment that serves traffic, if any.
        next_deployment: the deployment being activated, if any.
        is_disabled: whether the service is disabled.
        principal_arn: the service's principal, for IAM policies.
        private_domain_name: its name inside its network.
        public_domain_names: certificate name to custom domain names.
        url: its public URL.
        private_registry_access: its access to private ECR repositories.

    Example::

        service = client.get_container_services(service_name="my-svc").container_services[0]
        print(service.state, service.url)
        if service.current_deployment is not None:
            for name, container in (service.current_deployment.containers or {}).items():
                print(name, container.image)

    """

    container_service_name: str
    arn: str | None = None
    created_at: dt.datetime | None = None
    location: ResourceLocation | None = None
    resource_type: str | None = None
    tags: tuple[Tag, ...] | None = None
    power: str | None = None
    power_id: str | None = None
    state: str | None = None
    state_detail: ContainerServiceStateDetail | None = None
    scale: int | None = None
    current_deployment: Deployment | None = None
    next_deployment: Deployment | None = None
    is_disabled: bool | None = None
    principal_arn: str | None = None
    private_domain_name: str | None = None
    public_domain_names: Mapping[str, tuple[str, ...]] | None = None
    url: str | None = None
    private_registry_access: PrivateRegistryAccess | None = None

    def images_in_use(self) -> frozenset[str]:
        """Image names that the current or next deployment references."""
        return frozenset(
            image
            for deployment in (self.current_deployment, self.next_deployment)
            if deployment is not None
            for image in deployment.images()
        )


@attrs.frozen(kw_only=True)
class GetContainerServicesResult:
    """What ``Client.get_container_services`` returns.

    Attributes:
        container_services: the services, or the one asked for.
        response_metadata: request id, HTTP status and attempt count.

    """

    container_services: tuple[ContainerService, ...] = ()
    response_metadata: ResponseMetadata


@attrs.frozen(kw_only=True)
class CreateContainerServiceDeploymentResult:
    """What ``Client.create_container_service_deployment`` returns.

    Attributes:
        container_service: the service, with the new deployment as ``next_deployment``.
        response_metadata: request id, HTTP status and attempt count.

    """

    container_service: ContainerService
    response_metadata: ResponseMetadata


@attrs.frozen(kw_only=True)
class GetContainerServiceDeploymentsResult:
    """What ``Client.get_container_service_deployments`` returns.

    Attributes:
        deployments: the service's deployments, newest first (the service keeps
            the last four: current, next and the previous ones).
        response_metadata: request id, HTTP status and attempt count.

    """

    deployments: tuple[Deployment, ...] = ()
    response_metadata: ResponseMetadata


@attrs.frozen(kw_only=True)
class ContainerLogEvent:
    """One line of a container's log (the API's ``ContainerServiceLogEvent``).

    Attributes:
        created_at: when the line was written, a UTC datetime.
        message: the line.

    """

    created_at: dt.datetime | None = None
    message: str | None = None


@attrs.frozen(kw_only=True)
class GetContainerLogResult:
    """One page of ``GetContainerLog`` (internal: the client yields the events of every page)."""

    log_events: tuple[ContainerLogEvent, ...] = ()
    next_page_token: str | None = None
    response_metadata: ResponseMetadata


present_when_loaded(globals())
