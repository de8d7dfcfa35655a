"""The typed results: frozen attrs classes that know nothing of the wire.

Field names are Python's (``created_at``); the mapping from the API's
``createdAt`` and epoch-second timestamps lives in ``_protocol.py``'s private
cattrs converter, so these classes stay plain data that users can build in tests.
"""

from __future__ import annotations

import datetime as dt

import attrs

__all__ = [
    "ContainerImage",
    "ErrorDetails",
    "RegisterContainerImageResult",
    "ResponseMetadata",
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
