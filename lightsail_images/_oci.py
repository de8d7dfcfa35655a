"""Reading a container image from disk, for a push without a Docker daemon.

Three sources are understood, told apart by their content, not their name:

* an **OCI image layout** directory (``oci-layout``, ``index.json``,
  ``blobs/<alg>/<hex>``), as written by ``skopeo copy ... oci:DIR``, buildah,
  or ``docker buildx build --output type=oci,tar=false``;
* an **OCI archive**: a tar of such a directory (``skopeo ... oci-archive:``,
  ``docker buildx build --output type=oci``);
* a **docker save tarball** (``manifest.json``, a config JSON, layer tars),
  or that tarball already unpacked into a directory.  Docker 25 and later
  write an OCI layout *and* ``manifest.json`` into the same tarball; the
  ``manifest.json`` view wins, so every ``docker save`` is pushed the same way
  whatever Docker version wrote it.

A tar may also be compressed (``docker save | gzip``); it is then unpacked, by
streaming, into a temporary directory, because a compressed tar cannot be read
at random offsets.  A plain tar is never unpacked: members are read in place
at their offsets, each reader with its own file handle, so parallel uploads of
layers do not share a file position and nothing is held in memory.

**What is pushed.**  From an OCI layout the manifest is pushed byte for byte
as it is on disk, so the digest the registry reports is the digest the layout
already records (``skopeo inspect oci:DIR`` and the registry agree).  Blobs
are pushed as stored: their digests are in that manifest and cannot change.

From a ``docker save`` tarball a Docker image manifest (schema 2) is built, the
same kind ``docker push`` writes: the config is pushed byte for byte, so the
config digest stays the image ID that ``docker images`` shows.  The layers are
**gzip-compressed** before upload, because:

* ``docker save`` stores layers uncompressed, and image layers compress to a
  third or less: the upload to Lightsail, usually over the user's uplink, is
  the slow part of a deployment, and every pull by the container service
  downloads less;
* ``application/vnd.docker.image.rootfs.diff.tar.gzip`` is the one layer type
  every registry and every runtime accepts; an uncompressed Docker layer
  type is not part of the Docker schema 2 contract;
* it is what ``docker push`` (and so ``lightsailctl``) would have produced.

Compression is deterministic (no timestamp, no file name, fixed level), so
pushing the same tarball twice yields the same blob digests, and the second
push finds every layer already present.  Each layer is compressed once, into a
temporary file next to the others (``TMPDIR``), and uploaded from there: its
compressed digest must be known before the upload starts (to ask the registry
whether it already has it), and a retried upload must send the same bytes
again.  The uncompressed bytes are hashed while compressing and must equal the
config's ``rootfs.diff_ids``; a layer that is already gzip-compressed in the
tarball is pushed as it is, after checking its diff ID the same way.

**Which image.**  Lightsail runs ``linux/amd64`` containers, so a
multi-platform index is narrowed to its ``linux/amd64`` manifest (nested
indexes are followed), and an image for any other platform is refused with an
error that lists what the source offers.  Only that one manifest is pushed, not
the index.

The parsing functions near the top are pure (bytes in, objects out); the file
handling below them is the only part that touches the disk.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import posixpath
import re
import shutil
import stat
import tarfile
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Literal, Protocol

import attrs
from typing_extensions import Self

from lightsail_images._errors import ImageSourceError, PlatformError

__all__ = [
    "DOCKER_CONFIG",
    "DOCKER_LAYER_GZIP",
    "DOCKER_MANIFEST",
    "DOCKER_MANIFEST_LIST",
    "LINUX_AMD64",
    "OCI_CONFIG",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "BlobReader",
    "Descriptor",
    "Hasher",
    "LocalBlob",
    "LocalImage",
    "Manifest",
    "Platform",
    "compute_digest",
    "new_hasher",
    "open_image",
    "parse_digest",
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

_INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
_MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
# Layers a registry need not store: their bytes live at the URLs the manifest
# names, and layouts usually leave them out.
_FOREIGN_LAYER_TYPES = frozenset(
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
# Nesting of indexes we follow before calling the layout malformed.
_MAX_INDEX_DEPTH = 4
_MAX_LINK_HOPS = 16
_CHUNK = 1024 * 1024
# zlib's default level, as ``docker push`` uses.  Changing it changes the
# digests of every converted layer, so a second push would upload again.
GZIP_LEVEL = 6

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_DIGEST = re.compile(r"(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})")


# -- pure: data and parsing -------------------------------------------------


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


def compute_digest(data: bytes) -> str:
    """Return the ``sha256:<hex>`` digest of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def parse_digest(value: object, where: str) -> str:
    """Check that ``value`` is a ``sha256:``/``sha512:`` digest and return it."""
    if not isinstance(value, str) or not _DIGEST.fullmatch(value):
        raise ImageSourceError(f"{where}: {value!r} is not a sha256 or sha512 digest")
    return value


