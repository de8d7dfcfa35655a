"""The fake's in-memory model of container services and their images.

Plain Python, no wire format: the request-handling core in ``_fake.py`` turns
JSON into calls on :class:`Model` and :class:`ApiError` into error responses.

The semantics modelled, as the service behaves:

- An image is registered to an existing container service under a label;
  each registration under one (service, label) gets the next version,
  starting at 1, and its name is ``":<service>.<label>.<version>"``.
- Deleting an image never frees its version: the next registration under
  that label still gets the next number.
- An image used by the service's current or next deployment cannot be deleted.

Inputs are checked before they get here (with the library's own parameter
rules); the model checks only what needs its state.  Every method takes the
model's lock, so the threaded server may call it freely.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Mapping

import attrs

from lightsail_images._models import ContainerImage

__all__ = [
    "ApiError",
    "ContainerServiceInfo",
    "Deployment",
    "Model",
]


class ApiError(Exception):
    """An error the service models, raised by :class:`Model` and answered on the wire.

    Attributes:
        error_type: e.g. ``"NotFoundException"``.
        message: what went wrong.
        tip: what to do about it.
        status: the HTTP status (400 for every modelled client error).

    """

    def __init__(self, error_type: str, message: str, tip: str, status: int = 400) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.tip = tip
        self.status = status


def _service_not_found(name: str) -> ApiError:
    return ApiError(
        "NotFoundException",
        f"No container service named {name!r} exists in this region.",
        "Check the name and the region: container services are regional. "
        "GetContainerServices lists the services that exist.",
    )


@attrs.frozen
class Deployment:
    """A container service deployment, reduced to what the image API cares about.

    Attributes:
        version: the deployment's number within its service, from 1.
        state: ``"ACTIVE"`` for the current deployment, ``"ACTIVATING"`` for the next.
        containers: container name to image, e.g. ``{"app": ":svc.web.2"}``.
        created_at: when the deployment was set.

    """

    version: int
    state: str
    containers: Mapping[str, str]
    created_at: dt.datetime


@attrs.frozen
class ContainerServiceInfo:
    """A snapshot of one fake container service.

    Attributes:
        name: the service name.
        arn: its ARN.
        created_at: when it was added.
        state: ``"READY"`` without deployments, ``"RUNNING"`` with a current
            deployment, ``"DEPLOYING"`` while a next deployment is pending.
        current_deployment: the running deployment, if any.
        next_deployment: the pending deployment, if any.

    """

    name: str
    arn: str
    created_at: dt.datetime
    state: str
    current_deployment: Deployment | None
    next_deployment: Deployment | None


@attrs.define
class _Service:
    name: str
    arn: str
    created_at: dt.datetime
    images: dict[str, ContainerImage] = attrs.field(factory=dict)
    last_version: dict[str, int] = attrs.field(factory=dict)
    current: Deployment | None = None
    next: Deployment | None = None
    deployments: int = 0

    def snapshot(self) -> ContainerServiceInfo:
        if self.next is not None:
            state = "DEPLOYING"
        elif self.current is not None:
            state = "RUNNING"
        else:
            state = "READY"
        return ContainerServiceInfo(
            self.name, self.arn, self.created_at, state, self.current, self.next
        )

    def images_in_use(self) -> set[str]:
        return {
            image
            for deployment in (self.current, self.next)
            if deployment is not None
            for image in deployment.containers.values()
        }


class Model:
    """Container services, their images and deployments, in memory."""

    def __init__(self, *, region_name: str, account_id: str) -> None:
        self._region_name = region_name
        self._account_id = account_id
        self._lock = threading.RLock()
        self._services: dict[str, _Service] = {}

    def _service(self, name: str) -> _Service:
        service = self._services.get(name)
        if service is None:
            raise _service_not_found(name)
        return service

    def add_service(self, name: str, now: dt.datetime) -> ContainerServiceInfo:
        """Create an empty service; ``ValueError`` if it exists already."""
        with self._lock:
            if name in self._services:
                msg = f"a container service named {name!r} exists already"
                raise ValueError(msg)
            arn = (
                f"arn:aws:lightsail:{self._region_name}:{self._account_id}:"
                f"ContainerService/{uuid.uuid4()}"
            )
            service = _Service(name, arn, now)
            self._services[name] = service
            return service.snapshot()

    def remove_service(self, name: str) -> None:
        """Delete a service with its images and version counters."""
        with self._lock:
            self._service(name)
            del self._services[name]

    def services(self, name: str | None = None) -> list[ContainerServiceInfo]:
        """Return every service by name, or only the one named (``ApiError`` if absent)."""
        with self._lock:
            if name is not None:
                return [self._service(name).snapshot()]
            return [self._services[key].snapshot() for key in sorted(self._services)]

    def register_image(
        self, service_name: str, label: str, digest: str, now: dt.datetime
    ) -> ContainerImage:
        """Register ``digest`` under ``label`` with the label's next version."""
        with self._lock:
            service = self._service(service_name)
            version = service.last_version.get(label, 0) + 1
            service.last_version[label] = version
            image = ContainerImage(
                image=f":{service_name}.{label}.{version}", digest=digest, created_at=now
            )
            service.images[image.image] = image
            return image

    def images(self, service_name: str) -> list[ContainerImage]:
        """Return the service's images in registration order (``ApiError`` if it is absent)."""
        with self._lock:
            return list(self._service(service_name).images.values())

    def delete_image(self, service_name: str, image: str) -> None:
        """Delete a registered image that no deployment uses."""
        with self._lock:
            service = self._service(service_name)
            if image not in service.images:
                raise ApiError(
                    "NotFoundException",
                    f"No image named {image!r} is registered to container service "
                    f"{service_name!r}.",
                    "Use GetContainerImages to list the images registered to the service.",
                )
            if image in service.images_in_use():
                raise ApiError(
                    "InvalidInputException",
                    f"Image {image!r} is used by the current or next deployment of container "
                    f"service {service_name!r} and cannot be deleted.",
                    "Deploy a different image first, then delete this one.",
                )
            del service.images[image]

    def set_deployment(
        self,
        service_name: str,
        containers: Mapping[str, str] | None,
        *,
        next_deployment: bool,
        now: dt.datetime,
    ) -> Deployment | None:
        """Set (or with ``None`` clear) the current or the next deployment."""
        with self._lock:
            service = self._service(service_name)
            deployment = None
            if containers is not None:
                unknown = sorted(
                    image
                    for image in containers.values()
                    if image.startswith(":") and image not in service.images
                )
                if unknown:
                    msg = (
                        f"container service {service_name!r} has no registered image "
                        f"{', '.join(map(repr, unknown))}; register it first"
                    )
                    raise ValueError(msg)
                service.deployments += 1
                deployment = Deployment(
                    version=service.deployments,
                    state="ACTIVATING" if next_deployment else "ACTIVE",
                    containers=dict(containers),
                    created_at=now,
                )
            if next_deployment:
                service.next = deployment
            else:
                service.current = deployment
            return deployment
