"""FakeLightsail: the in-process fake of Lightsail's container-image API.

The heart is :meth:`FakeLightsail.handle`: one request's method, target,
headers and body in, a :class:`FakeResponse` out.  It authenticates the request
(``_sigv4.py``), applies any injected fault (``_faults.py``), validates the
input with the library's own parameter rules, runs the operation on the
in-memory model (``_model.py``), records the exchange and builds the awsJson1_1
answer.  It opens no socket: ``_server.py`` (a real HTTP server) and
``_mock.py`` (the ``responses`` library) are thin shells that feed it bytes,
so both modes share every behaviour.

Errors are answered the way the service does: Lightsail's own errors carry
``__type``, Lightsail's sub-``code``, ``docs``, ``message`` and ``tip``, with
``x-amzn-ErrorType: <Type>:http://internal.amazon.com/coral/com.amazonaws.lightsail/``;
errors of the AWS front door (authentication, unknown operation, malformed
JSON, throttling) carry a namespaced ``__type`` and a ``message`` only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import secrets
import threading
import uuid
from collections.abc import Callable, Generator, Iterable, Mapping
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any, cast

import attrs
import cattrs

from lightsail_images._errors import ParamValidationError, ValidationProblem
from lightsail_images._models import (
    Container,
    ContainerImage,
    ContainerLogEvent,
    ContainerService,
    ContainerServiceRegistryLogin,
    ContainerServiceStateDetail,
    EndpointRequest,
    ErrorDetails,
    HealthCheckConfig,
    ResourceLocation,
)
from lightsail_images._operations import CONTAINER_NAME, DIGEST, IMAGE, LABEL, SERVICE_NAME
from lightsail_images._protocol import CONTENT_TYPE, TARGET_PREFIX, structure, to_json
from lightsail_images._signing import SIGNING_NAME
from lightsail_images._validation import (
    Param,
    containers_rule,
    containers_type,
    endpoint_matches_containers,
    endpoint_rule,
    service_images_rule,
    validate,
)
from lightsail_images.testing._faults import Fault, FaultKind, Faults
from lightsail_images.testing._model import (
    ApiError,
    ContainerServiceInfo,
    Deployment,
    DeploymentRule,
    Model,
)
from lightsail_images.testing._sigv4 import KeyPair, verify

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    import responses

__all__ = [
    "DEFAULT_ACCESS_KEY_ID",
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_SECRET_ACCESS_KEY",
    "LIGHTSAIL_ERROR_CODES",
    "REGISTRY_LOGIN_LIFETIME",
    "FakeLightsail",
    "FakeResponse",
    "RecordedRequest",
]

DEFAULT_ACCESS_KEY_ID = "AKIAFAKELIGHTSAIL001"
"""The access key a :class:`FakeLightsail` accepts unless told otherwise."""
DEFAULT_SECRET_ACCESS_KEY = "fake+secret/access+key/for/lightsail/tests"  # noqa: S105 - a fake's
"""The secret key that goes with :data:`DEFAULT_ACCESS_KEY_ID`; not a real secret."""
DEFAULT_ACCOUNT_ID = "123456789012"
"""The AWS account id the fake puts in ARNs."""
REGISTRY_LOGIN_LIFETIME = dt.timedelta(hours=12)

#: Lightsail's modelled error types and the sub-``code`` the fake puts beside them.
LIGHTSAIL_ERROR_CODES: Mapping[str, str] = {
    "AccessDeniedException": "AccessDenied",
    "InvalidInputException": "InvalidInput",
    "NotFoundException": "DoesNotExist",
    "OperationFailureException": "OperationFailure",
    "RegionSetupInProgressException": "RegionSetupInProgress",
    "ServiceException": "InternalFailure",
    "UnauthenticatedException": "Unauthenticated",
}
_LIGHTSAIL_NAMESPACE = "http://internal.amazon.com/coral/com.amazonaws.lightsail/"
_CORAL_SERVICE = "com.amazon.coral.service"
_DOCS_URL = (
    "https://lightsail.aws.amazon.com/ls/docs/en_us/articles/amazon-lightsail-container-services"
)
_GENERIC_TIP = "Check the request against the Lightsail API reference and try again."


# --- wire-level parameter rules ----------------------------------------------------


def _wire(param: Param, *, required: bool | None = None) -> Param:
    # The server speaks the wire's member names, so its messages name
    # ``serviceName``, not the Python keyword ``service_name``.
    return param._replace(
        name=param.wire_name,
        required=param.required if required is None else required,
    )


_SERVICE_NAME = _wire(SERVICE_NAME)
_OPTIONAL_SERVICE_NAME = _wire(SERVICE_NAME, required=False)
_LABEL = _wire(LABEL)
_DIGEST = _wire(DIGEST)
_IMAGE = _wire(IMAGE)
_CONTAINER_NAME = _wire(CONTAINER_NAME)
_FILTER_PATTERN = Param("filterPattern", "filterPattern", required=False)
_PAGE_TOKEN = Param("pageToken", "pageToken", required=False)
# What the service reports for a health-check member it was not sent.
_HEALTH_CHECK_DEFAULTS = HealthCheckConfig(
    healthy_threshold=2,
    unhealthy_threshold=2,
    timeout_seconds=2,
    interval_seconds=5,
    path="/",
    success_codes="200-499",
)


# --- what goes in and out ---------------------------------------------------------


@attrs.frozen
class FakeResponse:
    """The fake's answer to one request, before any socket is involved.

    Attributes:
        status_code: the HTTP status; ``0`` when ``drop`` is set.
        headers: the response headers, in order (no ``Content-Length``: the
            transport adds it).
        body: the JSON body.
        delay: seconds the transport must wait before answering.
        drop: the transport must close the connection without answering.

    """

    status_code: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    delay: float = 0.0
    drop: bool = False

    def header(self, name: str) -> str | None:
        """Return the value of header ``name`` (case-insensitive), or ``None``."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def json(self) -> Any:
        """Return the decoded JSON body."""
        return json.loads(self.body)


