"""Pushing an image to an OCI distribution registry, with no Docker daemon.

The protocol is the OCI distribution spec's push flow, which every registry
speaks (CNCF distribution, Amazon ECR, Harbor, ...):

1. ``GET /v2/`` to learn how the registry authenticates.  A ``401`` carries a
   ``WWW-Authenticate`` challenge: ``Basic`` means send the username and
   password with every request; ``Bearer realm=...,service=...`` means trade
   them, at the realm, for a token scoped to ``repository:<name>:pull,push``.
   A later ``401`` (the token expired, or needs another scope) fetches a new
   token once and repeats the request.
2. For each blob (the config and every layer), in a small thread pool:
   ``HEAD /v2/<name>/blobs/<digest>``; a ``200`` means the registry has it and
   it is skipped, which is what makes a second push of the same image cheap.
   Otherwise ``POST /v2/<name>/blobs/uploads/`` opens an upload session whose
   ``Location`` (absolute or relative, resolved against the request URL) is
   followed by one of:

   * blobs up to ``chunk_threshold`` (8 MiB): one ``PUT ...?digest=`` carrying
     the whole blob (a monolithic upload);
   * larger blobs, by default: one ``PATCH`` streaming the whole blob, then an
     empty ``PUT ...?digest=``.  This is exactly what ``docker push`` (and so
     ``lightsailctl``) sends, and the one large-blob form every registry is
     known to accept;
   * larger blobs with ``chunk_size`` set: ``PATCH`` requests of that many
     bytes with a ``Content-Range`` each, then the empty ``PUT``.  A failed
     chunk resumes where the registry says it got to (the ``Range`` of ``GET
     <location>``) instead of starting over.  This is the spec's chunked
     upload, but it is opt-in because Amazon ECR (likely what serves the
     registries Lightsail hands out) deviates from the spec here: it answers
     ``201`` to a ``PATCH``, wants parts of at least 5 MiB, and has been
     reported (aws/containers-roadmap#2831) to drop the bytes of every
     ``PATCH`` after the first.  The ``Range`` of each answer is checked
     against the bytes sent, so such a registry fails the push instead of
     storing a short blob.

   A ``PATCH`` answered with ``201`` instead of ``202`` is accepted, for ECR.
3. ``PUT /v2/<name>/manifests/<tag>`` with the manifest's own media type as
   ``Content-Type``.  The ``Docker-Content-Digest`` the registry answers must
   equal the digest of the bytes sent, or :class:`DigestMismatchError` is
   raised: a registry that rewrote the manifest would register the wrong image
   with Lightsail.

Bodies stream from disk in small reads; no layer is ever held in memory.  The
bytes are hashed as they are sent, and a blob whose bytes no longer match its
digest (the file changed, or the layout is corrupt) fails the push with
:class:`~lightsail_images._oci.ImageSourceError` before the upload is
committed.

Each step is retried on its own: connection failures, ``5xx`` and ``429``
answers get up to ``max_attempts`` attempts with full-jitter exponential
backoff (sleeping through :func:`lightsail_images._retry.sleep`, so the
library's testing switch turns the waits off).  Other ``4xx`` answers are not
retried; they would fail the same way again.

Credentials live in one private object, are sent only to the registry's own
origin and to the token realm it names, and never appear in a ``repr``, a log
line or an exception message.  Every ``requests`` exception is translated here
and nowhere else.

This module is only the engine; logging in to a Lightsail container service's
registry and registering the pushed digest are the client's business.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TypeVar

import attrs
import requests
import requests.adapters

from lightsail_images import _retry
from lightsail_images._errors import (
    DigestMismatchError,
    ImageSourceError,
    ParamValidationError,
    RegistryAuthError,
    RegistryError,
    TransportError,
    ValidationProblem,
)
from lightsail_images._models import RegistryErrorDetail
from lightsail_images._oci import (
    Descriptor,
    Hasher,
    LocalBlob,
    LocalImage,
    Manifest,
    new_hasher,
    open_image,
)
from lightsail_images._transport import no_netrc_auth

__all__ = [
    "DEFAULT_CHUNK_THRESHOLD",
    "DEFAULT_MAX_ATTEMPTS",
    "Challenge",
    "ProgressCallback",
    "PushProgress",
    "PushedImage",
    "RegistryClient",
    "parse_challenges",
    "parse_error_body",
    "parse_range",
    "push_image",
    "push_local_image",
    "resolve_location",
    "validate_push_arguments",
]

logger = logging.getLogger("lightsail_images")

T = TypeVar("T")

# Below ECR's reported ~10 MB limit on a blob sent in a single request.
DEFAULT_CHUNK_THRESHOLD = 8 * 1024 * 1024
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_CONNECT_TIMEOUT = 30.0
# Generous: a registry verifies a large blob's digest before it answers the
# final PUT, and that takes a while for a gigabyte.
DEFAULT_READ_TIMEOUT = 300.0

_READ_SIZE = 256 * 1024
# Progress events come at most once per this many bytes of a blob.
_PROGRESS_STEP = 1024 * 1024
_MAX_ERROR_BODY = 64 * 1024
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})

# OCI distribution spec, "Pulling manifests": repository names and tags.
_REPOSITORY = re.compile(
    r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*"
)
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?"
)


# -- results and progress ---------------------------------------------------


@attrs.frozen
class PushProgress:
    """What happened to one blob, passed to ``on_progress``.

    Every blob yields at least one event with ``done=True``: with
    ``skipped=True`` when the registry already had it.  While it uploads,
    events report ``sent`` growing toward ``size``; a retried upload may
    report a smaller ``sent`` than before.

    Attributes:
        digest: the blob's digest.
        media_type: the blob's media type (config or layer).
        size: the blob's size in bytes.
        sent: bytes sent so far in the current upload.
        skipped: the registry already had the blob; nothing was sent.
        done: the blob is in the registry.

    """

    digest: str
    media_type: str
    size: int
    sent: int
    skipped: bool = False
    done: bool = False


@attrs.frozen
class PushedImage:
    """The manifest a push stored in the registry.

    Attributes:
        registry: the registry host, for example ``"123.dkr.ecr.us-east-1.amazonaws.com"``.
        repository: the repository name, for example ``"sr"``.
        tag: the tag the manifest was stored under.
        digest: the manifest digest, to register with Lightsail.
        media_type: the manifest's media type.
        size: the manifest's length in bytes.

    """

    registry: str
    repository: str
    tag: str
    digest: str
    media_type: str
    size: int

    @property
    def reference(self) -> str:
        """``registry/repository@digest``, a name that cannot move."""
        return f"{self.registry}/{self.repository}@{self.digest}"


ProgressCallback = Callable[[PushProgress], object]


# -- pure: parsing ------------------------------------------------------------


@attrs.frozen
class Challenge:
    """One challenge of a ``WWW-Authenticate`` header: a scheme and its parameters."""

    scheme: str
    params: dict[str, str] = attrs.field(factory=dict, eq=True, hash=False)


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def parse_challenges(header: str) -> list[Challenge]:
    """Parse a ``WWW-Authenticate`` header (RFC 9110 section 11.6.1).

    >>> parse_challenges('Bearer realm="https://auth/token",service="reg"')
    [Challenge(scheme='bearer', params={'realm': 'https://auth/token', 'service': 'reg'})]

    Scheme names are lower-cased, parameter names too; values are unquoted.
    """
    challenges: list[Challenge] = []
    pos, end = 0, len(header)
    while pos < end:
        if header[pos] in " \t,":
            pos += 1
            continue
        token = _TOKEN.match(header, pos)
        if token is None:
            pos += 1  # tolerate junk rather than fail the whole header
            continue
        pos = token.end()
        after = pos
        while after < end and header[after] in " \t":
            after += 1
        if after < end and header[after] == "=" and challenges:
            after += 1
            while after < end and header[after] in " \t":
                after += 1
            quoted = _QUOTED.match(header, after)
            if quoted is not None:
                value = re.sub(r"\\(.)", r"\1", quoted.group(1))
                pos = quoted.end()
            else:
                bare = _TOKEN.match(header, after)
                value = bare.group(0) if bare else ""
                pos = bare.end() if bare else after
            challenges[-1].params[token.group(0).lower()] = value
        else:
            challenges.append(Challenge(token.group(0).lower()))
    return challenges


def parse_error_body(body: bytes) -> tuple[RegistryErrorDetail, ...]:
    """Read the spec's ``{"errors": [{"code", "message", "detail"}]}``; ``()`` if absent."""
    try:
        value = json.loads(body)
    except ValueError:
        return ()
    entries = value.get("errors") if isinstance(value, dict) else None
    if not isinstance(entries, list):
        return ()
    details = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("code"), str):
            continue
        message = entry.get("message")
        detail = entry.get("detail")
        details.append(
            RegistryErrorDetail(
                code=entry["code"],
                message=message if isinstance(message, str) else "",
                detail=None if detail is None else json.dumps(detail, separators=(",", ":")),
            )
        )
    return tuple(details)


