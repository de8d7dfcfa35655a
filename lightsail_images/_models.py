"""The typed results: frozen attrs classes that know nothing of the wire.

Field names are Python's (``created_at``); the mapping from the API's
``createdAt`` and epoch-second timestamps lives in ``_protocol.py``'s private
cattrs converter, so these classes stay plain data that users can build in tests.

This module holds the models a registration needs: the image, the
registration's result and its response metadata.  The others live in
modules that load on first use: image names and the results of listing,
deleting and pruning images in ``_image_models.py``, the members of an error
body in ``_error_models.py``, container services, deployments and logs in
``_service_models.py``, registry logins and pushes in ``_registry_models.py``.
Each frozen attrs class costs its compile time and about 25 KiB of memory at
import, so a script that only registers images builds none of those.  Their
names are still importable from here (a PEP 562 ``__getattr__``), and type
checkers see them through the ``TYPE_CHECKING`` imports below.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import attrs

from lightsail_images._public import lazy_attributes

if TYPE_CHECKING:
    from lightsail_images._error_models import ErrorDetails
    from lightsail_images._image_models import (
        DeleteContainerImageResult,
        GetContainerImagesResult,
        ImageRef,
        PruneResult,
    )
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
        from lightsail_images._image_models import ImageRef  # noqa: PLC0415 - loads on first use

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


if not TYPE_CHECKING:
    # The names of the modules above, for code that imports them from here.
    __getattr__ = lazy_attributes(
        __name__,
        (
            "lightsail_images._image_models",
            "lightsail_images._error_models",
            "lightsail_images._service_models",
            "lightsail_images._registry_models",
        ),
    )
