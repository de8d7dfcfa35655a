"""The OCI distribution protocol as pure code: requests to build, answers to read.

Bytes in, data out, no I/O: the push's shell (``auth.py``, ``upload.py``,
``push.py``) sends what :class:`Repository` builds through the one HTTP module
and hands each answer to the functions here, which classify it (success, a
failure worth another attempt, a refusal) and parse its headers and body.
Tests drive them with bytes, as ``tests/test_protocol.py`` does for Lightsail.

The flow (OCI distribution spec, "Pushing"), for one repository:

1. ``GET /v2/``: is this a registry, and how does it authenticate?  A ``401``
   carries a ``WWW-Authenticate`` challenge (:func:`parse_challenges`):
   ``Basic`` means send the username and password with every request;
   ``Bearer realm=...,service=...`` means trade them at the realm
   (:meth:`Repository.token`) for a token scoped to
   ``repository:<name>:pull,push`` (:func:`parse_token`).
2. ``HEAD /v2/<name>/blobs/<digest>`` per blob: ``200`` (or ``307``, served
   from elsewhere) means the registry has it.
3. ``POST /v2/<name>/blobs/uploads/`` opens an upload session whose
   ``Location`` (absolute or relative, :func:`resolve_location`) takes either
   one ``PUT ...?digest=`` with the whole blob (up to ``MONOLITHIC_MAX``
   bytes), or, for a larger blob, one ``PATCH`` streaming all of it and an
   empty ``PUT ...?digest=``: exactly what ``docker push`` (and so
   ``lightsailctl``) sends, and the one large-blob form every registry is
   known to accept.  Amazon ECR, which serves Lightsail's registries, answers
   a ``PATCH`` with ``201`` instead of ``202``, and has been reported
   (aws/containers-roadmap#2831) to drop bytes of ``PATCH`` requests: the
   ``Range`` of the answer (:func:`parse_range`) must cover the whole blob.
4. ``PUT /v2/<name>/manifests/<tag>`` with the manifest's media type; the
   ``Docker-Content-Digest`` answered must be the digest of the bytes sent
   (:func:`digest_mismatch`), or the registry rewrote the manifest.

Every value read from a registry is hostile: header values may be anything
latin-1 can spell, bodies anything up to the transport's cap.  Nothing here
raises anything but :class:`~lightsail_images._errors.RegistryError` (for an
answer that cannot be used); unparsable parts read as absent.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

import attrs

from lightsail_images._errors import (
    ConfigurationError,
    DigestMismatchError,
    RegistryAuthError,
    RegistryError,
)
from lightsail_images._protocol import HttpRequest, HttpResponse
from lightsail_images._registry_models import RegistryErrorDetail
from lightsail_images._retry import THROTTLING_STATUS, TRANSIENT_STATUS, Retryable

__all__ = [
    "MONOLITHIC_MAX",
    "RETRY_STATUS",
    "Challenge",
    "Repository",
    "digest_mismatch",
    "failure",
    "parse_challenges",
    "parse_error_body",
    "parse_range",
    "parse_token",
    "registry_url",
    "resolve_location",
    "retryable",
]

# Blobs up to this size go in one PUT; below ECR's reported ~10 MB limit on a
# blob sent in a single request.
MONOLITHIC_MAX = 8 * 1024 * 1024
# Answers worth another attempt: the same statuses as for Lightsail calls.
RETRY_STATUS = frozenset({*TRANSIENT_STATUS, THROTTLING_STATUS})

# A registry's own words end up in exception messages and on a terminal:
# printable characters only, and not too many of them.
_MAX_TEXT = 300
# A token is sent back as a header value, and a URL in a request line: visible
# ASCII only (RFC 6750's b64token is narrower; anything else cannot be written
# into a request).
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")
_MAX_URL = 8 * 1024
_MAX_TOKEN = 16 * 1024
# A Range of more digits than this is no byte count a registry could hold.
_MAX_RANGE_DIGITS = 19
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?"
)


# -- the registry's address -----------------------------------------------------------


def registry_url(registry: str, *, insecure_registry: bool) -> str:
    """Return the base URL for a registry address from a registry login.

    A bare host (``"123.dkr.ecr.us-east-1.amazonaws.com"``, what Lightsail
    returns) means HTTPS.  An explicit ``http://`` address is accepted only
    with ``insecure_registry``: a local test registry; the password would
    travel unencrypted.

    Raises:
        RegistryError: the address is not a host name with an optional port.
        ConfigurationError: it is plain ``http://`` without ``insecure_registry``.

    """
    scheme, sep, host = registry.rstrip("/").rpartition("://")
    if not sep:
        scheme = "https"
    if scheme not in ("http", "https") or not _HOST.fullmatch(host) or not _port_ok(host):
        raise RegistryError(
            f"the registry login names the registry {_text(registry)!r}, which is not a host"
            " name with an optional port; cannot push there"
        )
    if scheme == "http" and not insecure_registry:
        raise ConfigurationError(
            f"the registry login names a plain-http registry ({_text(registry)}); pass"
            " insecure_registry=True (--insecure-registry) to push to it, and only to a"
            " local test registry: the password would travel unencrypted"
        )
    return f"{scheme}://{host}"


def _port_ok(host: str) -> bool:
    _, colon, port = host.rpartition(":")
    return not colon or host.endswith("]") or int(port) <= 65535  # noqa: PLR2004


def origin(url: str) -> tuple[str, str]:
    """Return the scheme and host:port of a URL, lower-cased; credentials stay within one."""
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


# -- requests ---------------------------------------------------------------------------


@attrs.frozen
class Repository:
    """One repository of one registry: builds the requests of a push."""

    base_url: str
    name: str

    def ping(self) -> HttpRequest:
        """``GET /v2/``: a registry, and how it authenticates."""
        return _request("GET", f"{self.base_url}/v2/")

    def blob(self, digest: str) -> HttpRequest:
        """``HEAD`` a blob: does the repository have it."""
        return _request("HEAD", f"{self.base_url}/v2/{self.name}/blobs/{digest}")

    def start_upload(self) -> HttpRequest:
        """``POST``: open an upload session; its ``Location`` takes the bytes."""
        return _request("POST", f"{self.base_url}/v2/{self.name}/blobs/uploads/")

    def put_blob(self, location: str, digest: str) -> HttpRequest:
        """``PUT ...?digest=``: commit the upload (with the bytes, or after a ``PATCH``)."""
        return _request(
            "PUT",
            _with_query(location, digest=digest),
            {"Content-Type": "application/octet-stream"},
        )

    def patch(self, location: str) -> HttpRequest:
        """``PATCH``: stream bytes into the session."""
        return _request("PATCH", location, {"Content-Type": "application/octet-stream"})

    def put_manifest(self, tag: str, media_type: str, data: bytes) -> HttpRequest:
        """``PUT /v2/<name>/manifests/<tag>`` with the manifest's own media type."""
        return _request(
            "PUT",
            f"{self.base_url}/v2/{self.name}/manifests/{tag}",
            {"Content-Type": media_type},
            data,
        )

    def token(self, challenge: Challenge) -> HttpRequest:
        """Build the token request a ``Bearer`` challenge asks for, scoped to push here.

        Raises:
            RegistryAuthError: the realm is no URL to send the password to.

        """
        realm = challenge.params.get("realm", "")
        if _usable_url(realm) is None:
            raise RegistryAuthError(
                f"{self.base_url} named an unusable token service realm {_text(realm)!r}",
                http_status_code=401,
            )
        realm_scheme, realm_host = origin(realm)
        if realm_scheme == "http" and origin(self.base_url)[0] == "https":
            raise RegistryAuthError(
                f"{self.base_url} sends credentials to a plain-http token service"
                f" ({_text(realm_host)}); refusing to send the password unencrypted",
                http_status_code=401,
            )
        scopes = [f"repository:{self.name}:pull,push"]
        extra = challenge.params.get("scope")
        if extra and extra not in scopes:
            scopes.append(extra)
        query: list[tuple[str, str]] = [("scope", s) for s in scopes]
        if "service" in challenge.params:
            query.insert(0, ("service", challenge.params["service"]))
        separator = "&" if urllib.parse.urlsplit(realm).query else "?"
        return _request(
            "GET",
            f"{realm}{separator}{urllib.parse.urlencode(query)}",
            {"Accept": "application/json"},
        )