def parse_range(value: str | None) -> int | None:
    """Return how many bytes an upload session holds, from its ``Range`` header.

    ``"0-1023"`` means 1024 bytes.  Docker's registry says ``"0-0"`` both for
    an empty session and for one byte; it is read as empty, and the worst
    case is a restarted upload.
    """
    if value is None:
        return None
    match = re.fullmatch(r"\s*(?:bytes=)?0-(\d+)\s*", value)
    if match is None:
        return None
    last = int(match.group(1))
    return 0 if last == 0 else last + 1


def resolve_location(request_url: str, location: str) -> str:
    """Resolve a ``Location`` header, absolute or relative, against the request URL."""
    return urllib.parse.urljoin(request_url, location)


def _token_from(body: bytes) -> str | None:
    """Return the token of a token service's JSON answer (``token`` or ``access_token``)."""
    try:
        value = json.loads(body)
    except ValueError:
        return None
    token = value.get("token") or value.get("access_token") if isinstance(value, dict) else None
    return token if isinstance(token, str) and token else None


def _with_query(url: str, **params: str) -> str:
    parts = urllib.parse.urlsplit(url)
    extra = urllib.parse.urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urllib.parse.urlunsplit(parts._replace(query=query))


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _describe_errors(errors: tuple[RegistryErrorDetail, ...]) -> str:
    return "; ".join(f"{e.code}: {e.message}" if e.message else e.code for e in errors)


