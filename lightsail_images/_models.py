"""The typed results: frozen attrs classes that know nothing of the wire.

Field names are Python's (``created_at``); the mapping from the API's
``createdAt`` and epoch-second timestamps lives in ``_protocol.py``'s private
cattrs converter, so these classes stay plain data that users can build in tests.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

import attrs

__all__ = [
    "DEPLOYMENT_STATES",
    "PORT_PROTOCOLS",
    "Container",
    "ContainerImage",
    "ContainerLogEvent",
    "ContainerService",
    "ContainerServiceECRImagePullerRole",
    "ContainerServiceRegistryLogin",
    "ContainerServiceStateDetail",
    "CreateContainerServiceDeploymentResult",
    "CreateContainerServiceRegistryLoginResult",
    "DeleteContainerImageResult",
    "Deployment",
    "EndpointRequest",
    "ErrorDetails",
    "GetContainerImagesResult",
    "GetContainerLogResult",
    "GetContainerServiceDeploymentsResult",
    "GetContainerServicesResult",
    "HealthCheckConfig",
    "ImageRef",
    "PrivateRegistryAccess",
    "PruneResult",
    "PushProgress",
    "PushedImage",
    "RegisterContainerImageResult",
    "RegistryErrorDetail",
    "ResourceLocation",
    "ResponseMetadata",
    "Tag",
]

# ":<service>.<label>.<version>": names and labels use [a-z0-9-] only, so the
# dots are unambiguous separators.
_IMAGE_NAME = re.compile(
    r":(?P<service>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)"
    r"\.(?P<label>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)"
    r"\.(?P<version>[1-9][0-9]{0,17})"
)
_SERVICE_MAX = 63
_LABEL_MAX = 53


@attrs.frozen
class ImageRef:
    """The parts of a registered image name, ``":<service_name>.<label>.<version>"``.

    Example::

        ref = li.ImageRef.parse(":my-svc.web.3")
        ref.service_name, ref.label, ref.version  # ("my-svc", "web", 3)
        str(ref)                                  # ":my-svc.web.3"
        str(li.ImageRef("my-svc", "web", 4))      # ":my-svc.web.4"
    """

    service_name: str
    label: str
    version: int

    @classmethod
    def parse(cls, name: str) -> ImageRef:
        """Parse a registered image name.

        Raises:
            ValueError: ``name`` is not of the form ``":<service>.<label>.<version>"``
                (for example a public image such as ``"nginx:latest"``).

        """
        try:
            match = _IMAGE_NAME.fullmatch(name)
        except TypeError:  # not a string at all
            match = None
        if (
            match is None
            or len(match["service"]) > _SERVICE_MAX
            or len(match["label"]) > _LABEL_MAX
        ):
            msg = (
                f"{name!r} is not a registered Lightsail image name; expected "
                "':<service>.<label>.<version>', for example ':my-svc.web.3'"
            )
            raise ValueError(msg)
        return cls(match["service"], match["label"], int(match["version"]))

    def __str__(self) -> str:
        return f":{self.service_name}.{self.label}.{self.version}"


@attrs.frozen
class ResponseMetadata:
    """Facts about the HTTP exchange that produced a result.

    Attributes:
        request_id: the ``x-amzn-RequestId`` response header, for AWS support.
        http_status_code: the HTTP status of the final response.
        attempts: how many attempts the call took; 1 when no retry was needed.

    """

    request_id: str | None
    http_status_code: int
    attempts: int = 1


@attrs.frozen
class ContainerImage:
    """A container image registered to a Lightsail container service.

    Attributes:
        image: the image name to use in deployments, for example ``":my-svc.web.3"``.
        digest: the image's content digest, ``"sha256:..."``.
        created_at: when the image was registered, a timezone-aware UTC datetime.

    Example::

        image = result.container_image
        print(f"deploy {image.image} ({image.digest}) from {image.created_at:%Y-%m-%d}")

    """

    image: str
    digest: str
    created_at: dt.datetime

    @property
    def ref(self) -> ImageRef:
        """The parsed image name: service name, label and version.

        Raises:
            ValueError: the name is not a registered image name (never the
                case for images returned by this library's operations).

        """
        return ImageRef.parse(self.image)


@attrs.frozen
class RegisterContainerImageResult:
    """What ``Client.register_container_image`` returns.

    Attributes:
        container_image: the newly registered image.
        response_metadata: request id, HTTP status and attempt count.

    """

    container_image: ContainerImage
    response_metadata: ResponseMetadata


@attrs.frozen
class ErrorDetails:
    """The members of a Lightsail error body.

    Lightsail errors carry its own sub-code (for example ``"DoesNotExist"``), a
    message, a documentation link and a tip on what to do.  Any of them may be
    missing, so each is ``str | None``.
    """

    code: str | None = None
    docs: str | None = None
    message: str | None = None
    tip: str | None = None


@attrs.frozen(kw_only=True)
class GetContainerImagesResult:
    """What ``Client.get_container_images`` returns.

    Attributes:
        container_images: the images registered to the service, as the
            service lists them (newest first).
        response_metadata: request id, HTTP status and attempt count.

    """

    container_images: tuple[ContainerImage, ...] = ()
    response_metadata: ResponseMetadata


@attrs.frozen(kw_only=True)
class DeleteContainerImageResult:
    """What ``Client.delete_container_image`` returns: only the response metadata."""

    response_metadata: ResponseMetadata


def _hidden(_: object) -> str:
    return "'***'"


@attrs.frozen(kw_only=True)
class ContainerServiceRegistryLogin:
    """Temporary credentials for pushing images to your Lightsail registry.

    The password is a secret: it never appears in ``repr()`` or ``str()``.

    Attributes:
        username: the registry user name.
        password: the registry password (valid until ``expires_at``).
        expires_at: when the credentials expire, a UTC datetime (12 hours after creation).
        registry: the registry address to push to.

    """

    username: str
    password: str = attrs.field(repr=_hidden)
    expires_at: dt.datetime
    registry: str


@attrs.frozen(kw_only=True)
class CreateContainerServiceRegistryLoginResult:
    """What ``Client.create_container_service_registry_login`` returns."""

    registry_login: ContainerServiceRegistryLogin
    response_metadata: ResponseMetadata


@attrs.frozen(kw_only=True)
class PruneResult:
    """What ``Client.prune_container_images`` did, or would do in a dry run.

    Attributes:
        deleted: images deleted (or, when ``dry_run``, that would be deleted).
        kept: images kept because they are among the newest ``keep`` of their label.
        in_use: older images kept because the service's current or next
            deployment uses them.
        dry_run: whether this was a dry run (nothing was deleted).

    """

    deleted: tuple[ContainerImage, ...]
    kept: tuple[ContainerImage, ...]
    in_use: tuple[ContainerImage, ...]
    dry_run: bool


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


@attrs.frozen
class RegistryErrorDetail:
    """One entry of a registry's ``{"errors": [...]}`` body.

    Attributes:
        code: the spec's error code, for example ``"BLOB_UNKNOWN"`` or ``"DENIED"``.
        message: the registry's text, or ``""``.
        detail: the ``detail`` member as compact JSON text, when there is one.

    """

    code: str
    message: str = ""
    detail: str | None = None


@attrs.frozen
class PushProgress:
    """What happened to one blob, passed to ``on_progress``.

    Every blob yields at least one event with ``done=True``: with
    ``skipped=True`` when the registry already had it.  While it uploads,
    events report ``sent`` growing toward ``size``; a retried upload may
    report a smaller ``sent`` than before.

    Attributes:
        digest: the blob's digest.
        media_type: the blob's media type (config or layer).
        size: the blob's size in bytes.
        sent: bytes sent so far in the current upload.
        skipped: the registry already had the blob; nothing was sent.
        done: the blob is in the registry.

    """

    digest: str
    media_type: str
    size: int
    sent: int
    skipped: bool = False
    done: bool = False


@attrs.frozen
class PushedImage:
    """The manifest a push stored in the registry.

    Attributes:
        registry: the registry host, for example ``"123.dkr.ecr.us-east-1.amazonaws.com"``.
        repository: the repository name, for example ``"sr"``.
        tag: the tag the manifest was stored under.
        digest: the manifest digest, to register with Lightsail.
        media_type: the manifest's media type.
        size: the manifest's length in bytes.

    """

    registry: str
    repository: str
    tag: str
    digest: str
    media_type: str
    size: int

    @property
    def reference(self) -> str:
        """``registry/repository@digest``, a name that cannot move."""
        return f"{self.registry}/{self.repository}@{self.digest}"
