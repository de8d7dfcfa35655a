"""The image model: platforms, descriptors, manifests, digests, and the JSON they come from.

Pure code: bytes in, objects out, no file or network access.  The disk
sources (:mod:`lightsail_images._push.sources`) read files and hand the bytes
here; the upload steps use the descriptors and digests defined here.

**Hostile JSON.**  Every document parsed here comes from a file a user was
handed, so it is checked as the wire format is: a member of the wrong type
(annotations as a list, a size as a string, a boolean or past 2**63, a
platform as a list) is an :class:`~lightsail_images.ImageSourceError` naming
the file, never an ``AttributeError``; a document nested thousands deep is
refused (the ``RecursionError`` of the JSON parser is translated here); and
index entries and layers are capped (:data:`MAX_INDEX_ENTRIES`,
:data:`MAX_LAYERS`) so that what a push reads grows with the input, not with
its fan-out.

**Which image.**  Lightsail runs ``linux/amd64`` containers, so the sources
narrow a multi-platform index to that platform (:data:`LINUX_AMD64`), reading
the platform from the index entry or, when the index does not say, from the
image config.

**The manifest built for ``docker save``.**  ``docker save`` writes no
registry manifest, so one is built (:func:`build_docker_manifest`): a Docker
image manifest, schema 2, the kind ``docker push`` writes, with the config
byte for byte and gzip-compressed layers
(:data:`DOCKER_LAYER_GZIP`, the one layer type every registry and every
runtime accepts).  Its bytes must be stable, so that a second push of the
same tarball has the same digest and finds everything already present.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import attrs

from lightsail_images._errors import ImageSourceError
from lightsail_images._validation import digest_of, is_registered_digest, shorten

__all__ = [
    "DOCKER_CONFIG",
    "DOCKER_LAYER_GZIP",
    "DOCKER_MANIFEST",
    "DOCKER_MANIFEST_LIST",
    "FOREIGN_LAYER_TYPES",
    "INDEX_TYPES",
    "LINUX_AMD64",
    "MANIFEST_TYPES",
    "MAX_CONFIG_BYTES",
    "MAX_INDEX_DEPTH",
    "MAX_INDEX_ENTRIES",
    "MAX_LAYERS",
    "MAX_MANIFEST_BYTES",
    "OCI_CONFIG",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "Descriptor",
    "Hasher",
    "IndexEntry",
    "Manifest",
    "ParsedManifest",
    "Platform",
    "build_docker_manifest",
    "check_layer_count",
    "compute_digest",
    "config_platform",
    "diff_ids",
    "index_entries",
    "json_object",
    "json_value",
    "new_hasher",
    "parse_descriptor",
    "parse_digest",
    "parse_manifest",
    "parse_platform",
]

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
_DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1"

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
# Layers a registry need not store: their bytes live at the URLs the manifest
# names, and layouts usually leave them out.
FOREIGN_LAYER_TYPES = frozenset(
    {
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    }
)

# Distribution refuses manifests over 4 MiB; configs are a few KiB.  The caps
# stop a wrong path (a layer named as the config) from filling memory.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_CONFIG_BYTES = 16 * 1024 * 1024
# Nesting of indexes followed before the layout is called malformed.
MAX_INDEX_DEPTH = 4
# Entries in one index (or images in one manifest.json).  Layouts with
# hundreds of tags exist; tens of thousands would only multiply the work.
MAX_INDEX_ENTRIES = 10_000
# Layers in one image.  Runtimes stop near 128 (overlayfs); a manifest with
# more is not an image Lightsail could run.
MAX_LAYERS = 1_000
# A size no file can have: JSON integers are unbounded, offsets are not.
_MAX_SIZE = 2**63 - 1


# -- platforms ----------------------------------------------------------------------


@attrs.frozen
class Platform:
    """An operating system and CPU architecture, as in an OCI index."""

    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        parts = [self.os, self.architecture]
        if self.variant:
            parts.append(self.variant)
        return "/".join(parts)

    def accepts(self, other: Platform) -> bool:
        """Whether an image for ``other`` runs here (a missing variant matches any)."""
        return (
            self.os == other.os
            and self.architecture == other.architecture
            and (self.variant is None or self.variant == other.variant)
        )


LINUX_AMD64 = Platform("linux", "amd64")


def parse_platform(text: str) -> Platform:
    """Parse ``"os/arch"`` or ``"os/arch/variant"``, for example ``"linux/amd64"``."""
    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"platform must look like 'linux/amd64', got {text!r}")
    return Platform(parts[0], parts[1], parts[2] if len(parts) == 3 else None)  # noqa: PLR2004


def _platform_members(value: Mapping[str, Any], where: str) -> Platform | None:
    """Read the platform from an index entry's ``platform`` or an image config's top level."""
    os_name, arch, variant = value.get("os"), value.get("architecture"), value.get("variant")
    for key, member in (("os", os_name), ("architecture", arch), ("variant", variant)):
        if member is not None and not isinstance(member, str):
            raise ImageSourceError(
                f"{where}: '{key}' must be a string, not {type(member).__name__}"
            )
    if not os_name or not arch:
        return None
    return Platform(os_name, arch, variant or None)


def config_platform(config: Mapping[str, Any], where: str) -> Platform | None:
    """Return the platform an image config declares, or ``None`` when it declares none."""
    return _platform_members(config, where)


# -- digests ------------------------------------------------------------------------


class Hasher(Protocol):
    """What :mod:`hashlib` objects offer, for the annotations that pass them around."""

    @property
    def name(self) -> str: ...

    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...

    def copy(self) -> Hasher: ...


def compute_digest(data: bytes) -> str:
    """Return the ``sha256:<hex>`` digest of ``data``."""
    return digest_of(hashlib.sha256(data))


def new_hasher(digest: str) -> Hasher:
    """Return a fresh hasher for the algorithm of ``digest`` (``sha256:...``)."""
    return hashlib.new(digest.split(":", 1)[0])


def parse_digest(value: object, where: str) -> str:
    """Check that ``value`` is a ``sha256:``/``sha512:`` digest and return it."""
    if not isinstance(value, str) or not is_registered_digest(value):
        raise ImageSourceError(f"{where}: {shorten(value)} is not a sha256 or sha512 digest")
    return value


# -- JSON ---------------------------------------------------------------------------


def json_value(data: bytes, where: str) -> object:
    """Parse JSON from a file named by ``where``, translating every parser failure."""
    try:
        return json.loads(data)
    except RecursionError as exc:
        raise ImageSourceError(
            f"{where} is JSON nested too deeply to be an image document; is this the right file?"
        ) from exc
    except ValueError as exc:  # also UnicodeDecodeError
        raise ImageSourceError(f"{where} is not valid JSON ({exc})") from exc


def json_object(data: bytes, where: str) -> dict[str, Any]:
    """Parse a JSON object from a file named by ``where``."""
    value = json_value(data, where)
    if not isinstance(value, dict):
        raise ImageSourceError(f"{where} must hold a JSON object, not {type(value).__name__}")
    return value


def _object_member(obj: Mapping[str, Any], key: str, where: str) -> dict[str, Any] | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, dict):
        raise ImageSourceError(
            f"{where}: '{key}' must be a JSON object, not {type(value).__name__}"
        )
    return value


# -- descriptors and manifests ------------------------------------------------------


@attrs.frozen
class Descriptor:
    """A content descriptor: what a blob is, its digest and its size in bytes."""

    media_type: str
    digest: str
    size: int


@attrs.frozen
class Manifest:
    """The exact bytes of an image manifest, and the media type to send them as."""

    data: bytes = attrs.field(repr=False)
    media_type: str

    @property
    def digest(self) -> str:
        """The ``sha256:`` digest of :attr:`data`."""
        return compute_digest(self.data)

    @property
    def size(self) -> int:
        """The length of :attr:`data` in bytes."""
        return len(self.data)


def parse_descriptor(value: object, where: str) -> Descriptor:
    """Check one content descriptor (``mediaType``, ``digest``, ``size``)."""
    if not isinstance(value, dict):
        raise ImageSourceError(f"{where}: a descriptor must be a JSON object")
    media_type = value.get("mediaType")
    size = value.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise ImageSourceError(f"{where}: the descriptor has no mediaType")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ImageSourceError(
            f"{where}: the descriptor's size is missing or negative ({shorten(size)})"
        )
    if size > _MAX_SIZE:
        raise ImageSourceError(f"{where}: the descriptor's size {size} is larger than any file")
    return Descriptor(media_type, parse_digest(value.get("digest"), where), size)


@attrs.frozen
class IndexEntry:
    """One entry of an image index: what it points at, for which platform, under which name."""

    descriptor: Descriptor
    platform: Platform | None
    ref_name: str | None


def index_entries(index: Mapping[str, Any], where: str) -> list[IndexEntry]:
    """Return the entries of an image index (``index.json`` or a nested index)."""
    manifests = index.get("manifests")
    if not isinstance(manifests, list):
        raise ImageSourceError(f"{where} has no 'manifests' list")
    if len(manifests) > MAX_INDEX_ENTRIES:
        raise ImageSourceError(
            f"{where} has {len(manifests)} entries, more than the {MAX_INDEX_ENTRIES} an index"
            " may have here; copy the image to push into a layout of its own"
        )
    entries = []
    for number, raw in enumerate(manifests, 1):
        here = f"{where}, manifest {number}"
        desc = parse_descriptor(raw, here)
        platform = _object_member(raw, "platform", here)
        annotations = _object_member(raw, "annotations", here) or {}
        name = annotations.get("org.opencontainers.image.ref.name")
        if name is not None and not isinstance(name, str):
            raise ImageSourceError(f"{here}: the ref.name annotation must be a string")
        entries.append(
            IndexEntry(
                desc,
                None if platform is None else _platform_members(platform, f"{here}, platform"),
                name,
            )
        )
    return entries


@attrs.frozen
class ParsedManifest:
    """What a push needs from an image manifest: its kind, config and layers."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]


