"""Image names, and the results of listing, deleting and pruning images.

Frozen attrs classes like those of ``_models.py`` (see its docstring), loaded
on first use: a registration never builds them, so a script that only
registers images does not pay for them.  Their public names are importable
from ``lightsail_images`` (and from ``_models``) as if they were defined there.
"""

from __future__ import annotations

import re

import attrs

from lightsail_images._models import ContainerImage, ResponseMetadata
from lightsail_images._public import present_when_loaded

__all__ = ["DeleteContainerImageResult", "GetContainerImagesResult", "ImageRef", "PruneResult"]

# ":<service>.<label>.<version>": names and labels use [a-z0-9-] only, so the
# dots are unambiguous separators.
_IMAGE_NAME = re.compile(
    r":(?P<service>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)"
    r"\.(?P<label>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)"
    r"\.(?P<version>[1-9][0-9]{0,17})"
)
_SERVICE_MAX = 63
_LABEL_MAX = 53


@attrs.frozen
class ImageRef:
    """The parts of a registered image name, ``":<service_name>.<label>.<version>"``.

    Example::

        ref = li.ImageRef.parse(":my-svc.web.3")
        ref.service_name, ref.label, ref.version  # ("my-svc", "web", 3)
        str(ref)                                  # ":my-svc.web.3"
        str(li.ImageRef("my-svc", "web", 4))      # ":my-svc.web.4"
    """

    service_name: str
    label: str
    version: int

    @classmethod
    def parse(cls, name: str) -> ImageRef:
        """Parse a registered image name.

        Raises:
            ValueError: ``name`` is not of the form ``":<service>.<label>.<version>"``
                (for example a public image such as ``"nginx:latest"``).

        """
        try:
            match = _IMAGE_NAME.fullmatch(name)
        except TypeError:  # not a string at all
            match = None
        if (
            match is None
            or len(match["service"]) > _SERVICE_MAX
            or len(match["label"]) > _LABEL_MAX
        ):
            msg = (
                f"{name!r} is not a registered Lightsail image name; expected "
                "':<service>.<label>.<version>', for example ':my-svc.web.3'"
            )
            raise ValueError(msg)
        return cls(match["service"], match["label"], int(match["version"]))

    def __str__(self) -> str:
        return f":{self.service_name}.{self.label}.{self.version}"


@attrs.frozen(kw_only=True)
class GetContainerImagesResult:
    """What ``Client.get_container_images`` returns.

    Attributes:
        container_images: the images registered to the service, as the
            service lists them (newest first).
        response_metadata: request id, HTTP status and attempt count.

    """

    container_images: tuple[ContainerImage, ...] = ()
    response_metadata: ResponseMetadata


@attrs.frozen(kw_only=True)
class DeleteContainerImageResult:
    """What ``Client.delete_container_image`` returns: only the response metadata."""

    response_metadata: ResponseMetadata


@attrs.frozen(kw_only=True)
class PruneResult:
    """What ``Client.prune_container_images`` did, or would do in a dry run.

    Attributes:
        deleted: images deleted (or, when ``dry_run``, that would be deleted).
        kept: images kept because they are among the newest ``keep`` of their label.
        in_use: older images kept because the service's current or next
            deployment uses them.
        dry_run: whether this was a dry run (nothing was deleted).

    """

    deleted: tuple[ContainerImage, ...]
    kept: tuple[ContainerImage, ...]
    in_use: tuple[ContainerImage, ...]
    dry_run: bool


present_when_loaded(globals())