def _request(
    method: str, url: str, headers: Mapping[str, str] | None = None, body: bytes = b""
) -> HttpRequest:
    return HttpRequest(method=method, url=url, headers=dict(headers or {}), body=body)


def _with_query(url: str, **params: str) -> str:
    parts = urllib.parse.urlsplit(url)
    extra = urllib.parse.urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urllib.parse.urlunsplit(parts._replace(query=query))


def _usable_url(url: str) -> str | None:
    """``url`` if it is an absolute http(s) URL we can send a request to, else ``None``.

    Visible ASCII only (what a request line can carry), a host, and a port in range.
    """
    if len(url) > _MAX_URL or not _VISIBLE_ASCII.fullmatch(url):
        return None
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:  # "Invalid IPv6 URL", "Port out of range" and the like
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


# -- answers ----------------------------------------------------------------------------


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
    Junk is skipped rather than failing the whole header.
    """
    challenges: list[Challenge] = []
    pos, end = 0, len(header)
    while pos < end:
        if header[pos] in " \t,":
            pos += 1
            continue
        token = _TOKEN.match(header, pos)
        if token is None:
            pos += 1
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


def _json(body: bytes) -> Any:
    """Decode a JSON body; ``None`` when it is not JSON, or nested too deep to decode."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def parse_error_body(body: bytes) -> tuple[RegistryErrorDetail, ...]:
    """Read the spec's ``{"errors": [{"code", "message", "detail"}]}``; ``()`` if absent."""
    value = _json(body)
    entries = value.get("errors") if isinstance(value, dict) else None
    if not isinstance(entries, list):
        return ()
    details = []
    for entry in entries[:20]:
        if not isinstance(entry, dict) or not isinstance(entry.get("code"), str):
            continue
        message = entry.get("message")
        details.append(
            RegistryErrorDetail(
                code=_text(entry["code"]),
                message=_text(message) if isinstance(message, str) else "",
                detail=_detail(entry.get("detail")),
            )
        )
    return tuple(details)