def parse_manifest(data: bytes, media_type: str | None, where: str) -> ParsedManifest:
    """Parse an image manifest (OCI or Docker schema 2); refuse anything else."""
    obj = json_object(data, where)
    declared = obj.get("mediaType")
    kind = declared if isinstance(declared, str) else media_type
    if obj.get("schemaVersion") == 1 or (kind or "").startswith(_DOCKER_SCHEMA1):
        raise ImageSourceError(
            f"{where} is a Docker schema 1 manifest, which registries no longer accept; "
            "convert the image with 'skopeo copy --format v2s2' first"
        )
    if kind is None and "layers" in obj:
        kind = OCI_MANIFEST
    if kind not in MANIFEST_TYPES:
        raise ImageSourceError(f"{where} is not an image manifest (media type {kind!r})")
    layers = obj.get("layers")
    if not isinstance(layers, list):
        raise ImageSourceError(f"{where} has no list of layers")
    check_layer_count(len(layers), where)
    return ParsedManifest(
        media_type=kind,
        config=parse_descriptor(obj.get("config"), f"{where}, config"),
        layers=tuple(
            parse_descriptor(d, f"{where}, layer {number}") for number, d in enumerate(layers, 1)
        ),
    )


def check_layer_count(count: int, where: str) -> None:
    """Refuse an image that lists more than :data:`MAX_LAYERS` layers."""
    if count > MAX_LAYERS:
        raise ImageSourceError(
            f"{where} lists {count} layers, more than the {MAX_LAYERS} an image can have"
        )


def diff_ids(config: Mapping[str, Any], where: str) -> list[str]:
    """Return the uncompressed layer digests an image config lists (``rootfs.diff_ids``)."""
    rootfs = config.get("rootfs")
    found = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(found, list):
        raise ImageSourceError(f"{where} has no rootfs.diff_ids list; is it an image config?")
    check_layer_count(len(found), where)
    return [parse_digest(d, f"{where}, rootfs.diff_ids[{i}]") for i, d in enumerate(found)]


def build_docker_manifest(config: Descriptor, layers: Sequence[Descriptor]) -> Manifest:
    """Build the Docker schema 2 manifest for a ``docker save`` image."""

    def desc(d: Descriptor) -> dict[str, Any]:
        return {"mediaType": d.media_type, "size": d.size, "digest": d.digest}

    body = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": desc(config),
        "layers": [desc(d) for d in layers],
    }
    # Three-space indentation, as docker's own manifests: only cosmetic, but
    # the bytes must be stable so the digest of a re-push is the same.
    return Manifest(json.dumps(body, indent=3).encode(), DOCKER_MANIFEST)