@attrs.frozen
class RecordedRequest:
    """One request the fake received, and how it answered.

    Attributes:
        method: the HTTP method.
        target: the request target (path and query).
        operation: the operation named by a ``Lightsail_20161128.<operation>``
            ``X-Amz-Target`` (known or not), or ``None``.
        headers: the request headers, names lowercased.
        body: the raw request body, or its first
            :attr:`FakeLightsail.RECORDED_BODY_BYTES` bytes when it is longer.
        params: the decoded JSON body, or ``None`` when it was not JSON or
            longer than the recorded prefix.
        signature_valid: whether the SigV4 signature checked out.
        status_code: the status answered; ``0`` when the connection was dropped.
        error_type: the error type answered, e.g. ``"NotFoundException"``, or ``None``.
        fault: the injected fault that applied to this request, if any.
        request_id: the ``x-amzn-RequestId`` answered.
        received_at: the fake's clock when the request arrived.
        peer: the client's (host, port) when served over a socket, else ``None``;
            requests sharing a peer came over one kept-alive connection.
        body_size: the body's whole length in bytes (as declared, for a body
            refused unread because it was past the cap).

    """

    method: str
    target: str
    operation: str | None
    headers: Mapping[str, str]
    body: bytes
    params: Any
    signature_valid: bool
    status_code: int
    error_type: str | None
    fault: Fault | None
    request_id: str
    received_at: dt.datetime
    peer: tuple[str, int] | None = None
    body_size: int = attrs.field(
        default=attrs.Factory(lambda self: len(self.body), takes_self=True)
    )


@attrs.frozen
class _Registry:
    address: str
    username: str
    password: str | None


@attrs.frozen
class _Exchange:
    """Per-request facts that every response needs."""

    request_id: str
    now: dt.datetime


