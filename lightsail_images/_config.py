"""Client settings, and where each comes from when not given.

Precedence for every setting: the explicit argument, then the environment,
then the shared config profile, then the default, exactly as botocore resolves
them (we call botocore's own resolvers where it has one, so profiles, SSO and
``[services]`` sections behave the same as in boto3).

The botocore session is created lazily, and only for the credential chain.
Settings that live in the shared config files (region, ``max_attempts``,
configured endpoints) are read the way ``Session.full_config`` and
``Session.get_scoped_config`` read them: a plain file by ``_ini.py``, which
gives what botocore's file loader gives without importing configparser, any
other by that loader, ``botocore.configloader``.  Importing ``botocore.session`` pulls
in botocore's whole client machinery, a sixth of a cold start and 5 MiB, and
a client never needs it when its keys are given.  A fully configured client
(keys, region, endpoint, ``max_attempts``) reads no files at construction.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import attrs

from lightsail_images._errors import ConfigurationError, NoRegionError

if TYPE_CHECKING:
    from botocore.session import Session as BotocoreSession

__all__ = [
    "DEFAULT_DEPLOY_TIMEOUT",
    "DEFAULT_MAX_ATTEMPTS",
    "ClientConfig",
    "SessionSource",
    "check_endpoint_url",
    "resolve_settings",
]

DEFAULT_MAX_ATTEMPTS = 3
# How long deploy_container_image waits for a deployment to settle, in seconds
# (here, not in _deploy.py, so that the client's signature needs no deploy import).
DEFAULT_DEPLOY_TIMEOUT = 900.0
SERVICE_ID = "lightsail"


def _positive_number(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        msg = f"ClientConfig.{attribute.name} must be a number of seconds above 0, got {value!r}"
        raise ValueError(msg)


def _max_attempts(_instance: object, _attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = (
            "ClientConfig.max_attempts must be a whole number of attempts, 1 or more "
            f"(1 turns retries off), got {value!r}"
        )
        raise ValueError(msg)


def _pool_size(_instance: object, _attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"ClientConfig.max_pool_connections must be 1 or more, got {value!r}"
        raise ValueError(msg)


def _header_text(_instance: object, _attribute: attrs.Attribute[Any], value: object) -> None:
    # It goes into the User-Agent header: printable ASCII is what every HTTP stack takes.
    if value is not None and not (
        isinstance(value, str) and value.isascii() and value.isprintable()
    ):
        msg = (
            "ClientConfig.user_agent_extra must be printable ASCII text on one line "
            f"(it goes into the User-Agent header), got {value!r}"
        )
        raise ValueError(msg)


@attrs.frozen
class ClientConfig:
    """Tuning for a :class:`Client`; the names are those of botocore's ``Config``.

    Attributes:
        connect_timeout: seconds to wait for a TCP/TLS connection (default 60).
        read_timeout: seconds to wait for the response after sending (default 60).
        max_attempts: attempts per call including the first; ``None`` reads
            ``AWS_MAX_ATTEMPTS`` or the profile's ``max_attempts``, else 3.
            ``1`` turns retries off.
        parameter_validation: check lengths, patterns and digests before
            sending (default ``True``).  Types are always checked.
        user_agent_extra: text appended to the ``User-Agent`` header (printable ASCII).
        max_pool_connections: connections kept open for reuse (default 10);
            raise it when many threads share one client.

    Example::

        config = li.ClientConfig(connect_timeout=5, read_timeout=10, max_attempts=5)
        client = li.Client("us-east-1", config=config)

    """

    connect_timeout: float = attrs.field(default=60, validator=_positive_number)
    read_timeout: float = attrs.field(default=60, validator=_positive_number)
    max_attempts: int | None = attrs.field(default=None, validator=_max_attempts)
    parameter_validation: bool = True
    user_agent_extra: str | None = attrs.field(default=None, validator=_header_text)
    max_pool_connections: int = attrs.field(default=10, validator=_pool_size)


class SessionSource:
    """Creates the botocore session on first use, once, thread-safely."""

    def __init__(
        self,
        *,
        botocore_session: BotocoreSession | None,
        profile_name: str | None,
    ) -> None:
        if botocore_session is not None and profile_name is not None:
            raise ConfigurationError(
                "pass either botocore_session or profile_name, not both: a botocore "
                "session already has its profile (set it with "
                "botocore_session.set_config_variable('profile', name))"
            )
        self._session = botocore_session
        self._user_supplied = botocore_session is not None
        self._profile_name = profile_name
        self._lock = threading.Lock()
        self._files: _SharedConfig | None = None

    @property
    def user_supplied(self) -> bool:
        """Whether the caller passed its own botocore session (its settings rank first)."""
        return self._user_supplied

    def get(self) -> BotocoreSession:
        """Return the botocore session, creating it on first use."""
        with self._lock:
            if self._session is None:
                from botocore.session import Session  # noqa: PLC0415 - lazy: costly import

                self._session = Session(profile=self._profile_name)
            return self._session

    def _shared_config(self) -> _SharedConfig | None:
        """Return the config files read without a session, unless a session exists."""
        with self._lock:
            if self._session is not None:
                return None
            if self._files is None:
                self._files = _SharedConfig.read(self._profile_name)
            return self._files

    @property
    def explicit_profile(self) -> bool:
        """Whether ``profile_name=`` was given (botocore then skips environment keys)."""
        return self._profile_name is not None

    def shared_files(self) -> _SharedConfig | None:
        """Return the config files as read without a session, or ``None``.

        ``None`` when a botocore session exists or the files cannot be read:
        the caller then asks the botocore session, which reads (and
        fails on) the same files itself.
        """
        from botocore.exceptions import BotoCoreError  # noqa: PLC0415 - lazy import

        try:
            return self._shared_config()
        except (BotoCoreError, OSError, ValueError):
            return None

    def config_variable(self, name: str) -> Any:
        """Read one botocore config variable, translating config-file errors."""
        from botocore.exceptions import BotoCoreError  # noqa: PLC0415 - lazy import

        try:
            if name in _PROFILE_VARIABLES and (files := self._shared_config()) is not None:
                env_var, key = _PROFILE_VARIABLES[name]
                value = os.environ.get(env_var)
                return value if value is not None else files.scoped().get(key)
            return self.get().get_config_variable(name)
        except BotoCoreError as exc:
            raise _config_error(exc, self._profile_name) from exc
        except ValueError as exc:
            raise ConfigurationError(
                f"the AWS configuration value for {name!r} is not valid ({exc}); fix it in "
                "the environment or in ~/.aws/config"
            ) from exc

    def check_profile(self, environ: Callable[[str], str | None]) -> None:
        """Raise :class:`ConfigurationError` now if the named profile does not exist.

        Called at construction whatever else was given, so a missing profile
        never waits for the first call (or not) depending on other settings.
        Without a named profile or a session of the caller's, no file is read.
        """
        named = self._profile_name is not None or any(
            environ(name) is not None for name in ("AWS_DEFAULT_PROFILE", "AWS_PROFILE")
        )
        if named or self._user_supplied:
            self.scoped_and_full_config()

    def scoped_and_full_config(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Return the profile's settings and the whole config, for endpoint lookup."""
        from botocore.exceptions import BotoCoreError  # noqa: PLC0415 - lazy import

        try:
            if (files := self._shared_config()) is not None:
                return files.scoped(), files.full
            session = self.get()
            return session.get_scoped_config(), session.full_config
        except BotoCoreError as exc:
            raise _config_error(exc, self._profile_name) from exc


