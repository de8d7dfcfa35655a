"""Static credentials from the environment or a profile, found as botocore's chain finds them.

Walking botocore's credential chain means importing ``botocore.credentials``,
which imports botocore's whole client machinery (``botocore.client``, the
docs, endpoint and handler modules): about 75 modules, a fifth of a cold
start, for credentials that are most often two environment variables or two
lines of ``~/.aws/credentials``.  This module answers those cases itself, and
only those, with botocore's own rules; everything else goes to the chain.

What botocore's chain (``botocore.credentials.create_credential_resolver``)
does for the cases handled here, in its order:

1. the environment (``EnvProvider``), unless a profile was named explicitly
   (``profile_name=``; ``AWS_PROFILE`` does not count): a non-empty
   ``AWS_ACCESS_KEY_ID`` wins, with ``AWS_SECRET_ACCESS_KEY`` and the first
   non-empty of ``AWS_SECURITY_TOKEN`` and ``AWS_SESSION_TOKEN``;
2. assume-role, web identity, SSO: never handled here;
3. the shared credentials file's section for the profile
   (``SharedCredentialProvider``): present when it has ``aws_access_key_id``,
   token from ``aws_security_token``, else ``aws_session_token``;
4. ``login_session``, ``credential_process``: never handled here;
5. the config file's section for the profile (``ConfigProvider``), read the
   same way as the credentials file.

The profile is ``profile_name=``, else ``AWS_DEFAULT_PROFILE``, else
``AWS_PROFILE``, else ``default``.

:func:`find_static_credentials` answers ``None`` ("ask botocore") whenever
botocore might answer differently or fail: any setting that belongs to another
provider, in the profile (``role_arn``, ``sso_*``, ``credential_process``,
``web_identity_token_file``, ``credential_source``, ``login_session``...) or in
the environment (``AWS_CONTAINER_CREDENTIALS_*``,
``AWS_WEB_IDENTITY_TOKEN_FILE``, ``AWS_ROLE_ARN``...); environment credentials
with an expiry (``AWS_CREDENTIAL_EXPIRATION``: botocore refreshes those); the
instance-metadata settings botocore converts or validates before walking the
chain (it fails on a bad one, whoever provides the keys); a named profile that
does not exist; half a key pair; a value that is not text; and no credentials
found at all (the container and instance-metadata providers come next).

Pure: the caller reads the environment and the files (with botocore's own
loader, ``botocore.configloader``) and passes them in.  ``tests/test_credentials.py``
compares every answer with ``botocore.session.Session().get_credentials()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

__all__ = ["StaticCredentials", "find_static_credentials"]

# botocore's provider names, as ``Credentials.method`` reports them.
ENVIRONMENT = "env"
CREDENTIALS_FILE = "shared-credentials-file"
CONFIG_FILE = "config-file"

_ACCESS_KEY = "aws_access_key_id"
_SECRET_KEY = "aws_secret_access_key"  # noqa: S105 - a key's name, not a secret
_FILE_TOKENS = ("aws_security_token", "aws_session_token")
_ENV_TOKENS = ("AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN")

# Profile keys that bring another provider into play, or that botocore
# converts or validates before it walks the chain (the instance-metadata
# settings): their presence sends the whole lookup to botocore.
_FOREIGN_PROFILE_KEYS = frozenset(
    {
        "role_arn",
        "source_profile",
        "credential_source",
        "credential_process",
        "web_identity_token_file",
        "login_session",
        "external_id",
        "mfa_serial",
        "duration_seconds",
        "metadata_service_timeout",
        "metadata_service_num_attempts",
        "ec2_metadata_service_endpoint",
        "ec2_metadata_service_endpoint_mode",
        "ec2_metadata_v1_disabled",
        "imds_use_ipv6",
    }
)
_FOREIGN_PROFILE_PREFIXES = ("sso_", "role_", "web_identity", "credential_", "login")

# The same for environment variables.  AWS_EC2_METADATA_DISABLED is not among
# them: botocore reads it only when it reaches the instance-metadata provider.
_FOREIGN_ENVIRONMENT = frozenset(
    {
        "AWS_CREDENTIAL_EXPIRATION",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_ROLE_SESSION_NAME",
        "AWS_CREDENTIAL_FILE",
        "AWS_METADATA_SERVICE_TIMEOUT",
        "AWS_METADATA_SERVICE_NUM_ATTEMPTS",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
        "AWS_EC2_METADATA_V1_DISABLED",
        "AWS_IMDS_USE_IPV6",
    }
)
_FOREIGN_ENVIRONMENT_PREFIXES = ("AWS_CONTAINER_", "AWS_SSO_", "AWS_LOGIN_")


class StaticCredentials(NamedTuple):
    """A key pair and token as botocore would return them, and where they came from.

    ``token`` is kept as found (a profile's empty ``aws_session_token =`` is
    ``""``, as in botocore); the signer turns an empty token into none.
    """

    access_key: str
    secret_key: str
    token: str | None
    method: str

    def __repr__(self) -> str:
        # Never show the secret or the token, even in a debugger.
        return f"StaticCredentials(access_key={self.access_key[:4]!r}..., method={self.method!r})"

    def get_frozen_credentials(self) -> StaticCredentials:
        """Return these credentials (the signer calls this on botocore's ``Credentials`` too)."""
        return self


def find_static_credentials(
    environ: Mapping[str, str],
    *,
    explicit_profile: bool,
    profile_name: str | None,
    profiles: Mapping[str, Any],
    credentials_file: Mapping[str, Any],
    config_file_profiles: Mapping[str, Any],
) -> StaticCredentials | None:
    """Return what botocore's chain would, or ``None`` when botocore must be asked.

    Args:
        environ: the process environment.
        explicit_profile: whether the profile was passed as ``profile_name=``
            (botocore then skips environment credentials).
        profile_name: the profile as a botocore Session names it (``profile_name=``,
            ``AWS_DEFAULT_PROFILE``, ``AWS_PROFILE``), ``None`` for none.
        profiles: every profile of both files, merged as ``Session.full_config``
            merges them (``full_config["profiles"]``).
        credentials_file: the shared credentials file as
            ``botocore.configloader.raw_config_parse`` reads it.
        config_file_profiles: the config file's profiles as
            ``botocore.configloader.load_config`` reads them, before merging.

    """
    if _foreign_environment(environ):
        return None
    if profile_name is not None and (profile_name == "" or profile_name not in profiles):
        return None  # botocore raises ProfileNotFound, whatever provides the keys
    name = profile_name or "default"
    profile = profiles.get(name, {})
    if not isinstance(profile, Mapping) or _foreign_profile(profile):
        return None
    if not explicit_profile and environ.get("AWS_ACCESS_KEY_ID", ""):
        return _from_environment(environ)
    for section, method in (
        (credentials_file.get(name), CREDENTIALS_FILE),
        (config_file_profiles.get(name), CONFIG_FILE),
    ):
        if isinstance(section, Mapping) and _ACCESS_KEY in section:
            return _from_section(section, method)
    return None  # the container and instance-metadata providers come next


def _foreign_environment(environ: Mapping[str, str]) -> bool:
    return any(
        name in _FOREIGN_ENVIRONMENT or name.startswith(_FOREIGN_ENVIRONMENT_PREFIXES)
        for name in environ
    )


def _foreign_profile(profile: Mapping[str, Any]) -> bool:
    return any(
        key in _FOREIGN_PROFILE_KEYS or key.startswith(_FOREIGN_PROFILE_PREFIXES) for key in profile
    )


def _from_environment(environ: Mapping[str, str]) -> StaticCredentials | None:
    secret = environ.get("AWS_SECRET_ACCESS_KEY", "")
    if not secret:
        return None  # botocore raises PartialCredentialsError
    token = next((value for name in _ENV_TOKENS if (value := environ.get(name, ""))), None)
    return StaticCredentials(environ["AWS_ACCESS_KEY_ID"], secret, token, ENVIRONMENT)


def _from_section(section: Mapping[str, Any], method: str) -> StaticCredentials | None:
    if _SECRET_KEY not in section:
        return None  # botocore raises PartialCredentialsError
    access_key: object = section[_ACCESS_KEY]
    secret: object = section[_SECRET_KEY]
    token: object = next((section[name] for name in _FILE_TOKENS if name in section), None)
    if not isinstance(access_key, str) or not isinstance(secret, str):
        return None  # a nested section where a value belongs: let botocore deal with it
    if token is not None and not isinstance(token, str):
        return None
    return StaticCredentials(access_key, secret, token, method)