class _WireError(Exception):
    """A non-Lightsail error answered on the wire (front door, protocol)."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _lower_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    # A Mapping is iterable too, but over its keys: take its items instead.
    items: Iterable[tuple[str, str]] = (
        cast("Mapping[str, str]", headers).items() if isinstance(headers, Mapping) else headers
    )
    lowered: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        # Repeated headers are one comma-separated value, as SigV4 signs them.
        lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
    return lowered


def _operation_name(target: str | None) -> str | None:
    if target is None:
        return None
    prefix, dot, name = target.partition(".")
    return name if dot and prefix == TARGET_PREFIX and name else None


def _decode(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def _as_container(value: str | Container) -> Container:
    # The service reports every member of a container, empty when it was not sent.
    container = Container(image=value) if isinstance(value, str) else value
    return attrs.evolve(
        container,
        command=container.command if container.command is not None else (),
        environment=container.environment if container.environment is not None else {},
        ports=container.ports if container.ports is not None else {},
    )


def _as_endpoint(endpoint: EndpointRequest | None) -> EndpointRequest | None:
    # ...and every member of the health check, with its default.
    if endpoint is None:
        return None
    given = endpoint.health_check or HealthCheckConfig()
    check = HealthCheckConfig(
        **{
            field.name: getattr(given, field.name)
            if getattr(given, field.name) is not None
            else getattr(_HEALTH_CHECK_DEFAULTS, field.name)
            for field in attrs.fields(HealthCheckConfig)
        }
    )
    return attrs.evolve(endpoint, health_check=check)


# --- the fake ------------------------------------------------------------------------


_Operation = tuple[tuple[Param, ...], Callable[[Mapping[str, Any], _Exchange], dict[str, Any]]]


class FakeLightsail:
    """An in-process fake of Lightsail's container-image API, for tests.

    It keeps container services and registered images in memory, verifies
    every request's SigV4 signature with its own implementation, answers
    awsJson1_1 exactly where botocore's lightsail client looks, records every
    request, and can misbehave on demand through :attr:`faults`.

    Reach it over real HTTP with :meth:`serve`, or without sockets through the
    ``responses`` library with :meth:`mock`.  It is thread-safe.

    Args:
        region_name: the region the fake serves; requests signed for another fail.
        access_key_id: the access key it accepts (more with :meth:`add_credentials`).
        secret_access_key: that key's secret.
        session_token: when given, requests must carry this ``X-Amz-Security-Token``.
        account_id: the account in ARNs.
        clock: returns the current time (timezone-aware); ``clock_skew`` is added.

    Example::

        import boto3
        from lightsail_images.testing import FakeLightsail

        fake = FakeLightsail()
        fake.add_container_service("my-svc")
        with fake.serve() as url:
            client = boto3.client(
                "lightsail",
                endpoint_url=url,
                region_name=fake.region_name,
                aws_access_key_id=fake.access_key_id,
                aws_secret_access_key=fake.secret_access_key,
            )
            out = client.register_container_image(
                serviceName="my-svc", label="web", digest="sha256:" + "ab" * 32
            )
            assert out["containerImage"]["image"] == ":my-svc.web.1"
            client.close()
        assert [i.image for i in fake.images("my-svc")] == [":my-svc.web.1"]

    """

    MAX_BODY_BYTES: int = 1024 * 1024
    """The largest request body answered (1 MiB); a longer one gets 413 ``InvalidInputException``.

    Lightsail's own requests are a few hundred bytes; a deployment with many
    containers a few kilobytes.
    """
    RECORDED_BODY_BYTES: int = 64 * 1024
    """How much of each request body :attr:`requests` keeps (64 KiB); ``body_size`` has the rest."""

    clock_skew: dt.timedelta
    """Added to the clock: set it to make the server's time differ from the client's."""

    log_page_size: int
    """How many log events one GetContainerLog page holds (default 100)."""

    def __init__(
        self,
        region_name: str = "us-east-1",
        *,
        access_key_id: str = DEFAULT_ACCESS_KEY_ID,
        secret_access_key: str = DEFAULT_SECRET_ACCESS_KEY,
        session_token: str | None = None,
        account_id: str = DEFAULT_ACCOUNT_ID,
        clock: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        self._region_name = region_name
        self._account_id = account_id
        self._default_key = KeyPair(access_key_id, secret_access_key, session_token)
        self._keys: dict[str, KeyPair] = {access_key_id: self._default_key}
        self._clock = clock
        self.clock_skew = dt.timedelta(0)
        self._lock = threading.Lock()
        self._model = Model(region_name=region_name, account_id=account_id)
        self._faults = Faults()
        self._requests: list[RecordedRequest] = []
        self._registry = _Registry(f"lightsail-registry.{region_name}.invalid", "AWS", None)
        self._operations: dict[str, _Operation] = {
            "RegisterContainerImage": (
                (_SERVICE_NAME, _LABEL, _DIGEST),
                self._register_container_image,
            ),
            "GetContainerImages": ((_SERVICE_NAME,), self._get_container_images),
            "DeleteContainerImage": ((_SERVICE_NAME, _IMAGE), self._delete_container_image),
            "CreateContainerServiceRegistryLogin": ((), self._create_registry_login),
            "GetContainerServices": ((_OPTIONAL_SERVICE_NAME,), self._get_container_services),
            "CreateContainerServiceDeployment": ((_SERVICE_NAME,), self._create_deployment),
            "GetContainerServiceDeployments": ((_SERVICE_NAME,), self._get_deployments),
            "GetContainerLog": (
                (_SERVICE_NAME, _CONTAINER_NAME, _FILTER_PATTERN, _PAGE_TOKEN),
                self._get_container_log,
            ),
        }
        self.log_page_size = 100

    def __repr__(self) -> str:
        return f"<FakeLightsail region={self._region_name!r}>"

    # -- configuration ----------------------------------------------------------------

    @property
    def region_name(self) -> str:
        """The region this fake serves, e.g. ``"us-east-1"``."""
        return self._region_name

    @property
    def account_id(self) -> str:
        """The AWS account ID used in ARNs."""
        return self._account_id

    @property
    def access_key_id(self) -> str:
        """The access key ID given to the constructor (or the default)."""
        return self._default_key.access_key_id

    @property
    def secret_access_key(self) -> str:
        """The secret of :attr:`access_key_id`."""
        return self._default_key.secret_access_key

    @property
    def session_token(self) -> str | None:
        """The session token :attr:`access_key_id` requires, if any."""
        return self._default_key.session_token

    @property
    def endpoint_url(self) -> str:
        """The default regional endpoint, which :meth:`mock` intercepts."""
        return f"https://lightsail.{self._region_name}.amazonaws.com"

    @property
    def faults(self) -> Faults:
        """The fault-injection queue; see :class:`Faults`."""
        return self._faults

    def add_credentials(
        self,
        access_key_id: str,
        secret_access_key: str,
        session_token: str | None = None,
    ) -> None:
        """Accept another access key (for example, rotated or temporary credentials)."""
        with self._lock:
            self._keys[access_key_id] = KeyPair(access_key_id, secret_access_key, session_token)

    def now(self) -> dt.datetime:
        """Return the fake's current time: the clock plus :attr:`clock_skew`, in UTC."""
        return (self._clock() + self.clock_skew).astimezone(dt.timezone.utc)

    def set_registry(
        self, address: str, *, username: str = "AWS", password: str | None = None
    ) -> None:
        """Choose what CreateContainerServiceRegistryLogin hands out.

        By default the address is a name under ``.invalid`` (so nothing can
        reach it) and the password is random for each login; point it at a
        real registry (``"127.0.0.1:5000"``, used over HTTPS) with its
        credentials to test pushes.  A plain-HTTP registry
        (``"http://127.0.0.1:5000"``) needs ``insecure_registry=True`` on the push.
        """
        with self._lock:
            self._registry = _Registry(address, username, password)

    # -- state, for tests -----------------------------------------------------------------

    def add_container_service(self, name: str) -> ContainerServiceInfo:
        """Create an empty container service named ``name``.

        Raises:
            ValueError: the name breaks Lightsail's naming rule, or the service exists.

        """
        _check_local("add_container_service", (SERVICE_NAME,), {"service_name": name})
        return self._model.add_service(name, self.now())

    def remove_container_service(self, name: str) -> None:
        """Delete a container service, its images and its version counters."""
        with _local_errors():
            self._model.remove_service(name)

    def container_services(self) -> list[ContainerServiceInfo]:
        """Return a snapshot of every container service, by name."""
        return self._model.services()

    def register_image(self, service_name: str, label: str, digest: str) -> ContainerImage:
        """Register an image directly, exactly as RegisterContainerImage would.

        Handy to seed state quickly (a thousand images take milliseconds).

        Raises:
            ValueError: a parameter breaks the API's rules.
            LookupError: the container service does not exist.

        """
        _check_local(
            "register_image",
            (SERVICE_NAME, LABEL, DIGEST),
            {"service_name": service_name, "label": label, "digest": digest},
        )
        with _local_errors():
            return self._model.register_image(service_name, label, digest, self.now())

    def images(self, service_name: str) -> list[ContainerImage]:
        """Return the images registered to a service, oldest first.

        GetContainerImages answers newest first, as the service does; this
        read API keeps registration order, which reads better in assertions.

        Raises:
            LookupError: the container service does not exist.

        """
        with _local_errors():
            return self._model.images(service_name)

    def delete_image(self, service_name: str, image: str) -> None:
        """Delete an image directly, exactly as DeleteContainerImage would.

        Raises:
            ValueError: the name is not a registered image name, or a deployment uses it.
            LookupError: the service or the image does not exist.

        """
        _check_local(
            "delete_image", (SERVICE_NAME, IMAGE), {"service_name": service_name, "image": image}
        )
        with _local_errors():
            self._model.delete_image(service_name, image)

    def set_deployment(
        self,
        service_name: str,
        containers: Mapping[str, str | Container] | None,
        *,
        public_endpoint: EndpointRequest | None = None,
        next_deployment: bool = False,
        rule: DeploymentRule | None = None,
    ) -> Deployment | None:
        """Set the current deployment (or the next one) of a service.

        Args:
            service_name: the container service.
            containers: container name to image (``{"app": ":svc.web.2"}``) or
                to a full :class:`~lightsail_images.Container`; ``None`` removes
                the deployment.  Images starting with ``:`` must be registered
                to the service; others are public images.
            public_endpoint: the deployment's public endpoint.
            next_deployment: set the pending deployment instead of the current one.
            rule: for a next deployment, how it settles (see
                :class:`DeploymentRule`); by default it stays pending.

        Returns:
            The deployment, or ``None`` when it was removed.

        Raises:
            ValueError: a container name is invalid or an image is not registered.
            LookupError: the container service does not exist.

        Example::

            fake.set_deployment("svc", {"app": ":svc.web.2"})
            fake.set_deployment("svc", {"app": ":svc.web.3"}, next_deployment=True)

        """
        for name in containers or {}:
            _check_local("set_deployment", (CONTAINER_NAME,), {"container_name": name})
        specs = (
            None
            if containers is None
            else {name: _as_container(value) for name, value in containers.items()}
        )
        with _local_errors():
            return self._model.set_deployment(
                service_name,
                specs,
                public_endpoint=_as_endpoint(public_endpoint),
                next_deployment=next_deployment,
                rule=rule,
                now=self.now(),
            )

    def set_deployment_rule(self, service_name: str, rule: DeploymentRule) -> None:
        """Choose how the service settles the deployments it is asked to create.

        Example::

            from lightsail_images.testing import DeploymentRule

            fake.set_deployment_rule("svc", DeploymentRule(polls=2))  # ACTIVE on the 3rd read
            fake.set_deployment_rule(
                "svc", DeploymentRule(healthy=False, log_lines=("Error: no such file: app.py",))
            )

        Raises:
            LookupError: the container service does not exist.

        """
        with _local_errors():
            self._model.set_rule(service_name, rule)

    def deployments(self, service_name: str) -> list[Deployment]:
        """Return a service's deployments, newest first (without counting as a read).

        Raises:
            LookupError: the container service does not exist.

        """
        with _local_errors():
            return self._model.deployments(service_name)

    def container_log(self, service_name: str, container_name: str) -> list[ContainerLogEvent]:
        """Return a container's log lines, oldest first.

        Raises:
            LookupError: the service does not exist, or no such container ran on it.

        """
        with _local_errors():
            return self._model.log(service_name, container_name)

    def write_log(self, service_name: str, container_name: str, *lines: str) -> None:
        """Append lines to a container's log, stamped with the fake's clock.

        Raises:
            LookupError: the container service does not exist.

        """
        with _local_errors():
            self._model.append_log(service_name, container_name, lines, self.now())

    @property
    def requests(self) -> tuple[RecordedRequest, ...]:
        """Every request received so far, oldest first."""
        with self._lock:
            return tuple(self._requests)

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._requests.clear()

    # -- transports ---------------------------------------------------------------------

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> AbstractContextManager[str]:
        """Serve the fake over real HTTP/1.1 on a background thread.

        Yields the endpoint URL (``"http://127.0.0.1:<port>"``).  On exit the
        server stops, open keep-alive connections are closed and every handler
        thread is joined.

        Example::

            with fake.serve() as url:
                client = li.Client("us-east-1", endpoint_url=url, ...)

        """
        from lightsail_images.testing._server import serve  # noqa: PLC0415 - keeps sockets out

        return serve(self, host, port)

    def mock(
        self,
        *,
        url: str | None = None,
        requests_mock: responses.RequestsMock | None = None,
    ) -> AbstractContextManager[str]:
        """Intercept ``requests`` calls to the endpoint with the ``responses`` library.

        No socket is opened; signatures, state, faults and recording behave as
        with :meth:`serve`.  Needs the ``responses`` package:
        ``pip install "lightsail-images[testing]"``.

        Args:
            url: the endpoint to intercept; default :attr:`endpoint_url`.
            requests_mock: an active ``responses.RequestsMock`` to add to,
                when the test mocks other URLs too; else the fake starts its own.

        Example::

            with fake.mock() as url:
                client = li.Client("us-east-1", aws_access_key_id=..., ...)
                client.register_container_image(service_name="svc", label="web", digest=d)

        """
        try:
            from lightsail_images.testing._mock import mock  # noqa: PLC0415 - responses is optional
        except ModuleNotFoundError as exc:
            if exc.name != "responses":
                raise
            raise ModuleNotFoundError(
                "FakeLightsail.mock() needs the 'responses' library, which is not installed: "
                'pip install "lightsail-images[testing]" (or add responses to your test '
                "dependencies); fake.serve() needs nothing extra",
                name="responses",
            ) from exc

        return mock(self, url=url or self.endpoint_url, requests_mock=requests_mock)

    # -- the request-handling core ----------------------------------------------------------

    def handle(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]],
        body: bytes,
        *,
        peer: tuple[str, int] | None = None,
    ) -> FakeResponse:
        """Answer one HTTP request; the single core behind :meth:`serve` and :meth:`mock`.

        Args:
            method: the HTTP method.
            target: the request target as sent: path and optional query, e.g. ``"/"``.
            headers: the request headers, any case; repeated names are joined.
            body: the raw request body.
            peer: the client's address, recorded to show connection reuse.

        Returns:
            What to answer, including whether to wait or drop the connection.

        """
        if len(body) > self.MAX_BODY_BYTES:
            return self.reject(
                method,
                target,
                headers,
                status=413,
                message=self.too_large_message(len(body)),
                body=body,
                peer=peer,
            )
        exchange = _Exchange(str(uuid.uuid4()), self.now())
        lowered = _lower_headers(headers)
        operation = _operation_name(lowered.get("x-amz-target"))
        params = _decode(body)
        with self._lock:
            keys = dict(self._keys)
        failure = verify(
            method=method,
            target=target,
            headers=lowered,
            body=body,
            keys=keys,
            region=self._region_name,
            service=SIGNING_NAME,
            now=exchange.now,
        )
        fault = self._faults.take(operation)
        if fault is not None and fault.kind is not FaultKind.DELAY and not fault.after_processing:
            response = self._fault_response(fault, exchange)
        else:
            if failure is not None:
                response = self._error(
                    failure.status, failure.error_type, failure.message, exchange
                )
            else:
                response = self._dispatch(method, target, operation, params, exchange)
            if fault is not None:
                response = self._fault_response(fault, exchange, response)
        self._record(
            method,
            target,
            lowered,
            body,
            len(body),
            params=params,
            signature_valid=failure is None,
            response=response,
            fault=fault,
            exchange=exchange,
            peer=peer,
        )
        return response

    def reject(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]],
        *,
        status: int,
        message: str,
        body: bytes = b"",
        body_size: int | None = None,
        peer: tuple[str, int] | None = None,
    ) -> FakeResponse:
        """Answer, and record, a request whose body cannot or will not be read.

        The transports call this for a body past :attr:`MAX_BODY_BYTES`
        (status 413) or framing they cannot read (400: a malformed
        ``Content-Length``, bad chunked encoding).  The answer is an
        ``InvalidInputException`` in Lightsail's error shape; no signature is
        checked and no fault applies.

        Args:
            method: the HTTP method.
            target: the request target.
            headers: the request headers, any case.
            status: 400 or 413.
            message: what is wrong, for the error body.
            body: whatever of the body was read.
            body_size: the body's whole length, when known (the declared one).
            peer: the client's address.

        """
        exchange = _Exchange(str(uuid.uuid4()), self.now())
        response = self._error(
            status,
            "InvalidInputException",
            message,
            exchange,
            tip="Send a well-formed HTTP/1.1 request with a body of at most "
            f"{self.MAX_BODY_BYTES} bytes.",
        )
        self._record(
            method,
            target,
            _lower_headers(headers),
            body,
            len(body) if body_size is None else body_size,
            params=None,
            signature_valid=False,
            response=response,
            fault=None,
            exchange=exchange,
            peer=peer,
        )
        return response

    def too_large_message(self, size: int | None) -> str:
        """Return the 413 message for a body of ``size`` bytes (``None``: unknown, too many)."""
        length = "longer than that" if size is None else f"{size} bytes"
        return (
            f"The request body is {length}; this endpoint accepts bodies of at most "
            f"{self.MAX_BODY_BYTES} bytes."
        )

    def _record(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        body_size: int,
        *,
        params: Any,
        signature_valid: bool,
        response: FakeResponse,
        fault: Fault | None,
        exchange: _Exchange,
        peer: tuple[str, int] | None,
    ) -> None:
        # A bounded prefix of each body, so a test that sends many large
        # requests does not hold them all.
        kept = body[: self.RECORDED_BODY_BYTES]
        with self._lock:
            self._requests.append(
                RecordedRequest(
                    method=method,
                    target=target,
                    operation=_operation_name(headers.get("x-amz-target")),
                    headers=headers,
                    body=kept,
                    params=params if len(kept) == len(body) else None,
                    signature_valid=signature_valid,
                    status_code=response.status_code,
                    error_type=_error_type_of(response),
                    fault=fault,
                    request_id=exchange.request_id,
                    received_at=exchange.now,
                    peer=peer,
                    body_size=body_size,
                )
            )

    def _dispatch(
        self,
        method: str,
        target: str,
        name: str | None,
        params: Any,
        exchange: _Exchange,
    ) -> FakeResponse:
        operation = self._operations.get(name or "")
        if method != "POST" or target.partition("?")[0] != "/" or operation is None:
            return self._error(
                400,
                "UnknownOperationException",
                f"This endpoint answers POST / with X-Amz-Target "
                f"{TARGET_PREFIX}.<operation>, for the operations "
                f"{', '.join(sorted(self._operations))}; got {method} {target} "
                f"for operation {name!r}.",
                exchange,
            )
        rules, run = operation
        try:
            payload = _check_wire_input(rules, params)
            return self._reply(200, run(payload, exchange), exchange)
        except _WireError as err:
            return self._error(err.status, err.error_type, err.message, exchange)
        except ApiError as err:
            return self._error(err.status, err.error_type, err.message, exchange, tip=err.tip)

    def _fault_response(
        self,
        fault: Fault,
        exchange: _Exchange,
        processed: FakeResponse | None = None,
    ) -> FakeResponse:
        if fault.kind is FaultKind.DELAY:
            assert processed is not None  # noqa: S101 - delays always follow processing
            return attrs.evolve(processed, delay=fault.seconds)
        if fault.kind is FaultKind.DROP:
            return FakeResponse(0, (), b"", drop=True)
        message = fault.message or (
            f"{fault.error_type}: this failure was injected by FakeLightsail.faults"
            + (" after the request was processed." if fault.after_processing else ".")
        )
        return self._error(
            fault.status,
            fault.error_type,
            message,
            exchange,
            tip="The test that queued this fault expects the client to cope with it.",
        )

    # -- responses --------------------------------------------------------------------------

    def _reply(
        self,
        status: int,
        payload: Mapping[str, Any],
        exchange: _Exchange,
        error_type_header: str | None = None,
    ) -> FakeResponse:
        headers = [
            ("x-amzn-RequestId", exchange.request_id),
            ("Content-Type", CONTENT_TYPE),
            ("Date", format_datetime(exchange.now, usegmt=True)),
        ]
        if error_type_header is not None:
            headers.append(("x-amzn-ErrorType", error_type_header))
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        return FakeResponse(status, tuple(headers), body)

    def _error(
        self,
        status: int,
        error_type: str,
        message: str,
        exchange: _Exchange,
        *,
        tip: str | None = None,
    ) -> FakeResponse:
        code = LIGHTSAIL_ERROR_CODES.get(error_type)
        if code is None:
            wire_type = f"{_CORAL_SERVICE}#{error_type}"
            details = ErrorDetails(message=message)
            header = f"{error_type}:http://internal.amazon.com/coral/{_CORAL_SERVICE}/"
        else:
            wire_type = error_type
            details = ErrorDetails(
                code=code, docs=_DOCS_URL, message=message, tip=tip or _GENERIC_TIP
            )
            header = f"{error_type}:{_LIGHTSAIL_NAMESPACE}"
        return self._reply(status, {"__type": wire_type, **to_json(details)}, exchange, header)

    # -- operations: JSON in, JSON out ---------------------------------------------------------

    def _register_container_image(
        self, params: Mapping[str, Any], exchange: _Exchange
    ) -> dict[str, Any]:
        image = self._model.register_image(
            params["serviceName"], params["label"], params["digest"], exchange.now
        )
        return {"containerImage": to_json(image)}

    def _get_container_images(
        self, params: Mapping[str, Any], _exchange: _Exchange
    ) -> dict[str, Any]:
        images = self._model.images(params["serviceName"])
        return {"containerImages": to_json(images[::-1])}

    def _delete_container_image(
        self, params: Mapping[str, Any], _exchange: _Exchange
    ) -> dict[str, Any]:
        self._model.delete_image(params["serviceName"], params["image"])
        return {}

    def _create_registry_login(
        self, _params: Mapping[str, Any], exchange: _Exchange
    ) -> dict[str, Any]:
        with self._lock:
            registry = self._registry
        login = ContainerServiceRegistryLogin(
            username=registry.username,
            password=registry.password or secrets.token_urlsafe(48),
            expires_at=exchange.now + REGISTRY_LOGIN_LIFETIME,
            registry=registry.address,
        )
        return {"registryLogin": to_json(login)}

    def _get_container_services(
        self, params: Mapping[str, Any], exchange: _Exchange
    ) -> dict[str, Any]:
        name = params.get("serviceName")
        self._model.observe(name, exchange.now)
        services = self._model.services(name)
        return {"containerServices": [self._service_json(info) for info in services]}

    def _create_deployment(self, params: Mapping[str, Any], exchange: _Exchange) -> dict[str, Any]:
        containers = _structure_member(params, "containers", dict[str, Container])
        endpoint = _structure_member(params, "publicEndpoint", EndpointRequest | None)
        service_name = params["serviceName"]
        problems = list(containers_type("containers", containers))
        if not problems:
            problems += containers_rule("containers", containers)
            problems += service_images_rule(service_name, containers, field="containers")
            if endpoint is not None:
                problems += endpoint_rule("publicEndpoint", endpoint)
                problems += endpoint_matches_containers(
                    containers, endpoint, field="publicEndpoint"
                )
        if problems:
            raise _invalid(problems)
        info = self._model.create_deployment(
            service_name,
            {name: _as_container(container) for name, container in containers.items()},
            _as_endpoint(endpoint),
            exchange.now,
        )
        return {"containerService": self._service_json(info)}

    def _get_deployments(self, params: Mapping[str, Any], exchange: _Exchange) -> dict[str, Any]:
        self._model.observe(params["serviceName"], exchange.now)
        deployments = self._model.deployments(params["serviceName"])
        return {"deployments": to_json(deployments)}

    def _get_container_log(self, params: Mapping[str, Any], _exchange: _Exchange) -> dict[str, Any]:
        start = _epoch_member(params, "startTime")
        end = _epoch_member(params, "endTime")
        events = [
            event
            for event in self._model.log(params["serviceName"], params["containerName"])
            if event.created_at is not None
            and (start is None or event.created_at.timestamp() >= start)
            and (end is None or event.created_at.timestamp() <= end)
            and _matches(event.message or "", params.get("filterPattern") or "")
        ]
        offset = _page_offset(params.get("pageToken"), len(events))
        size = max(1, self.log_page_size)
        page = events[offset : offset + size]
        out: dict[str, Any] = {"logEvents": to_json(page)}
        if offset + size < len(events):
            out["nextPageToken"] = f"{_PAGE_PREFIX}{offset + size}"
        return out

    def _service_json(self, info: ContainerServiceInfo) -> dict[str, Any]:
        region = self._region_name
        service = ContainerService(
            container_service_name=info.name,
            arn=info.arn,
            created_at=info.created_at,
            location=ResourceLocation(availability_zone="all", region_name=region),
            resource_type="ContainerService",
            tags=(),
            power="nano",
            power_id="nano-1",
            state=info.state,
            state_detail=ContainerServiceStateDetail(code="ACTIVATING_DEPLOYMENT")
            if info.next_deployment is not None
            else None,
            scale=1,
            current_deployment=info.current_deployment,
            next_deployment=info.next_deployment,
            is_disabled=False,
            private_domain_name=f"{info.name}.service.local",
            public_domain_names={},
            url=f"https://{info.name}.{info.arn[-12:]}.{region}.cs.amazonlightsail.com/",
        )
        out: dict[str, Any] = to_json(service)
        return out


