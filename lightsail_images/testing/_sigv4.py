"""SigV4 verification for the fake service, written from the specification.

The client signs with botocore's signer; checking its work with botocore again
would prove nothing, so this module rebuilds the signature on its own from
``hashlib`` and ``hmac``: the canonical request, the string to sign, the
derived signing key and the signature, as the SigV4 specification lays them out.

:func:`verify` is pure: it takes the request's parts, the known keys and the
server's clock reading, and returns ``None`` or the :class:`SignatureFailure` a
real AWS endpoint would answer with.  No I/O, no clock of its own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote, unquote

import attrs

__all__ = [
    "ALGORITHM",
    "AMZ_DATE_FORMAT",
    "MAX_CLOCK_SKEW",
    "KeyPair",
    "SignatureFailure",
    "canonical_request",
    "signing_key",
    "string_to_sign",
    "verify",
]

ALGORITHM = "AWS4-HMAC-SHA256"
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_CLOCK_SKEW = dt.timedelta(minutes=5)
_TERMINATOR = "aws4_request"
_SCOPE_PARTS = 5


@attrs.frozen(repr=False)
class KeyPair:
    """An access key the fake accepts, its secret, and its session token if any."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def __repr__(self) -> str:
        return f"KeyPair(access_key_id={self.access_key_id!r}, secret_access_key=***)"


@attrs.frozen
class SignatureFailure:
    """Why a request failed authentication, in the form AWS answers it.

    Attributes:
        status: the HTTP status (403, or 400 for expired or malformed signatures).
        error_type: e.g. ``"InvalidSignatureException"``.
        message: what is wrong, for the error body.

    """

    status: int
    error_type: str
    message: str


def _incomplete(detail: str) -> SignatureFailure:
    return SignatureFailure(
        400,
        "IncompleteSignatureException",
        f"The Authorization header is not a complete SigV4 signature: {detail}",
    )


def _invalid(message: str, status: int = 403) -> SignatureFailure:
    return SignatureFailure(status, "InvalidSignatureException", message)


def _unrecognized(message: str) -> SignatureFailure:
    return SignatureFailure(403, "UnrecognizedClientException", message)


# --- the building blocks ------------------------------------------------------


def _remove_dot_segments(path: str) -> str:
    # RFC 3986 section 5.2.4, plus dropping empty segments, as SigV4 normalizes
    # paths for every service but S3.
    output: list[str] = []
    for segment in path.split("/"):
        if segment in {"", "."}:
            continue
        if segment == "..":
            if output:
                output.pop()
            continue
        output.append(segment)
    normalized = "/" + "/".join(output)
    if path.endswith("/") and normalized != "/":
        normalized += "/"
    return normalized


def _canonical_query(query: str) -> str:
    pairs: list[tuple[str, str]] = []
    for part in query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append(
            (quote(unquote(key), safe="-_.~"), quote(unquote(value), safe="-_.~")),
        )
    return "&".join(f"{key}={value}" for key, value in sorted(pairs))


def canonical_request(
    method: str,
    target: str,
    headers: Mapping[str, str],
    signed_headers: list[str],
    body: bytes,
) -> str:
    """Build the SigV4 canonical request.

    Args:
        method: the HTTP method, e.g. ``"POST"``.
        target: the request target as sent on the wire: path and optional query.
        headers: the request headers, names lowercased.
        signed_headers: the lowercase header names the client says it signed.
        body: the request body as received.

    """
    path, _, query = target.partition("?")
    # The client encoded the path once to send it; the canonical form encodes
    # the normalized path again (every service but S3 double-encodes).
    canonical_uri = quote(_remove_dot_segments(path), safe="/~")
    canonical_headers = "".join(
        f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in signed_headers
    )
    return "\n".join(
        [
            method.upper(),
            canonical_uri,
            _canonical_query(query),
            canonical_headers,
            ";".join(signed_headers),
            hashlib.sha256(body).hexdigest(),
        ]
    )


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    """Build the SigV4 string to sign from the timestamp, scope and canonical request."""
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret_access_key: str, date: str, region: str, service: str) -> bytes:
    """Derive the SigV4 signing key for one day, region and service."""
    key = _hmac(f"AWS4{secret_access_key}".encode(), date)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, _TERMINATOR)


# --- verification ----------------------------------------------------------------


@attrs.frozen
class _Authorization:
    access_key_id: str
    date: str
    region: str
    service: str
    terminator: str
    signed_headers: list[str]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{self.terminator}"