# Settings botocore reads from one environment variable, then the profile, with
# no conversion our callers do not do themselves: (variable, profile key).
_PROFILE_VARIABLES = {
    "region": ("AWS_DEFAULT_REGION", "region"),
    "max_attempts": ("AWS_MAX_ATTEMPTS", "max_attempts"),
    "ignore_configured_endpoint_urls": (
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        "ignore_configured_endpoint_urls",
    ),
}


class _SharedConfig:
    """The shared config and credentials files, merged as a botocore Session merges them."""

    # A plain class, not attrs: defined at every import, used by few clients.
    __slots__ = ("config_profiles", "credentials", "full", "profile_name")

    def __init__(
        self,
        full: dict[str, Any],
        profile_name: str | None,
        *,
        config_profiles: dict[str, Any] | None = None,
        credentials: dict[str, Any] | None = None,
    ) -> None:
        self.full = full
        self.profile_name = profile_name
        # Each file on its own, for the credential providers that read one file.
        self.config_profiles = config_profiles if config_profiles is not None else {}
        self.credentials = credentials if credentials is not None else {}

    @classmethod
    def read(cls, profile_name: str | None) -> _SharedConfig:
        """Read both files, as ``Session.full_config`` does (missing files are empty)."""
        config_file = os.environ.get("AWS_CONFIG_FILE", "~/.aws/config")
        credentials_file = os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")
        loaded = _load_file(config_file, profiles=True)
        full: dict[str, Any] = loaded if loaded is not None else {"profiles": {}}
        credentials = _load_file(credentials_file, profiles=False) or {}
        config_profiles = {name: dict(values) for name, values in full["profiles"].items()}
        for profile, values in credentials.items():
            full["profiles"].setdefault(profile, {}).update(values)
        # Session's "profile" chain: the argument, AWS_DEFAULT_PROFILE, AWS_PROFILE.
        files = {"config_profiles": config_profiles, "credentials": credentials}
        for candidate in (
            profile_name,
            os.environ.get("AWS_DEFAULT_PROFILE"),
            os.environ.get("AWS_PROFILE"),
        ):
            if candidate is not None:
                return cls(full, candidate, **files)
        return cls(full, None, **files)

    def scoped(self) -> dict[str, Any]:
        """Return the profile's settings, as ``Session.get_scoped_config`` does."""
        from botocore.exceptions import ProfileNotFound  # noqa: PLC0415 - lazy import

        profiles: dict[str, Any] = self.full["profiles"]
        if self.profile_name is None:
            return profiles.get("default", {})  # type: ignore[no-any-return]
        if self.profile_name not in profiles:
            raise ProfileNotFound(profile=self.profile_name)
        return profiles[self.profile_name]  # type: ignore[no-any-return]


