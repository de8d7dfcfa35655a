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
- A new deployment gets the service's next version, state ``ACTIVATING``
  (the service ``DEPLOYING``), and settles by the service's
  :class:`DeploymentRule`: after some reads of the service, or once the clock
  has moved on, to ``ACTIVE`` (the previous one turns ``INACTIVE``) or to
  ``FAILED`` (the current one stays).  No second deployment can be created
  while one is activating.  Each container's log gets the rule's lines.

Inputs are checked before they get here (with the library's own parameter
rules); the model checks only what needs its state.  Every method takes the
model's lock, so the threaded server may call it freely.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import uuid
from collections.abc import Mapping, Sequence

import attrs

from lightsail_images._models import (
    Container,
    ContainerImage,
    ContainerLogEvent,
    Deployment,
    EndpointRequest,
)

__all__ = [
    "ApiError",
    "ContainerServiceInfo",
    "Deployment",
    "DeploymentRule",
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


@attrs.frozen(kw_only=True)
class DeploymentRule:
    """How a fake container service settles each new deployment.

    By default a deployment is seen ``ACTIVATING`` by one read of the service
    (``GetContainerServices`` or ``GetContainerServiceDeployments``) and is
    ``ACTIVE`` from the next one on.

    Attributes:
        polls: how many reads still see it ``ACTIVATING``; ignored when ``after`` is set.
        after: settle once the fake's clock is this far past its creation instead.
        healthy: settle to ``ACTIVE`` (``True``) or ``FAILED`` (``False``).
        log_lines: lines each of its containers writes to its log when it settles,
            e.g. ``("Error: cannot bind to port 8080",)`` for a failing one.

    Example::

        fake.set_deployment_rule(
            "svc", DeploymentRule(polls=3, healthy=False, log_lines=("boom",))
        )

    """

    polls: int = 1
    after: dt.timedelta | None = None
    healthy: bool = True
    log_lines: Sequence[str] = ()


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
    # Every deployment by version; current and next name versions in it.
    history: dict[int, Deployment] = attrs.field(factory=dict)
    current: int | None = None
    next: int | None = None
    # How the pending deployment settles (None: never, it was set by a test),
    # and how many reads have seen it pending.
    pending_rule: DeploymentRule | None = None
    pending_reads: int = 0
    rule: DeploymentRule = attrs.field(factory=DeploymentRule)
    logs: dict[str, list[ContainerLogEvent]] = attrs.field(factory=dict)

    def deployment(self, version: int | None) -> Deployment | None:
        return None if version is None else self.history[version]

    def snapshot(self) -> ContainerServiceInfo:
        if self.next is not None:
            state = "DEPLOYING"
        elif self.current is not None:
            state = "RUNNING"
        else:
            state = "READY"
        return ContainerServiceInfo(
            self.name,
            self.arn,
            self.created_at,
            state,
            self.deployment(self.current),
            self.deployment(self.next),
        )

    def images_in_use(self) -> set[str]:
        return {
            image
            for deployment in (self.deployment(self.current), self.deployment(self.next))
            if deployment is not None
            for image in deployment.images()
        }

    def set_state(self, version: int, state: str) -> Deployment:
        deployment = attrs.evolve(self.history[version], state=state)
        self.history[version] = deployment
        return deployment

    def log(self, containers: Sequence[str], lines: Sequence[str], now: dt.datetime) -> None:
        for name in containers:
            self.logs.setdefault(name, []).extend(
                ContainerLogEvent(created_at=now, message=line) for line in lines
            )


# ":<service>.<label>.latest": the newest registered version of a label.
_LATEST = re.compile(r":(?P<service>[^.]+)\.(?P<label>[^.]+)\.latest")


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
        containers: Mapping[str, Container] | None,
        *,
        public_endpoint: EndpointRequest | None = None,
        next_deployment: bool,
        rule: DeploymentRule | None = None,
        now: dt.datetime,
    ) -> Deployment | None:
        """Set (or with ``None`` clear) the current or the next deployment.

        A next deployment set this way stays pending unless ``rule`` says how
        it settles.
        """
        with self._lock:
            service = self._service(service_name)
            deployment = None
            if containers is not None:
                self._check_images(service, containers, error=ValueError)
                deployment = self._new_deployment(
                    service,
                    containers,
                    public_endpoint,
                    state="ACTIVATING" if next_deployment else "ACTIVE",
                    now=now,
                )
            version = None if deployment is None else deployment.version
            if next_deployment:
                service.next = version
                service.pending_rule = rule
                service.pending_reads = 0
            else:
                if service.current is not None and version is not None:
                    service.set_state(service.current, "INACTIVE")
                service.current = version
            return deployment

    def set_rule(self, service_name: str, rule: DeploymentRule) -> None:
        """Choose how the service's next deployments settle."""
        with self._lock:
            self._service(service_name).rule = rule

    def create_deployment(
        self,
        service_name: str,
        containers: Mapping[str, Container],
        public_endpoint: EndpointRequest | None,
        now: dt.datetime,
    ) -> ContainerServiceInfo:
        """CreateContainerServiceDeployment: a new pending deployment, as the service makes one."""
        with self._lock:
            service = self._service(service_name)
            if service.next is not None:
                raise ApiError(
                    "InvalidInputException",
                    f"Container service {service_name!r} is DEPLOYING: deployment version "
                    f"{service.next} is still activating, and only one deployment can "
                    "activate at a time.",
                    "Wait until the service's state is RUNNING again "
                    "(GetContainerServices), then create the deployment.",
                )
            self._check_images(service, containers, error=None)
            deployment = self._new_deployment(
                service, containers, public_endpoint, state="ACTIVATING", now=now
            )
            service.log(
                list(containers),
                [f"[deployment:{deployment.version}] Creating your deployment"],
                now,
            )
            service.next = deployment.version
            service.pending_rule = service.rule
            service.pending_reads = 0
            return service.snapshot()

    def _new_deployment(
        self,
        service: _Service,
        containers: Mapping[str, Container],
        public_endpoint: EndpointRequest | None,
        *,
        state: str,
        now: dt.datetime,
    ) -> Deployment:
        version = max(service.history, default=0) + 1
        deployment = Deployment(
            version=version,
            state=state,
            containers=dict(containers),
            public_endpoint=public_endpoint,
            created_at=now,
        )
        service.history[version] = deployment
        for name in containers:
            service.logs.setdefault(name, [])
        return deployment

    def _check_images(
        self,
        service: _Service,
        containers: Mapping[str, Container],
        *,
        error: type[ValueError] | None,
    ) -> None:
        unknown = sorted(
            container.image
            for container in containers.values()
            if container.image is not None
            and container.image.startswith(":")
            and not self._registered(service, container.image)
        )
        if not unknown:
            return
        names = ", ".join(map(repr, unknown))
        if error is not None:
            msg = (
                f"container service {service.name!r} has no registered image {names}; "
                "register it first"
            )
            raise error(msg)
        raise ApiError(
            "InvalidInputException",
            f"The image {names} is not registered to container service {service.name!r}.",
            "Images that start with ':' must be registered to this service "
            "(RegisterContainerImage, GetContainerImages); use a public image otherwise.",
        )

    @staticmethod
    def _registered(service: _Service, image: str) -> bool:
        latest = _LATEST.fullmatch(image)
        if latest is not None:
            return latest["service"] == service.name and any(
                name.startswith(f":{service.name}.{latest['label']}.") for name in service.images
            )
        return image in service.images

    def observe(self, service_name: str | None, now: dt.datetime) -> None:
        """Count one read of a service (or of all), settling pending deployments when due."""
        with self._lock:
            if service_name is not None:
                targets = [self._service(service_name)]
            else:
                targets = list(self._services.values())
            for service in targets:
                self._settle_if_due(service, now, read=True)

    def _settle_if_due(self, service: _Service, now: dt.datetime, *, read: bool) -> None:
        rule = service.pending_rule
        if service.next is None or rule is None:
            return
        pending = service.history[service.next]
        if rule.after is not None:
            created = pending.created_at or now
            due = now >= created + rule.after
        else:
            if read:
                service.pending_reads += 1
            due = service.pending_reads > rule.polls
        if not due:
            return
        version = service.next
        names = list(pending.containers or {})
        service.log(names, list(rule.log_lines), now)
        if rule.healthy:
            if service.current is not None:
                service.set_state(service.current, "INACTIVE")
            service.set_state(version, "ACTIVE")
            service.current = version
            service.log(names, [f"[deployment:{version}] Reached a steady state"], now)
        else:
            service.set_state(version, "FAILED")
            service.log(
                names,
                [f"[deployment:{version}] The deployment failed; the previous one keeps running"],
                now,
            )
        service.next = None
        service.pending_rule = None
        service.pending_reads = 0

    def deployments(self, service_name: str) -> list[Deployment]:
        """Return the service's deployments, newest first."""
        with self._lock:
            service = self._service(service_name)
            return [service.history[v] for v in sorted(service.history, reverse=True)]

    def log(self, service_name: str, container_name: str) -> list[ContainerLogEvent]:
        """Return a container's log, oldest line first."""
        with self._lock:
            service = self._service(service_name)
            if container_name not in service.logs:
                raise ApiError(
                    "NotFoundException",
                    f"No container named {container_name!r} has run on container service "
                    f"{service_name!r}.",
                    "Use the container names of the service's deployments "
                    "(GetContainerServiceDeployments).",
                )
            return list(service.logs[container_name])

    def append_log(
        self, service_name: str, container_name: str, lines: Sequence[str], now: dt.datetime
    ) -> None:
        """Write lines to a container's log."""
        with self._lock:
            self._service(service_name).log([container_name], lines, now)