_PAGE_PREFIX = "fake-log-page-"


def _structure_member(params: Mapping[str, Any], member: str, kind: Any) -> Any:
    # JSON of the wrong shape is the front door's SerializationException, as
    # the service answers it; the values' rules are InvalidInputException.
    try:
        return structure(params.get(member), kind)
    except (cattrs.BaseValidationError, TypeError, ValueError, KeyError) as exc:
        detail = "; ".join(
            cattrs.transform_error(exc, path=member)
            if isinstance(exc, cattrs.BaseValidationError)
            else [str(exc)]
        )
        raise _WireError(
            400,
            "SerializationException",
            f"Member {member!r} does not have the API's shape: {detail}.",
        ) from exc


def _invalid(problems: list[ValidationProblem]) -> ApiError:
    return ApiError(
        "InvalidInputException",
        "The request has invalid parameters: " + "; ".join(p.message for p in problems) + ".",
        "Check the containers and the public endpoint against the "
        "CreateContainerServiceDeployment API reference.",
    )


def _epoch_member(params: Mapping[str, Any], member: str) -> float | None:
    value = params.get(member)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _WireError(
            400,
            "SerializationException",
            f"Member {member!r} must be a timestamp in epoch seconds, got {type(value).__name__}.",
        )
    return float(value)