# A plain file larger than this goes to botocore's parser (which reads it whole).
_PLAIN_FILE_MAX = 1 << 20


def _load_file(path: str, *, profiles: bool) -> dict[str, Any] | None:
    """Read one shared file as botocore's loader does; ``None`` when there is no such file.

    ``profiles``: sort its sections as ``load_config`` does (the config file),
    else return them as ``raw_config_parse`` does (the credentials file).  A
    plain file (``_ini.py``) is parsed here; any other goes to botocore's
    loader, with configparser, and its errors are botocore's.
    """
    # botocore's own calls, in its order, for the same answer in every case.
    expanded = os.path.expanduser(os.path.expandvars(path))  # noqa: PTH111
    if not os.path.isfile(expanded):  # noqa: PTH113 - botocore: ConfigNotFound
        return None
    from lightsail_images import _ini  # noqa: PLC0415 - only with files

    sections = None
    with contextlib.suppress(OSError, UnicodeDecodeError):
        with open(expanded, "rb") as file:  # noqa: PTH123
            data = file.read(_PLAIN_FILE_MAX + 1)
        if len(data) <= _PLAIN_FILE_MAX:
            sections = _ini.parse_plain(data.decode("ascii"))
    if sections is not None:
        return _ini.profile_map(sections) if profiles else sections
    from botocore.configloader import load_config, raw_config_parse  # noqa: PLC0415 - lazy
    from botocore.exceptions import ConfigNotFound  # noqa: PLC0415 - lazy import

    try:
        loaded: dict[str, Any] = load_config(path) if profiles else raw_config_parse(path)
    except ConfigNotFound:  # gone since we looked
        return None
    return loaded


