"""The client: the thin shell that runs each call through the pipeline.

::

    validate -> serialize -> sign -> send (retry loop) -> parse -> model | exception
     pure       pure        shell    shell               pure

Pure steps live in ``_validation.py`` and ``_protocol.py``; this module only
wires them to the signer, the transport and the retry policy.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import logging
import os
import platform
import secrets
import threading
from typing import TYPE_CHECKING, Any, TypeVar

import botocore

from lightsail_images._closing import Closing
from lightsail_images._config import (
    DEFAULT_DEPLOY_TIMEOUT,
    ClientConfig,
    SessionSource,
    resolve_settings,
)
from lightsail_images._errors import (
    ConfigurationError,
    DeploymentFailedError,
    DeploymentTimeoutError,
    LightsailError,
    MalformedResponseError,
    NotFoundException,
    ParamValidationError,
    ServiceError,
    TransportError,
    ValidationProblem,
)
from lightsail_images._models import ContainerImage
from lightsail_images._operations import CONTAINER_NAME as CONTAINER_NAME_PARAM
from lightsail_images._operations import (
    CREATE_CONTAINER_SERVICE_DEPLOYMENT,
    CREATE_CONTAINER_SERVICE_REGISTRY_LOGIN,
    DELETE_CONTAINER_IMAGE,
    GET_CONTAINER_IMAGES,
    GET_CONTAINER_LOG,
    GET_CONTAINER_SERVICE_DEPLOYMENTS,
    GET_CONTAINER_SERVICES,
    REGISTER_CONTAINER_IMAGE,
)
from lightsail_images._operations import LABEL as LABEL_PARAM
from lightsail_images._operations import SERVICE_NAME as SERVICE_NAME_PARAM
from lightsail_images._protocol import Operation, build_request, parse_response
from lightsail_images._retry import (
    Retryable,
    RetryPolicy,
    RetryQuota,
    call_with_retries,
    clock_skew,
    is_retryable,
    sleep,
)
from lightsail_images._signing import CredentialSource, FrozenCredentials, Signer
from lightsail_images._transport import AttemptFailed, RequestsTransport
from lightsail_images._validation import CrossRule, Param, validate
from lightsail_images._version import __version__

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    import requests
    from botocore.session import Session as BotocoreSession

    # The deployment helpers and the models of services, deployments, logs and
    # pushes load on first use (see _public.py): a registration needs none.
    from lightsail_images._deploy import DeploymentProgress, PollSchedule
    from lightsail_images._image_models import (
        DeleteContainerImageResult,
        GetContainerImagesResult,
        ImageRef,
        PruneResult,
    )
    from lightsail_images._models import RegisterContainerImageResult
    from lightsail_images._registry_models import (
        CreateContainerServiceRegistryLoginResult,
        PushProgress,
    )
    from lightsail_images._service_models import (
        Container,
        ContainerLogEvent,
        ContainerService,
        CreateContainerServiceDeploymentResult,
        Deployment,
        EndpointRequest,
        GetContainerServiceDeploymentsResult,
        GetContainerServicesResult,
    )

__all__ = ["Client"]

logger = logging.getLogger("lightsail_images")

R = TypeVar("R")


class Client(Closing):
    """A client for Amazon Lightsail container images.

    Arguments mirror ``boto3.client("lightsail", ...)``; anything not given is
    read the way boto3 reads it (environment, then ``~/.aws/config``).

    Args:
        region_name: the AWS region, e.g. ``"us-east-1"``.  Else ``AWS_REGION``,
            ``AWS_DEFAULT_REGION``, or the profile's ``region``.
        endpoint_url: send requests here instead of the regional endpoint.
            Else ``AWS_ENDPOINT_URL_LIGHTSAIL``, ``AWS_ENDPOINT_URL``, the
            profile's endpoint settings, else ``https://lightsail.<region>.amazonaws.com``.
        aws_access_key_id: explicit credentials; else the botocore credential chain.
        aws_secret_access_key: goes with ``aws_access_key_id``.
        aws_session_token: for temporary credentials.
        profile_name: a profile from ``~/.aws/config``.
        botocore_session: a ``botocore.session.Session`` to take configuration
            and credentials from.
        config: timeouts, attempts and other tuning, see :class:`ClientConfig`.
        http_session: a ``requests.Session`` to send through (proxies, custom
            CA, adapters).  The client does not close a session it was given.

    Raises:
        NoRegionError: no region was given or configured.
        ConfigurationError: a setting is invalid (bad endpoint URL...), or the
            profile named by ``profile_name``, ``AWS_PROFILE`` or
            ``AWS_DEFAULT_PROFILE`` does not exist.  Both are checked here, when
            the client is created, whatever else is given; credentials are
            looked up at the first call (:class:`NoCredentialsError` then).

    Example::

        import lightsail_images as li

        with li.Client("us-east-1") as client:
            result = client.register_container_image(
                service_name="my-svc", label="web", digest="sha256:" + "ab" * 32
            )
            print(result.container_image.image)  # ":my-svc.web.1"

    One client is safe to share between threads, and reuses connections.

    """

    def __init__(
        self,
        region_name: str | None = None,
        *,
        endpoint_url: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        profile_name: str | None = None,
        botocore_session: BotocoreSession | None = None,
        config: ClientConfig | None = None,
        http_session: requests.Session | None = None,
    ) -> None:
        self._config = config if config is not None else ClientConfig()
        sessions = SessionSource(botocore_session=botocore_session, profile_name=profile_name)
        settings = resolve_settings(
            region_name=region_name,
            endpoint_url=endpoint_url,
            config=self._config,
            sessions=sessions,
        )
        self._region_name = settings.region_name
        self._endpoint_url = settings.endpoint_url
        self._max_attempts = settings.max_attempts
        self._signer = Signer(
            CredentialSource(
                explicit=_explicit_credentials(
                    aws_access_key_id, aws_secret_access_key, aws_session_token
                ),
                sessions=sessions,
            ),
            settings.region_name,
        )
        self._transport = RequestsTransport(
            session=http_session,
            connect_timeout=self._config.connect_timeout,
            read_timeout=self._config.read_timeout,
            pool_size=self._config.max_pool_connections,
        )
        self._quota = RetryQuota()
        self._user_agent = _user_agent(self._config.user_agent_extra)
        self._closed = threading.Event()
        # ensure_container_image holds one of these per (service, label, digest),
        # so threads sharing this client never register the same digest twice.
        self._ensure_locks = tuple(threading.Lock() for _ in range(_ENSURE_LOCK_STRIPES))

    # -- public surface ------------------------------------------------------

    @property
    def region_name(self) -> str:
        """The region requests are signed for."""
        return self._region_name

    @property
    def endpoint_url(self) -> str:
        """The URL requests are sent to."""
        return self._endpoint_url

    @property
    def config(self) -> ClientConfig:
        """The tuning this client was created with."""
        return self._config

    @property
    def max_attempts(self) -> int:
        """Attempts per call, including the first, after resolving the environment."""
        return self._max_attempts

    def __repr__(self) -> str:
        return (
            f"<lightsail_images.Client region={self._region_name!r} "
            f"endpoint={self._endpoint_url!r}>"
        )

    def close(self) -> None:
        """Release pooled connections.  The client cannot be used afterwards."""
        self._closed.set()
        self._transport.close()

    def register_container_image(
        self,
        *,
        service_name: str,
        label: str,
        digest: str,
    ) -> RegisterContainerImageResult:
        """Register a pushed image with a container service, under a label.

        Each registration under the same label gets the next version number, so
        the image name is ``":<service_name>.<label>.<version>"``.

        Args:
            service_name: the container service, 1-63 lowercase letters, digits
                and inner hyphens.
            label: a name for this line of images (``"web"``, ``"worker"``), 1-53
                characters of the same alphabet.
            digest: the pushed image's digest, ``"sha256:"`` plus 64 lowercase hex digits.

        Returns:
            The registered image and the response metadata.

        Raises:
            ParamValidationError: a parameter breaks the API's rules; nothing was sent.
            NotFoundException: the container service does not exist in this region.
            ServiceError: any other error response (see its ``code``).
            TransportError: no response arrived, even after retries.
            NoCredentialsError: no credentials could be found.

        Example::

            result = client.register_container_image(
                service_name="my-svc", label="web", digest=digest
            )
            print(result.container_image.image)  # ":my-svc.web.3"

        """
        return self._invoke(
            REGISTER_CONTAINER_IMAGE,
            {"service_name": service_name, "label": label, "digest": digest},
        )

    def get_container_images(self, *, service_name: str) -> GetContainerImagesResult:
        """List the images registered to a container service.

        Args:
            service_name: the container service.

        Returns:
            ``container_images``, newest first as the service lists them, and
            the response metadata.

        Raises:
            NotFoundException: the container service does not exist in this region.
            ServiceError: any other error response.

        Example::

            for image in client.get_container_images(service_name="my-svc").container_images:
                print(image.ref.label, image.ref.version, image.digest)

        """
        return self._invoke(GET_CONTAINER_IMAGES, {"service_name": service_name})

    def delete_container_image(
        self,
        *,
        service_name: str,
        image: str | ImageRef,
    ) -> DeleteContainerImageResult:
        """Delete a registered image from a container service.

        Args:
            service_name: the container service.
            image: the registered image name, ``":<service>.<label>.<version>"``,
                or an :class:`ImageRef`; it must belong to ``service_name``.

        Raises:
            ParamValidationError: ``image`` is not a registered image name of
                ``service_name``; nothing was sent.
            NotFoundException: no such service or image.
            InvalidInputException: the service refused, for example because a
                deployment uses the image.

        Example::

            client.delete_container_image(service_name="my-svc", image=":my-svc.web.1")

        """
        from lightsail_images._image_models import ImageRef  # noqa: PLC0415 - loads on first use

        name = str(image) if isinstance(image, ImageRef) else image
        return self._invoke(DELETE_CONTAINER_IMAGE, {"service_name": service_name, "image": name})

    def create_container_service_registry_login(self) -> CreateContainerServiceRegistryLoginResult:
        """Create temporary credentials for pushing images to your Lightsail registry.

        The credentials last 12 hours (see ``registry_login.expires_at``).  The
        password is a secret and never appears in ``repr()`` or logs.

        Example::

            login = client.create_container_service_registry_login().registry_login
            print(login.registry, login.username, login.expires_at)

        """
        return self._invoke(CREATE_CONTAINER_SERVICE_REGISTRY_LOGIN, {})

    def get_container_services(
        self, *, service_name: str | None = None
    ) -> GetContainerServicesResult:
        """Describe one container service, or every one in the region.

        Args:
            service_name: the service to describe; all of them when ``None``.

        Returns:
            ``container_services``: each :class:`ContainerService` with its
            state, power, scale, URL and current and next :class:`Deployment`.

        Raises:
            NotFoundException: no service of that name exists in this region.

        Example::

            service = client.get_container_services(service_name="my-svc").container_services[0]
            print(service.state, service.url)

        """
        return self._invoke(GET_CONTAINER_SERVICES, {"service_name": service_name})

    def create_container_service_deployment(
        self,
        *,
        service_name: str,
        containers: Mapping[str, Container],
        public_endpoint: EndpointRequest | None = None,
    ) -> CreateContainerServiceDeploymentResult:
        """Create a deployment: the containers to run and the public endpoint.

        The service activates it in the background (``next_deployment`` of the
        returned service, state ``ACTIVATING``); when its containers are healthy
        it becomes the current deployment.  To change only the image of a
        running deployment, :meth:`deploy_container_image` does all of that
        and waits.

        Args:
            service_name: the container service.
            containers: container name (1-53 lowercase letters, digits and inner
                hyphens) to :class:`Container`.  Ports map a port number to
                ``"HTTP"``, ``"HTTPS"``, ``"TCP"`` or ``"UDP"``.
            public_endpoint: the container and port that get public traffic;
                the container must be in ``containers`` and open that port.

        Raises:
            ParamValidationError: a name, port, protocol or health-check value
                breaks the API's rules, or the endpoint names a container or
                port the deployment lacks; nothing was sent.
            InvalidInputException: the service refused, for example an image
                that is not registered to the service.
            NotFoundException: the container service does not exist.

        Example::

            result = client.create_container_service_deployment(
                service_name="my-svc",
                containers={"web": li.Container(image=":my-svc.web.3", ports={"8080": "HTTP"})},
                public_endpoint=li.EndpointRequest(container_name="web", container_port=8080),
            )
            print(result.container_service.next_deployment.version)

        """
        return self._invoke(
            CREATE_CONTAINER_SERVICE_DEPLOYMENT,
            {
                "service_name": service_name,
                "containers": containers,
                "public_endpoint": public_endpoint,
            },
        )

    def get_container_service_deployments(
        self, *, service_name: str
    ) -> GetContainerServiceDeploymentsResult:
        """List a container service's deployments, newest first.

        Lightsail keeps the last four: the current one, a pending or failed
        next one, and the previous ones (``INACTIVE``).

        Example::

            for deployment in client.get_container_service_deployments(
                service_name="my-svc"
            ).deployments:
                print(deployment.version, deployment.state)

        """
        return self._invoke(GET_CONTAINER_SERVICE_DEPLOYMENTS, {"service_name": service_name})

    def get_container_log(
        self,
        *,
        service_name: str,
        container_name: str,
        start_time: dt.datetime | None = None,
        end_time: dt.datetime | None = None,
        filter_pattern: str | None = None,
    ) -> Iterator[ContainerLogEvent]:
        """Read a container's log, oldest line first, across every page.

        The parameters are checked at once; pages are fetched as the iterator
        is consumed, following ``nextPageToken`` until the service has no more.

        Args:
            service_name: the container service.
            container_name: a container that runs, or ran, on the service.
            start_time: only lines from this time on (naive datetimes are UTC).
            end_time: only lines before this time.
            filter_pattern: ``"ERROR"`` for lines with the term, ``"-ERROR"``
                for lines without it.

        Example::

            for event in client.get_container_log(service_name="my-svc", container_name="web"):
                print(event.created_at, event.message)

        """
        values: dict[str, Any] = {
            "service_name": service_name,
            "container_name": container_name,
            "start_time": start_time,
            "end_time": end_time,
            "filter_pattern": filter_pattern,
            "page_token": None,
        }
        self._check(GET_CONTAINER_LOG, values)
        return self._log_pages(values)

    def _log_pages(self, values: dict[str, Any]) -> Iterator[ContainerLogEvent]:
        seen: set[str] = set()
        while True:
            page = self._invoke(GET_CONTAINER_LOG, values)
            yield from page.log_events
            token = page.next_page_token
            # A service that hands back a token it gave before would loop forever.
            if not token or token in seen:
                return
            seen.add(token)
            values = {**values, "page_token": token}

    def deploy_container_image(
        self,
        *,
        service_name: str,
        image: str | ImageRef | ContainerImage,
        container_name: str | None = None,
        wait: bool = True,
        timeout: float = DEFAULT_DEPLOY_TIMEOUT,
        on_progress: Callable[[DeploymentProgress], object] | None = None,
    ) -> Deployment:
        """Run a registered image on a container service, and wait until it is live.

        The new deployment is the current one with only the image changed:
        every container, command, environment variable, port and the public
        endpoint with its health check are sent back exactly as the service
        reported them.  The image goes into the container named
        ``container_name``, or else into every container running an image of
        the same service and label (any version, or ``.latest``).

        Safe to re-run: when the active deployment already runs the image,
        nothing is created and it is returned; when a pending deployment runs
        it, that one is waited on.  When another deployment is still
        activating, this waits for it to settle first (within the same
        ``timeout``) and reports ``"waiting"`` through ``on_progress``.

        The wait polls ``GetContainerServices``: first after about 2 seconds,
        then 1.5 times longer each time up to 15 seconds, with 20% jitter,
        until ``timeout`` seconds after the call started (see ``docs/deploy.md``).
        A poll that fails on the network or with a transient error is retried
        by the client's retry policy, and, if it still fails, by the next poll.

        Args:
            service_name: the container service.
            image: the image to run: a registered image name (``":my-svc.web.7"``),
                an :class:`ImageRef`, a :class:`ContainerImage` (as
                :meth:`push_container_image` returns), or a public image name
                together with ``container_name``.
            container_name: the container to change; by default the containers
                running the image's label.
            wait: wait until the deployment is active (default), or return as
                soon as it is created.
            timeout: seconds to wait, in all (default 900).
            on_progress: called with a :class:`DeploymentProgress` at each step
                and state change.

        Returns:
            The active deployment (with ``wait=False``: the created, or already
            pending or active, deployment).

        Raises:
            ParamValidationError: a bad argument, the service has no current
                deployment, or no container matches; the message lists the
                deployment's containers and their images.  Nothing was created.
            DeploymentFailedError: the deployment failed; it carries the last
                log lines of each of its containers.
            DeploymentTimeoutError: the deployment had not settled after
                ``timeout`` seconds; it may still finish.
            NotFoundException: the container service does not exist.
            ServiceError: the service refused the deployment.

        Needs ``lightsail:GetContainerServices``,
        ``lightsail:CreateContainerServiceDeployment``, and on failure
        ``lightsail:GetContainerServiceDeployments`` and ``lightsail:GetContainerLog``.

        Example::

            deployment = client.deploy_container_image(service_name="my-svc", image=":my-svc.web.7")
            print(deployment.version, deployment.state)  # 8 ACTIVE

        """
        self._check_params(
            "deploy_container_image",
            (SERVICE_NAME_PARAM, CONTAINER_NAME_PARAM._replace(required=False)),
            {"service_name": service_name, "container_name": container_name},
            extra=_timeout_problems("timeout", timeout),
        )
        from lightsail_images._deploy import PollSchedule, image_name  # noqa: PLC0415 - lazy

        name = image_name(service_name, image)
        schedule = PollSchedule(float(timeout))
        progress = _Progress(on_progress, service_name, schedule)
        step = functools.partial(self._deploy_step, service_name, name, container_name)
        while True:
            kind, deployment, service = call_with_retries(step, self._retry_policy())
            if kind == "waiting":
                progress(
                    kind,
                    f"deployment {deployment.version} is still activating; waiting for it to "
                    "settle before deploying",
                    deployment,
                    service,
                )
                self._await(deployment, schedule, progress, ours=False)
                continue
            messages = {
                "joined": f"deployment {deployment.version} already deploys {name}; waiting on it",
                "unchanged": f"the active deployment {deployment.version} already runs {name}; "
                "nothing to do",
                "created": f"created deployment {deployment.version} with {name}",
            }
            progress(kind, messages[kind], deployment, service)
            if kind == "unchanged" or not wait:
                return deployment
            return self._await(deployment, schedule, progress)

    def _deploy_step(
        self, service_name: str, image: str, container_name: str | None, _attempt: int
    ) -> tuple[str, Deployment, ContainerService]:
        """Read the service and act once: join, wait, nothing to do, or create."""
        service = self._describe(service_name)
        pending = service.next_deployment
        if pending is not None and pending.version is not None:
            joined = _runs(pending, service_name, image, container_name)
            return ("joined" if joined else "waiting"), pending, service
        from lightsail_images._deploy import swap_image  # noqa: PLC0415 - lazy, see above

        current = service.current_deployment
        containers = swap_image(
            current, service_name=service_name, image=image, container_name=container_name
        )
        if current is not None and containers == dict(current.containers or {}):
            return "unchanged", current, service
        try:
            # One attempt only: after an ambiguous failure the service is read
            # again, and a deployment that was created after all is joined.
            created = self._invoke(
                CREATE_CONTAINER_SERVICE_DEPLOYMENT,
                {
                    "service_name": service_name,
                    "containers": containers,
                    "public_endpoint": current.public_endpoint if current else None,
                },
                max_attempts=1,
            ).container_service
        except (TransportError, ServiceError) as exc:
            raise _retry_after_ambiguous(exc, "deploy: creating the deployment") from (
                exc.__cause__ if isinstance(exc, TransportError) else None
            )
        deployment = created.next_deployment
        if deployment is None or deployment.version is None:
            raise MalformedResponseError(
                "CreateContainerServiceDeployment: the answer names no next deployment; "
                f"check the service with get_container_services(service_name={service_name!r})",
                http_status_code=200,
                request_id=None,
            )
        return "created", deployment, created

    def _describe(self, service_name: str) -> ContainerService:
        services = self.get_container_services(service_name=service_name).container_services
        for service in services:
            if service.container_service_name == service_name:
                return service
        raise MalformedResponseError(
            f"GetContainerServices: the answer does not describe {service_name!r}",
            http_status_code=200,
            request_id=None,
        )

    def _await(
        self,
        deployment: Deployment,
        schedule: PollSchedule,
        progress: _Progress,
        *,
        ours: bool = True,
    ) -> Deployment:
        """Poll until ``deployment`` is active (returned), failed (raised) or the deadline."""
        service_name = progress.service_name
        version = deployment.version
        seen: tuple[str | None, str | None] = (deployment.state, None)
        while True:
            delay = schedule.next_delay()
            if delay is None:
                raise DeploymentTimeoutError(
                    service_name=service_name,
                    version=version if ours else None,
                    timeout=schedule.timeout,
                    state=seen[0],
                )
            sleep(delay)
            schedule.slept(delay)
            service = self._poll(service_name)
            if service is None:
                continue
            pending, current = service.next_deployment, service.current_deployment
            if pending is not None and pending.version == version:
                if (pending.state, service.state) != seen:
                    seen = (pending.state, service.state)
                    progress(
                        "state",
                        f"deployment {version} is {pending.state} (service {service.state})",
                        pending,
                        service,
                    )
                continue
            if current is not None and current.version == version:
                if ours:
                    progress(
                        "active",
                        f"deployment {version} is ACTIVE (service {service.state})",
                        current,
                        service,
                    )
                return current
            return self._settled(deployment, service, progress, ours=ours)

    def _poll(self, service_name: str) -> ContainerService | None:
        """Read the service; ``None`` when a transient failure outlasted the retries."""
        try:
            return self._describe(service_name)
        except (TransportError, MalformedResponseError, ServiceError) as exc:
            if isinstance(exc, ServiceError) and not is_retryable(exc):
                raise
            logger.debug("deploy: poll failed (%s); polling again", exc)
            return None

    def _settled(
        self,
        deployment: Deployment,
        service: ContainerService,
        progress: _Progress,
        *,
        ours: bool,
    ) -> Deployment:
        """Find out how a deployment that is neither pending nor current ended."""
        version = deployment.version
        settled = self._find_deployment(progress.service_name, version)
        if ours and settled is not None and settled.state == "FAILED":
            progress("failed", f"deployment {version} FAILED", settled, service)
            raise self._failure(progress.service_name, settled)
        # Someone else's deployment that settled either way, or ours: active
        # once and replaced by a newer one before this poll.
        return settled or deployment

    def _find_deployment(self, service_name: str, version: int | None) -> Deployment | None:
        listing = self.get_container_service_deployments(service_name=service_name)
        return next((d for d in listing.deployments if d.version == version), None)

    def _failure(self, service_name: str, deployment: Deployment) -> DeploymentFailedError:
        logs: dict[str, tuple[ContainerLogEvent, ...]] = {}
        problem = None
        for name in deployment.containers or {}:
            try:
                tail = collections.deque(
                    self.get_container_log(
                        service_name=service_name,
                        container_name=name,
                        start_time=deployment.created_at,
                    ),
                    maxlen=_LOG_TAIL,
                )
            except LightsailError as exc:
                problem = f"{type(exc).__name__}: {exc}"
                continue
            logs[name] = tuple(tail)
        return DeploymentFailedError(
            service_name=service_name,
            version=deployment.version or 0,
            logs=logs,
            log_error=problem,
        )

    def ensure_container_image(
        self,
        *,
        service_name: str,
        label: str,
        digest: str,
    ) -> ContainerImage:
        """Register an image under a label unless that digest is already there.

        Idempotent: re-running a pipeline returns the image registered the
        first time instead of creating a new version.  After an ambiguous
        failure (a timeout or a 5xx answer, when the service may have
        registered the image anyway), it lists the registered images again
        before trying once more, so one digest never gets two versions.
        Threads sharing this client are serialized per digest and label.

        Needs IAM permission for ``lightsail:GetContainerImages`` and
        ``lightsail:RegisterContainerImage``.  If ``GetContainerImages`` is
        denied, this raises ``AccessDeniedException`` before registering
        anything (it will not fall back to a blind registration).

        Returns:
            The registered image: the existing one, or the new one.

        Example::

            image = client.ensure_container_image(
                service_name="my-svc", label="web", digest=digest
            )
            print(image.image)  # the same name on every re-run

        """
        values = {"service_name": service_name, "label": label, "digest": digest}
        self._check(REGISTER_CONTAINER_IMAGE, values)
        stripe = hash((service_name, label, digest)) % _ENSURE_LOCK_STRIPES
        with self._ensure_locks[stripe]:
            return self._ensure(values)

    def _ensure(self, values: dict[str, Any]) -> ContainerImage:
        from lightsail_images._lifecycle import find_registered  # noqa: PLC0415 - loads on first use

        def attempt(_: int) -> ContainerImage:
            listing = self.get_container_images(service_name=values["service_name"])
            existing = find_registered(
                listing.container_images, label=values["label"], digest=values["digest"]
            )
            if existing is not None:
                logger.debug(
                    "ensure: %s already registered as %s", values["digest"], existing.image
                )
                return existing
            try:
                # One attempt only: an ambiguous failure must be followed by a
                # fresh listing, not by a blind second registration.
                return self._invoke(
                    REGISTER_CONTAINER_IMAGE, values, max_attempts=1
                ).container_image
            except (TransportError, ServiceError) as exc:
                raise _retry_after_ambiguous(exc, "ensure: registration") from (
                    exc.__cause__ if isinstance(exc, TransportError) else None
                )

        return call_with_retries(attempt, self._retry_policy())

    def prune_container_images(
        self,
        *,
        service_name: str,
        keep: int,
        label: str | None = None,
        dry_run: bool = True,
    ) -> PruneResult:
        """Delete all but the newest ``keep`` versions of each label.

        Images used by the service's current or next deployment are never
        deleted; they are reported in ``in_use``.  By default this is a dry
        run: it reports what it would delete and deletes nothing.  Pass
        ``dry_run=False`` to delete.

        Args:
            service_name: the container service.
            keep: how many of the newest versions to keep per label (0 or more).
            label: prune only this label; all labels when ``None``.
            dry_run: report only (default), or delete when ``False``.

        Needs ``lightsail:GetContainerImages`` and ``lightsail:GetContainerServices``,
        plus ``lightsail:DeleteContainerImage`` when not a dry run.  An image
        that is already gone when deleted counts as deleted; any other error
        stops the prune and is raised (images deleted before it stay deleted).

        Example::

            plan = client.prune_container_images(service_name="my-svc", keep=3)
            print([i.image for i in plan.deleted])  # what would go
            client.prune_container_images(service_name="my-svc", keep=3, dry_run=False)

        """
        extra = []
        if type(keep) is not int or keep < 0:  # bool is an int subclass, and not a count
            extra.append(
                ValidationProblem.of(
                    "keep",
                    "type",
                    f"must be a whole number of versions to keep, 0 or more; got {keep!r}",
                )
            )
        self._check_params(
            "prune_container_images",
            (SERVICE_NAME_PARAM, LABEL_PARAM._replace(required=False)),
            {"service_name": service_name, "label": label},
            extra=extra,
        )
        images = self.get_container_images(service_name=service_name).container_images
        services = self.get_container_services(service_name=service_name)
        in_use = frozenset(
            name
            for service in services.container_services
            if service.container_service_name == service_name
            for name in service.images_in_use()
        )
        from lightsail_images._image_models import PruneResult  # noqa: PLC0415 - loads on first use
        from lightsail_images._lifecycle import plan_prune  # noqa: PLC0415

        plan = plan_prune(images, keep=keep, label=label, in_use=in_use)
        if not dry_run:
            for image in plan.delete:
                try:
                    self.delete_container_image(service_name=service_name, image=image.image)
                except NotFoundException:
                    logger.debug("prune: %s was already gone", image.image)
        return PruneResult(deleted=plan.delete, kept=plan.kept, in_use=plan.in_use, dry_run=dry_run)

    def push_container_image(
        self,
        *,
        service_name: str,
        label: str,
        source: str | os.PathLike[str],
        on_progress: Callable[[PushProgress], object] | None = None,
        max_workers: int = 3,
        insecure_registry: bool = False,
        deploy: bool = False,
        container_name: str | None = None,
        deploy_timeout: float = DEFAULT_DEPLOY_TIMEOUT,
        on_deploy_progress: Callable[[DeploymentProgress], object] | None = None,
    ) -> ContainerImage:
        """Push an image from disk to your Lightsail registry and register it: no Docker needed.

        With ``deploy=True`` it then runs the image on the service, as
        :meth:`deploy_container_image` does, and returns once the deployment
        is active: from an image on disk to a running service in one call.

        ``source`` is an OCI image layout directory, a tar of one (an OCI
        archive, as ``buildah push ... oci-archive:`` or ``skopeo copy ...
        oci-archive:`` write), or a ``docker save`` tarball.  For a
        multi-platform image the ``linux/amd64`` image is pushed, which is
        what Lightsail runs.

        Steps: read the image and compute its digest; if that digest is
        already registered under ``label``, return it (a re-run does nothing
        else); otherwise log in with ``CreateContainerServiceRegistryLogin``,
        upload the blobs the registry lacks and the manifest under a unique tag,
        check the digest the registry reports, and register it with
        :meth:`ensure_container_image` semantics.  A ``docker save`` layer
        whose compressed digest is not in the layer cache is compressed while
        the layers before it upload, and the registered-already check comes
        after the blobs, before the manifest (docs/push.md).

        Args:
            service_name: the container service.
            label: the label to register the image under.
            source: path to the image on disk.
            on_progress: called with a ``PushProgress`` as each blob is checked,
                skipped or sent (from worker threads, one call at a time).
            max_workers: how many blobs to upload, and how many threads
                compress ``docker save`` layers, at the same time.
            insecure_registry: accept a registry login that names a plain
                ``http://`` registry (a local test registry, or a fake).  The
                registry Lightsail hands out is HTTPS, and without this a
                plain-http one is refused: the password would travel unencrypted.
            deploy: deploy the registered image and wait until it is active.
            container_name: with ``deploy``, the container to put the image
                in; by default the containers running images of ``label``.
            deploy_timeout: with ``deploy``, seconds to wait for the
                deployment (default 900).
            on_deploy_progress: with ``deploy``, called with each
                :class:`DeploymentProgress`.

        Returns:
            The registered image; use ``image.image`` in deployments.  With
            ``deploy=True`` it is running when this returns.

        Raises:
            ParamValidationError: a bad name or label; nothing was read or sent.
            PlatformError: the image has no ``linux/amd64`` variant (it says which it has).
            ImageSourceError: the source is missing, unreadable or corrupt.
            RegistryAuthError: the registry refused the login credentials.
            DigestMismatchError: the registry stored something other than what was sent.
            RegistryError: the registry refused or failed a step, even after retries.
            TransportError: Lightsail or the registry did not answer, even after retries.
            DeploymentFailedError: with ``deploy``, the deployment failed (its logs attached).
            DeploymentTimeoutError: with ``deploy``, it had not settled in ``deploy_timeout``.

        Example::

            image = client.push_container_image(
                service_name="my-svc", label="web", source="build/image.tar"
            )
            print(image.image)  # ":my-svc.web.4"

            # ...or push, register and deploy in one call:
            client.push_container_image(
                service_name="my-svc", label="web", source="build/image.tar", deploy=True
            )

        """
        workers = []
        if type(max_workers) is not int or max_workers < 1:
            workers.append(
                ValidationProblem(
                    "max_workers",
                    "type",
                    f"max_workers: must be a whole number of 1 or more; got {max_workers!r}",
                )
            )
        self._check_params(
            "push_container_image",
            (SERVICE_NAME_PARAM, LABEL_PARAM, CONTAINER_NAME_PARAM._replace(required=False)),
            {"service_name": service_name, "label": label, "container_name": container_name},
            extra=[*workers, *_timeout_problems("deploy_timeout", deploy_timeout)],
        )
        image = self._push(
            service_name,
            label,
            source,
            on_progress=on_progress,
            max_workers=max_workers,
            insecure_registry=insecure_registry,
        )
        if deploy:
            self.deploy_container_image(
                service_name=service_name,
                image=image,
                container_name=container_name,
                timeout=deploy_timeout,
                on_progress=on_deploy_progress,
            )
        return image

    def _push(
        self,
        service_name: str,
        label: str,
        source: str | os.PathLike[str],
        *,
        on_progress: Callable[[PushProgress], object] | None,
        max_workers: int,
        insecure_registry: bool,
    ) -> ContainerImage:
        from lightsail_images._lifecycle import find_registered  # noqa: PLC0415 - only pushes pay
        from lightsail_images._push.cache import LayerCache  # noqa: PLC0415
        from lightsail_images._push.image import Manifest  # noqa: PLC0415
        from lightsail_images._push.sources import GZIP_LEVEL, open_image  # noqa: PLC0415

        def registered(digest: str) -> ContainerImage | None:
            listing = self.get_container_images(service_name=service_name)
            return find_registered(listing.container_images, label=label, digest=digest)

        # Compressed digests of docker save layers, kept between runs so that
        # a re-run compresses nothing (lightsail_images/_push/cache.py).
        with open_image(
            source, layer_cache=LayerCache(level=GZIP_LEVEL), max_workers=max_workers
        ) as local:
            checked_early = not local.must_compress()
            if checked_early:
                # Every digest is known without compressing: a registered image
                # returns before any registry request.
                existing = registered(local.manifest(max_workers).digest)
                if existing is not None:
                    logger.debug("push: %s is already registered as %s", existing.digest, label)
                    return existing
            found: list[ContainerImage] = []

            def manifest_wanted(manifest: Manifest) -> bool:
                # Known only now that every layer is compressed and its upload done.
                if not checked_early and (existing := registered(manifest.digest)) is not None:
                    logger.debug("push: %s is already registered as %s", manifest.digest, label)
                    found.append(existing)
                    return False
                return True

            # The registry client and its models load only for an upload: a
            # registered re-run is mostly the interpreter's start and imports.
            from lightsail_images._push.push import push_image  # noqa: PLC0415

            login = self.create_container_service_registry_login().registry_login
            pushed = push_image(
                local,
                registry=login.registry,
                username=login.username,
                password=login.password,
                repository=REGISTRY_REPOSITORY,
                tag=f"{service_name}.{label}.{secrets.token_hex(6)}",
                transport=self._transport,
                new_policy=self._retry_policy,
                long_read_timeout=max(self._config.read_timeout, _PUSH_READ_TIMEOUT),
                insecure_registry=insecure_registry,
                on_progress=on_progress,
                max_workers=max_workers,
                manifest_wanted=manifest_wanted,
            )
        if pushed is None:
            return found[0]
        return self.ensure_container_image(
            service_name=service_name, label=label, digest=pushed.digest
        )

    # -- the pipeline --------------------------------------------------------

    def _check(self, operation: Operation[Any], values: dict[str, Any]) -> None:
        self._check_params(operation.name, operation.params, values, cross=operation.cross_rules)

    def _check_params(
        self,
        name: str,
        params: tuple[Param, ...],
        values: dict[str, Any],
        *,
        cross: tuple[CrossRule, ...] = (),
        extra: list[ValidationProblem] | None = None,
    ) -> None:
        """Raise ParamValidationError listing every problem, before any I/O."""
        if self._closed.is_set():
            raise ConfigurationError(
                "this client is closed; create a new lightsail_images.Client to make calls"
            )
        problems = validate(
            params, values, check_rules=self._config.parameter_validation, cross_rules=cross
        )
        if problems or extra:
            raise ParamValidationError(name, (*problems, *(extra or ())))

    def _invoke(
        self,
        operation: Operation[R],
        values: dict[str, Any],
        *,
        max_attempts: int | None = None,
    ) -> R:
        self._check(operation, values)
        request = build_request(operation, values, endpoint_url=self._endpoint_url)
        policy = self._retry_policy(max_attempts)
        invocation_id = _invocation_id()
        skew_corrected = False

        def attempt(number: int) -> R:
            nonlocal skew_corrected
            # The offset this attempt is signed with: a skew error is judged
            # against it, not against whatever another thread set since.
            signed_offset = self._signer.clock_offset
            headers = self._signer.sign(
                request,
                {
                    "User-Agent": self._user_agent,
                    "Accept-Encoding": "identity",
                    "amz-sdk-invocation-id": invocation_id,
                    "amz-sdk-request": f"attempt={number}; max={policy.max_attempts}",
                },
            )
            try:
                response = self._transport.send(request, headers)
            except AttemptFailed as exc:
                logger.debug(
                    "%s attempt %d/%d: no response: %s",
                    operation.name,
                    number,
                    policy.max_attempts,
                    exc.description,
                )
                raise exc.retryable(
                    f"{operation.name} failed",
                    "check the endpoint URL, your network or proxy, and the timeouts in"
                    " ClientConfig",
                ) from exc.__cause__
            logger.debug(
                "%s attempt %d/%d: HTTP %d, request id %s",
                operation.name,
                number,
                policy.max_attempts,
                response.status_code,
                response.headers.get("x-amzn-requestid"),
            )
            outcome = parse_response(
                operation, response, attempts=number, secrets=self._signer.secrets()
            )
            if not isinstance(outcome, ServiceError):
                return outcome
            if not skew_corrected and self._correct_clock(outcome, response.headers, signed_offset):
                # Re-signed with the corrected clock: one immediate extra attempt,
                # outside the retry budget, as other AWS SDKs do.
                skew_corrected = True
                raise Retryable(_raise(outcome), description=outcome.code, immediate=True)
            if is_retryable(outcome):
                raise Retryable(_raise(outcome), description=f"{outcome.code}")
            raise outcome

        return call_with_retries(attempt, policy)

    def _retry_policy(self, max_attempts: int | None = None) -> RetryPolicy:
        """Return a policy for one retried step: this client's attempts and quota."""
        return RetryPolicy(max_attempts=max_attempts or self._max_attempts, quota=self._quota)

    def _correct_clock(
        self,
        error: ServiceError,
        headers: Mapping[str, str],
        signed_offset: dt.timedelta,
    ) -> bool:
        """Adopt the server's clock when the error says ours is off; return whether it did."""
        offset = clock_skew(
            error.code, headers, self._signer.local_now(), signed_offset=signed_offset
        )
        if offset is None or abs(offset - signed_offset) < _SKEW_STEP:
            return False
        logger.debug(
            "%s: clock skew of %.0f s detected (%s); re-signing with the server's time",
            error.operation_name,
            offset.total_seconds(),
            error.code,
        )
        self._signer.clock_offset = offset
        return True