def _parse_authorization(value: str) -> _Authorization | SignatureFailure:
    if not value.isascii():
        # A hostile header may carry anything (the server decodes headers as
        # latin-1); a SigV4 one is ASCII, and compare_digest takes only ASCII.
        return _incomplete("the Authorization header has non-ASCII characters")
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        return _incomplete(f"the algorithm must be {ALGORITHM}, got {algorithm!r}")
    fields: dict[str, str] = {}
    for item in rest.split(","):
        key, sep, val = item.strip().partition("=")
        if sep:
            fields[key] = val
    missing = [key for key in ("Credential", "SignedHeaders", "Signature") if not fields.get(key)]
    if missing:
        return _incomplete(f"missing {', '.join(missing)}")
    scope = fields["Credential"].split("/")
    if len(scope) != _SCOPE_PARTS or not all(scope):
        return _incomplete(
            "Credential must be <access key id>/<yyyymmdd>/<region>/<service>/aws4_request, "
            f"got {fields['Credential']!r}"
        )
    return _Authorization(
        access_key_id=scope[0],
        date=scope[1],
        region=scope[2],
        service=scope[3],
        terminator=scope[4],
        signed_headers=fields["SignedHeaders"].split(";"),
        signature=fields["Signature"],
    )


def _check_scope(auth: _Authorization, amz_date: str, region: str, service: str) -> str | None:
    if auth.date != amz_date[:8]:
        return (
            f"The credential scope's date {auth.date} is not the day of X-Amz-Date "
            f"({amz_date}); sign with the same timestamp in both places."
        )
    if auth.region != region:
        return (
            f"The credential scope names region {auth.region!r}, but this endpoint serves "
            f"{region!r}; sign requests for the endpoint's region."
        )
    if auth.service != service:
        return (
            f"The credential scope names service {auth.service!r}; requests to this "
            f"endpoint must be signed for {service!r}."
        )
    if auth.terminator != _TERMINATOR:
        return f"The credential scope must end with {_TERMINATOR!r}, not {auth.terminator!r}."
    return None


def _check_clock(signed_at: dt.datetime, amz_date: str, now: dt.datetime) -> str | None:
    server = now.strftime(AMZ_DATE_FORMAT)
    if signed_at < now - MAX_CLOCK_SKEW:
        return (
            f"Signature expired: the request was signed at {amz_date}, more than 5 minutes "
            f"before the server time {server}. Check the clock of the signing machine."
        )
    if signed_at > now + MAX_CLOCK_SKEW:
        return (
            f"Signature not yet current: the request was signed at {amz_date}, more than "
            f"5 minutes after the server time {server}. Check the clock of the signing machine."
        )
    return None


def _check_token(key: KeyPair, headers: Mapping[str, str]) -> str | None:
    token = headers.get("x-amz-security-token")
    if key.session_token is None and token is not None:
        return "The request carries a session token, but its access key is not temporary."
    if key.session_token is not None and token != key.session_token:
        return "The session token in the request is missing or does not match its access key."
    return None


def verify(  # noqa: PLR0911 - one return per distinct failure reads best here
    *,
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    keys: Mapping[str, KeyPair],
    region: str,
    service: str,
    now: dt.datetime,
) -> SignatureFailure | None:
    """Check a request's SigV4 ``Authorization`` header.

    Args:
        method: the HTTP method.
        target: the request target as received (path and query).
        headers: the request headers with lowercase names.
        body: the request body as received.
        keys: the access keys the server knows, by access key ID.
        region: the region this endpoint serves.
        service: the signing name, ``"lightsail"``.
        now: the server's current time (timezone-aware).

    Returns:
        ``None`` when the signature is valid, else the failure to answer with.

    """
    value = headers.get("authorization")
    if value is None:
        return SignatureFailure(
            403,
            "MissingAuthenticationTokenException",
            "The request has no Authorization header; sign it with SigV4 credentials.",
        )
    auth = _parse_authorization(value)
    if isinstance(auth, SignatureFailure):
        return auth
    amz_date = headers.get("x-amz-date", "")
    try:
        signed_at = dt.datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return _incomplete(
            f"X-Amz-Date must be a timestamp like 20240131T235959Z, got {amz_date!r}"
        )
    if "host" not in auth.signed_headers:
        return _incomplete("the Host header must be among the SignedHeaders")
    key = keys.get(auth.access_key_id)
    if key is None:
        return _unrecognized(
            "The access key ID in the request is not known to this service; check the "
            "credentials the client was given."
        )
    problem = _check_token(key, headers)
    if problem is not None:
        return _unrecognized(problem)
    problem = _check_scope(auth, amz_date, region, service)
    if problem is not None:
        return _invalid(problem)
    problem = _check_clock(signed_at, amz_date, now)
    if problem is not None:
        return _invalid(problem, status=400)
    canonical = canonical_request(method, target, headers, auth.signed_headers, body)
    to_sign = string_to_sign(amz_date, auth.scope, canonical)
    expected = hmac.new(
        signing_key(key.secret_access_key, auth.date, auth.region, auth.service),
        to_sign.encode("utf-8"),
        hashlib.sha256,
    ).hexdigest()
    if not hmac.compare_digest(expected, auth.signature):
        # AWS's own wording, quoting the canonical request (session token
        # line included, as AWS does) and the string to sign.
        return _invalid(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.\n\n"
            f"The Canonical String for this request should have been\n'{canonical}'\n\n"
            f"The String-to-Sign should have been\n'{to_sign}'\n"
        )
    return None
