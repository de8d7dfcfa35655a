"""Every exception this library raises, and nothing else.

The tree::

    LightsailError                      base of everything this library raises
    ├── ParamValidationError            a value the API will not accept (also ValueError)
    ├── ConfigurationError              the client cannot be configured as asked
    │   ├── NoRegionError               no region from arguments or configuration
    │   └── NoCredentialsError          the credential chain found nothing
    ├── TransportError                  no HTTP response after the last attempt
    ├── MalformedResponseError          a response we cannot make sense of
    └── ServiceError                    an error response (also botocore ClientError)
        ├── AccessDeniedException
        ├── InvalidInputException
        ├── NotFoundException
        ├── ServiceException
        ├── UnauthenticatedException
        └── RegionSetupInProgressException

Local errors (``ParamValidationError``, ``ConfigurationError``) mean *you* asked
for something that cannot work; nothing was sent.  Remote errors
(``ServiceError``, ``MalformedResponseError``, ``TransportError``) mean the
attempt was made and the other side, or the network, failed it.

``ServiceError`` subclasses :class:`botocore.exceptions.ClientError` so that code
written around boto3 (``err.response["Error"]["Code"]``) keeps working.  This
module only defines the classes; the wire-level parsing that fills them lives in
``_protocol.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from botocore.exceptions import ClientError

from lightsail_images._models import ErrorDetails

__all__ = [
    "AccessDeniedException",
    "ConfigurationError",
    "InvalidInputException",
    "LightsailError",
    "MalformedResponseError",
    "NoCredentialsError",
    "NoRegionError",
    "NotFoundException",
    "ParamValidationError",
    "RegionSetupInProgressException",
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


@attrs.frozen
class ValidationProblem:
    """One rule that one parameter broke.

    Attributes:
        field: the keyword argument's name, for example ``"service_name"``.
        rule: a short name of the broken rule: ``"type"``, ``"min_length"``,
            ``"max_length"``, ``"pattern"``, ``"digest"`` or ``"image"``.
        message: a sentence that says what is wrong and what is accepted.

    """

    field: str
    rule: str
    message: str

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

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.operation_name, self.errors))


class ConfigurationError(LightsailError):
    """The client cannot be configured as asked (a missing profile, a bad endpoint URL...)."""


class NoRegionError(ConfigurationError):
    """No AWS region was given and none was found in the environment or profile."""


class NoCredentialsError(ConfigurationError):
    """The credential chain found no credentials, or could not load them."""


class TransportError(LightsailError):
    """No HTTP response arrived, even after the last retry.

    The cause (connection refused, timeout, TLS failure, reset) is chained as
    ``__cause__``.  ``attempts`` says how many attempts were made.
    """

    def __init__(self, message: str, *, attempts: int = 1) -> None:
        super().__init__(message)
        self.attempts = attempts

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_transport_error, (type(self), self.args[0], self.attempts))


def _rebuild_transport_error(cls: type[TransportError], message: str, attempts: int) -> Any:
    return cls(message, attempts=attempts)


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

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_malformed,
            (type(self), self.args[0], self.http_status_code, self.request_id, self.attempts),
        )


def _rebuild_malformed(
    cls: type[MalformedResponseError],
    message: str,
    status: int,
    request_id: str | None,
    attempts: int,
) -> Any:
    return cls(message, http_status_code=status, request_id=request_id, attempts=attempts)


class ServiceError(LightsailError, ClientError):  # type: ignore[misc]  # botocore is untyped
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
        ClientError.__init__(self, self._build_response(), operation_name)

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

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_service_error,
            (
                type(self),
                {
                    "code": self.code,
                    "message": self.message,
                    "details": self.details,
                    "http_status_code": self.http_status_code,
                    "request_id": self.request_id,
                    "operation_name": self.operation_name,
                    "attempts": self.attempts,
                    "headers": self._headers,
                    "modeled_members": self._modeled_members,
                },
            ),
        )


def _rebuild_service_error(cls: type[ServiceError], kwargs: dict[str, Any]) -> Any:
    return cls(**kwargs)


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
