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

from lightsail_images._client import Client
from lightsail_images._config import ClientConfig
from lightsail_images._errors import (
    AccessDeniedException,
    ConfigurationError,
    InvalidInputException,
    LightsailError,
    MalformedResponseError,
    NoCredentialsError,
    NoRegionError,
    NotFoundException,
    ParamValidationError,
    RegionSetupInProgressException,
    ServiceError,
    ServiceException,
    TransportError,
    UnauthenticatedException,
    ValidationProblem,
)
from lightsail_images._models import (
    ContainerImage,
    ContainerServiceRegistryLogin,
    CreateContainerServiceRegistryLoginResult,
    DeleteContainerImageResult,
    ErrorDetails,
    GetContainerImagesResult,
    ImageRef,
    PruneResult,
    RegisterContainerImageResult,
    ResponseMetadata,
)
from lightsail_images._version import __version__

__all__ = [
    "AccessDeniedException",
    "Client",
    "ClientConfig",
    "ConfigurationError",
    "ContainerImage",
    "ContainerServiceRegistryLogin",
    "CreateContainerServiceRegistryLoginResult",
    "DeleteContainerImageResult",
    "ErrorDetails",
    "GetContainerImagesResult",
    "ImageRef",
    "InvalidInputException",
    "LightsailError",
    "MalformedResponseError",
    "NoCredentialsError",
    "NoRegionError",
    "NotFoundException",
    "ParamValidationError",
    "PruneResult",
    "RegionSetupInProgressException",
    "RegisterContainerImageResult",
    "ResponseMetadata",
    "ServiceError",
    "ServiceException",
    "TransportError",
    "UnauthenticatedException",
    "ValidationProblem",
    "__version__",
]
