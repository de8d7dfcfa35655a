"""Pure decisions behind ``Client.deploy_container_image``: no I/O here.

The client reads the service, these functions decide, the client acts:

- :func:`image_name` turns what the caller passed (a name, an :class:`ImageRef`,
  a :class:`ContainerImage`) into the image name to deploy.
- :func:`swap_image` builds the new deployment from the current one: the same
  containers, commands, environments, ports and public endpoint, with only
  the image changed, in the container named ``container_name`` or else in
  every container running an image of the same service and label.  What it
  cannot decide (no match, no current deployment) is a
  :class:`ParamValidationError` that lists the deployment's containers and
  images, since the caller's argument does not fit the service's state.
- :class:`PollSchedule` is the wait's clock: when to poll next and when the
  one overall deadline has passed.

The polling schedule (documented in ``docs/deploy.md``): the first poll
:data:`FIRST_POLL` seconds after the deployment is created, each next interval
:data:`GROWTH` times the last, capped at :data:`MAX_POLL`, each with +/-
:data:`JITTER` random jitter (so that parallel pipelines do not poll in
step), and never past the deadline.  Time spent in sleeps that
``set_testing(True)`` skipped still counts towards the deadline, so a test's
timeout is reached after the same polls as in real life, instantly.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Mapping

import attrs

from lightsail_images._config import DEFAULT_DEPLOY_TIMEOUT as DEFAULT_TIMEOUT
from lightsail_images._errors import ParamValidationError, ValidationProblem
from lightsail_images._image_models import ImageRef
from lightsail_images._models import ContainerImage
from lightsail_images._public import present_when_loaded
from lightsail_images._service_models import Container, Deployment

__all__ = [
    "DEFAULT_TIMEOUT",
    "FIRST_POLL",
    "GROWTH",
    "JITTER",
    "MAX_POLL",
    "DeploymentProgress",
    "PollSchedule",
    "image_name",
    "swap_image",
]

FIRST_POLL = 2.0
GROWTH = 1.5
MAX_POLL = 15.0
JITTER = 0.2
OPERATION = "deploy_container_image"

# ":<service>.<label>.<version or latest>", the names a deployment may run.
_SERVICE_IMAGE = re.compile(
    r":(?P<service>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)\.(?P<label>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)"
    r"\.(?:[1-9][0-9]{0,17}|latest)"
)


@attrs.frozen(kw_only=True)
class DeploymentProgress:
    """One step of ``deploy_container_image``, passed to its ``on_progress`` callback.

    Attributes:
        kind: what happened:

            - ``"waiting"``: another deployment is still activating; this one
              is created once it has settled;
            - ``"unchanged"``: the active deployment already runs the image,
              nothing was created;
            - ``"joined"``: a pending deployment already runs the image, it is
              waited on instead of creating another;
            - ``"created"``: the deployment was created;
            - ``"state"``: the deployment's or the service's state changed;
            - ``"active"``: the deployment is active and the service running;
            - ``"failed"``: the deployment failed.

        message: a sentence for people, e.g. ``"deployment 5 is ACTIVATING (service DEPLOYING)"``.
        service_name: the container service.
        version: the deployment concerned, when there is one.
        deployment_state: its state: ``"ACTIVATING"``, ``"ACTIVE"``, ``"FAILED"``...
        service_state: the service's state: ``"DEPLOYING"``, ``"RUNNING"``...
        elapsed: seconds since the call started.

    Example::

        def show(event: li.DeploymentProgress) -> None:
            print(f"{event.elapsed:5.0f}s  {event.message}")

        client.deploy_container_image(service_name="my-svc", image=image, on_progress=show)

    """

    kind: str
    message: str
    service_name: str
    version: int | None = None
    deployment_state: str | None = None
    service_state: str | None = None
    elapsed: float = 0.0


def image_name(service_name: str, image: object) -> str:
    """Return the image name to deploy, or raise ParamValidationError naming ``image``."""
    if isinstance(image, ContainerImage):
        name: object = image.image
    elif isinstance(image, ImageRef):
        name = str(image)
    else:
        name = image
    if not isinstance(name, str) or not name:
        raise _invalid(
            "image",
            "type",
            "must be a registered image name such as ':my-svc.web.3', an ImageRef, a "
            f"ContainerImage or a public image name; got {type(image).__name__}: {image!r}",
        )
    if name.startswith(":"):
        match = _SERVICE_IMAGE.fullmatch(name)
        if match is None:
            raise _invalid(
                "image",
                "image",
                "an image starting with ':' must be a registered image name "
                f"':<service>.<label>.<version>', for example ':{service_name}.web.3'; "
                f"got {name!r}",
            )
        if match["service"] != service_name:
            raise _invalid(
                "image",
                "image",
                f"{name!r} is registered to container service {match['service']!r}, not "
                f"{service_name!r}; deploy it to {match['service']!r}, or register the "
                f"image with {service_name!r}",
            )
    return name


def _label(image: str | None) -> tuple[str, str] | None:
    if image is None:
        return None
    match = _SERVICE_IMAGE.fullmatch(image)
    return None if match is None else (match["service"], match["label"])


def swap_image(
    current: Deployment | None,
    *,
    service_name: str,
    image: str,
    container_name: str | None,
) -> dict[str, Container]:
    """Return the containers of the new deployment: the current ones with ``image`` swapped in.

    Every other member of every container is kept as the service reported it,
    so sending the result back changes nothing but the image.

    Raises:
        ParamValidationError: no current deployment, no such container, or no
            container to swap the image into; the message lists the
            deployment's containers and their images.

    """
    containers = dict((current.containers or {}) if current is not None else {})
    if current is None or not containers:
        raise _invalid(
            "service_name",
            "deployment",
            f"container service {service_name!r} has no current deployment to change the image "
            "of; create the first deployment, with its containers, ports and public endpoint, "
            "using create_container_service_deployment (or 'aws lightsail "
            "create-container-service-deployment'), then deploy new images with "
            "deploy_container_image",
        )
    if container_name is not None:
        if container_name not in containers:
            raise _invalid(
                "container_name",
                "container",
                f"the current deployment (version {current.version}) of {service_name!r} has no "
                f"container {container_name!r}; its containers: {_listing(containers)}",
            )
        targets = [container_name]
    else:
        wanted = _label(image)
        if wanted is None:
            raise _invalid(
                "container_name",
                "container",
                f"{image!r} is not a registered image of {service_name!r}, so its label cannot "
                "say which container to change; pass container_name (--container-name), one of: "
                f"{_listing(containers)}",
            )
        targets = [name for name, spec in containers.items() if _label(spec.image) == wanted]
        if not targets:
            raise _invalid(
                "image",
                "container",
                f"no container of the current deployment (version {current.version}) of "
                f"{service_name!r} runs an image labelled {wanted[1]!r}, so there is no "
                f"container to put {image!r} in; its containers: {_listing(containers)}; pass "
                "container_name (--container-name) to choose one",
            )
    for name in targets:
        containers[name] = attrs.evolve(containers[name], image=image)
    return containers


def _listing(containers: Mapping[str, Container]) -> str:
    return ", ".join(f"{name} ({spec.image or 'no image'})" for name, spec in containers.items())


def _invalid(field: str, rule: str, message: str) -> ParamValidationError:
    return ParamValidationError(OPERATION, (ValidationProblem(field, rule, f"{field}: {message}"),))


class PollSchedule:
    """When to poll next, and whether the one overall deadline has passed.

    ``elapsed`` counts real time and the sleeps that testing mode skipped,
    whichever is more.
    """

    def __init__(
        self,
        timeout: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.timeout = timeout
        self._clock = clock
        self._rand = rand
        self._start = clock()
        self._slept = 0.0
        self._interval = FIRST_POLL

    @property
    def elapsed(self) -> float:
        """Seconds since the schedule started."""
        return max(self._clock() - self._start, self._slept)

    @property
    def remaining(self) -> float:
        """Seconds left before the deadline (0 when it has passed)."""
        return max(self.timeout - self.elapsed, 0.0)

    def next_delay(self) -> float | None:
        """Return how long to sleep before the next poll, or ``None`` when time is up."""
        remaining = self.remaining
        if remaining <= 0:
            return None
        jittered = self._interval * (1 + JITTER * (2 * self._rand() - 1))
        self._interval = min(self._interval * GROWTH, MAX_POLL)
        return min(jittered, remaining)

    def slept(self, seconds: float) -> None:
        """Record a sleep (taken, or skipped in testing mode)."""
        self._slept = max(self._slept, self.elapsed) + seconds


present_when_loaded(globals())