_ENSURE_LOCK_STRIPES = 64
# How many of each container's last log lines a DeploymentFailedError carries.
_LOG_TAIL = 20
# lightsailctl pushes every image to this repository of the account's registry.
REGISTRY_REPOSITORY = "sr"
# Registries may take minutes to verify a large layer after its last byte.
_PUSH_READ_TIMEOUT = 300.0
# A correction smaller than this would not change the outcome.
_SKEW_STEP = dt.timedelta(seconds=30)


def _runs(
    deployment: Deployment, service_name: str, image: str, container_name: str | None
) -> bool:
    """Whether ``deployment`` already runs ``image`` where this deploy would put it."""
    from lightsail_images._deploy import swap_image  # noqa: PLC0415 - lazy, see the imports

    try:
        wanted = swap_image(
            deployment, service_name=service_name, image=image, container_name=container_name
        )
    except ParamValidationError:
        return False
    return wanted == dict(deployment.containers or {})


class _Progress:
    """Builds :class:`DeploymentProgress` events and hands them to the caller's callback."""

    def __init__(
        self,
        callback: Callable[[DeploymentProgress], object] | None,
        service_name: str,
        schedule: PollSchedule,
    ) -> None:
        self._callback = callback
        self.service_name = service_name
        self._schedule = schedule

    def __call__(
        self, kind: str, message: str, deployment: Deployment, service: ContainerService
    ) -> None:
        from lightsail_images._deploy import DeploymentProgress  # noqa: PLC0415 - lazy

        logger.debug("deploy %s: %s", self.service_name, message)
        if self._callback is None:
            return
        self._callback(
            DeploymentProgress(
                kind=kind,
                message=message,
                service_name=self.service_name,
                version=deployment.version,
                deployment_state=deployment.state,
                service_state=service.state,
                elapsed=self._schedule.elapsed,
            )
        )


