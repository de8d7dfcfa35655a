"""The models of registry logins and pushes.

Frozen attrs classes like those of ``_models.py`` (see its docstring), loaded
on first use: only a push or a registry login needs them.  Their public names
are importable from ``lightsail_images`` (and from ``_models``) as if they
were defined there.
"""

from __future__ import annotations

import datetime as dt

import attrs

from lightsail_images._models import ResponseMetadata
from lightsail_images._public import present_when_loaded

__all__ = [
    "ContainerServiceRegistryLogin",
    "CreateContainerServiceRegistryLoginResult",
    "PushProgress",
    "PushedImage",
    "RegistryErrorDetail",
]


def _hidden(_: object) -> str:
    return "'***'"


@attrs.frozen(kw_only=True)
class ContainerServiceRegistryLogin:
    """Temporary credentials for pushing images to your Lightsail registry.

    The password is a secret: it never appears in ``repr()`` or ``str()``.

    Attributes:
        username: the registry user name.
        password: the registry password (valid until ``expires_at``).
        expires_at: when the credentials expire, a UTC datetime (12 hours after creation).
        registry: the registry address to push to.

    """

    username: str
    password: str = attrs.field(repr=_hidden)
    expires_at: dt.datetime
    registry: str


@attrs.frozen(kw_only=True)
class CreateContainerServiceRegistryLoginResult:
    """What ``Client.create_container_service_registry_login`` returns."""

    registry_login: ContainerServiceRegistryLogin
    response_metadata: ResponseMetadata


@attrs.frozen
class RegistryErrorDetail:
    """One entry of a registry's ``{"errors": [...]}`` body.

    Attributes:
        code: the spec's error code, for example ``"BLOB_UNKNOWN"`` or ``"DENIED"``.
        message: the registry's text, or ``""``.
        detail: the ``detail`` member as compact JSON text, when there is one.

    """

    code: str
    message: str = ""
    detail: str | None = None


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


present_when_loaded(globals())
