"""The client: the thin shell that runs each call through the pipeline.

::

    validate -> serialize -> sign -> send (retry loop) -> parse -> model | exception
     pure       pure        shell    shell               pure

Pure steps live in ``_validation.py`` and ``_protocol.py``; this module only
wires them to the signer, the transport and the retry policy.
"""

from __future__ import annotations

import logging
import platform
import threading
import uuid
from typing import TYPE_CHECKING, Any, TypeVar

import botocore

from lightsail_images._config import ClientConfig, SessionSource, resolve_settings
from lightsail_images._errors import (
    ConfigurationError,
    ParamValidationError,
    ServiceError,
    TransportError,
)
from lightsail_images._operations import REGISTER_CONTAINER_IMAGE
from lightsail_images._protocol import HttpResponse, Operation, build_request, parse_response
from lightsail_images._retry import RetryPolicy, RetryQuota, is_retryable, sleep
from lightsail_images._signing import CredentialSource, FrozenCredentials, Signer
from lightsail_images._transport import AttemptFailed, RequestsTransport
from lightsail_images._validation import validate
from lightsail_images._version import __version__

if TYPE_CHECKING:
    from types import TracebackType

    import requests
    from botocore.session import Session as BotocoreSession
    from typing_extensions import Self

    from lightsail_images._models import RegisterContainerImageResult

__all__ = ["Client"]

logger = logging.getLogger("lightsail_images")

R = TypeVar("R")


class Client:
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
        ConfigurationError: a setting is invalid (bad endpoint URL, missing profile...).

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

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

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
            digest: the pushed image's digest, ``"sha256:"`` plus 64 hex digits.

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

    # -- the pipeline --------------------------------------------------------

    def _invoke(self, operation: Operation[R], values: dict[str, Any]) -> R:
        if self._closed.is_set():
            raise ConfigurationError(
                "this client is closed; create a new lightsail_images.Client to make calls"
            )
        problems = validate(operation.params, values, check_rules=self._config.parameter_validation)
        if problems:
            raise ParamValidationError(operation.name, problems)
        request = build_request(operation, values, endpoint_url=self._endpoint_url)
        policy = RetryPolicy(max_attempts=self._max_attempts, quota=self._quota)
        invocation_id = str(uuid.uuid4())
        attempt = 0
        while True:
            attempt += 1
            headers = self._signer.sign(
                request,
                {
                    "User-Agent": self._user_agent,
                    "Accept-Encoding": "identity",
                    "amz-sdk-invocation-id": invocation_id,
                    "amz-sdk-request": f"attempt={attempt}; max={self._max_attempts}",
                },
            )
            try:
                response = self._transport.send(request, headers)
            except AttemptFailed as exc:
                delay = policy.delay(attempt, retryable=True, timeout=exc.timeout)
                logger.debug(
                    "%s attempt %d/%d: no response: %s",
                    operation.name,
                    attempt,
                    self._max_attempts,
                    exc.description,
                )
                if delay is None:
                    raise TransportError(
                        f"{operation.name} failed: {exc.description}"
                        f"{_after(attempt)}; check the endpoint URL, your network or proxy, "
                        "and the timeouts in ClientConfig",
                        attempts=attempt,
                    ) from exc.__cause__
                sleep(delay)
                continue
            outcome = self._parse(operation, response, attempt)
            if not isinstance(outcome, ServiceError):
                policy.succeeded(attempt)
                return outcome
            delay = policy.delay(attempt, retryable=is_retryable(outcome), timeout=False)
            if delay is None:
                raise outcome
            sleep(delay)

    def _parse(
        self, operation: Operation[R], response: HttpResponse, attempt: int
    ) -> R | ServiceError:
        logger.debug(
            "%s attempt %d/%d: HTTP %d, request id %s",
            operation.name,
            attempt,
            self._max_attempts,
            response.status_code,
            response.headers.get("x-amzn-requestid"),
        )
        return parse_response(operation, response, attempts=attempt)


def _after(attempts: int) -> str:
    return f" (after {attempts} attempts)" if attempts > 1 else ""


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


def _user_agent(extra: str | None) -> str:
    agent = (
        f"lightsail-images/{__version__} botocore/{botocore.__version__} "
        f"python/{platform.python_version()}"
    )
    return f"{agent} {extra}" if extra else agent
