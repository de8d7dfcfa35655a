"""A typed Python client for Amazon Lightsail container images.

Example::

    import lightsail_images as li

    with li.Client("us-east-1") as client:
        result = client.register_container_image(
            service_name="my-svc", label="web", digest="sha256:" + "ab" * 32
        )
        print(result.container_image.image)  # ":my-svc.web.1"

Everything public is importable from here; the modules behind it are private.
The push machinery (tar, gzip, a thread pool, the registry protocol) is not
imported here: ``Client.push_container_image`` loads it on first use, so
scripts that only register images never pay for it.  Nor are the models of
container services, deployments, logs and pushes, nor the deployment
helpers: their names are here all the same, and load when first used (a
PEP 562 ``__getattr__``; see ``_public.py``).
"""

import typing as _typing

from lightsail_images._client import Client
from lightsail_images._config import ClientConfig
from lightsail_images._errors import (
    AccessDeniedException,
    ConfigurationError,
    DeploymentFailedError,
    DeploymentTimeoutError,
    DigestMismatchError,
    ImageSourceError,
    InvalidInputException,
    LightsailError,
    MalformedResponseError,
    NoCredentialsError,
    NoRegionError,
    NotFoundException,
    ParamValidationError,
    PlatformError,
    RegionSetupInProgressException,
    RegistryAuthError,
    RegistryError,
    ServiceError,
    ServiceException,
    TransportError,
    UnauthenticatedException,
    ValidationProblem,
)
from lightsail_images._models import (
    ContainerImage,
    RegisterContainerImageResult,
    ResponseMetadata,
)
from lightsail_images._public import lazy_attributes as _lazy_attributes
from lightsail_images._public import present_as_public as _present_as_public
from lightsail_images._version import __version__

if _typing.TYPE_CHECKING:
    from lightsail_images._deploy import DeploymentProgress
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
        Container,
        ContainerLogEvent,
        ContainerService,
        ContainerServiceECRImagePullerRole,
        ContainerServiceStateDetail,
        CreateContainerServiceDeploymentResult,
        Deployment,
        EndpointRequest,
        GetContainerServiceDeploymentsResult,
        GetContainerServicesResult,
        HealthCheckConfig,
        PrivateRegistryAccess,
        ResourceLocation,
        Tag,
    )

__all__ = [
    "AccessDeniedException",
    "Client",
    "ClientConfig",
    "ConfigurationError",
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
    "DeploymentFailedError",
    "DeploymentProgress",
    "DeploymentTimeoutError",
    "DigestMismatchError",
    "EndpointRequest",
    "ErrorDetails",
    "GetContainerImagesResult",
    "GetContainerServiceDeploymentsResult",
    "GetContainerServicesResult",
    "HealthCheckConfig",
    "ImageRef",
    "ImageSourceError",
    "InvalidInputException",
    "LightsailError",
    "MalformedResponseError",
    "NoCredentialsError",
    "NoRegionError",
    "NotFoundException",
    "ParamValidationError",
    "PlatformError",
    "PrivateRegistryAccess",
    "PruneResult",
    "PushProgress",
    "PushedImage",
    "RegionSetupInProgressException",
    "RegisterContainerImageResult",
    "RegistryAuthError",
    "RegistryError",
    "RegistryErrorDetail",
    "ResourceLocation",
    "ResponseMetadata",
    "ServiceError",
    "ServiceException",
    "Tag",
    "TransportError",
    "UnauthenticatedException",
    "ValidationProblem",
    "__version__",
]


# Public classes say lightsail_images...X in tracebacks and reprs (see _public.py).
_present_as_public(globals(), __name__, [name for name in __all__ if name in globals()])

if not _typing.TYPE_CHECKING:
    # The public names whose modules load on first use (see the docstring).
    __getattr__ = _lazy_attributes(
        __name__,
        (
            "lightsail_images._image_models",
            "lightsail_images._error_models",
            "lightsail_images._service_models",
            "lightsail_images._registry_models",
            "lightsail_images._deploy",
        ),
        only=__all__,
    )


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