def _detail(value: object) -> str | None:
    if value is None:
        return None
    try:
        return _text(json.dumps(value, separators=(",", ":")))
    except (ValueError, RecursionError):
        return None


def _text(value: str) -> str:
    """Make a registry's text fit for a message: printable, and shortened when long."""
    text = "".join(c if c.isprintable() else "?" for c in value[: _MAX_TEXT + 1])
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


def describe_errors(errors: tuple[RegistryErrorDetail, ...]) -> str:
    """Format a registry's errors for a message: ``"CODE: message; CODE"``."""
    return "; ".join(f"{e.code}: {e.message}" if e.message else e.code for e in errors)


def parse_token(body: bytes) -> str | None:
    """Return the token of a token service's JSON answer (``token`` or ``access_token``).

    ``None`` when there is none, or when it could not be sent back in an
    ``Authorization`` header (not visible ASCII, or absurdly long).
    """
    value = _json(body)
    if not isinstance(value, dict):
        return None
    token = value.get("token") or value.get("access_token")
    if not isinstance(token, str) or len(token) > _MAX_TOKEN or not _VISIBLE_ASCII.fullmatch(token):
        return None
    return token


def parse_range(value: str | None) -> int | None:
    """How many bytes an upload session holds, from its ``Range`` header.

    ``"0-1023"`` means 1024 bytes.  Docker's registry says ``"0-0"`` both for
    an empty session and for one byte; it is read as empty.  ``None`` when
    absent or unparsable.
    """
    if value is None:
        return None
    match = re.fullmatch(rf"\s*(?:bytes=)?0-(\d{{1,{_MAX_RANGE_DIGITS}}})\s*", value)
    if match is None:
        return None
    last = int(match.group(1))
    return 0 if last == 0 else last + 1


def resolve_location(request_url: str, response: HttpResponse, what: str) -> str:
    """Return the absolute URL of an upload session, from an answer's ``Location`` header.

    Raises:
        RegistryError: the header is missing, or is no http(s) URL.

    """
    location = response.headers.get("location", "")
    try:
        url = _usable_url(urllib.parse.urljoin(request_url, location)) if location else None
    except ValueError:  # "Invalid IPv6 URL" and the like
        url = None
    if url is None:
        raise RegistryError(
            f"{what}: the registry answered HTTP {response.status_code} with an unusable"
            f" upload location {_text(location)!r}",
            http_status_code=response.status_code,
        )
    return url


def failure(
    response: HttpResponse, what: str, repository: Repository
) -> tuple[RegistryError, bool]:
    """Return the error for an unexpected answer, and whether another attempt may succeed."""
    errors = parse_error_body(response.body)
    detail = describe_errors(errors)
    text = f"{what}: HTTP {response.status_code}" + (f" ({detail})" if detail else "")
    if response.status_code == 403:  # noqa: PLR2004 - Forbidden
        return (
            RegistryAuthError(
                f"{text}. The credentials were accepted, but may not push to repository"
                f" {repository.name!r} of {repository.base_url}",
                http_status_code=response.status_code,
                errors=errors,
            ),
            False,
        )
    error = RegistryError(text, http_status_code=response.status_code, errors=errors)
    return error, response.status_code in RETRY_STATUS


def digest_mismatch(response: HttpResponse, expected: str, what: str) -> DigestMismatchError | None:
    """Return the error when the registry reports another digest than the bytes sent have.

    A missing ``Docker-Content-Digest`` is no error: the spec makes it optional.
    """
    reported = response.headers.get("docker-content-digest")
    if reported is None or reported.strip() == expected:
        return None
    actual = _text(reported.strip())
    return DigestMismatchError(
        f"the registry stored {what} as {actual}, but the bytes sent have digest"
        f" {expected}. It rewrote the content; do not register this image. Report this"
        " to the registry's operator",
        expected=expected,
        actual=actual,
    )


def retryable(error: RegistryError) -> Retryable:
    """Wrap ``error`` as a failure worth another attempt; given up, it counts them."""

    def give_up(attempts: int) -> RegistryError:
        after = f"; gave up after {attempts} attempts" if attempts > 1 else ""
        return type(error)(
            f"{error.args[0]}{after}",
            http_status_code=error.http_status_code,
            errors=error.errors,
            attempts=attempts,
        )

    return Retryable(give_up, description=error.args[0])