def _matches(message: str, pattern: str) -> bool:
    # CloudWatch-style terms: every plain term must occur, no "-term" may.
    for term in pattern.split():
        if term.startswith("-") and len(term) > 1:
            if term[1:] in message:
                return False
        elif term not in message:
            return False
    return True


def _page_offset(token: Any, total: int) -> int:
    if token is None:
        return 0
    text = str(token)
    digits = text.removeprefix(_PAGE_PREFIX)
    if not text.startswith(_PAGE_PREFIX) or not digits.isdigit() or int(digits) > total:
        raise ApiError(
            "InvalidInputException",
            f"The page token {text[:40]!r} was not issued by GetContainerLog.",
            "Pass the nextPageToken of the previous page unchanged, or none for the first page.",
        )
    return int(digits)


# --- input checks ---------------------------------------------------------------------------


def _check_wire_input(params: tuple[Param, ...], payload: Any) -> Mapping[str, Any]:
    """Validate a decoded request body the way the service does, or raise."""
    if not isinstance(payload, dict):
        raise _WireError(
            400,
            "SerializationException",
            "The request body must be a JSON object of the operation's members.",
        )
    for param in params:
        value = payload.get(param.wire_name)
        if value is not None and not isinstance(value, str):
            raise _WireError(
                400,
                "SerializationException",
                f"Member {param.wire_name!r} must be a JSON string, got {type(value).__name__}.",
            )
    missing = [p.wire_name for p in params if p.required and payload.get(p.wire_name) is None]
    problems = [f"{name}: is required" for name in missing]
    problems += [p.message for p in validate(params, payload) if p.field not in missing]
    if problems:
        raise ApiError(
            "InvalidInputException",
            "The request has invalid parameters: " + "; ".join(problems) + ".",
            "Service names and labels use lowercase letters, digits and hyphens, and do not "
            "start or end with a hyphen; digests look like 'sha256:' and 64 lowercase hex digits.",
        )
    return payload


def _check_local(operation: str, params: tuple[Param, ...], values: Mapping[str, Any]) -> None:
    problems = validate(params, values)
    if problems:
        raise ParamValidationError(operation, problems)


@contextlib.contextmanager
def _local_errors() -> Generator[None, None, None]:
    # The Python API of the fake raises plain Python errors, not wire errors.
    try:
        yield
    except ApiError as err:
        if err.error_type == "NotFoundException":
            raise LookupError(err.message) from err
        raise ValueError(err.message) from err


def _error_type_of(response: FakeResponse) -> str | None:
    header = response.header("x-amzn-ErrorType")
    return None if header is None else header.split(":", 1)[0]
