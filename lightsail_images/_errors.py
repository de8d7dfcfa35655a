"""Every exception this library raises, and nothing else.

The tree::

    LightsailError                      base of everything this library raises
    ├── ParamValidationError            a value the API will not accept (also ValueError)
    ├── ConfigurationError              the client cannot be configured as asked
    │   ├── NoRegionError               no region from arguments or configuration
    │   └── NoCredentialsError          the credential chain found nothing
    ├── ImageSourceError                the image on disk cannot be pushed
    │   └── PlatformError               it has no image for the platform asked for
    ├── TransportError                  no HTTP response after the last attempt
    │                                   (Lightsail's endpoint or a registry)
    ├── MalformedResponseError          a response we cannot make sense of
    ├── DeploymentFailedError           a deployment ended FAILED (its logs attached)
    ├── DeploymentTimeoutError          a deployment did not settle before the deadline
    ├── RegistryError                   a registry refused or failed a push step
    │   ├── RegistryAuthError           it rejected the credentials, or denies the push
    │   └── DigestMismatchError         it stored other bytes than were sent
    └── ServiceError                    a Lightsail error response (also botocore ClientError)
        ├── AccessDeniedException
        ├── InvalidInputException
        ├── NotFoundException
        ├── ServiceException
        ├── UnauthenticatedException
        └── RegionSetupInProgressException

Local errors (``ParamValidationError``, ``ConfigurationError``,
``ImageSourceError``) mean *you* asked for something that cannot work; nothing
was sent for it.  Remote errors (``ServiceError``, ``RegistryError``,
``MalformedResponseError``, ``TransportError``) mean the attempt was made and
the other side, or the network, failed it.  The deployment errors report the
outcome of a deployment that was made: Lightsail could not start it, or it
was still activating when the wait ran out.  A network failure is a
``TransportError`` wherever it happens, on a Lightsail call or during a push.

Every class pickles the same way: :class:`LightsailError` records the
arguments each instance was built with and ``__reduce__`` rebuilds it from
them, so a subclass with keyword-only attributes needs no pickling code of its
own (exceptions cross process boundaries in ``concurrent.futures`` and
``multiprocessing``).

``ServiceError`` subclasses :class:`botocore.exceptions.ClientError` so that code
written around boto3 (``err.response["Error"]["Code"]``) keeps working.  This
module only defines the classes; the wire-level parsing that fills them lives in
``_protocol.py`` (Lightsail) and the push modules (registries, image sources).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
from typing_extensions import Self

if TYPE_CHECKING:
    from lightsail_images._error_models import ErrorDetails
    from lightsail_images._registry_models import RegistryErrorDetail
    from lightsail_images._service_models import ContainerLogEvent

    # What type checkers see of botocore's ClientError.  botocore ships no
    # types, so the real class is Any to them unless botocore-stubs happens to
    # be installed, and a class with an Any base accepts any attribute: a typo
    # such as ``err.reqeust_id`` would pass --strict.  This base declares what
    # ServiceError inherits, so every attribute is checked in a default
    # install; at run time the base is botocore's own class, unchanged.
    class _ClientError(Exception):
        MSG_TEMPLATE: str
        response: dict[str, Any]
        operation_name: str

        def __init__(self, error_response: Mapping[str, Any], operation_name: str) -> None: ...

else:
    from botocore.exceptions import ClientError as _ClientError

__all__ = [
    "AccessDeniedException",
    "ConfigurationError",
    "DeploymentFailedError",
    "DeploymentTimeoutError",
    "DigestMismatchError",
    "ImageSourceError",
    "InvalidInputException",
    "LightsailError",
    "MalformedResponseError",
    "NoCredentialsError",
    "NoRegionError",
    "NotFoundException",
    "ParamValidationError",
    "PlatformError",
    "RegionSetupInProgressException",
    "RegistryAuthError",
    "RegistryError",
    "ServiceError",
    "ServiceException",
    "TransportError",
    "UnauthenticatedException",
    "ValidationProblem",
    "service_error_class",
]


class LightsailError(Exception):
    """Base class of every exception raised by ``lightsail_images``.

    Catch this to handle anything the library can raise::

        try:
            client.register_container_image(service_name="web", label="app", digest=d)
        except li.LightsailError as err:
            log.error("registration failed: %s", err)
    """

    # The arguments this instance was built with, for pickling.
    _init_args: tuple[Any, ...]
    _init_kwargs: dict[str, Any]

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        self = super().__new__(cls, *args)
        self._init_args = args
        self._init_kwargs = kwargs
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild through __init__, so every attribute (and ServiceError's
        # botocore ``response``) is computed again exactly as it first was.
        return (_rebuild, (type(self), self._init_args, self._init_kwargs))


def _rebuild(cls: type[LightsailError], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return cls(*args, **kwargs)


@attrs.frozen
class ValidationProblem:
    """One rule that one parameter broke.

    Attributes:
        field: the keyword argument's name, for example ``"service_name"``.
        rule: a short name of the broken rule: ``"type"``, ``"min_length"``,
            ``"max_length"``, ``"pattern"``, ``"digest"`` or ``"image"``.
        message: a sentence that says what is wrong and what is accepted,
            starting with the field's name (``"digest: ..."``).
        detail: the same sentence without the field's name, for a caller that
            names the field its own way (the command line says ``--digest``).

    """

    field: str
    rule: str
    message: str
    detail: str = attrs.field(
        kw_only=True,
        default=attrs.Factory(
            lambda self: self.message.removeprefix(f"{self.field}: "), takes_self=True
        ),
    )

    @classmethod
    def of(cls, field: str, rule: str, detail: str) -> Self:
        """Build a problem from the field, the rule and what is wrong (without the field)."""
        return cls(field, rule, f"{field}: {detail}", detail=detail)

    def __str__(self) -> str:
        return self.message


class ParamValidationError(LightsailError, ValueError):
    """One or more parameters break the API's documented rules.

    Raised before credentials are looked up and before anything is sent.
    ``errors`` lists every problem found, not only the first::

        try:
            client.register_container_image(service_name="Web!", label="", digest="x")
        except li.ParamValidationError as err:
            for problem in err.errors:
                print(problem.field, problem.rule, problem.message)
    """

    errors: tuple[ValidationProblem, ...]

    def __init__(self, operation_name: str, errors: tuple[ValidationProblem, ...]) -> None:
        self.operation_name = operation_name
        self.errors = errors
        lines = "\n".join(f"  - {p.message}" for p in errors)
        count = f"{len(errors)} invalid parameter{'s' if len(errors) != 1 else ''}"
        super().__init__(f"{count} for {operation_name}; nothing was sent:\n{lines}")


class ConfigurationError(LightsailError):
    """The client cannot be configured as asked (a missing profile, a bad endpoint URL...).

    ``str(err)`` says what is wrong and how to fix it in Python.  For a caller
    that gives its own advice (the command line names its flags), the facts
    are also kept apart.

    Attributes:
        reason: what is wrong, without advice.
        setting: the :class:`Client` argument concerned (``"region_name"``,
            ``"profile_name"``, ``"endpoint_url"``, ``"aws_access_key_id"``...),
            when one is.
        value: the value that was given or found for it, when there was one.

    """

    reason: str
    setting: str | None
    value: str | None

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        setting: str | None = None,
        value: str | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = message if reason is None else reason
        self.setting = setting
        self.value = value


class NoRegionError(ConfigurationError):
    """No AWS region was given and none was found in the environment or profile."""


class NoCredentialsError(ConfigurationError):
    """The credential chain found no credentials, or could not load them."""


class ImageSourceError(LightsailError):
    """The image on disk cannot be pushed: missing, unreadable, corrupt or unsupported.

    Nothing was sent for the blob or manifest concerned.  The message names the
    file and says what to do, for example::

        try:
            client.push_container_image(service_name="svc", label="web", source="app.tar")
        except li.ImageSourceError as err:
            print(err)  # "app.tar: layer 2 ... does not match ... export it again"
    """


class PlatformError(ImageSourceError):
    """The image is not for the platform Lightsail runs (``linux/amd64``).

    Attributes:
        wanted: the platform asked for, for example ``"linux/amd64"``.
        available: the platforms the source offers, for example
            ``("linux/arm64/v8",)``; empty when the source names none.

    """

    wanted: str
    available: tuple[str, ...]

    def __init__(self, message: str, *, wanted: str, available: tuple[str, ...]) -> None:
        super().__init__(message)
        self.wanted = wanted
        self.available = available


class TransportError(LightsailError):
    """No HTTP response arrived, even after the last retry.

    The cause (connection refused, timeout, TLS failure, reset) is chained as
    ``__cause__``.

    Attributes:
        attempts: how many attempts were made.
        reason: what happened, without the advice ``str(err)`` ends with.
        registry: the registry's host when it was a registry, during a push,
            that did not answer; ``None`` for Lightsail's endpoint.

    """

    attempts: int
    reason: str
    registry: str | None

    def __init__(
        self,
        message: str,
        *,
        attempts: int = 1,
        reason: str | None = None,
        registry: str | None = None,
    ) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.reason = message if reason is None else reason
        self.registry = registry


class MalformedResponseError(LightsailError):
    """The service answered, but the response is not what the API promises.

    ``http_status_code`` and ``request_id`` identify the response for AWS support.
    """

    def __init__(
        self,
        message: str,
        *,
        http_status_code: int,
        request_id: str | None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.http_status_code = http_status_code
        self.request_id = request_id
        self.attempts = attempts


class DeploymentFailedError(LightsailError):
    """A deployment ended ``FAILED``: a container did not start or failed its health check.

    The service keeps running the previous deployment.  The reason is in the
    containers' logs, so the last lines of each container of the failed
    deployment, written since it was created, are attached and printed.

    Attributes:
        service_name: the container service.
        version: the failed deployment's version.
        logs: container name to its last log lines (oldest first).
        log_error: why the logs could not be read, when they could not.

    Example::

        try:
            client.deploy_container_image(service_name="my-svc", image=":my-svc.web.8")
        except li.DeploymentFailedError as err:
            for container, events in err.logs.items():
                print(container, [event.message for event in events])

    """

    def __init__(
        self,
        *,
        service_name: str,
        version: int,
        logs: Mapping[str, tuple[ContainerLogEvent, ...]],
        log_error: str | None = None,
    ) -> None:
        self.service_name = service_name
        self.version = version
        self.logs = dict(logs)
        self.log_error = log_error
        head = (
            f"deployment {version} of container service {service_name!r} failed: Lightsail "
            "could not start its containers or they failed the health check; the previous "
            "deployment keeps running."
        )
        lines = [head]
        for container, events in self.logs.items():
            lines.append(f"last log lines of container {container!r}:")
            lines += [f"  {event.message}" for event in events] or ["  (nothing logged)"]
        if log_error:
            lines.append(f"the container logs could not be read: {log_error}")
        lines.append(
            "fix the image or its settings and deploy again; for more of the log use "
            "client.get_container_log() or 'aws lightsail get-container-log "
            f"--service-name {service_name} --container-name NAME'"
        )
        super().__init__("\n".join(lines))


class DeploymentTimeoutError(LightsailError):
    """The wait for a deployment ran out before it became active or failed.

    The deployment may still finish: Lightsail keeps activating it.  Check its
    state with ``client.get_container_services(service_name=...)`` (or
    ``aws lightsail get-container-services --service-name ...``), or wait
    again with a longer ``timeout`` (re-running ``deploy_container_image``
    with the same image waits on the same deployment, it creates no new one).

    Attributes:
        service_name: the container service.
        version: the deployment waited on, or ``None`` if the wait ran out
            before it could be created (behind another activating deployment).
        timeout: the deadline, in seconds.
        state: the deployment's last state seen, e.g. ``"ACTIVATING"``.

    """

    def __init__(
        self,
        *,
        service_name: str,
        version: int | None,
        timeout: float,
        state: str | None,
    ) -> None:
        self.service_name = service_name
        self.version = version
        self.timeout = timeout
        self.state = state
        what = (
            f"deployment {version} of container service {service_name!r} was still "
            f"{state or 'activating'}"
            if version is not None
            else f"container service {service_name!r} was still busy with another deployment, "
            "so none was created"
        )
        super().__init__(
            f"{what} after the {timeout:g} s timeout.  It may still finish: check with "
            f"'aws lightsail get-container-services --service-name {service_name}' or "
            "client.get_container_services(), or run the deploy again with a longer "
            "timeout (it waits on the same deployment instead of creating another)."
        )


class RegistryError(LightsailError):
    """A registry refused or failed a push step.

    A registry that could not be reached at all (connection refused, reset,
    timeout) raises :class:`TransportError` instead, as Lightsail calls do.

    Attributes:
        http_status_code: the status of the response that failed the step.
        errors: the registry's error entries, in order.
        attempts: how many attempts the failed step got.

    Example::

        try:
            client.push_container_image(service_name="svc", label="web", source=path)
        except li.RegistryError as err:
            if "BLOB_UPLOAD_INVALID" in err.codes:
                ...

    """

    http_status_code: int | None
    errors: tuple[RegistryErrorDetail, ...]
    attempts: int

    def __init__(
        self,
        message: str,
        *,
        http_status_code: int | None = None,
        errors: tuple[RegistryErrorDetail, ...] = (),
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.http_status_code = http_status_code
        self.errors = errors
        self.attempts = attempts

    @property
    def codes(self) -> tuple[str, ...]:
        """The error codes the registry sent, for example ``("DENIED",)``."""
        return tuple(e.code for e in self.errors)


class RegistryAuthError(RegistryError):
    """The registry (or its token service) rejected the credentials, or denies the push.

    Registry logins from Lightsail are temporary: get a new one and push again.
    """


class DigestMismatchError(RegistryError):
    """The registry stored different bytes than were sent.

    Attributes:
        expected: the digest computed locally.
        actual: the ``Docker-Content-Digest`` the registry reported.

    """

    expected: str
    actual: str

    def __init__(self, message: str, *, expected: str, actual: str) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class ServiceError(LightsailError, _ClientError):
    """The service answered with an error.

    Attributes:
        code: the error type, for example ``"NotFoundException"`` (botocore's
            ``Error.Code``).
        message: the service's message, or ``""``.
        tip: Lightsail's advice on what to do, when it sent one.
        docs: a link to Lightsail documentation, when it sent one.
        details: every modelled member of the error body, as :class:`ErrorDetails`.
        http_status_code: the HTTP status.
        request_id: the ``x-amzn-RequestId`` header, to quote to AWS support.
        attempts: how many attempts were made before giving up.
        operation_name: the API operation, for example ``"RegisterContainerImage"``.
        response: the same dictionary botocore's ``ClientError.response`` holds.

    Catch a specific error by its class, or any by its ``code``::

        try:
            client.register_container_image(service_name="web", label="app", digest=d)
        except li.NotFoundException:
            ...  # the container service does not exist
        except li.ServiceError as err:
            if err.code == "ThrottlingException":
                ...

    """

    code: str
    message: str
    details: ErrorDetails
    http_status_code: int
    request_id: str | None
    attempts: int
    response: dict[str, Any]
    operation_name: str

    def __init__(
        self,
        *,
        code: str,
        message: str,
        details: ErrorDetails,
        http_status_code: int,
        request_id: str | None,
        operation_name: str,
        attempts: int = 1,
        headers: Mapping[str, str] | None = None,
        modeled_members: Mapping[str, str] | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.details = details
        self.http_status_code = http_status_code
        self.request_id = request_id
        self.attempts = attempts
        self._headers = dict(headers or {})
        self._modeled_members = dict(modeled_members or {})
        _ClientError.__init__(self, self._build_response(), operation_name)

    @property
    def tip(self) -> str | None:
        """Lightsail's advice on how to fix the problem, when it sent one."""
        return self.details.tip

    @property
    def docs(self) -> str | None:
        """A link to the relevant Lightsail documentation, when it sent one."""
        return self.details.docs

    def _build_response(self) -> dict[str, Any]:
        # Mirror botocore's json parser: Error + ResponseMetadata, plus the
        # modelled members (as spelled in the body) at the top level when the
        # code names a modelled shape.
        metadata: dict[str, Any] = {
            "HTTPStatusCode": self.http_status_code,
            "HTTPHeaders": self._headers,
            "RetryAttempts": max(self.attempts - 1, 0),
        }
        if self.request_id is not None:
            metadata["RequestId"] = self.request_id
        response: dict[str, Any] = {
            "Error": {"Message": self.message, "Code": self.code},
            "ResponseMetadata": metadata,
        }
        response.update(self._modeled_members)
        return response

    def __str__(self) -> str:
        text = (
            f"An error occurred ({self.code}) when calling the "
            f"{self.operation_name} operation: {self.message or 'no message'}"
        )
        if self.tip:
            text += f" Tip: {self.tip}"
        extras = [f"HTTP {self.http_status_code}"]
        if self.request_id:
            extras.append(f"request id {self.request_id}")
        if self.attempts > 1:
            extras.append(f"after {self.attempts} attempts")
        return f"{text} ({', '.join(extras)})"


class AccessDeniedException(ServiceError):
    """You may not perform this action (IAM policy, or invalid credentials for the resource)."""


class InvalidInputException(ServiceError):
    """The service rejected an input value; see ``message`` and ``tip``."""


class NotFoundException(ServiceError):
    """A resource, usually the container service, does not exist in this region."""


class ServiceException(ServiceError):
    """A general failure inside Lightsail (HTTP 500); retried automatically."""


class UnauthenticatedException(ServiceError):
    """The request was not authenticated; check your credentials."""


class RegionSetupInProgressException(ServiceError):
    """The opt-in region is still being set up; wait a few minutes and try again."""


_MODELED: dict[str, type[ServiceError]] = {
    cls.__name__: cls
    for cls in (
        AccessDeniedException,
        InvalidInputException,
        NotFoundException,
        ServiceException,
        UnauthenticatedException,
        RegionSetupInProgressException,
    )
}


def service_error_class(code: str) -> tuple[type[ServiceError], bool]:
    """Return the exception class for an error code, and whether it is modelled."""
    cls = _MODELED.get(code)
    if cls is None:
        return ServiceError, False
    return cls, True
