"""Authenticating to a registry: ``Basic``, or ``Bearer`` tokens bought with it.

The registry says which in the ``WWW-Authenticate`` challenge of a ``401``
(see ``distribution.py``).  :class:`Authenticator` keeps the one
``Authorization`` value every thread of a push sends, answers a ``401`` by
picking up (or refreshing) credentials once, and says when the registry has
refused them for good.

The username and password live in :class:`Credentials` and the header values
in :class:`Secret` strings: neither shows itself in a ``repr``, so no log
line, exception message or debugger view of the push's state carries them.
They are sent only to the registry's own origin and to the token realm it
names (and never over plain HTTP to a realm when the registry is HTTPS).
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable

from lightsail_images._errors import RegistryAuthError, RegistryError
from lightsail_images._protocol import HttpRequest, HttpResponse
from lightsail_images._push.distribution import (
    RETRY_STATUS,
    Challenge,
    Repository,
    describe_errors,
    origin,
    parse_challenges,
    parse_error_body,
    parse_token,
    retryable,
)

__all__ = ["Authenticator", "Credentials", "Secret"]

# Sends one request with the given Authorization value (or none) and returns
# the answer; raises Retryable when no answer came.
Send = Callable[[HttpRequest, "str | None"], HttpResponse]

_RENEW = (
    "Registry logins from Lightsail are temporary: get a new one"
    " (CreateContainerServiceRegistryLogin) and push again"
)


class Secret(str):
    """An ``Authorization`` value: a str that does not show itself in a repr."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<hidden>'"


class Credentials:
    """A registry username and password, kept out of every repr and message."""

    def __init__(self, username: str, password: str) -> None:
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._basic = Secret(f"Basic {token}")

    def basic(self) -> Secret:
        """Return the ``Basic`` Authorization value."""
        return self._basic

    def __repr__(self) -> str:
        return "<credentials hidden>"


class Authenticator:
    """The ``Authorization`` a push sends to one repository; thread-safe."""

    def __init__(self, repository: Repository, credentials: Credentials, send: Send) -> None:
        self._repository = repository
        self._credentials = credentials
        self._send = send
        self._current: Secret | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Authenticator {self._repository.base_url}>"

    def header_for(self, url: str) -> Secret | None:
        """Return what to send to ``url``: ours on the registry's origin, else none."""
        if origin(url) != origin(self._repository.base_url):
            return None
        return self._current

    def retry_after(self, response: HttpResponse, sent: str | None) -> bool:
        """Pick up credentials from a ``401``'s challenge; return whether to try again.

        Raises:
            RegistryAuthError: the registry wants a scheme this client lacks, or
                its token service refused the password.

        """
        challenges = parse_challenges(response.headers.get("www-authenticate", ""))
        by_scheme = {c.scheme: c for c in challenges}
        with self._lock:
            if self._current != sent:
                return True  # another thread already refreshed
            if "bearer" in by_scheme:
                self._current = Secret("Bearer " + self._fetch_token(by_scheme["bearer"]))
                return True
            if "basic" in by_scheme:
                if sent is not None and sent.startswith("Basic "):
                    return False  # the password itself was refused
                self._current = self._credentials.basic()
                return True
        offered = ", ".join(c.scheme for c in challenges) or "none"
        raise RegistryAuthError(
            f"{self._repository.base_url} asks for an authentication scheme this client"
            f" does not support (offered: {offered[:100]}; supported: Basic, Bearer)",
            http_status_code=401,
        )

    def refused(self, response: HttpResponse, what: str) -> RegistryAuthError:
        """Return the error for a ``401`` that fresh credentials did not cure."""
        base, name = self._repository.base_url, self._repository.name
        errors = parse_error_body(response.body)
        challenges = parse_challenges(response.headers.get("www-authenticate", ""))
        if any(c.params.get("error") == "insufficient_scope" for c in challenges):
            return RegistryAuthError(
                f"{base} accepted the credentials, but they may not push to repository"
                f" {name!r} ({what}: insufficient_scope)",
                http_status_code=401,
                errors=errors,
            )
        codes = describe_errors(errors)
        return RegistryAuthError(
            f"{base} rejected the username and password ({what}, HTTP 401"
            f"{'; ' + codes if codes else ''}). {_RENEW}",
            http_status_code=401,
            errors=errors,
        )

    def _fetch_token(self, challenge: Challenge) -> str:
        request = self._repository.token(challenge)
        realm_host = origin(request.url)[1]
        response = self._send(request, self._credentials.basic())
        status = response.status_code
        where = f"the token service of {self._repository.base_url} ({realm_host})"
        if status in (401, 403):
            raise RegistryAuthError(
                f"{where} rejected the username and password (HTTP {status}). {_RENEW}",
                http_status_code=status,
                errors=parse_error_body(response.body),
            )
        if status in RETRY_STATUS:
            raise retryable(
                RegistryError(f"fetching a registry token: HTTP {status}", http_status_code=status)
            )
        token = parse_token(response.body) if status == 200 else None  # noqa: PLR2004 - OK
        if token is None:
            raise RegistryError(
                f"{where} answered HTTP {status} without a token that can be sent in a header",
                http_status_code=status,
            )
        return token