def profile_setting(name: str, *, profile_name: str | None) -> str | None:
    """Return a setting of the profile in use, as botocore picks the profile; None if unset.

    The profile is ``profile_name``, else ``AWS_DEFAULT_PROFILE``, ``AWS_PROFILE``,
    else ``default``.  For settings botocore itself does not read, such as the
    AWS CLI's ``cli_timestamp_format``.
    """
    from botocore.exceptions import BotoCoreError  # noqa: PLC0415 - lazy import

    try:
        value = _SharedConfig.read(profile_name).scoped().get(name)
    except BotoCoreError as exc:
        raise _config_error(exc, profile_name) from exc
    return value if isinstance(value, str) else None


def _config_error(exc: Exception, profile_name: str | None) -> ConfigurationError:
    from botocore.exceptions import ProfileNotFound  # noqa: PLC0415 - lazy import

    if isinstance(exc, ProfileNotFound):
        kwargs: dict[str, Any] = getattr(exc, "kwargs", {})
        name = kwargs.get("profile") or profile_name or os.environ.get("AWS_PROFILE") or "default"
        reason = f"the AWS profile {name!r} was not found in ~/.aws/config or ~/.aws/credentials"
        return ConfigurationError(
            f"{reason}; create it (aws configure --profile NAME), or pass "
            "another profile_name / set AWS_PROFILE",
            reason=reason,
            setting="profile_name",
            value=name,
        )
    return ConfigurationError(f"could not read the AWS configuration: {exc}")


_REGION = re.compile(r"(?![0-9]+$)(?!-)[a-zA-Z0-9-]{1,63}(?<!-)")


class Settings(NamedTuple):
    """Everything resolved at construction (a named tuple: see ``_protocol.Operation``)."""

    region_name: str
    endpoint_url: str
    max_attempts: int


def resolve_settings(
    *,
    region_name: str | None,
    endpoint_url: str | None,
    config: ClientConfig,
    sessions: SessionSource,
    environ: Callable[[str], str | None] = os.environ.get,
) -> Settings:
    """Resolve region, endpoint and attempts, reading files only when needed."""
    region = _resolve_region(region_name, sessions, environ)
    sessions.check_profile(environ)
    return Settings(
        region_name=region,
        endpoint_url=_resolve_endpoint(endpoint_url, region, sessions, environ),
        max_attempts=_resolve_max_attempts(config, sessions, environ),
    )


def _resolve_region(
    region_name: str | None,
    sessions: SessionSource,
    environ: Callable[[str], str | None],
) -> str:
    region = region_name or environ("AWS_REGION")
    if not region and not sessions.user_supplied:
        # botocore ranks the environment above the profile, so no file is read.
        region = environ("AWS_DEFAULT_REGION")
    if not region:
        region = sessions.config_variable("region")
    if not region:
        raise NoRegionError(
            "no AWS region is configured: pass region_name='us-east-1' (for example) to "
            "Client, set AWS_REGION or AWS_DEFAULT_REGION, or add 'region = ...' to your "
            "profile in ~/.aws/config",
            reason="no AWS region is configured",
            setting="region_name",
        )
    if not isinstance(region, str) or _REGION.fullmatch(region) is None:
        reason = f"{region!r} is not a valid AWS region name; use a name such as 'us-east-1'"
        raise ConfigurationError(
            f"region_name {reason}",
            reason=reason,
            setting="region_name",
            value=str(region),
        )
    return region


