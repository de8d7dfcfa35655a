"""The API operations this library speaks, each described as data.

Adding an operation means adding its result model to ``_models.py``, one
:class:`~lightsail_images._protocol.Operation` here, and a typed method on the
client that calls ``_invoke``; validation, serialization, signing, retries and
parsing are shared.
"""

from __future__ import annotations

from lightsail_images._models import RegisterContainerImageResult
from lightsail_images._protocol import Operation
from lightsail_images._validation import Param, digest_rule, length_rule, name_rule

__all__ = ["LABEL", "REGISTER_CONTAINER_IMAGE", "SERVICE_NAME"]

SERVICE_NAME = Param("service_name", "serviceName", (length_rule(1, 63), name_rule))
LABEL = Param("label", "label", (length_rule(1, 53), name_rule))
DIGEST = Param("digest", "digest", (digest_rule,))

REGISTER_CONTAINER_IMAGE = Operation(
    name="RegisterContainerImage",
    params=(SERVICE_NAME, LABEL, DIGEST),
    output=RegisterContainerImageResult,
)
