"""Credentials and SigV4 signing: the shell around botocore's signer.

Credentials are resolved on the first call, not at construction.  Keys in
the environment or in a profile's plain ``aws_access_key_id`` lines are found
by :mod:`lightsail_images._credentials` with botocore's rules but without
importing botocore's credential machinery (which pulls in its whole client
machinery); everything else (SSO, assume-role, ``credential_process``, web
identity, container and instance metadata, expiring environment keys...) goes
through the whole botocore chain.  Refreshable credentials are re-read on
every signature, which is where botocore refreshes them when they near expiry.

Signing uses botocore's :class:`~botocore.auth.SigV4Auth` building blocks
(canonical request, string to sign, signature), minus the DEBUG log lines that
``SigV4Auth.add_auth`` writes: they print the canonical request, which carries
the session token.  So turning on DEBUG logging for ``botocore`` never shows
this library's secrets, and a user's own botocore logging is left as it is.

Every botocore credential exception is translated here, once, into
:class:`NoCredentialsError`, keeping the original as ``__cause__``.

Every set of credentials, explicit or from the chain, is checked once before
it signs anything (:func:`check_credentials`): a key or token with a line
break, a space or a non-ASCII character would make ``http.client`` raise a
``ValueError`` that quotes the value, so it is refused with a
``ConfigurationError`` that names the setting and has no cause.  The source
also remembers the secrets it handed out (:meth:`CredentialSource.secrets`),
so that error messages quoting them can be redacted.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from botocore.auth import SIGNED_HEADERS_BLACKLIST, SIGV4_TIMESTAMP
from botocore.awsrequest import AWSRequest

from lightsail_images._credentials import StaticCredentials, find_static_credentials
from lightsail_images._errors import ConfigurationError, NoCredentialsError

if TYPE_CHECKING:
    from typing import TypeAlias

    from lightsail_images._config import SessionSource
    from lightsail_images._protocol import HttpRequest

    class SigV4Auth:
        """What this module uses of botocore's SigV4Auth, typed by hand.

        botocore ships no types; botocore-stubs, when installed, types the
        public surface only and types credentials as botocore's own classes.
        This view is the same with or without them, so the strict check
        passes either way.  At run time it is botocore's class, unchanged.
        """

        credentials: FrozenCredentials
        _region_name: str
        _service_name: str

        def __init__(
            self, credentials: FrozenCredentials, service_name: str, region_name: str
        ) -> None: ...
        def headers_to_sign(self, request: _Request) -> Any: ...
        def signed_headers(self, headers_to_sign: Any) -> str: ...
        def payload(self, request: _Request) -> str: ...
        def canonical_request(self, request: _Request) -> str: ...
        def string_to_sign(self, request: _Request, canonical_request: str) -> str: ...
        def signature(self, string_to_sign: str, request: _Request) -> str: ...
        def add_auth(self, request: _Request) -> None: ...
        def _sign(self, key: bytes, msg: str, hex: bool = False) -> Any: ...  # noqa: A002 - botocore's signature
        def _modify_request_before_signing(self, request: _Request) -> None: ...
        def _inject_signature_to_request(self, request: _Request, signature: str) -> None: ...

    # What SigV4Auth reads a request through: botocore's AWSRequest, or ours.
    _Request: TypeAlias = "AWSRequest | _SigningRequest"

else:
    from botocore.auth import SigV4Auth

__all__ = ["CredentialSource", "FrozenCredentials", "Signer", "check_credentials"]

SIGNING_NAME = "lightsail"

logger = logging.getLogger("lightsail_images")

# Where the fast path found the keys, for the log line botocore's chain would write.
_FOUND_IN = {
    "env": "environment variables",
    "shared-credentials-file": "the shared credentials file",
    "config-file": "the config file",
}


class FrozenCredentials(NamedTuple):
    """One consistent snapshot of a key pair and optional session token."""

    access_key: str
    secret_key: str
    token: str | None

    def __repr__(self) -> str:
        # Never show the secret or the token, even in a debugger.
        return f"FrozenCredentials(access_key={self.access_key[:4]!r}..., secret_key=***)"


# Header names SigV4Auth never signs, as a set (botocore keeps a list).
_NOT_SIGNED = frozenset(SIGNED_HEADERS_BLACKLIST)

_KEYS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")


def _in(place: str) -> tuple[str, str, str]:
    access, secret, token = (f"{key} in {place}" for key in _KEYS)
    return access, secret, token


# Where each botocore credential provider (its ``method``) reads the three values,
# to name the setting in an error; the Client's own arguments are "argument".
_SETTING_NAMES: Mapping[str, tuple[str, str, str]] = {
    "argument": _KEYS,
    "env": ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"),
    "shared-credentials-file": _in(
        "the shared credentials file (~/.aws/credentials or AWS_SHARED_CREDENTIALS_FILE)"
    ),
    "config-file": _in("the config file (~/.aws/config or AWS_CONFIG_FILE)"),
}
# Secrets of the last few credential sets, for redaction (refreshes rotate them).
_REMEMBERED = 4


def _setting_names(method: str | None) -> tuple[str, str, str]:
    names = _SETTING_NAMES.get(method or "")
    if names is not None:
        return names
    provider = f"the botocore credential provider {method!r}" if method else "the botocore chain"
    return (
        f"the access key id from {provider}",
        f"the secret access key from {provider}",
        f"the session token from {provider}",
    )


def _bad_character(value: str) -> str | None:
    """Describe the first character that cannot be in an AWS credential, or None."""
    for position, char in enumerate(value, 1):
        if "!" <= char <= "~":
            continue
        if char in "\r\n":
            kind = "a line break"
        elif char in " \t":
            kind = "a space or tab"
        elif char.isascii():
            kind = "a control character"
        else:
            kind = "a non-ASCII character"
        return f"{kind} at character {position} of {len(value)}"
    return None


def check_credentials(credentials: FrozenCredentials, method: str | None) -> FrozenCredentials:
    """Return ``credentials`` if every value can be sent, else raise naming the setting.

    AWS keys and tokens are printable ASCII without spaces.  Anything else
    cannot go into an HTTP header (``http.client`` would raise an error that
    quotes the value) or cannot match any signature, so it is refused here,
    before signing, with a message that names where it came from (``method``
    is the botocore provider's, or ``"argument"``) and never the value.

    Raises:
        ConfigurationError: a value is not a string of printable ASCII.

    """
    names = _setting_names(method)
    for name, value in zip(names, credentials, strict=True):
        if value is None:
            continue
        problem = _problem_with(value)
        if problem is not None:
            raise ConfigurationError(f"{name} {problem}")
    return credentials


def _problem_with(value: object) -> str | None:
    if not isinstance(value, str):  # typed as str, but callers pass what users gave
        return f"is a {type(value).__name__}, not a string"
    bad = _bad_character(value)
    if bad is None:
        return None
    return (
        f"has {bad}; AWS credentials are printable ASCII with no spaces (a copy and paste "
        "often adds a line break or a space at the end); set it again without it"
    )


class _RecentSecrets:
    """The secret keys and tokens of the last few credential sets; never shown in a repr."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: collections.deque[str] = collections.deque(maxlen=2 * _REMEMBERED)

    def add(self, credentials: FrozenCredentials) -> None:
        for secret in (credentials.secret_key, credentials.token):
            if secret and secret not in self._items:
                self._items.append(secret)

    def snapshot(self) -> tuple[str, ...]:
        return tuple(self._items)

    def __repr__(self) -> str:
        return f"<{len(self._items)} secrets, not shown>"


class CredentialSource:
    """Explicit keys, or the botocore chain resolved lazily and thread-safely."""

    def __init__(
        self,
        *,
        explicit: FrozenCredentials | None,
        sessions: SessionSource,
    ) -> None:
        self._explicit = explicit
        self._sessions = sessions
        self._lock = threading.Lock()
        self._chain: Any = None
        self._checked: FrozenCredentials | None = None
        # Keys found by the fast path (environment, a profile's plain keys)
        # never change, like explicit ones: once checked, they are the answer.
        self._fixed: FrozenCredentials | None = None
        self._secrets = _RecentSecrets()
        if explicit is not None:
            self._check(explicit, "argument")

    def __repr__(self) -> str:
        kind = "explicit" if self._explicit is not None else "botocore chain"
        return f"<CredentialSource {kind}>"

    @property
    def method(self) -> str | None:
        """Where the credentials came from, in botocore's words ("env", "sso"...).

        ``"explicit"`` for keys given to the client; ``None`` until the first
        call resolves them.
        """
        if self._explicit is not None:
            return "explicit"
        chain = self._chain
        return None if chain is None else cast("str | None", chain.method)

    def get(self) -> FrozenCredentials:
        """Return current credentials, refreshing expiring ones via botocore."""
        if self._explicit is not None:
            return self._explicit
        if self._fixed is not None:
            return self._fixed
        from botocore.exceptions import BotoCoreError  # noqa: PLC0415 - lazy import

        try:
            chain = self._resolve_chain()
            frozen = chain.get_frozen_credentials()
        except NoCredentialsError:
            raise
        except (BotoCoreError, OSError, ValueError) as exc:
            cause = f"{type(exc).__name__}: {_without_secrets(exc)}"
            reason = f"could not load AWS credentials: {cause}"
            raise NoCredentialsError(
                f"{reason}. Check the profile and credential settings, or pass "
                "aws_access_key_id and aws_secret_access_key",
                reason=reason,
                setting="aws_access_key_id",
            ) from exc
        if not frozen.access_key or not frozen.secret_key:
            reason = (
                "the AWS credentials found are incomplete (an access key without a secret "
                "key, or the reverse)"
            )
            raise NoCredentialsError(
                f"{reason}; fix the profile or environment variables",
                reason=reason,
                setting="aws_access_key_id",
            )
        checked = self._check(
            FrozenCredentials(frozen.access_key, frozen.secret_key, frozen.token or None),
            getattr(chain, "method", None),
        )
        if isinstance(chain, StaticCredentials):
            self._fixed = checked
        return checked

    def _check(self, credentials: FrozenCredentials, method: str | None) -> FrozenCredentials:
        """Check credentials the first time they are seen, and remember their secrets.

        Every source of credentials must pass its result through here.
        """
        if credentials == self._checked:  # the usual case: nothing changed
            return credentials
        check_credentials(credentials, method)
        with self._lock:
            self._secrets.add(credentials)
            self._checked = credentials
        return credentials

    def secrets(self) -> tuple[str, ...]:
        """Return the secret keys and session tokens handed out lately, for redaction."""
        with self._lock:
            return self._secrets.snapshot()

    def _resolve_chain(self) -> Any:
        with self._lock:
            if self._chain is None:
                self._chain = self._static() or self._botocore_chain()
            return self._chain

    def _static(self) -> StaticCredentials | None:
        """Keys from the environment or a profile's plain keys, found without botocore's chain."""
        files = self._sessions.shared_files()
        if files is None:
            return None
        found = find_static_credentials(
            os.environ,
            explicit_profile=self._sessions.explicit_profile,
            profile_name=files.profile_name,
            profiles=files.full["profiles"],
            credentials_file=files.credentials,
            config_file_profiles=files.config_profiles,
        )
        if found is not None:
            logger.debug("found credentials in %s", _FOUND_IN[found.method])
        return found

    def _botocore_chain(self) -> Any:
        credentials = self._sessions.get().get_credentials()
        if credentials is None:
            raise NoCredentialsError(
                "no AWS credentials were found: pass aws_access_key_id and "
                "aws_secret_access_key to Client, set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or configure a profile "
                "(aws configure, or aws sso login) and pass profile_name",
                reason="no AWS credentials were found",
                setting="aws_access_key_id",
            )
        return credentials


def _without_secrets(exc: Exception) -> str:
    # botocore's credential errors name files and providers, never key material,
    # but cut long messages so nothing unexpected is echoed in full.
    text = str(exc)
    return text if len(text) <= 300 else text[:297] + "..."  # noqa: PLR2004


class _SigningKeys:
    """The last SigV4 signing key, with the secret and date it was derived for.

    Deriving it takes four HMACs, a fifth of all signing work, and it changes
    once a day (or when refreshed credentials bring a new secret), so each
    Signer keeps the last one, as the AWS SDKs for Java and Go do.
    """

    def __init__(self) -> None:
        self._last: tuple[str, str, bytes] | None = None

    def get(self, secret: str, date: str, derive: Callable[[str, str], bytes]) -> bytes:
        """Return the key for ``secret`` and ``date``, deriving it when they changed."""
        last = self._last
        if last is None or last[0] != secret or last[1] != date:
            # Threads racing here derive the same key; either copy is right.
            last = (secret, date, derive(secret, date))
            self._last = last
        return last[2]


class _Headers:
    """The part of botocore's ``HTTPHeaders`` that ``SigV4Auth`` uses, with its semantics.

    ``HTTPHeaders`` is an ``email.message.Message``: every lookup goes through
    its header policy (two function calls and a surrogate check per header
    looked at), which was most of the time spent signing.  This map behaves
    as it does for the ``str`` names and values we sign: names compare
    without case; setting a name adds a value (it never replaces one);
    ``del`` removes every value of a name (a missing one is no error);
    ``[]`` and ``get`` give the first value or None; ``get_all`` gives every
    value in order, or ``failobj``; iteration, ``keys`` and ``items`` keep the
    order of insertion, duplicates included.  ``tests/test_signing_oracle.py``
    compares whole signatures with botocore's on a real ``AWSRequest``.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        # (lowercase name, name as given, value)
        self._items = [(name.lower(), name, value) for name, value in items]

    def __setitem__(self, name: str, value: str) -> None:
        self._items.append((name.lower(), name, value))

    def __delitem__(self, name: str) -> None:
        lower = name.lower()
        self._items = [item for item in self._items if item[0] != lower]

    def __contains__(self, name: object) -> bool:
        lower = cast("str", name).lower()
        for item in self._items:  # noqa: SIM110 - any() and a generator cost twice as much
            if item[0] == lower:
                return True
        return False

    def __getitem__(self, name: str) -> str | None:
        return self.get(name)

    def get(self, name: str, failobj: str | None = None) -> str | None:
        lower = name.lower()
        for item in self._items:
            if item[0] == lower:
                return item[2]
        return failobj

    def get_all(self, name: str, failobj: Any = None) -> Any:
        lower = name.lower()
        return [item[2] for item in self._items if item[0] == lower] or failobj

    def __iter__(self) -> Iterator[str]:
        return (item[1] for item in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def keys(self) -> list[str]:
        return [item[1] for item in self._items]

    def items(self) -> list[tuple[str, str]]:
        return [(item[1], item[2]) for item in self._items]


class _SigningRequest:
    """What ``SigV4Auth`` reads of an ``AWSRequest``, for a bytes body and no ``params``.

    ``AWSRequest`` keeps its headers in an ``HTTPHeaders``; this keeps them in
    a :class:`_Headers`.  Its ``body`` (which ``SigV4Auth.payload`` reads) is
    never read: :class:`_QuietSigV4Auth` hashes ``data`` itself.
    """

    __slots__ = ("context", "data", "headers", "method", "params", "url")

    def __init__(self, method: str, url: str, headers: _Headers, data: bytes) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.data = data
        self.params: dict[str, str] = {}  # the query stays in the URL, as with AWSRequest
        self.context: dict[str, Any] = {}


class _QuietSigV4Auth(SigV4Auth):
    """SigV4Auth with a settable clock, a kept signing key, and no secret-bearing DEBUG logs."""

    def __init__(
        self,
        credentials: FrozenCredentials,
        region: str,
        now: dt.datetime,
        keys: _SigningKeys,
    ) -> None:
        super().__init__(credentials, SIGNING_NAME, region)
        self._now = now
        self._keys = keys
        self._headers_to_sign: Any = None
        self._signed_headers: str | None = None

    def headers_to_sign(self, request: _Request) -> Any:
        # canonical_request and _inject_signature_to_request each work this
        # out; add_auth below changes no header in between, so the second
        # answer is the first.  One instance signs one request.
        if self._headers_to_sign is None:
            # SigV4Auth.headers_to_sign, step for step, into a _Headers instead
            # of an HTTPHeaders.  Its last step, deriving a missing host from
            # the URL, never applies: Signer.sign always puts the host in.
            header_map = _Headers()
            for name, value in request.headers.items():
                lower = name.lower()
                if lower not in _NOT_SIGNED:
                    header_map[lower] = value
            self._headers_to_sign = header_map
        return self._headers_to_sign

    def signed_headers(self, headers_to_sign: Any) -> str:
        # Asked for twice too, of the one kept headers_to_sign answer.
        if self._signed_headers is None:
            self._signed_headers = super().signed_headers(headers_to_sign)
        return self._signed_headers

    def payload(self, request: _Request) -> str:
        # SigV4Auth.payload's answer for our requests (bytes bodies, always
        # signed, no trailing checksums), without reading ``request.body``,
        # which prepares the whole request a second time just to return them.
        return hashlib.sha256(request.data or b"").hexdigest()

    def signature(self, string_to_sign: str, request: _Request) -> str:
        # SigV4Auth.signature, with the signing key from the Signer's _SigningKeys.
        date = request.context["timestamp"][0:8]
        key = self._keys.get(self.credentials.secret_key, date, self._signing_key)
        return cast("str", self._sign(key, string_to_sign, hex=True))

    def _signing_key(self, secret: str, date: str) -> bytes:
        # The derivation steps of SigV4Auth.signature, with its own _sign.
        k_date = self._sign(f"AWS4{secret}".encode(), date)
        k_region = self._sign(k_date, self._region_name)
        k_service = self._sign(k_region, self._service_name)
        return cast("bytes", self._sign(k_service, "aws4_request"))

    def add_auth(self, request: _Request) -> None:
        # Same steps as SigV4Auth.add_auth, in the same order, without logging.
        request.context["timestamp"] = self._now.strftime(SIGV4_TIMESTAMP)
        self._modify_request_before_signing(request)
        canonical_request = self.canonical_request(request)
        string_to_sign = self.string_to_sign(request, canonical_request)
        signature = self.signature(string_to_sign, request)
        self._inject_signature_to_request(request, signature)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Signer:
    """Signs requests for one region with credentials from a CredentialSource.

    ``clock_offset`` is added to the local clock when signing; the client sets
    it when the service reports that our clock is skewed.
    """

    def __init__(
        self,
        credentials: CredentialSource,
        region: str,
        *,
        clock: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        self._credentials = credentials
        self._region = region
        self._clock = clock
        self.clock_offset = dt.timedelta(0)
        self._keys = _SigningKeys()
        self._hosts: dict[str, str] = {}

    def secrets(self) -> tuple[str, ...]:
        """Return the secret keys and session tokens this signer signed with lately."""
        return self._credentials.secrets()

    def local_now(self) -> dt.datetime:
        """Return the local clock's time, without the skew correction."""
        return self._clock()

    def sign(self, request: HttpRequest, extra_headers: Mapping[str, str]) -> dict[str, str]:
        """Return every header to send: the request's, the signature's, then ``extra_headers``.

        ``extra_headers`` (User-Agent, SDK invocation headers) are added after
        signing, as botocore does, so they are not part of the signature.
        """
        credentials = self._credentials.get()
        headers_in = _Headers(request.headers.items())
        # The Host value SigV4Auth would derive from the URL for every
        # request (a seventh of signing), derived once per URL by the same
        # function.  Only signed: the HTTP library writes the Host header.
        headers_in["host"] = self._host(request.url, credentials)
        signing_request = _SigningRequest(request.method, request.url, headers_in, request.body)
        now = self._clock() + self.clock_offset
        _QuietSigV4Auth(credentials, self._region, now, self._keys).add_auth(signing_request)
        headers = {name: value for name, value in headers_in.items() if name != "host"}
        headers.update(extra_headers)
        return headers

    def _host(self, url: str, credentials: FrozenCredentials) -> str:
        host = self._hosts.get(url)
        if host is None:
            # SigV4Auth's own answer, from its public headers_to_sign.
            probe = AWSRequest(method="POST", url=url)
            signer = SigV4Auth(credentials, SIGNING_NAME, self._region)
            host = self._hosts[url] = signer.headers_to_sign(probe)["host"]
        return host
