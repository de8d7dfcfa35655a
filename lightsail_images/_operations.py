"""The API operations this library speaks, each described as data.

Adding an operation means adding its result model to ``_models.py``, one
:class:`~lightsail_images._protocol.Operation` here, and a typed method on the
client that calls ``_invoke``; validation, serialization, signing, retries and
parsing are shared.
"""

from __future__ import annotations

from lightsail_images._models import (
    ContainerServicesResult,
    CreateContainerServiceRegistryLoginResult,
    DeleteContainerImageResult,
    GetContainerImagesResult,
    RegisterContainerImageResult,
)
from lightsail_images._protocol import Operation
from lightsail_images._validation import (
    Param,
    digest_rule,
    image_belongs_to_service,
    image_name_rule,
    length_rule,
    name_rule,
)

__all__ = [
    "CREATE_CONTAINER_SERVICE_REGISTRY_LOGIN",
    "DELETE_CONTAINER_IMAGE",
    "DIGEST",
    "GET_CONTAINER_IMAGES",
    "GET_CONTAINER_SERVICES",
    "IMAGE",
    "LABEL",
    "REGISTER_CONTAINER_IMAGE",
    "SERVICE_NAME",
]

SERVICE_NAME = Param("service_name", "serviceName", (length_rule(1, 63), name_rule))
LABEL = Param("label", "label", (length_rule(1, 53), name_rule))
DIGEST = Param("digest", "digest", (digest_rule,))
IMAGE = Param("image", "image", (image_name_rule,))

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
# Only the members pruning needs are modelled; the rest of the answer is ignored.
GET_CONTAINER_SERVICES = Operation(
    name="GetContainerServices",
    params=(SERVICE_NAME,),
    output=ContainerServicesResult,
)
