"""A typed Python client for Amazon Lightsail container images.

Example::

    import lightsail_images as li

    with li.Client("us-east-1") as client:
        result = client.register_container_image(
            service_name="my-svc", label="web", digest="sha256:" + "ab" * 32
        )
        print(result.container_image.image)  # ":my-svc.web.1"

Everything public is importable from here; the modules behind it are private.
"""

import importlib as _importlib
import typing as _typing

from lightsail_images._client import Client
from lightsail_images._config import ClientConfig
from lightsail_images._errors import (
    AccessDeniedException,
    ConfigurationError,
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
    Container,
    ContainerImage,
    ContainerLogEvent,
    ContainerService,
    ContainerServiceECRImagePullerRole,
    ContainerServiceRegistryLogin,
    ContainerServiceStateDetail,
    CreateContainerServiceDeploymentResult,
    CreateContainerServiceRegistryLoginResult,
    DeleteContainerImageResult,
    Deployment,
    EndpointRequest,
    ErrorDetails,
    GetContainerImagesResult,
    GetContainerServiceDeploymentsResult,
    GetContainerServicesResult,
    HealthCheckConfig,
    ImageRef,
    PrivateRegistryAccess,
    PruneResult,
    RegisterContainerImageResult,
    RegistryErrorDetail,
    ResourceLocation,
    ResponseMetadata,
    Tag,
)
from lightsail_images._version import __version__

if _typing.TYPE_CHECKING:
    from lightsail_images._registry import PushedImage, PushProgress

# The push machinery (tar, gzip, a thread pool, the registry protocol) loads
# on first use, so scripts that only register images never pay for it.  Its
# exceptions live in _errors.py with every other one, and load eagerly.
_LAZY = {
    "PushProgress": "lightsail_images._registry",
    "PushedImage": "lightsail_images._registry",
}


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'lightsail_images' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})  # the lazy names too, for completion


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
