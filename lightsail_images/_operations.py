"""The API operations this library speaks, each described as data.

Adding an operation means adding its result model to ``_models.py``, one
:class:`~lightsail_images._protocol.Operation` here, and a typed method on the
client that calls ``_invoke``; validation, serialization, signing, retries and
parsing are shared.
"""

from __future__ import annotations

import attrs

from lightsail_images._models import (
    CreateContainerServiceDeploymentResult,
    CreateContainerServiceRegistryLoginResult,
    DeleteContainerImageResult,
    GetContainerImagesResult,
    GetContainerLogResult,
    GetContainerServiceDeploymentsResult,
    GetContainerServicesResult,
    RegisterContainerImageResult,
)
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

REGISTER_CONTAINER_IMAGE = Operation(
    name="RegisterContainerImage",
    params=(SERVICE_NAME, LABEL, DIGEST),
    output=RegisterContainerImageResult,
)
GET_CONTAINER_IMAGES = Operation(
    name="GetContainerImages",
    params=(SERVICE_NAME,),
    output=GetContainerImagesResult,
)
DELETE_CONTAINER_IMAGE = Operation(
    name="DeleteContainerImage",
    params=(SERVICE_NAME, IMAGE),
    output=DeleteContainerImageResult,
    cross_rules=(image_belongs_to_service,),
)
CREATE_CONTAINER_SERVICE_REGISTRY_LOGIN = Operation(
    name="CreateContainerServiceRegistryLogin",
    params=(),
    output=CreateContainerServiceRegistryLoginResult,
)
GET_CONTAINER_SERVICES = Operation(
    name="GetContainerServices",
    params=(attrs.evolve(SERVICE_NAME, required=False),),
    output=GetContainerServicesResult,
)
CREATE_CONTAINER_SERVICE_DEPLOYMENT = Operation(
    name="CreateContainerServiceDeployment",
    params=(SERVICE_NAME, CONTAINERS, PUBLIC_ENDPOINT),
    output=CreateContainerServiceDeploymentResult,
    cross_rules=(deployment_cross_rule,),
)
GET_CONTAINER_SERVICE_DEPLOYMENTS = Operation(
    name="GetContainerServiceDeployments",
    params=(SERVICE_NAME,),
    output=GetContainerServiceDeploymentsResult,
)
GET_CONTAINER_LOG = Operation(
    name="GetContainerLog",
    params=(
        SERVICE_NAME,
        CONTAINER_NAME,
        Param("start_time", "startTime", required=False, type_check=datetime_type),
        Param("end_time", "endTime", required=False, type_check=datetime_type),
        Param("filter_pattern", "filterPattern", required=False),
        Param("page_token", "pageToken", required=False),
    ),
    output=GetContainerLogResult,
)
