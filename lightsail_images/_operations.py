"""The API operations this library speaks, each described as data.

Adding an operation means adding its result model to ``_models.py``, one
:class:`~lightsail_images._protocol.Operation` here, and a typed method on the
client that calls ``_invoke``; validation, serialization, signing, retries and
parsing are shared.

The models of the operations that a registration does not need (listing and
deleting images too) load when an operation first parses a response
(``_loaded``); see ``_models.py``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lightsail_images._models import RegisterContainerImageResult
from lightsail_images._protocol import Operation
from lightsail_images._validation import (
    Param,
    containers_rule,
    containers_type,
    datetime_type,
    deployment_cross_rule,
    digest_rule,
    endpoint_rule,
    endpoint_type,
    image_belongs_to_service,
    image_name_rule,
    length_rule,
    name_rule,
)

if TYPE_CHECKING:
    from lightsail_images._image_models import DeleteContainerImageResult, GetContainerImagesResult
    from lightsail_images._registry_models import CreateContainerServiceRegistryLoginResult
    from lightsail_images._service_models import (
        CreateContainerServiceDeploymentResult,
        GetContainerLogResult,
        GetContainerServiceDeploymentsResult,
        GetContainerServicesResult,
    )

__all__ = [
    "CONTAINERS",
    "CONTAINER_NAME",
    "CREATE_CONTAINER_SERVICE_DEPLOYMENT",
    "CREATE_CONTAINER_SERVICE_REGISTRY_LOGIN",
    "DELETE_CONTAINER_IMAGE",
    "DIGEST",
    "GET_CONTAINER_IMAGES",
    "GET_CONTAINER_LOG",
    "GET_CONTAINER_SERVICES",
    "GET_CONTAINER_SERVICE_DEPLOYMENTS",
    "IMAGE",
    "LABEL",
    "PUBLIC_ENDPOINT",
    "REGISTER_CONTAINER_IMAGE",
    "SERVICE_NAME",
]

SERVICE_NAME = Param("service_name", "serviceName", (length_rule(1, 63), name_rule))
LABEL = Param("label", "label", (length_rule(1, 53), name_rule))
DIGEST = Param("digest", "digest", (digest_rule,))
IMAGE = Param("image", "image", (image_name_rule,))
CONTAINERS = Param("containers", "containers", (containers_rule,), type_check=containers_type)
PUBLIC_ENDPOINT = Param(
    "public_endpoint", "publicEndpoint", (endpoint_rule,), required=False, type_check=endpoint_type
)
# The ContainerName shape: the same length and pattern rules as a label.
CONTAINER_NAME = Param("container_name", "containerName", (length_rule(1, 53), name_rule))


def _loaded(module: str, name: str) -> Callable[[], type[Any]]:
    """Return a function that imports ``module`` (once) and returns its model ``name``."""

    def result() -> type[Any]:
        model: type[Any] = getattr(importlib.import_module(module), name)
        return model

    return result


_IMAGES = "lightsail_images._image_models"
_SERVICES = "lightsail_images._service_models"
_REGISTRY = "lightsail_images._registry_models"

REGISTER_CONTAINER_IMAGE = Operation(
    name="RegisterContainerImage",
    params=(SERVICE_NAME, LABEL, DIGEST),
    result=lambda: RegisterContainerImageResult,
)
GET_CONTAINER_IMAGES: Operation[GetContainerImagesResult] = Operation(
    name="GetContainerImages",
    params=(SERVICE_NAME,),
    result=_loaded(_IMAGES, "GetContainerImagesResult"),
)
DELETE_CONTAINER_IMAGE: Operation[DeleteContainerImageResult] = Operation(
    name="DeleteContainerImage",
    params=(SERVICE_NAME, IMAGE),
    result=_loaded(_IMAGES, "DeleteContainerImageResult"),
    cross_rules=(image_belongs_to_service,),
)
CREATE_CONTAINER_SERVICE_REGISTRY_LOGIN: Operation[CreateContainerServiceRegistryLoginResult] = (
    Operation(
        name="CreateContainerServiceRegistryLogin",
        params=(),
        result=_loaded(_REGISTRY, "CreateContainerServiceRegistryLoginResult"),
    )
)
GET_CONTAINER_SERVICES: Operation[GetContainerServicesResult] = Operation(
    name="GetContainerServices",
    params=(SERVICE_NAME._replace(required=False),),
    result=_loaded(_SERVICES, "GetContainerServicesResult"),
)
CREATE_CONTAINER_SERVICE_DEPLOYMENT: Operation[CreateContainerServiceDeploymentResult] = Operation(
    name="CreateContainerServiceDeployment",
    params=(SERVICE_NAME, CONTAINERS, PUBLIC_ENDPOINT),
    result=_loaded(_SERVICES, "CreateContainerServiceDeploymentResult"),
    cross_rules=(deployment_cross_rule,),
)
GET_CONTAINER_SERVICE_DEPLOYMENTS: Operation[GetContainerServiceDeploymentsResult] = Operation(
    name="GetContainerServiceDeployments",
    params=(SERVICE_NAME,),
    result=_loaded(_SERVICES, "GetContainerServiceDeploymentsResult"),
)
GET_CONTAINER_LOG: Operation[GetContainerLogResult] = Operation(
    name="GetContainerLog",
    params=(
        SERVICE_NAME,
        CONTAINER_NAME,
        Param("start_time", "startTime", required=False, type_check=datetime_type),
        Param("end_time", "endTime", required=False, type_check=datetime_type),
        Param("filter_pattern", "filterPattern", required=False),
        Param("page_token", "pageToken", required=False),
    ),
    result=_loaded(_SERVICES, "GetContainerLogResult"),
)
