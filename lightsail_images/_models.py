"""The typed results: frozen attrs classes that know nothing of the wire.

Field names are Python's (``created_at``); the mapping from the API's
``createdAt`` and epoch-second timestamps lives in ``_protocol.py``'s private
cattrs converter, so these classes stay plain data that users can build in tests.

This module holds the models of images, which a registration needs; the
models of container services, deployments and logs live in
``_service_models.py``, and those of registry logins and pushes in
``_registry_models.py``.  Each frozen attrs class costs its compile time and
memory at import (about a fifth of the package's import), so those two load
on first use: a script that only registers images never builds them.  Their
names are still importable from here (a PEP 562 ``__getattr__``), and type
checkers see them through the ``TYPE_CHECKING`` imports below.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

import attrs

from lightsail_images._public import lazy_attributes

if TYPE_CHECKING:
    from lightsail_images._registry_models import (
        ContainerServiceRegistryLogin,
        CreateContainerServiceRegistryLoginResult,
        PushedImage,
        PushProgress,
        RegistryErrorDetail,
    )
    from lightsail_images._service_models import (
        DEPLOYMENT_STATES,
        PORT_PROTOCOLS,
        Container,
        ContainerLogEvent,
        ContainerService,
        ContainerServiceECRImagePullerRole,
        ContainerServiceStateDetail,
        CreateContainerServiceDeploymentResult,
        Deployment,
        EndpointRequest,
        GetContainerLogResult,
        GetContainerServiceDeploymentsResult,
        GetContainerServicesResult,
        HealthCheckConfig,
        PrivateRegistryAccess,
        ResourceLocation,
        Tag,
    )

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


if not TYPE_CHECKING:
    # The names of the two modules above, for code that imports them from here.
    __getattr__ = lazy_attributes(
        __name__, ("lightsail_images._service_models", "lightsail_images._registry_models")
    )