def _resolve_endpoint(
    endpoint_url: str | None,
    region: str,
    sessions: SessionSource,
    environ: Callable[[str], str | None],
) -> str:
    url = endpoint_url
    source = "endpoint_url"
    if url is None:
        url, source = _configured_endpoint(sessions, environ)
    if url is None:
        return f"https://lightsail.{region}.amazonaws.com"
    return check_endpoint_url(url, source)


def check_endpoint_url(url: str, source: str) -> str:
    """Return ``url`` if it is an http(s) URL with a host and a valid port.

    ``source`` names where the URL came from (``endpoint_url``,
    ``AWS_ENDPOINT_URL_LIGHTSAIL``, a CLI flag) and starts the message.

    Raises:
        ConfigurationError: the URL does not parse, has another scheme, no
            host, a port outside 1-65535, or whitespace or control characters.

    """
    problem = _endpoint_problem(url)
    if problem is not None:
        # No ``from``: urllib's ValueError only repeats the URL, said better here.
        raise ConfigurationError(
            f"{source} {url!r} is not a valid endpoint URL ({problem}); use a full URL "
            "such as 'https://lightsail.us-east-1.amazonaws.com' or 'http://127.0.0.1:8080'"
        )
    return url


def _endpoint_problem(url: object) -> str | None:  # noqa: PLR0911 - one return per rule
    if not isinstance(url, str):
        return f"a {type(url).__name__}, not a string"
    if any(char.isspace() or not char.isprintable() for char in url):
        return "it contains whitespace or control characters"
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:  # "Invalid IPv6 URL", "Port out of range 0-65535", ...
        return str(exc).lower()
    if parts.scheme not in {"http", "https"}:
        return "the scheme must be http or https"
    if not parts.hostname:
        return "it has no host"
    if port == 0:
        return "port 0 cannot be connected to"
    return None


def _configured_endpoint(
    sessions: SessionSource,
    environ: Callable[[str], str | None],
) -> tuple[str | None, str]:
    if not sessions.user_supplied:
        # botocore ranks the environment above the profile, so no file is read.
        if _truthy(environ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")):
            return None, ""
        for name in ("AWS_ENDPOINT_URL_LIGHTSAIL", "AWS_ENDPOINT_URL"):
            value = environ(name)
            if value:
                return value, name
    if _truthy(sessions.config_variable("ignore_configured_endpoint_urls")):
        return None, ""
    from botocore.configprovider import ConfiguredEndpointProvider  # noqa: PLC0415 - lazy

    scoped, full = sessions.scoped_and_full_config()
    provider = ConfiguredEndpointProvider(
        full_config=full,
        scoped_config=scoped,
        client_name=SERVICE_ID,
        environ=_EnvironView(environ),
    )
    value = provider.provide()
    return (value or None), "the configured endpoint URL"


class _EnvironView(dict[str, str]):
    """A read-only mapping over an environ getter, for botocore's providers."""

    def __init__(self, getter: Callable[[str], str | None]) -> None:
        super().__init__()
        self._getter = getter

    def get(self, key: str, default: Any = None) -> Any:
        value = self._getter(key)
        return default if value is None else value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._getter(key) is not None

    def __getitem__(self, key: str) -> str:
        value = self._getter(key)
        if value is None:
            raise KeyError(key)
        return value


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _resolve_max_attempts(
    config: ClientConfig,
    sessions: SessionSource,
    environ: Callable[[str], str | None],
) -> int:
    if config.max_attempts is not None:
        return config.max_attempts
    raw: Any = None if sessions.user_supplied else environ("AWS_MAX_ATTEMPTS")
    source = "AWS_MAX_ATTEMPTS"
    if raw is None:
        raw = sessions.config_variable("max_attempts")
        source = "the max_attempts setting (AWS_MAX_ATTEMPTS or the profile's max_attempts)"
    if raw is None:
        return DEFAULT_MAX_ATTEMPTS
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = 0
    if value < 1:
        raise ConfigurationError(
            f"{source} must be a whole number of attempts, 1 or more, got {raw!r}"
        )
    return value
