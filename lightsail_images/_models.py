"""The typed results: frozen attrs classes that know nothing of the wire.

Field names are Python's (``created_at``); the mapping from the API's
``createdAt`` and epoch-second timestamps lives in ``_protocol.py``'s private
cattrs converter, so these classes stay plain data that users can build in tests.
"""

from __future__ import annotations

import datetime as dt
import re

import attrs

__all__ = [
    "ContainerImage",
    "ContainerServiceRegistryLogin",
    "CreateContainerServiceRegistryLoginResult",
    "DeleteContainerImageResult",
    "ErrorDetails",
    "GetContainerImagesResult",
    "ImageRef",
    "PruneResult",
    "RegisterContainerImageResult",
    "RegistryErrorDetail",
    "ResponseMetadata",
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


# --- internal: the few members of GetContainerServices that pruning needs -----
# (not exported: they model only what prune_container_images reads)


@attrs.frozen
class DeploymentContainer:
    image: str | None = None


@attrs.frozen
class ServiceDeployment:
    containers: dict[str, DeploymentContainer] = attrs.field(factory=dict)


@attrs.frozen
class ContainerServiceDeployments:
    container_service_name: str
    current_deployment: ServiceDeployment | None = None
    next_deployment: ServiceDeployment | None = None

    def images_in_use(self) -> frozenset[str]:
        """Image names that the current or next deployment references."""
        return frozenset(
            container.image
            for deployment in (self.current_deployment, self.next_deployment)
            if deployment is not None
            for container in deployment.containers.values()
            if container.image is not None
        )


@attrs.frozen(kw_only=True)
class ContainerServicesResult:
    container_services: tuple[ContainerServiceDeployments, ...] = ()
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