def _with_attempts(exc: TransportError, attempts: int) -> TransportError:
    return TransportError(str(exc), attempts=attempts, reason=exc.reason)


def _timeout_problems(field: str, timeout: object) -> list[ValidationProblem]:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        return [
            ValidationProblem(
                field,
                "type",
                f"{field}: must be a number of seconds greater than 0, got {timeout!r}",
            )
        ]
    return []


def _retry_after_ambiguous(exc: TransportError | ServiceError, what: str) -> Retryable:
    """Turn a failed single attempt of a write into a Retryable, or re-raise a final error.

    The caller reads the state again before its next attempt, so a write that
    succeeded although its answer was lost is found instead of repeated.
    """
    if isinstance(exc, TransportError):
        logger.debug("%s: outcome unknown (%s); checking again", what, exc)
        return Retryable(functools.partial(_with_attempts, exc), description=str(exc))
    if not is_retryable(exc):
        raise exc
    logger.debug("%s failed (%s); checking again", what, exc.code)
    return Retryable(_raise(exc), description=exc.code)


def _raise(error: BaseException) -> Callable[[int], BaseException]:
    """For a Retryable whose final error is already built (it counts its own attempts)."""
    return lambda _: error


def _explicit_credentials(
    access_key: str | None,
    secret_key: str | None,
    token: str | None,
) -> FrozenCredentials | None:
    if access_key is None and secret_key is None:
        if token is not None:
            raise ConfigurationError(
                "aws_session_token was given without aws_access_key_id and "
                "aws_secret_access_key; pass all three, or none to use the credential chain"
            )
        return None
    if not access_key or not secret_key:
        missing = "aws_secret_access_key" if access_key else "aws_access_key_id"
        raise ConfigurationError(
            f"{missing} is missing: pass aws_access_key_id and aws_secret_access_key "
            "together, or neither to use the credential chain"
        )
    return FrozenCredentials(access_key, secret_key, token or None)


def _invocation_id() -> str:
    """Return a random (version 4) UUID, as botocore's ``str(uuid.uuid4())`` does.

    The same 122 random bits from ``os.urandom`` and the same text; without
    the ``uuid`` module, which with its C helper costs a cold start 0.1 MiB.
    """
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _user_agent(extra: str | None) -> str:
    agent = (
        f"lightsail-images/{__version__} botocore/{botocore.__version__} "
        f"python/{platform.python_version()}"
    )
    return f"{agent} {extra}" if extra else agent
