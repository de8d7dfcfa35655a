"""Pure decisions behind the lifecycle helpers.

Which image is already registered, which images to prune: no I/O here; the
client fetches, these functions decide.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import attrs

from lightsail_images._image_models import ImageRef
from lightsail_images._models import ContainerImage

__all__ = ["PrunePlan", "find_registered", "plan_prune"]


def _ref(image: ContainerImage) -> ImageRef | None:
    try:
        return image.ref
    except ValueError:
        return None  # not a registered image name: never ours to match or delete


def find_registered(
    images: Iterable[ContainerImage],
    *,
    label: str,
    digest: str,
) -> ContainerImage | None:
    """Return the newest image with this digest under this label, if any."""
    best: tuple[int, ContainerImage] | None = None
    for image in images:
        ref = _ref(image)
        if ref is None or ref.label != label or image.digest != digest:
            continue
        if best is None or ref.version > best[0]:
            best = (ref.version, image)
    return best[1] if best else None


@attrs.frozen
class PrunePlan:
    """Images to delete, and those kept (newest per label, or used by a deployment)."""

    delete: tuple[ContainerImage, ...]
    kept: tuple[ContainerImage, ...]
    in_use: tuple[ContainerImage, ...]


def plan_prune(
    images: Iterable[ContainerImage],
    *,
    keep: int,
    label: str | None,
    in_use: frozenset[str],
) -> PrunePlan:
    """Plan to delete all but the newest ``keep`` versions of each label.

    Only labels equal to ``label`` are considered when it is given.  Images in
    ``in_use`` are never deleted; they are reported separately.  Versions are
    compared as numbers, so ``.10`` is newer than ``.9``.
    """
    by_label: dict[str, list[tuple[int, ContainerImage]]] = defaultdict(list)
    for image in images:
        ref = _ref(image)
        if ref is None or (label is not None and ref.label != label):
            continue
        by_label[ref.label].append((ref.version, image))
    delete: list[ContainerImage] = []
    kept: list[ContainerImage] = []
    used: list[ContainerImage] = []
    for label_name in sorted(by_label):
        newest_first = [image for _, image in sorted(by_label[label_name], key=lambda p: -p[0])]
        kept.extend(newest_first[:keep])
        for image in newest_first[keep:]:
            (used if image.image in in_use else delete).append(image)
    return PrunePlan(tuple(delete), tuple(kept), tuple(used))