def _check_registry(
    registry: object, *, insecure_http: bool
) -> tuple[str, list[ValidationProblem]]:
    """Return the registry's base URL, and what is wrong with the argument."""
    if not isinstance(registry, str):
        return "", [ValidationProblem("registry", "type", "registry: must be a str")]
    scheme, sep, host = registry.rstrip("/").rpartition("://")
    if not sep:
        scheme = "http" if insecure_http else "https"
    if scheme not in ("http", "https") or not _HOST.fullmatch(host):
        return "", [
            ValidationProblem(
                "registry",
                "pattern",
                "registry: must be a host name with an optional port, such as"
                f" '123.dkr.ecr.us-east-1.amazonaws.com', got {registry!r}",
            )
        ]
    if scheme == "http" and not insecure_http:
        return "", [
            ValidationProblem(
                "registry",
                "scheme",
                "registry: plain http:// needs insecure_http=True (for test registries"
                " on loopback only; credentials would travel unencrypted)",
            )
        ]
    return f"{scheme}://{host}", []


def validate_push_arguments(
    *,
    registry: object,
    repository: object,
    tag: object,
    username: object,
    password: object,
    insecure_http: bool,
    max_workers: object,
    chunk_size: object,
    chunk_threshold: object,
    max_attempts: object,
) -> str:
    """Check :func:`push_image`'s arguments; return the registry's base URL.

    Raises :class:`ParamValidationError` listing every problem.
    """
    base, problems = _check_registry(registry, insecure_http=insecure_http)
    for field, value, pattern in (
        ("repository", repository, _REPOSITORY),
        ("tag", tag, _TAG),
    ):
        if not isinstance(value, str) or not pattern.fullmatch(value):
            problems.append(
                ValidationProblem(
                    field,
                    "pattern",
                    f"{field}: must match the OCI distribution spec's pattern"
                    f" {pattern.pattern}, got {value!r}",
                )
            )
    for field, value in (("username", username), ("password", password)):
        if not isinstance(value, str):
            # Never echo the value: it may be a secret.
            problems.append(ValidationProblem(field, "type", f"{field}: must be a str"))
    for field, value in (
        ("max_workers", max_workers),
        ("chunk_size", 1 if chunk_size is None else chunk_size),
        ("chunk_threshold", chunk_threshold),
        ("max_attempts", max_attempts),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            problems.append(
                ValidationProblem(
                    field,
                    "min",
                    f"{field}: must be an int of 1 or more"
                    + (" (or None)" if field == "chunk_size" else ""),
                )
            )
    if problems:
        raise ParamValidationError("push_image", tuple(problems))
    return base


# -- the shell: HTTP ----------------------------------------------------------


class _Transient(Exception):
    """A failure worth another attempt: no response, or 5xx/429."""

    def __init__(
        self,
        description: str,
        *,
        status: int | None = None,
        errors: tuple[RegistryErrorDetail, ...] = (),
        no_response: bool = False,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.status = status
        self.errors = errors
        self.no_response = no_response


class _Cancelled(Exception):
    """Another blob failed; this upload stops at its next read."""


@attrs.frozen
class _Response:
    status: int
    headers: dict[str, str]
    body: bytes


class _Secret(str):
    """An ``Authorization`` value: a str that does not show itself in a repr."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<hidden>'"


class _Credentials:
    """The username and password, kept out of every repr and message."""

    def __init__(self, username: str, password: str) -> None:
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._basic = _Secret(f"Basic {token}")

    def basic(self) -> _Secret:
        return self._basic

    def __repr__(self) -> str:
        return "<credentials hidden>"


class _Body:
    """A slice of a blob streamed as a request body, hashed and counted as it goes.

    ``requests`` sends an object with ``read`` and ``__len__`` in small reads
    with a ``Content-Length``, so the slice never sits in memory whole.
    """

    def __init__(
        self,
        blob: LocalBlob,
        *,
        start: int,
        length: int,
        hasher: Hasher,
        on_read: Callable[[int], None],
        cancelled: threading.Event,
    ) -> None:
        self._reader = blob.open()
        self._reader.seek(start)
        self._left = length
        self._length = length
        self.hasher = hasher
        self._on_read = on_read
        self._cancelled = cancelled

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        # Never called: requests streams through read(); but it looks for
        # __iter__ to decide that the body is a stream.
        return iter(lambda: self.read(_READ_SIZE), b"")

    @property
    def complete(self) -> bool:
        return self._left == 0

    def read(self, n: int = -1) -> bytes:
        if self._cancelled.is_set():
            raise _Cancelled
        if n < 0 or n > self._left:
            n = self._left
        data = self._reader.read(n)
        self._left -= len(data)
        self.hasher.update(data)
        self._on_read(len(data))
        return data

    def close(self) -> None:
        self._reader.close()


class _Progress:
    """Serialises user callbacks: one at a time, whatever thread uploads."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self._callback = callback
        self._lock = threading.Lock()

    def emit(self, event: PushProgress) -> None:
        if self._callback is not None:
            with self._lock:
                self._callback(event)


class RegistryClient:
    """One repository in one registry, with credentials: the push steps.

    Thread-safe: blobs are pushed from a pool sharing one client.  Use
    :func:`push_image` rather than this class directly.
    """

    def __init__(
        self,
        base_url: str,
        *,
        repository: str,
        username: str,
        password: str,
        session: requests.Session | None = None,
        pool_size: int = 4,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        chunk_threshold: int = DEFAULT_CHUNK_THRESHOLD,
        chunk_size: int | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        self.base_url = base_url
        self.repository = repository
        self._credentials = _Credentials(username, password)
        self._owns_session = session is None
        if session is None:
            session = requests.Session()
            adapter = requests.adapters.HTTPAdapter(
                pool_connections=2, pool_maxsize=pool_size, max_retries=0
            )
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        self._session = session
        self._timeout = (connect_timeout, read_timeout)
        self.max_attempts = max_attempts
        self.chunk_size = chunk_size
        self.chunk_threshold = chunk_threshold
        self._auth: str | None = None
        self._auth_lock = threading.Lock()
        self.cancelled = threading.Event()

    def __repr__(self) -> str:
        return f"<RegistryClient {self.base_url}/{self.repository}>"

    def close(self) -> None:
        """Close pooled connections, unless the session belongs to the caller."""
        if self._owns_session:
            self._session.close()

    # -- one request ---------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        body: bytes | _Body,
        auth: str | None,
        what: str,
    ) -> _Response:
        """One HTTP exchange; the only place ``requests`` exceptions are seen."""
        sent_headers = dict(headers)
        if auth is not None:
            sent_headers["Authorization"] = auth
        path = urllib.parse.urlsplit(url).path
        try:
            response = self._session.request(
                method,
                url,
                data=body,
                headers=sent_headers,
                auth=no_netrc_auth,
                timeout=self._timeout,
                stream=True,
                allow_redirects=False,
            )
            try:
                body_bytes = _read_capped(response, _MAX_ERROR_BODY)
            finally:
                response.close()
        except requests.exceptions.RequestException as exc:
            cause = _root_cause(exc)
            raise _Transient(
                f"{what}: {method} {path}: no response ({cause})", no_response=True
            ) from exc
        logger.debug("%s %s -> %d", method, path, response.status_code)
        return _Response(
            status=response.status_code,
            headers={k.lower(): v for k, v in response.headers.items()},
            body=body_bytes,
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        headers: dict[str, str] | None = None,
        body: bytes | Callable[[], _Body] = b"",
    ) -> _Response:
        """Send with credentials, answering one ``401`` by (re)authenticating."""
        same_origin = _origin(url) == _origin(self.base_url)
        sent = self._auth if same_origin else None
        response = self._exchange(
            method, url, headers=headers or {}, body=body, auth=sent, what=what
        )
        if response.status != 401 or not same_origin:  # noqa: PLR2004 - Unauthorized
            return response
        if self._reauthenticate(response, sent):
            response = self._exchange(
                method, url, headers=headers or {}, body=body, auth=self._auth, what=what
            )
            if response.status != 401:  # noqa: PLR2004 - Unauthorized
                return response
        challenges = parse_challenges(response.headers.get("www-authenticate", ""))
        if any(c.params.get("error") == "insufficient_scope" for c in challenges):
            raise RegistryAuthError(
                f"{self.base_url} accepted the credentials, but they may not push to"
                f" repository {self.repository!r} ({what}: insufficient_scope)",
                http_status_code=401,
                errors=parse_error_body(response.body),
            )
        raise RegistryAuthError(
            f"{self.base_url} rejected the username and password ({what}, HTTP 401"
            f"{_codes_suffix(response)}). Registry logins from Lightsail are temporary:"
            " get a new one (CreateContainerServiceRegistryLogin) and push again",
            http_status_code=401,
            errors=parse_error_body(response.body),
        )

    def _exchange(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        body: bytes | Callable[[], _Body],
        auth: str | None,
        what: str,
    ) -> _Response:
        payload = body() if callable(body) else body
        try:
            return self._send(method, url, headers=headers, body=payload, auth=auth, what=what)
        finally:
            if isinstance(payload, _Body):
                payload.close()

    def _reauthenticate(self, response: _Response, sent: str | None) -> bool:
        """Pick up credentials from a 401's challenge; return whether to try again."""
        challenges = parse_challenges(response.headers.get("www-authenticate", ""))
        by_scheme = {c.scheme: c for c in challenges}
        with self._auth_lock:
            if self._auth != sent:
                return True  # another thread already refreshed
            if "bearer" in by_scheme:
                self._auth = _Secret("Bearer " + self._fetch_token(by_scheme["bearer"]))
                return True
            if "basic" in by_scheme:
                if sent is not None and sent.startswith("Basic "):
                    return False  # the password itself was refused
                self._auth = self._credentials.basic()
                return True
        offered = ", ".join(c.scheme for c in challenges) or "none"
        raise RegistryAuthError(
            f"{self.base_url} asks for an authentication scheme this client does not"
            f" support (offered: {offered}; supported: Basic, Bearer)",
            http_status_code=401,
        )

    def _check_realm(self, realm: str) -> str:
        """Refuse a realm we should not send the password to; return its host."""
        realm_scheme, realm_host = _origin(realm)
        if realm_scheme not in ("http", "https") or not realm_host:
            raise RegistryAuthError(
                f"{self.base_url} named an unusable token service realm {realm!r}",
                http_status_code=401,
            )
        if realm_scheme == "http" and _origin(self.base_url)[0] == "https":
            raise RegistryAuthError(
                f"{self.base_url} sends credentials to a plain-http token service"
                f" ({realm_host}); refusing to send the password unencrypted",
                http_status_code=401,
            )
        return realm_host

    def _fetch_token(self, challenge: Challenge) -> str:
        realm = challenge.params.get("realm", "")
        realm_host = self._check_realm(realm)
        scopes = [f"repository:{self.repository}:pull,push"]
        extra = challenge.params.get("scope")
        if extra and extra not in scopes:
            scopes.append(extra)
        query: list[tuple[str, str]] = [("scope", s) for s in scopes]
        if "service" in challenge.params:
            query.insert(0, ("service", challenge.params["service"]))
        separator = "&" if urllib.parse.urlsplit(realm).query else "?"
        url = f"{realm}{separator}{urllib.parse.urlencode(query)}"
        response = self._send(
            "GET",
            url,
            headers={"Accept": "application/json"},
            body=b"",
            auth=self._credentials.basic(),
            what="fetching a registry token",
        )
        if response.status in (401, 403):
            raise RegistryAuthError(
                f"the token service of {self.base_url} ({realm_host}) rejected the username"
                f" and password (HTTP {response.status}). Registry logins from Lightsail are"
                " temporary: get a new one (CreateContainerServiceRegistryLogin) and push again",
                http_status_code=response.status,
                errors=parse_error_body(response.body),
            )
        if response.status in _RETRY_STATUS:
            raise _Transient(
                f"fetching a registry token: HTTP {response.status}", status=response.status
            )
        token = _token_from(response.body) if response.status == 200 else None  # noqa: PLR2004
        if token is None:
            raise RegistryError(
                f"the token service of {self.base_url} ({realm_host}) answered HTTP"
                f" {response.status} without a token",
                http_status_code=response.status,
            )
        return token

    # -- retries -------------------------------------------------------------

    def retrying(self, step: Callable[[int], T]) -> T:
        """Run ``step(attempt)``, retrying transient failures with backoff."""
        attempt = 1
        while True:
            if self.cancelled.is_set():
                raise _Cancelled
            try:
                return step(attempt)
            except _Transient as exc:
                if attempt >= self.max_attempts:
                    if exc.no_response:
                        reason = f"{exc.description}; gave up after {attempt} attempts"
                        raise TransportError(
                            f"{reason}. Is the registry up, and reachable from here?",
                            attempts=attempt,
                            reason=reason,
                        ) from exc.__cause__
                    raise RegistryError(
                        f"{exc.description}; gave up after {attempt} attempts",
                        http_status_code=exc.status,
                        errors=exc.errors,
                        attempts=attempt,
                    ) from exc
                delay = random.random() * min(2.0 ** (attempt - 1), _retry.MAX_BACKOFF)  # noqa: S311 - jitter, not cryptography
                logger.debug("%s; retrying in %.1f s", exc.description, delay)
                _retry.sleep(delay)
                attempt += 1

    def fail(self, response: _Response, what: str) -> RegistryError | _Transient:
        """Return the exception for an unexpected response: transient, auth, or final."""
        errors = parse_error_body(response.body)
        detail = _describe_errors(errors)
        text = f"{what}: HTTP {response.status}" + (f" ({detail})" if detail else "")
        if response.status in _RETRY_STATUS:
            return _Transient(text, status=response.status, errors=errors)
        if response.status == 403:  # noqa: PLR2004 - Forbidden
            return RegistryAuthError(
                f"{text}. The credentials were accepted, but may not push to repository"
                f" {self.repository!r} of {self.base_url}",
                http_status_code=response.status,
                errors=errors,
            )
        return RegistryError(text, http_status_code=response.status, errors=errors)

    # -- push steps ----------------------------------------------------------

    def ping(self) -> None:
        """Check that this is a registry and the credentials work (``GET /v2/``)."""

        def step(_: int) -> None:
            response = self.request("GET", f"{self.base_url}/v2/", what="contacting the registry")
            if response.status == 200:  # noqa: PLR2004 - OK
                return
            if response.status == 404:  # noqa: PLR2004 - Not Found
                raise RegistryError(
                    f"{self.base_url} has no registry API at /v2/; check the registry address",
                    http_status_code=404,
                )
            raise self.fail(response, f"contacting {self.base_url}")

        self.retrying(step)

    def blob_exists(self, desc: Descriptor) -> bool:
        """Whether the repository already has this blob (``HEAD``)."""

        def step(_: int) -> bool:
            response = self.request(
                "HEAD",
                f"{self.base_url}/v2/{self.repository}/blobs/{desc.digest}",
                what=f"checking for blob {desc.digest}",
            )
            # 307: the blob exists and is served from elsewhere (object storage).
            if response.status in (200, 307):
                return True
            if response.status == 404:  # noqa: PLR2004 - Not Found
                return False
            raise self.fail(response, f"checking for blob {desc.digest}")

        return self.retrying(step)

    def upload_blob(self, blob: LocalBlob, desc: Descriptor, progress: _Progress) -> None:
        """Upload one blob (POST, then PUT or PATCHes and PUT), retrying transient failures."""
        upload = _BlobUpload(self, blob, desc, progress)
        self.retrying(upload.attempt)

    def put_manifest(self, manifest: Manifest, tag: str) -> None:
        """Store the manifest under ``tag`` and check the digest the registry reports."""
        what = f"storing the manifest as {self.repository}:{tag}"

        def step(_: int) -> _Response:
            response = self.request(
                "PUT",
                f"{self.base_url}/v2/{self.repository}/manifests/{tag}",
                what=what,
                headers={"Content-Type": manifest.media_type},
                body=manifest.data,
            )
            if response.status not in (200, 201):
                raise self.fail(response, what)
            return response

        response = self.retrying(step)
        _check_reported_digest(response, manifest.digest, f"the manifest {self.repository}:{tag}")


def _check_reported_digest(response: _Response, expected: str, what: str) -> None:
    reported = response.headers.get("docker-content-digest")
    if reported is None:
        logger.debug("%s: the registry sent no Docker-Content-Digest", what)
        return
    if reported.strip() != expected:
        raise DigestMismatchError(
            f"the registry stored {what} as {reported.strip()}, but the bytes sent have"
            f" digest {expected}. It rewrote the content; do not register this image."
            " Report this to the registry's operator",
            expected=expected,
            actual=reported.strip(),
        )


def _codes_suffix(response: _Response) -> str:
    detail = _describe_errors(parse_error_body(response.body))
    return f"; {detail}" if detail else ""


def _read_capped(response: requests.Response, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=65536):
        chunks.append(chunk[: limit - size])
        size += len(chunks[-1])
        if size >= limit:
            break
    return b"".join(chunks)


def _root_cause(exc: BaseException) -> str:
    # urllib3 nests the OS's reason several exceptions deep; the innermost
    # text ("[Errno 111] Connection refused") is what a user can act on.
    for _ in range(8):
        inner = exc.__cause__ or exc.__context__
        if inner is None:
            break
        exc = inner
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."  # noqa: PLR2004 - message length


class _BlobUpload:
    """One blob's upload session, carried across attempts so chunks can resume."""

    def __init__(
        self, client: RegistryClient, blob: LocalBlob, desc: Descriptor, progress: _Progress
    ) -> None:
        self._client = client
        self._blob = blob
        self._desc = desc
        self._progress = progress
        self._patched = desc.size > client.chunk_threshold
        self._location: str | None = None
        self._offset = 0
        self._hasher = new_hasher(desc.digest)
        self._what = f"uploading {blob.what} {desc.digest}"
        self._reported = 0

    # -- progress ------------------------------------------------------------

    def _report(self, sent: int, *, done: bool = False, force: bool = False) -> None:
        if force or done or sent - self._reported >= _PROGRESS_STEP or sent < self._reported:
            self._reported = sent
            self._progress.emit(
                PushProgress(
                    digest=self._desc.digest,
                    media_type=self._desc.media_type,
                    size=self._desc.size,
                    sent=sent,
                    done=done,
                )
            )

    def _body(self, start: int, length: int, hasher: Hasher) -> Callable[[], _Body]:
        def make() -> _Body:
            counted = start

            def on_read(n: int) -> None:
                nonlocal counted
                counted += n
                self._report(counted)

            return _Body(
                self._blob,
                start=start,
                length=length,
                hasher=hasher.copy(),
                on_read=on_read,
                cancelled=self._client.cancelled,
            )

        return make

    # -- steps ---------------------------------------------------------------

    def attempt(self, attempt: int) -> None:
        if not self._patched:
            self._start()
            self._monolithic()
            return
        chunk_size = self._client.chunk_size
        if chunk_size is None:
            # One streamed PATCH, as docker sends; a failure starts over.
            self._start()
            self._patch(self._desc.size, ranged=False)
            self._finish()
            return
        if self._location is not None and attempt > 1:
            self._resume()
        if self._location is None:
            self._start()
        while self._offset < self._desc.size:
            self._patch(min(self._offset + chunk_size, self._desc.size), ranged=True)
        self._finish()

    def _start(self) -> None:
        url = f"{self._client.base_url}/v2/{self._client.repository}/blobs/uploads/"
        response = self._client.request("POST", url, what=self._what)
        location = response.headers.get("location")
        if response.status != 202 or not location:  # noqa: PLR2004 - Accepted
            raise self._client.fail(response, f"{self._what}: opening an upload session")
        self._location = resolve_location(url, location)
        self._offset = 0
        self._hasher = new_hasher(self._desc.digest)
        self._report(0, force=True)

    def _monolithic(self) -> None:
        assert self._location is not None  # noqa: S101 - set by _start
        bodies: list[_Body] = []
        make = self._body(0, self._desc.size, new_hasher(self._desc.digest))

        def body() -> _Body:
            bodies.append(make())
            return bodies[-1]

        response = self._client.request(
            "PUT",
            _with_query(self._location, digest=self._desc.digest),
            what=self._what,
            headers={"Content-Type": "application/octet-stream"},
            body=body if self._desc.size else b"",
        )
        if bodies and bodies[-1].complete:
            self._check_local(bodies[-1].hasher)
        self._location = None
        if response.status != 201:  # noqa: PLR2004 - Created
            raise self._upload_failure(response)
        _check_reported_digest(response, self._desc.digest, f"{self._blob.what}")
        self._report(self._desc.size, done=True)

    def _patch(self, end: int, *, ranged: bool) -> None:
        """Send bytes ``offset..end``; with ``ranged``, as a spec chunk with a Content-Range."""
        assert self._location is not None  # noqa: S101 - set by _start
        bodies: list[_Body] = []
        make = self._body(self._offset, end - self._offset, self._hasher)

        def body() -> _Body:
            bodies.append(make())
            return bodies[-1]

        headers = {"Content-Type": "application/octet-stream"}
        if ranged:
            headers["Content-Range"] = f"{self._offset}-{end - 1}"
        response = self._client.request(
            "PATCH", self._location, what=self._what, headers=headers, body=body
        )
        # 202 is the spec's answer; ECR says 201.
        if response.status not in (201, 202):
            raise self._upload_failure(response)
        self._hasher = bodies[-1].hasher
        self._offset = end
        self._report(end, force=True)  # a chunk the registry has confirmed
        location = response.headers.get("location")
        if location:
            self._location = resolve_location(self._location, location)
        held = parse_range(response.headers.get("range"))
        if ranged and held is not None and held != end:
            raise _Transient(
                f"{self._what}: the registry holds {held} bytes after a chunk ending at {end}"
            )

    def _resume(self) -> None:
        """Ask the registry how much of the session it has, and continue from there."""
        assert self._location is not None  # noqa: S101 - checked by the caller
        response = self._client.request("GET", self._location, what=self._what)
        if response.status in _RETRY_STATUS:
            raise self._client.fail(response, self._what)
        held = parse_range(response.headers.get("range"))
        if response.status not in (200, 204) or held is None or held < self._offset:
            logger.debug("%s: the upload session is gone; starting again", self._what)
            self._location = None
            return
        location = response.headers.get("location")
        if location:
            self._location = resolve_location(self._location, location)
        if held > self._offset:
            # The registry kept part of a chunk whose answer was lost: hash
            # those bytes from disk so the running digest covers them.
            catch_up = self._body(self._offset, held - self._offset, self._hasher)()
            try:
                while catch_up.read(_READ_SIZE):
                    pass
            finally:
                catch_up.close()
            self._hasher = catch_up.hasher
            self._offset = held
        logger.debug("%s: resuming at byte %d", self._what, self._offset)

    def _finish(self) -> None:
        assert self._location is not None  # noqa: S101 - set by _start
        self._check_local(self._hasher)
        response = self._client.request(
            "PUT",
            _with_query(self._location, digest=self._desc.digest),
            what=self._what,
            headers={"Content-Type": "application/octet-stream"},
        )
        if response.status != 201:  # noqa: PLR2004 - Created
            raise self._upload_failure(response)
        self._location = None
        _check_reported_digest(response, self._desc.digest, f"{self._blob.what}")
        self._report(self._desc.size, done=True)

    def _check_local(self, hasher: Hasher) -> None:
        actual = f"{hasher.name}:{hasher.hexdigest()}"
        if actual != self._desc.digest:
            raise ImageSourceError(
                f"{self._blob.what} should have digest {self._desc.digest} but its bytes on"
                f" disk hash to {actual}; the file changed or the image is corrupt."
                " Export or copy the image again"
            )

    def _upload_failure(self, response: _Response) -> RegistryError | _Transient:
        error = self._client.fail(response, self._what)
        if isinstance(error, RegistryError) and response.status in (404, 416):
            # The registry lost the session (404) or disagrees about its
            # length (416): it cannot be continued, but a new one may succeed.
            self._location = None
            return _Transient(error.args[0], status=response.status, errors=error.errors)
        return error


# -- the entry point ----------------------------------------------------------


def push_image(
    source: str | os.PathLike[str],
    *,
    registry: str,
    username: str,
    password: str,
    repository: str,
    tag: str,
    http_session: requests.Session | None = None,
    on_progress: ProgressCallback | None = None,
    max_workers: int = 3,
    insecure_http: bool = False,
    chunk_threshold: int = DEFAULT_CHUNK_THRESHOLD,
    chunk_size: int | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
) -> PushedImage:
    """Push an image from disk to a registry, as ``repository:tag``.

    Args:
        source: an OCI image layout directory, an OCI archive, or a ``docker
            save`` tarball (see :func:`lightsail_images._oci.open_image`).
        registry: the registry host (``"host"`` or ``"host:port"``); HTTPS is
            used unless ``insecure_http`` is true.
        username: the registry user name.
        password: the registry password or token; never logged or shown.
        repository: the repository name, for example ``"sr"``.
        tag: the tag to store the manifest under.
        http_session: a ``requests.Session`` to send through (proxies, CA
            bundle); it is not closed.
        on_progress: called with a :class:`PushProgress` as blobs are checked
            and sent; calls come from worker threads, one at a time.
        max_workers: blobs uploaded at the same time.
        insecure_http: talk plain HTTP; for test registries on loopback only.
        chunk_threshold: blobs up to this many bytes go in one ``PUT``;
            larger ones through ``PATCH``.
        chunk_size: ``None`` (the default) sends a large blob in one streamed
            ``PATCH``, as ``docker push`` does.  A number of bytes sends
            resumable ``Content-Range`` chunks of that size instead, for
            registries that implement them to the spec; ECR needs at least
            5 MiB and is reported to mishandle them.
        max_attempts: attempts per step (check, upload, manifest) before giving up.
        connect_timeout: seconds to wait for a connection.
        read_timeout: seconds to wait for each response.

    Returns:
        The pushed manifest's digest, media type, size and tag.

    Raises:
        ParamValidationError: an argument is malformed; nothing was read or sent.
        PlatformError: the image is not for ``linux/amd64``.
        ImageSourceError: the source cannot be read, or its bytes do not match
            their digests.
        RegistryAuthError: the credentials were rejected or may not push.
        DigestMismatchError: the registry reports a digest other than the one sent.
        RegistryError: the registry refused a step, or stayed unreachable.

    Example::

        pushed = push_image(
            "app.tar",
            registry=login.registry,
            username=login.username,
            password=login.password,
            repository="sr",
            tag="web-1700000000",
        )
        print(pushed.digest)

    """
    # Check the arguments before reading anything from disk.
    validate_push_arguments(
        registry=registry,
        repository=repository,
        tag=tag,
        username=username,
        password=password,
        insecure_http=insecure_http,
        max_workers=max_workers,
        chunk_size=chunk_size,
        chunk_threshold=chunk_threshold,
        max_attempts=max_attempts,
    )
    with open_image(Path(source)) as image:
        return push_local_image(
            image,
            registry=registry,
            username=username,
            password=password,
            repository=repository,
            tag=tag,
            http_session=http_session,
            on_progress=on_progress,
            max_workers=max_workers,
            insecure_http=insecure_http,
            chunk_threshold=chunk_threshold,
            chunk_size=chunk_size,
            max_attempts=max_attempts,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )


def push_local_image(
    image: LocalImage,
    *,
    registry: str,
    username: str,
    password: str,
    repository: str,
    tag: str,
    http_session: requests.Session | None = None,
    on_progress: ProgressCallback | None = None,
    max_workers: int = 3,
    insecure_http: bool = False,
    chunk_threshold: int = DEFAULT_CHUNK_THRESHOLD,
    chunk_size: int | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
) -> PushedImage:
    """Push an image already opened with :func:`~lightsail_images._oci.open_image`.

    The same as :func:`push_image`, for callers that looked at the image
    first (its digest, its platform) and should not read it twice.
    """
    base_url = validate_push_arguments(
        registry=registry,
        repository=repository,
        tag=tag,
        username=username,
        password=password,
        insecure_http=insecure_http,
        max_workers=max_workers,
        chunk_size=chunk_size,
        chunk_threshold=chunk_threshold,
        max_attempts=max_attempts,
    )
    client = RegistryClient(
        base_url,
        repository=repository,
        username=username,
        password=password,
        session=http_session,
        pool_size=max_workers + 1,
        max_attempts=max_attempts,
        chunk_size=chunk_size,
        chunk_threshold=chunk_threshold,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )
    try:
        client.ping()
        _push_blobs(client, image, _Progress(on_progress), max_workers)
        manifest = image.manifest()
        client.put_manifest(manifest, tag)
    finally:
        client.close()
    return PushedImage(
        registry=urllib.parse.urlsplit(base_url).netloc,
        repository=repository,
        tag=tag,
        digest=manifest.digest,
        media_type=manifest.media_type,
        size=manifest.size,
    )


def _push_blob(client: RegistryClient, blob: LocalBlob, progress: _Progress) -> None:
    desc = blob.prepare()
    if client.blob_exists(desc):
        progress.emit(
            PushProgress(
                digest=desc.digest,
                media_type=desc.media_type,
                size=desc.size,
                sent=0,
                skipped=True,
                done=True,
            )
        )
        return
    client.upload_blob(blob, desc, progress)


def _push_blobs(
    client: RegistryClient, image: LocalImage, progress: _Progress, max_workers: int
) -> None:
    """Push every blob through a small pool; the first failure stops the rest."""
    with ThreadPoolExecutor(
        max_workers=min(max_workers, len(image.blobs)), thread_name_prefix="lightsail-push"
    ) as pool:
        futures: list[Future[None]] = [
            pool.submit(_push_blob, client, blob, progress) for blob in image.blobs
        ]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in futures if f in done and f.exception() is not None]
        if failed:
            client.cancelled.set()
            for future in futures:
                future.cancel()
            wait(futures)
            # Report a real failure, not a worker that stopped because of it.
            real = [f for f in failed if not isinstance(f.exception(), _Cancelled)]
            error = (real or failed)[0].exception()
            assert error is not None  # noqa: S101 - filtered above
            raise error