class Hasher(Protocol):
    """What :mod:`hashlib` objects offer, for the annotations that pass them around."""

    @property
    def name(self) -> str: ...

    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...

    def copy(self) -> Hasher: ...


def new_hasher(digest: str) -> Hasher:
    """Return a fresh hasher for the algorithm of ``digest`` (``sha256:...``)."""
    return hashlib.new(digest.split(":", 1)[0])


def _json_object(data: bytes, where: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise ImageSourceError(f"{where} is not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise ImageSourceError(f"{where} must hold a JSON object, not {type(value).__name__}")
    return value


def _descriptor(value: object, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise ImageSourceError(f"{where}: a descriptor must be a JSON object")
    media_type = value.get("mediaType")
    size = value.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise ImageSourceError(f"{where}: the descriptor has no mediaType")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ImageSourceError(f"{where}: the descriptor's size is missing or negative")
    return Descriptor(media_type, parse_digest(value.get("digest"), where), size)


def _descriptor_platform(value: Mapping[str, Any]) -> Platform | None:
    platform = value.get("platform")
    if not isinstance(platform, dict):
        return None
    os_name, arch = platform.get("os"), platform.get("architecture")
    if not isinstance(os_name, str) or not isinstance(arch, str):
        return None
    variant = platform.get("variant")
    return Platform(os_name, arch, variant if isinstance(variant, str) and variant else None)


def _config_platform(config: Mapping[str, Any]) -> Platform | None:
    """Return the platform an image config declares, or ``None`` when it declares none."""
    return _descriptor_platform({"platform": config})


@attrs.frozen
class _ParsedManifest:
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]


def _parse_manifest(data: bytes, media_type: str | None, where: str) -> _ParsedManifest:
    obj = _json_object(data, where)
    declared = obj.get("mediaType")
    kind = declared if isinstance(declared, str) else media_type
    if obj.get("schemaVersion") == 1 or (kind or "").startswith(_DOCKER_SCHEMA1):
        raise ImageSourceError(
            f"{where} is a Docker schema 1 manifest, which registries no longer accept; "
            "convert the image with 'skopeo copy --format v2s2' first"
        )
    if kind is None and "layers" in obj:
        kind = OCI_MANIFEST
    if kind not in _MANIFEST_TYPES:
        raise ImageSourceError(f"{where} is not an image manifest (media type {kind!r})")
    layers = obj.get("layers")
    if not isinstance(layers, list):
        raise ImageSourceError(f"{where} has no list of layers")
    return _ParsedManifest(
        media_type=kind,
        config=_descriptor(obj.get("config"), f"{where}, config"),
        layers=tuple(_descriptor(d, f"{where}, layer {i + 1}") for i, d in enumerate(layers)),
    )


def _diff_ids(config: Mapping[str, Any], where: str) -> list[str]:
    rootfs = config.get("rootfs")
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list):
        raise ImageSourceError(f"{where} has no rootfs.diff_ids list; is it an image config?")
    return [parse_digest(d, f"{where}, rootfs.diff_ids[{i}]") for i, d in enumerate(diff_ids)]


def _build_docker_manifest(config: Descriptor, layers: Sequence[Descriptor]) -> Manifest:
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


def _normalize(name: str) -> str | None:
    """Return an archive path as a clean relative POSIX path, or ``None`` if it escapes."""
    name = name.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    if not name or name.startswith("/"):
        return None
    clean = posixpath.normpath(name)
    if clean == ".." or clean.startswith("../"):
        return None
    return clean


# -- the disk side: file sets and readers ----------------------------------


@attrs.frozen
class _Member:
    path: Path
    offset: int
    size: int


class BlobReader:
    """A read-only view of ``size`` bytes at ``offset`` in a file, with its own handle.

    Reading past the end of the view returns ``b""``; a file that ends early
    (it shrank on disk) raises :class:`ImageSourceError` rather than letting an
    HTTP request wait forever for bytes it was promised.
    """

    def __init__(self, member: _Member, where: str) -> None:
        self._where = where
        self._start = member.offset
        self._size = member.size
        self._pos = 0
        try:
            self._file: BinaryIO = member.path.open("rb")
            self._file.seek(member.offset)
        except OSError as exc:
            raise ImageSourceError(f"cannot read {where}: {exc.strerror or exc}") from exc

    def seek(self, pos: int) -> None:
        """Move to ``pos`` bytes from the start of the view."""
        if not 0 <= pos <= self._size:
            raise ValueError(f"seek to {pos} outside 0..{self._size}")
        self._file.seek(self._start + pos)
        self._pos = pos

    def read(self, n: int = -1) -> bytes:
        """Read up to ``n`` bytes (all that is left when ``n`` is negative)."""
        left = self._size - self._pos
        if n < 0 or n > left:
            n = left
        if n == 0:
            return b""
        try:
            data = self._file.read(n)
        except OSError as exc:
            raise ImageSourceError(f"cannot read {self._where}: {exc.strerror or exc}") from exc
        if not data:
            raise ImageSourceError(
                f"{self._where} ended {left} bytes early; did the file change during the push?"
            )
        self._pos += len(data)
        return data

    def close(self) -> None:
        """Close the file handle."""
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _Files:
    """Named files inside a source: a directory, or an indexed tar."""

    def __init__(
        self,
        label: str,
        *,
        root: Path | None = None,
        members: dict[str, _Member] | None = None,
        links: dict[str, str] | None = None,
    ) -> None:
        self.label = label
        self._root = root
        self._members = members or {}
        self._links = links or {}

    def describe(self, name: str) -> str:
        return f"{self.label}: {name}"

    def find(self, name: str) -> _Member | None:
        clean = _normalize(name)
        if clean is None:
            raise ImageSourceError(f"{self.label}: the path {name!r} leaves the image")
        if self._root is not None:
            path = self._root / clean
            try:
                info = path.stat()
            except (FileNotFoundError, NotADirectoryError):
                return None
            except OSError as exc:  # permissions, a symlink loop
                raise ImageSourceError(f"cannot read {path}: {exc.strerror or exc}") from exc
            return _Member(path, 0, info.st_size) if stat.S_ISREG(info.st_mode) else None
        for _ in range(_MAX_LINK_HOPS):
            member = self._members.get(clean)
            if member is not None:
                return member
            target = self._links.get(clean)
            if target is None:
                return None
            clean = target
        raise ImageSourceError(f"{self.label}: too many links resolving {name!r}")

    def get(self, name: str, what: str) -> _Member:
        member = self.find(name)
        if member is None:
            raise ImageSourceError(
                f"{self.label}: {what} {name!r} is missing; the image is incomplete,"
                " export or copy it again"
            )
        return member

    def read_small(self, name: str, what: str, limit: int) -> bytes:
        member = self.get(name, what)
        if member.size > limit:
            raise ImageSourceError(
                f"{self.describe(name)} is {member.size} bytes, more than a {what} can be"
                f" ({limit}); is this the right file?"
            )
        with BlobReader(member, self.describe(name)) as reader:
            return reader.read()


def _tar_members(tar: tarfile.TarFile, path: Path | None, extract_to: Path | None) -> _Files:
    members: dict[str, _Member] = {}
    links: dict[str, str] = {}
    for number, info in enumerate(tar):
        name = _normalize(info.name)
        if name is None:
            continue
        if info.issym():
            target = _normalize(posixpath.join(posixpath.dirname(name), info.linkname))
            if target is not None:
                links[name] = target
        elif info.islnk():
            target = _normalize(info.linkname)
            if target is not None:
                links[name] = target
        elif info.isreg() and not info.issparse():
            if extract_to is None:
                assert path is not None  # noqa: S101 - set when reading in place
                members[name] = _Member(path, info.offset_data, info.size)
            else:
                src = tar.extractfile(info)
                assert src is not None  # noqa: S101 - regular members have data
                out = extract_to / str(number)
                with src, out.open("wb") as dst:
                    shutil.copyfileobj(src, dst, _CHUNK)
                members[name] = _Member(out, 0, info.size)
    return _Files("", members=members, links=links)


def _open_files(path: Path, scratch: _Scratch) -> tuple[_Files, str]:
    """Return the source's files and a word for what the source is."""
    if path.is_dir():
        return _Files(str(path), root=path), "directory"
    if not path.is_file():
        raise ImageSourceError(f"{path} does not exist; give an image directory or tarball")
    try:
        with tarfile.open(path, "r:") as tar:
            files = _tar_members(tar, path, None)
        kind = "tarball"
    except tarfile.ReadError:
        # Not a plain tar: perhaps compressed.  Unpack it, streaming, since a
        # compressed stream has no offsets to read members at.
        try:
            with tarfile.open(path, "r|*") as tar:
                files = _tar_members(tar, None, scratch.directory())
        except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
            raise ImageSourceError(
                f"{path} is neither a directory nor a (compressed) tar archive: {exc}"
            ) from exc
        kind = "compressed tarball"
    files.label = str(path)
    return files, kind


class _Scratch:
    """A temporary directory made on first use and removed by :meth:`close`."""

    def __init__(self) -> None:
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._lock = threading.Lock()
        self._count = 0

    def directory(self) -> Path:
        with self._lock:
            if self._dir is None:
                self._dir = tempfile.TemporaryDirectory(prefix="lightsail-images-")
            return Path(self._dir.name)

    def new_file(self) -> Path:
        directory = self.directory()
        with self._lock:
            self._count += 1
            return directory / f"layer-{self._count}.tar.gz"

    def close(self) -> None:
        with self._lock:
            if self._dir is not None:
                self._dir.cleanup()
                self._dir = None


# -- blobs ------------------------------------------------------------------


class LocalBlob:
    """One blob of the image: the config or a layer.

    :meth:`prepare` returns its descriptor; for a ``docker save`` layer that
    means compressing it first, which is why it is a method (run on a worker
    thread, in parallel with other uploads) and not a field.  It is safe to
    call from several threads and does the work once.
    """

    def __init__(
        self,
        files: _Files,
        name: str,
        *,
        what: str,
        descriptor: Descriptor | None = None,
        diff_id: str | None = None,
        scratch: _Scratch | None = None,
    ) -> None:
        self._files = files
        self._name = name
        self.what = what
        self._descriptor = descriptor
        self._diff_id = diff_id
        self._scratch = scratch
        self._upload_from: _Member | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<LocalBlob {self.what} {self._files.describe(self._name)!r}>"

    def prepare(self) -> Descriptor:
        """Return the descriptor, compressing the layer first when it must be."""
        with self._lock:
            if self._descriptor is None:
                self._descriptor = self._convert()
            elif self._upload_from is None:
                member = self._files.get(self._name, self.what)
                if member.size != self._descriptor.size:
                    raise ImageSourceError(
                        f"{self._files.describe(self._name)} is {member.size} bytes but the"
                        f" manifest says {self._descriptor.size}; the image is corrupt,"
                        " copy it again"
                    )
                self._upload_from = member
            return self._descriptor

    def open(self) -> BlobReader:
        """Open the bytes to upload, exactly :attr:`Descriptor.size` of them."""
        self.prepare()
        assert self._upload_from is not None  # noqa: S101 - set by prepare
        return BlobReader(self._upload_from, self._files.describe(self._name))

    def _convert(self) -> Descriptor:
        # A docker save layer: compress it unless it already is compressed,
        # and check the uncompressed digest against the config's diff ID.
        assert self._diff_id is not None  # noqa: S101 - set for docker layers
        assert self._scratch is not None  # noqa: S101 - set for docker layers
        where = self._files.describe(self._name)
        member = self._files.get(self._name, self.what)
        with BlobReader(member, where) as src:
            magic = src.read(4)
            src.seek(0)
            if magic.startswith(_ZSTD_MAGIC):
                raise ImageSourceError(
                    f"{where} is zstd-compressed, which Docker image manifests cannot"
                    " describe; save the image without zstd compression"
                )
            if magic.startswith(_GZIP_MAGIC):
                self._upload_from = member
                digest = _hash_stream(src, "sha256:")
                src.seek(0)
                diff_id = _gunzip_digest(src, where)
                size = member.size
            else:
                out = self._scratch.new_file()
                diff_id, digest, size = _gzip_to(src, out)
                self._upload_from = _Member(out, 0, size)
        if diff_id != self._diff_id:
            raise ImageSourceError(
                f"{where} has uncompressed digest {diff_id}, but the image config lists"
                f" diff ID {self._diff_id} for {self.what}; the tarball is corrupt or"
                " was modified, export it again with 'docker save'"
            )
        return Descriptor(DOCKER_LAYER_GZIP, digest, size)


def _hash_stream(src: BlobReader, digest_like: str) -> str:
    hasher = new_hasher(digest_like)
    while chunk := src.read(_CHUNK):
        hasher.update(chunk)
    return f"{hasher.name}:{hasher.hexdigest()}"


def _gunzip_digest(src: BlobReader, where: str) -> str:
    hasher = hashlib.sha256()
    try:
        with gzip.GzipFile(fileobj=src, mode="rb") as gz:
            while chunk := gz.read(_CHUNK):
                hasher.update(chunk)
    except (OSError, EOFError) as exc:
        raise ImageSourceError(f"{where} is not a valid gzip stream: {exc}") from exc
    return "sha256:" + hasher.hexdigest()


class _HashingWriter:
    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self.hasher = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hasher.update(data)
        self.size += len(data)
        return self._out.write(data)

    def flush(self) -> None:  # part of the file protocol GzipFile expects
        self._out.flush()


def _gzip_to(src: BlobReader, out: Path) -> tuple[str, str, int]:
    """Compress ``src`` into ``out``; return (uncompressed digest, digest, size)."""
    plain = hashlib.sha256()
    try:
        with out.open("wb") as raw:
            sink = _HashingWriter(raw)
            # mtime=0 and filename="" keep the output a function of the input
            # alone, so the same layer always gets the same digest.
            with gzip.GzipFile(
                filename="",
                mode="wb",
                compresslevel=GZIP_LEVEL,
                fileobj=sink,
                mtime=0,
            ) as gz:
                while chunk := src.read(_CHUNK):
                    plain.update(chunk)
                    gz.write(chunk)
    except OSError as exc:
        raise ImageSourceError(
            f"cannot write the compressed layer to {out.parent}: {exc.strerror or exc};"
            " point TMPDIR at a disk with more space"
        ) from exc
    return "sha256:" + plain.hexdigest(), "sha256:" + sink.hasher.hexdigest(), sink.size


# -- the image --------------------------------------------------------------


SourceKind = Literal["oci-layout", "docker-archive"]


class LocalImage:
    """An image read from disk, narrowed to one platform, ready to push.

    Use as a context manager, or call :meth:`close`: converting a ``docker
    save`` tarball writes compressed layers to a temporary directory.

    Attributes:
        source: the path it was read from.
        kind: ``"oci-layout"`` (a directory or archive) or ``"docker-archive"``
            (``docker save`` output).
        platform: the platform of the chosen image, when the image says.
        blobs: the config and the distinct layers, in that order.

    """

    def __init__(
        self,
        *,
        source: Path,
        kind: SourceKind,
        platform: Platform | None,
        config: LocalBlob,
        layers: Sequence[LocalBlob],
        manifest: Manifest | None,
        scratch: _Scratch,
    ) -> None:
        self.source = source
        self.kind: SourceKind = kind
        self.platform = platform
        self._config = config
        self._layers = tuple(layers)
        self._manifest = manifest
        self._scratch = scratch
        distinct: dict[int, LocalBlob] = {}
        for blob in (config, *layers):
            distinct.setdefault(id(blob), blob)
        self.blobs: tuple[LocalBlob, ...] = tuple(distinct.values())

    def __repr__(self) -> str:
        return f"<LocalImage {self.kind} {str(self.source)!r} platform={self.platform}>"

    def manifest(self) -> Manifest:
        """Return the manifest to push; for ``docker save`` this prepares every layer first."""
        if self._manifest is None:
            config = self._config.prepare()
            layers = [blob.prepare() for blob in self._layers]
            self._manifest = _build_docker_manifest(config, layers)
        return self._manifest

    def close(self) -> None:
        """Remove temporary files (compressed layers, an unpacked archive)."""
        self._scratch.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_image(source: str | os.PathLike[str], *, platform: Platform = LINUX_AMD64) -> LocalImage:
    """Read an image from an OCI layout, an OCI archive or a ``docker save`` tarball.

    Only metadata is read here (index, manifest, config, sizes); layer bytes are
    read when they are uploaded.  A multi-platform index is narrowed to
    ``platform``.

    Raises:
        PlatformError: the source has no image for ``platform``.
        ImageSourceError: the source is missing, unreadable, or not an image.

    Example::

        with open_image("build/oci") as image:
            print(image.kind, image.platform, image.manifest().digest)

    """
    path = Path(source)
    scratch = _Scratch()
    try:
        files, shape = _open_files(path, scratch)
        if files.find("manifest.json") is not None:
            return _open_docker_archive(path, files, platform, scratch)
        if files.find("oci-layout") is not None:
            return _open_oci_layout(path, files, platform, scratch)
    except OSError as exc:
        scratch.close()
        raise ImageSourceError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except BaseException:
        scratch.close()
        raise
    scratch.close()
    raise ImageSourceError(
        f"{path} is a {shape} but not an image: it has neither 'manifest.json'"
        " (docker save) nor 'oci-layout' (OCI image layout)"
    )


# -- OCI layouts ------------------------------------------------------------


@attrs.frozen
class _Candidate:
    descriptor: Descriptor
    platform: Platform | None
    ref_name: str | None


def _blob_name(digest: str) -> str:
    alg, hexpart = digest.split(":", 1)
    return f"blobs/{alg}/{hexpart}"


def _read_blob(files: _Files, desc: Descriptor, what: str, limit: int) -> bytes:
    data = files.read_small(_blob_name(desc.digest), what, limit)
    hasher = new_hasher(desc.digest)
    hasher.update(data)
    actual = f"{hasher.name}:{hasher.hexdigest()}"
    if actual != desc.digest or len(data) != desc.size:
        raise ImageSourceError(
            f"{files.describe(_blob_name(desc.digest))}: the {what} does not match its"
            f" digest or size ({actual}, {len(data)} bytes); the layout is corrupt, copy it again"
        )
    return data


def _index_entries(index: Mapping[str, Any], where: str) -> list[tuple[Descriptor, Any]]:
    manifests = index.get("manifests")
    if not isinstance(manifests, list):
        raise ImageSourceError(f"{where} has no 'manifests' list")
    return [(_descriptor(m, f"{where}, manifest {i + 1}"), m) for i, m in enumerate(manifests)]


def _candidates(
    files: _Files, index: Mapping[str, Any], where: str, depth: int, ref: str | None
) -> Iterator[_Candidate]:
    if depth > _MAX_INDEX_DEPTH:
        raise ImageSourceError(f"{where}: indexes nested more than {_MAX_INDEX_DEPTH} deep")
    for desc, raw in _index_entries(index, where):
        annotations = raw.get("annotations")
        name = annotations.get("org.opencontainers.image.ref.name") if annotations else None
        name = name if isinstance(name, str) else ref
        if desc.media_type in _INDEX_TYPES:
            nested = _read_blob(files, desc, "image index", MAX_MANIFEST_BYTES)
            yield from _candidates(
                files, _json_object(nested, f"index {desc.digest}"), desc.digest, depth + 1, name
            )
        elif desc.media_type in _MANIFEST_TYPES:
            yield _Candidate(desc, _descriptor_platform(raw), name)
        # Anything else (signatures, artifacts) is not an image we could run.


def _choose(
    files: _Files, candidates: list[_Candidate], wanted: Platform, where: str
) -> _Candidate:
    def platform_of(c: _Candidate) -> Platform | None:
        if c.platform is not None:
            return c.platform
        # No platform in the index: the image's own config says.
        manifest = _parse_manifest(
            _read_blob(files, c.descriptor, "manifest", MAX_MANIFEST_BYTES),
            c.descriptor.media_type,
            c.descriptor.digest,
        )
        config = _json_object(
            _read_blob(files, manifest.config, "image config", MAX_CONFIG_BYTES),
            f"config {manifest.config.digest}",
        )
        return _config_platform(config)

    if len(candidates) == 1 and candidates[0].platform is None:
        return candidates[0]  # the config's platform is checked by the caller
    known = [(c, platform_of(c)) for c in candidates]
    matches = [c for c, p in known if p is None or wanted.accepts(p)]
    by_digest = {c.descriptor.digest: c for c in matches}
    if not by_digest:
        offered = tuple(sorted({str(p) for _, p in known if p is not None and p.os != "unknown"}))
        raise PlatformError(
            f"{where} has no {wanted} image; it offers {', '.join(offered) or 'no platform'}."
            f" Lightsail runs {wanted} containers: build for it"
            f" (docker buildx build --platform {wanted} ...)",
            wanted=str(wanted),
            available=offered,
        )
    if len(by_digest) > 1:
        # Prefer the baseline variant (amd64 without a variant, or v1).
        plain = [c for c, p in known if p is not None and p.variant in (None, "v1")]
        plain = [c for c in plain if c.descriptor.digest in by_digest]
        if len({c.descriptor.digest for c in plain}) == 1:
            return plain[0]
        names = sorted({c.ref_name or c.descriptor.digest for c in by_digest.values()})
        raise ImageSourceError(
            f"{where} holds {len(by_digest)} different {wanted} images ({', '.join(names)});"
            " copy the one to push into a layout of its own"
            " (skopeo copy oci:SRC:TAG oci:DEST:TAG)"
        )
    return next(iter(by_digest.values()))


def _check_platform(config: Mapping[str, Any], wanted: Platform, where: str) -> Platform | None:
    actual = _config_platform(config)
    if actual is not None and not wanted.accepts(actual):
        raise PlatformError(
            f"{where} is a {actual} image, but Lightsail runs {wanted} containers;"
            f" rebuild it for {wanted} (docker buildx build --platform {wanted} ...)",
            wanted=str(wanted),
            available=(str(actual),),
        )
    return actual


def _open_oci_layout(path: Path, files: _Files, wanted: Platform, scratch: _Scratch) -> LocalImage:
    layout = _json_object(files.read_small("oci-layout", "oci-layout file", 4096), "oci-layout")
    version = layout.get("imageLayoutVersion")
    if not isinstance(version, str) or not version.startswith("1."):
        raise ImageSourceError(
            f"{path}: unsupported OCI image layout version {version!r} (1.x is supported)"
        )
    index = _json_object(
        files.read_small("index.json", "index", MAX_MANIFEST_BYTES), f"{path}/index.json"
    )
    candidates = list(_candidates(files, index, f"{path}/index.json", 0, None))
    if not candidates:
        raise ImageSourceError(f"{path}/index.json lists no image manifest")
    chosen = _choose(files, candidates, wanted, str(path))
    data = _read_blob(files, chosen.descriptor, "manifest", MAX_MANIFEST_BYTES)
    parsed = _parse_manifest(
        data, chosen.descriptor.media_type, f"manifest {chosen.descriptor.digest}"
    )
    config_bytes = _read_blob(files, parsed.config, "image config", MAX_CONFIG_BYTES)
    config = _json_object(config_bytes, f"config {parsed.config.digest}")
    actual = _check_platform(config, wanted, str(path))
    blobs: dict[str, LocalBlob] = {}

    def blob(desc: Descriptor, what: str) -> LocalBlob:
        if desc.digest not in blobs:
            blobs[desc.digest] = LocalBlob(
                files, _blob_name(desc.digest), what=what, descriptor=desc
            )
        return blobs[desc.digest]

    config_blob = blob(parsed.config, "image config")
    layers = []
    for number, desc in enumerate(parsed.layers, 1):
        if desc.media_type in _FOREIGN_LAYER_TYPES and files.find(_blob_name(desc.digest)) is None:
            continue  # stored elsewhere by design; the registry does not need it
        files.get(_blob_name(desc.digest), f"layer {number}")
        layers.append(blob(desc, f"layer {number}"))
    return LocalImage(
        source=path,
        kind="oci-layout",
        platform=actual or chosen.platform,
        config=config_blob,
        layers=layers,
        manifest=Manifest(data, parsed.media_type),
        scratch=scratch,
    )


# -- docker save ------------------------------------------------------------


@attrs.frozen
class _SavedImage:
    config_name: str
    config: dict[str, Any]
    config_bytes: bytes
    layer_names: tuple[str, ...]
    tags: tuple[str, ...]


def _saved_images(files: _Files, path: Path) -> list[_SavedImage]:
    where = f"{path}/manifest.json"
    try:
        entries = json.loads(files.read_small("manifest.json", "manifest", MAX_MANIFEST_BYTES))
    except ValueError as exc:
        raise ImageSourceError(f"{where} is not valid JSON ({exc})") from exc
    if not isinstance(entries, list) or not entries:
        raise ImageSourceError(f"{where} must be a non-empty list of images")
    images = []
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise ImageSourceError(f"{where}: entry {number} is not an object")
        config_name, layers, tags = entry.get("Config"), entry.get("Layers"), entry.get("RepoTags")
        if not isinstance(config_name, str) or not isinstance(layers, list):
            raise ImageSourceError(f"{where}: entry {number} lacks 'Config' or 'Layers'")
        if not all(isinstance(name, str) for name in layers):
            raise ImageSourceError(f"{where}: entry {number} has a non-string layer path")
        config_bytes = files.read_small(config_name, "image config", MAX_CONFIG_BYTES)
        images.append(
            _SavedImage(
                config_name=config_name,
                config=_json_object(config_bytes, files.describe(config_name)),
                config_bytes=config_bytes,
                layer_names=tuple(layers),
                tags=tuple(t for t in tags or () if isinstance(t, str)),
            )
        )
    return images


def _open_docker_archive(
    path: Path, files: _Files, wanted: Platform, scratch: _Scratch
) -> LocalImage:
    images = _saved_images(files, path)
    known = [(image, _config_platform(image.config)) for image in images]
    matches = {
        compute_digest(image.config_bytes): image
        for image, platform in known
        if platform is None or wanted.accepts(platform)
    }
    if not matches:
        offered = tuple(sorted({str(p) for _, p in known if p is not None}))
        raise PlatformError(
            f"{path} holds no {wanted} image; it has {', '.join(offered)}. Lightsail runs"
            f" {wanted} containers: build for it (docker build --platform {wanted} ...)"
            " and save it again",
            wanted=str(wanted),
            available=offered,
        )
    if len(matches) > 1:
        names = sorted({", ".join(i.tags) or i.config_name for i in matches.values()})
        raise ImageSourceError(
            f"{path} holds {len(matches)} images ({'; '.join(names)}); save only the"
            " image to push (docker save IMAGE -o FILE)"
        )
    image = next(iter(matches.values()))
    where = files.describe(image.config_name)
    diff_ids = _diff_ids(image.config, where)
    if len(diff_ids) != len(image.layer_names):
        raise ImageSourceError(
            f"{where} lists {len(diff_ids)} diff IDs but manifest.json lists"
            f" {len(image.layer_names)} layers; the tarball is corrupt, save it again"
        )
    config_blob = LocalBlob(
        files,
        image.config_name,
        what="image config",
        descriptor=Descriptor(
            DOCKER_CONFIG, compute_digest(image.config_bytes), len(image.config_bytes)
        ),
    )
    layers: dict[str, LocalBlob] = {}
    ordered = []
    for number, (name, diff_id) in enumerate(zip(image.layer_names, diff_ids, strict=True), 1):
        member = files.get(name, f"layer {number}")
        # Identical layers (often empty ones) share one blob and one upload.
        key = f"{member.path}:{member.offset}"
        if key not in layers:
            layers[key] = LocalBlob(
                files, name, what=f"layer {number}", diff_id=diff_id, scratch=scratch
            )
        ordered.append(layers[key])
    return LocalImage(
        source=path,
        kind="docker-archive",
        platform=_config_platform(image.config),
        config=config_blob,
        layers=ordered,
        manifest=None,
        scratch=scratch,
    )
