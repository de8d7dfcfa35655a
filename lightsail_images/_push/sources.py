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

A plain tar is never unpacked: members are read in place at their offsets,
each reader with its own file handle, so parallel uploads of layers do not
share a file position and nothing is held in memory.  A compressed tar
(``docker save | gzip``; told apart by its magic bytes) has no offsets to read
at, so it is read as a stream, twice at most: the first pass lists every
member and keeps the small ones (the JSON documents) in memory, within a
budget; once the manifest says which blobs the image needs, a second pass
copies exactly those into a temporary directory (``TMPDIR``), stopping after
the last one.

**What is pushed.**  From an OCI layout the manifest is pushed byte for byte
as it is on disk, so the digest the registry reports is the digest the layout
already records (``skopeo inspect oci:DIR`` and the registry agree).  Blobs
are pushed as stored: their digests are in that manifest and cannot change.

From a ``docker save`` tarball a Docker image manifest (schema 2) is built
(:func:`~lightsail_images._push.image.build_docker_manifest`), the same kind
``docker push`` writes: the config is pushed byte for byte, so the config
digest stays the image ID that ``docker images`` shows.  The layers are
**gzip-compressed** before upload, because:

* ``docker save`` stores layers uncompressed, and image layers compress to a
  third or less: the upload to Lightsail, usually over the user's uplink, is
  the slow part of a deployment, and every pull by the container service
  downloads less;
* ``application/vnd.docker.image.rootfs.diff.tar.gzip`` is the one layer type
  every registry and every runtime accepts; an uncompressed Docker layer
  type is not part of the Docker schema 2 contract;
* it is what ``docker push`` (and so ``lightsailctl``) would have produced.

Compression is deterministic (no timestamp, no file name, fixed level and
block size), so pushing the same tarball twice yields the same blob digests,
and the second push finds every layer already present.  Each layer is
compressed once, into a temporary file next to the others (``TMPDIR``), and
uploaded from there: its compressed digest must be known before the upload
starts (to ask the registry whether it already has it), and a retried upload
must send the same bytes again.  A layer is compressed in blocks on the
image's :class:`~lightsail_images._push.compress.Compressor`, up to
``max_workers`` threads (the deflater and hashlib release the GIL), and its
bytes are a function of that layer alone, whatever the number of threads.
Compressed digests are kept in the layer cache (``_push/cache.py``), so a
re-run does not compress a layer unless it must upload it, and the diff IDs
of an untouched tarball's layers are kept there too, so a re-run does not
hash them either.  The uncompressed bytes are hashed while compressing and must
equal the config's ``rootfs.diff_ids``; a layer that is already
gzip-compressed in the tarball is pushed as it is, after checking its diff
ID the same way.

**Which image.**  A multi-platform index is narrowed to the ``linux/amd64``
manifest Lightsail runs (nested indexes are followed), and an image for any
other platform is refused with an error that lists what the source offers.
Only that one manifest is pushed, not the index.

**Hostile sources.**  An image is a file someone handed the user, so:

* nothing outside the source is read.  In a directory every path is resolved
  (symbolic links included) and must stay under the directory, and files are
  opened without following a last link and checked to be the file that was
  looked at; a link out (a blob, ``blobs/`` itself, ``index.json``) is an
  error naming it.  In a tar, names and links that climb out are ignored;
* a compressed archive writes to disk only the blobs the manifest
  references, each after its tar header was checked against the size the
  manifest declares, so a small ``.tar.gz`` cannot fill the disk with
  members nobody asked for; and a member that declares more bytes than the
  stream holds ends the read instead of making it skip nothing forever;
* each index, manifest and config is read once (by digest), each index entry
  and nested index is followed once, and the metadata read to choose an
  image is capped (:data:`MAX_METADATA_BYTES`), so the work grows with the
  input, not with how often it refers to itself.

Every failure is an :class:`~lightsail_images.ImageSourceError` naming the
file; nothing is sent before the image has been read this far.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import posixpath
import stat
import tarfile
import tempfile
import threading
import zlib
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path
from typing import IO, Any, BinaryIO, Literal

import attrs

from lightsail_images._closing import Closing
from lightsail_images._errors import ImageSourceError, PlatformError
from lightsail_images._push.cache import CompressedDigest, FileState, LayerCache, file_state
from lightsail_images._push.compress import Compressor, Gzipped
from lightsail_images._push.image import (
    DOCKER_CONFIG,
    DOCKER_LAYER_GZIP,
    FOREIGN_LAYER_TYPES,
    INDEX_TYPES,
    LINUX_AMD64,
    MANIFEST_TYPES,
    MAX_CONFIG_BYTES,
    MAX_INDEX_DEPTH,
    MAX_INDEX_ENTRIES,
    MAX_MANIFEST_BYTES,
    OCI_CONFIG,
    Descriptor,
    Manifest,
    ParsedManifest,
    Platform,
    build_docker_manifest,
    check_layer_count,
    compute_digest,
    config_platform,
    diff_ids,
    index_entries,
    json_object,
    json_value,
    new_hasher,
    parse_digest,
    parse_manifest,
)
from lightsail_images._validation import digest_of, shorten

__all__ = [
    "GZIP_LEVEL",
    "MAX_METADATA_BYTES",
    "BlobReader",
    "LocalBlob",
    "LocalImage",
    "open_image",
]

# All index, manifest and config bytes read to choose the image.  A layout
# with many images reads each of their manifests; this bounds that, far above
# any real layout (a manifest is a few KiB).
MAX_METADATA_BYTES = 256 * 1024 * 1024
# What the first pass over a compressed archive keeps in memory: members up
# to a manifest's size, up to this much in all.
_KEEP_BUDGET = 32 * 1024 * 1024
_MAX_LINK_HOPS = 16
# Reads at the end of a compressed stream before it is called truncated;
# tarfile asks again once per 10 KiB it still expects.
_MAX_READS_AT_END = 64
_CHUNK = 1024 * 1024
# Level 4 of zlib-ng (compress.py): measured on layers of real files
# (benchmarks/bench_push.py), its output is within 1 % of the standard zlib's
# at level 4, within a few per cent of level 6's and of skopeo's (Go's pgzip
# at its default level), at about 80 MB/s per core (the standard zlib: 43 at
# level 4, 26 at level 6; zlib-ng's level 2, 111 MB/s, writes 3 % more and
# level 1 a fifth more).  Changing it changes the digests of every converted
# layer, so a second push would upload again; the level is part of the layer
# cache's key.
GZIP_LEVEL = 4

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_COMPRESSED_MAGIC = (_GZIP_MAGIC, b"BZh", b"\xfd7zXZ\x00")
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


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


# -- file sets and readers ----------------------------------------------------------


@attrs.frozen(eq=False)
class _Member:
    """Where a file's bytes are: in memory, or ``size`` bytes at ``offset`` in ``path``.

    ``identity`` is the ``(st_dev, st_ino)`` seen when the file was looked
    at; opening it checks that the same file is still there.
    """

    path: Path | None
    offset: int
    size: int
    identity: tuple[int, int] | None = None
    data: bytes | None = attrs.field(default=None, repr=False)

    @property
    def key(self) -> object:
        """The same for two names of the same bytes (a link and its target)."""
        if self.identity is None:
            return id(self)
        return (*self.identity, self.offset)


def _check_identity(fd: int, member: _Member, where: str) -> None:
    info = os.fstat(fd)
    if member.identity is not None and (info.st_dev, info.st_ino) != member.identity:
        raise ImageSourceError(
            f"{where} was replaced while the image was being read; do not change an"
            " image while it is pushed"
        )


def _open_no_follow(member: _Member, where: str) -> BinaryIO:
    assert member.path is not None  # noqa: S101 - only file members are opened
    try:
        fd = os.open(member.path, _OPEN_FLAGS)
    except OSError as exc:
        raise ImageSourceError(f"cannot read {where}: {exc.strerror or exc}") from exc
    try:
        _check_identity(fd, member, where)
        file = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    try:
        file.seek(member.offset)
    except OSError as exc:
        file.close()
        raise ImageSourceError(f"cannot read {where}: {exc.strerror or exc}") from exc
    return file


class BlobReader(Closing):
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
        if member.data is not None:
            self._file: BinaryIO = io.BytesIO(member.data)
        else:
            self._file = _open_no_follow(member, where)

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


class _Files:
    """Named files inside a source: a directory, or the members of a tar."""

    def __init__(self, label: str) -> None:
        self.label = label

    def describe(self, name: str) -> str:
        return f"{self.label}: {name}"

    def find(self, name: str) -> _Member | None:
        clean = _normalize(name)
        if clean is None:
            raise ImageSourceError(f"{self.label}: the path {shorten(name)} leaves the image")
        return self._lookup(clean)

    def _lookup(self, clean: str) -> _Member | None:
        raise NotImplementedError

    def size_of(self, name: str, what: str) -> int:
        """Return the size of ``name`` in bytes, without reading or extracting it."""
        return self.get(name, what).size

    def prefetch(self, wanted: Mapping[str, int | None]) -> None:
        """Make the named files readable; sizes given are checked first.

        Only a compressed archive has work to do: it extracts them all in one pass.
        """

    def get(self, name: str, what: str) -> _Member:
        member = self.find(name)
        if member is None:
            raise ImageSourceError(
                f"{self.label}: {what} {shorten(name)} is missing; the image is incomplete,"
                " export or copy it again"
            )
        return member

    def read_small(self, name: str, what: str, limit: int) -> bytes:
        size = self.size_of(name, what)
        if size > limit:
            raise ImageSourceError(
                f"{self.describe(name)} is {size} bytes, more than a {what} can be"
                f" ({limit}); is this the right file?"
            )
        with BlobReader(self.get(name, what), self.describe(name)) as reader:
            return reader.read()


class _Directory(_Files):
    """The files under a directory; no path may lead out of it, links included."""

    def __init__(self, root: Path) -> None:
        super().__init__(str(root))
        self._root = os.path.realpath(root)
        self._prefix = self._root if self._root.endswith(os.sep) else self._root + os.sep

    def _lookup(self, clean: str) -> _Member | None:
        path = Path(self._root, clean)
        try:
            real = os.path.realpath(path)
            if not real.startswith(self._prefix):
                raise ImageSourceError(
                    f"{self.describe(clean)} is a symbolic link to {real}, outside the image;"
                    " an image may only refer to its own files: copy it without such links"
                    " (cp -rL, or skopeo copy)"
                )
            info = Path(real).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:  # permissions, a symlink loop
            raise ImageSourceError(f"cannot read {path}: {exc.strerror or exc}") from exc
        except ValueError as exc:  # a NUL or an unencodable character in the name
            raise ImageSourceError(
                f"{self.label}: {shorten(clean)} is not a usable file name"
            ) from exc
        if not stat.S_ISREG(info.st_mode):
            return None
        return _Member(Path(real), 0, info.st_size, (info.st_dev, info.st_ino))


class _Archive(_Files):
    """The members of a tar, by name, with its hard and symbolic links."""

    def __init__(self, label: str) -> None:
        super().__init__(label)
        self.members: dict[str, _Member] = {}
        self.links: dict[str, str] = {}

    def add_link(self, name: str, info: tarfile.TarInfo) -> None:
        base = posixpath.dirname(name) if info.issym() else ""
        target = _normalize(posixpath.join(base, info.linkname))
        if target is not None:  # links out of the archive lead nowhere
            self.links[name] = target

    def resolve(self, clean: str) -> str:
        """Follow links from ``clean`` to the name of a member (or a name with none)."""
        for _ in range(_MAX_LINK_HOPS):
            target = self.links.get(clean)
            if target is None or clean in self.members:
                return clean
            clean = target
        raise ImageSourceError(f"{self.label}: too many links resolving {shorten(clean)}")

    def _lookup(self, clean: str) -> _Member | None:
        return self.members.get(self.resolve(clean))


def _tar_members(tar: tarfile.TarFile, path: Path, label: str) -> _Archive:
    """Index a plain tar: each regular member is read in place, at its offset."""
    files = _Archive(label)
    info_file = path.stat()
    identity = (info_file.st_dev, info_file.st_ino)
    for info in tar:
        name = _normalize(info.name)
        if name is None:
            continue
        files.members.pop(name, None)
        files.links.pop(name, None)
        if info.issym() or info.islnk():
            files.add_link(name, info)
        elif info.isreg() and not info.issparse():
            files.members[name] = _Member(path, info.offset_data, info.size, identity)
    return files


class _EndGuard(io.RawIOBase):
    """A file that refuses to be read at its end more than a few times.

    tarfile skips a member of a compressed stream by reading and discarding
    its declared size, a block at a time, and keeps asking after the stream
    has ended: a member declaring 10**18 bytes would have it read nothing for
    ever.  Past :data:`_MAX_READS_AT_END` empty reads this raises instead.
    """

    def __init__(self, raw: io.BufferedIOBase, label: str) -> None:
        super().__init__()
        self._raw = raw
        self._label = label
        self._at_end = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        if not data and size != 0:
            self._at_end += 1
            if self._at_end > _MAX_READS_AT_END:
                raise ImageSourceError(
                    f"{self._label} ends inside a member that declares more bytes than the"
                    " archive holds; it is truncated or corrupt, export it again"
                )
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _decompressed(raw: BinaryIO, magic: bytes) -> io.BufferedIOBase:
    """Return the plain tar inside a compressed file, decompressed as it is read.

    tarfile's own ``r|gz`` mode copies its whole buffer on every 10 KiB read,
    which makes a highly compressed member cost far more than its size; the
    standard library's file objects decompress only what each read asks for.
    """
    if magic.startswith(_GZIP_MAGIC):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if magic.startswith(b"BZh"):
        import bz2  # noqa: PLC0415 - rare; most archives are gzipped

        return bz2.BZ2File(raw)
    import lzma  # noqa: PLC0415 - rare; most archives are gzipped

    return lzma.LZMAFile(raw)


class _Stream:
    """One pass over a compressed tar, with every reader error translated."""

    def __init__(self, path: Path, label: str) -> None:
        self._label = label
        self._raw = path.open("rb")
        try:
            magic = self._raw.read(8)
            self._raw.seek(0)
            self._plain = _decompressed(self._raw, magic)
            # Closed by close(), with the files under it.
            self._tar = tarfile.open(  # noqa: SIM115
                fileobj=_EndGuard(self._plain, label), mode="r|"
            )
        except BaseException as exc:
            self._raw.close()
            raise self._translate(exc) from exc

    def _translate(self, exc: BaseException) -> BaseException:
        if isinstance(exc, (tarfile.TarError, EOFError, OSError, ValueError, zlib.error)):
            return ImageSourceError(
                f"{self._label} is not a readable compressed tar archive: {exc}; export it again"
            )
        return exc

    def members(self) -> Iterator[tuple[int, tarfile.TarInfo]]:
        try:
            yield from enumerate(self._tar)
        except BaseException as exc:
            translated = self._translate(exc)
            if translated is exc:
                raise
            raise translated from exc

    def read(self, info: tarfile.TarInfo, out: BinaryIO | None) -> bytes:
        """Read the member's bytes into ``out``, or return them when ``out`` is None."""
        try:
            src = self._tar.extractfile(info)
            assert src is not None  # noqa: S101 - regular members have data
            with src:
                if out is None:
                    return _read_exactly(src, info.size)
                left = info.size
                while left:
                    chunk = _read_exactly(src, min(_CHUNK, left))
                    out.write(chunk)
                    left -= len(chunk)
                return b""
        except BaseException as exc:
            translated = self._translate(exc)
            if translated is exc:
                raise
            raise translated from exc

    def close(self) -> None:
        self._tar.close()
        self._plain.close()
        self._raw.close()


def _read_exactly(src: IO[bytes], size: int) -> bytes:
    data = src.read(size)
    if len(data) != size:
        raise EOFError("unexpected end of data")
    return data


class _CompressedArchive(_Archive):
    """A compressed tar: small members kept from the first pass, the rest extracted on demand."""

    def __init__(self, path: Path, label: str, scratch: _Scratch) -> None:
        super().__init__(label)
        self._path = path
        self._scratch = scratch
        # name -> (position in the archive, size) of members not yet extracted
        self.pending: dict[str, tuple[int, int]] = {}

    def scan(self) -> None:
        kept = 0
        stream = _Stream(self._path, self.label)
        try:
            for number, info in stream.members():
                name = _normalize(info.name)
                if name is None:
                    continue
                self.members.pop(name, None)
                self.links.pop(name, None)
                self.pending.pop(name, None)
                if info.issym() or info.islnk():
                    self.add_link(name, info)
                elif info.isreg() and not info.issparse():
                    if info.size <= MAX_MANIFEST_BYTES and kept + info.size <= _KEEP_BUDGET:
                        data = stream.read(info, None)
                        kept += len(data)
                        self.members[name] = _Member(None, 0, len(data), data=data)
                    else:
                        self.pending[name] = (number, info.size)
        finally:
            stream.close()

    def size_of(self, name: str, what: str) -> int:
        clean = _normalize(name)
        if clean is not None:
            found = self.pending.get(self.resolve(clean))
            if found is not None:
                return found[1]
        return super().size_of(name, what)

    def _lookup(self, clean: str) -> _Member | None:
        name = self.resolve(clean)
        if name in self.pending:
            self.prefetch({name: None})
        return self.members.get(name)

    def prefetch(self, wanted: Mapping[str, int | None]) -> None:
        todo: dict[int, str] = {}
        for name, expected in wanted.items():
            clean = _normalize(name)
            found = self.pending.get(self.resolve(clean)) if clean is not None else None
            if clean is None or found is None:
                continue
            number, size = found
            if expected is not None and size != expected:
                raise ImageSourceError(
                    f"{self.describe(name)} is {size} bytes but the manifest says {expected};"
                    " the image is corrupt, copy it again"
                )
            todo[number] = self.resolve(clean)
        if not todo:
            return
        directory = self._scratch.directory()
        stream = _Stream(self._path, self.label)
        try:
            for number, info in stream.members():
                if number not in todo:
                    continue
                name = todo.pop(number)
                out = directory / f"member-{number}"
                with out.open("wb") as dst:
                    stream.read(info, dst)
                written = out.stat()
                self.members[name] = _Member(out, 0, info.size, (written.st_dev, written.st_ino))
                del self.pending[name]
                if not todo:
                    break
        except OSError as exc:
            raise ImageSourceError(
                f"cannot unpack {self.label} into {directory}: {exc.strerror or exc};"
                " point TMPDIR at a disk with more space"
            ) from exc
        finally:
            stream.close()
        if todo:
            raise ImageSourceError(f"{self.label} changed while it was read; do not change it")


def _open_files(path: Path, scratch: _Scratch) -> tuple[_Files, str]:
    """Return the source's files and a word for what the source is."""
    if path.is_dir():
        return _Directory(path), "directory"
    if not path.is_file():
        raise ImageSourceError(f"{path} does not exist; give an image directory or tarball")
    real = Path(os.path.realpath(path))
    with real.open("rb") as head:
        magic = head.read(8)
    if magic.startswith(_COMPRESSED_MAGIC):
        files = _CompressedArchive(real, str(path), scratch)
        files.scan()
        return files, "compressed tarball"
    try:
        with tarfile.open(real, "r:") as tar:
            return _tar_members(tar, real, str(path)), "tarball"
    except (tarfile.TarError, EOFError, ValueError) as exc:
        raise ImageSourceError(
            f"{path} is neither a directory nor a readable tar archive ({exc});"
            " give an OCI layout, an OCI archive or a docker save tarball"
        ) from exc


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


# -- blobs --------------------------------------------------------------------------


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
        data: bytes | None = None,
        layer_cache: LayerCache | None = None,
        compressor: Compressor | None = None,
    ) -> None:
        self._files = files
        self._name = name
        self.what = what
        self._descriptor = descriptor
        self._diff_id = diff_id
        self._scratch = scratch
        self._layer_cache = layer_cache
        self._compressor = compressor
        # Bytes already read and checked (a config): uploaded as they are.
        self._upload_from: _Member | None = (
            None if data is None else _Member(None, 0, len(data), data=data)
        )
        # A layer whose compressed digest came from the layer cache: its bytes
        # are made only if it must be uploaded (open).
        self._compress_on_open = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<LocalBlob {self.what} {self._files.describe(self._name)!r}>"

    def prepare(self, cancelled: threading.Event | None = None) -> Descriptor:
        """Return the descriptor, compressing the layer first when it must be.

        Raises:
            Cancelled: ``cancelled`` was set while the layer was being compressed.

        """
        with self._lock:
            if self._descriptor is None:
                self._descriptor = self._convert(cancelled)
            elif self._upload_from is None and not self._compress_on_open:
                member = self._files.get(self._name, self.what)
                if member.size != self._descriptor.size:
                    raise ImageSourceError(
                        f"{self._files.describe(self._name)} is {member.size} bytes but the"
                        f" manifest says {self._descriptor.size}; the image is corrupt,"
                        " copy it again"
                    )
                self._upload_from = member
            return self._descriptor

    def must_compress(self) -> bool:
        """Whether the descriptor is known only once the layer is compressed.

        Not for a config or an OCI blob (their digests are given), nor for a
        layer stored gzipped already, nor for one the layer cache knows.
        """
        with self._lock:
            if self._descriptor is not None or self._upload_from is not None:
                return False
        if self._cached() is not None:
            return False
        where = self._files.describe(self._name)
        with BlobReader(self._files.get(self._name, self.what), where) as src:
            return not src.read(len(_GZIP_MAGIC)).startswith(_GZIP_MAGIC)

    def open(self, cancelled: threading.Event | None = None) -> BlobReader:
        """Open the bytes to upload, exactly :attr:`Descriptor.size` of them."""
        descriptor = self.prepare(cancelled)
        with self._lock:
            if self._upload_from is None:  # the digest came from the layer cache
                self._upload_from = self._compress_for_upload(descriptor, cancelled)
            upload_from = self._upload_from
        return BlobReader(upload_from, self._files.describe(self._name))

    def _compress_for_upload(
        self, descriptor: Descriptor, cancelled: threading.Event | None
    ) -> _Member:
        assert self._scratch is not None  # noqa: S101 - set for docker layers
        assert self._compressor is not None  # noqa: S101 - set for docker layers
        where = self._files.describe(self._name)
        out = self._scratch.new_file()
        with BlobReader(self._files.get(self._name, self.what), where) as src:
            diff_id, digest, size = _gzip_to(src, out, self._compressor, cancelled)
        if diff_id != self._diff_id:
            raise ImageSourceError(
                f"{where} changed while it was being pushed (its uncompressed digest is now"
                f" {diff_id}); push it again once it is written"
            )
        if (digest, size) != (descriptor.digest, descriptor.size):
            where_cached = "?" if self._layer_cache is None else self._layer_cache.directory
            if self._layer_cache is not None:
                self._layer_cache.forget(diff_id)
            raise ImageSourceError(
                f"{where} compresses to {digest}, but the layer cache in {where_cached}"
                f" recorded {descriptor.digest}; the wrong entry was removed, run the"
                " push again"
            )
        return _Member(out, 0, size)

    def _convert(self, cancelled: threading.Event | None) -> Descriptor:
        # A docker save layer: compress it unless it already is compressed,
        # and check the uncompressed digest against the config's diff ID.
        assert self._diff_id is not None  # noqa: S101 - set for docker layers
        assert self._scratch is not None  # noqa: S101 - set for docker layers
        assert self._compressor is not None  # noqa: S101 - set for docker layers
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
            elif (cached := self._cached()) is not None:
                # Compressed before: check it is that layer (hashing it,
                # unless its file is untouched since it was hashed), and
                # compress it only if it must be uploaded (open).
                diff_id = self._hash(member, src)
                digest, size = cached
                self._compress_on_open = True
            else:
                state = self._file_state(member)
                out = self._scratch.new_file()
                diff_id, digest, size = _gzip_to(src, out, self._compressor, cancelled)
                self._upload_from = _Member(out, 0, size)
                if diff_id == self._diff_id and self._layer_cache is not None:
                    self._layer_cache.put(diff_id, CompressedDigest(digest, size))
                    self._remember(state, member, diff_id)
        if diff_id != self._diff_id:
            raise ImageSourceError(
                f"{where} has uncompressed digest {diff_id}, but the image config lists"
                f" diff ID {self._diff_id} for {self.what}; the tarball is corrupt or"
                " was modified, export it again with 'docker save'"
            )
        return Descriptor(DOCKER_LAYER_GZIP, digest, size)

    def _file_state(self, member: _Member) -> FileState | None:
        """Return the state of the layer's file, if the layer cache may record its diff ID by it."""
        # A compressed archive's layers are in temporary files, new every run.
        if (
            self._layer_cache is None
            or member.path is None
            or isinstance(self._files, _CompressedArchive)
        ):
            return None
        state = file_state(member.path, offset=member.offset, length=member.size)
        if state is None or (state.device, state.inode) != (member.identity or ()):
            return None
        return state

    def _remember(self, state: FileState | None, member: _Member, diff_id: str) -> None:
        # Only if the file is still as it was before it was read.
        if (
            state is not None
            and self._layer_cache is not None
            and self._file_state(member) == state
        ):
            self._layer_cache.record_hash(state, diff_id)

    def _hash(self, member: _Member, src: BlobReader) -> str:
        """Return the layer's diff ID: recorded for its file's state (``cache.py``), or hashed."""
        state = self._file_state(member)
        if state is not None and self._layer_cache is not None:
            known = self._layer_cache.hashed(state)
            if known is not None:
                return known
        diff_id = _hash_stream(src, "sha256:")
        self._remember(state, member, diff_id)
        return diff_id

    def _cached(self) -> CompressedDigest | None:
        if self._layer_cache is None or self._diff_id is None:
            return None
        return self._layer_cache.get(self._diff_id)


def _hash_stream(src: BlobReader, digest_like: str) -> str:
    hasher = new_hasher(digest_like)
    while chunk := src.read(_CHUNK):
        hasher.update(chunk)
    return digest_of(hasher)


def _gunzip_digest(src: BlobReader, where: str) -> str:
    hasher = hashlib.sha256()
    try:
        with gzip.GzipFile(fileobj=src, mode="rb") as gz:
            while chunk := gz.read(_CHUNK):
                hasher.update(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise ImageSourceError(f"{where} is not a valid gzip stream: {exc}") from exc
    return digest_of(hasher)


def _gzip_to(
    src: BlobReader, out: Path, compressor: Compressor, cancelled: threading.Event | None
) -> Gzipped:
    """Compress ``src`` into ``out`` (``compress.py``); return its diff ID, digest and size."""
    try:
        with out.open("wb") as raw:
            return compressor.gzip(src.read, raw.write, cancelled=cancelled)
    except OSError as exc:
        raise ImageSourceError(
            f"cannot write the compressed layer to {out.parent}: {exc.strerror or exc};"
            " point TMPDIR at a disk with more space"
        ) from exc


def _prepare_all(blobs: Sequence[LocalBlob], max_workers: int) -> list[Descriptor]:
    """Prepare ``blobs`` on up to ``max_workers`` threads; return their descriptors in order."""
    distinct = list({id(blob): blob for blob in blobs}.values())
    workers = max(1, min(max_workers, len(distinct)))
    if workers == 1:
        return [blob.prepare() for blob in blobs]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lightsail-compress") as pool:
        futures = [pool.submit(blob.prepare) for blob in distinct]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in futures if f in done and f.exception() is not None), None)
        if failed is not None:
            for future in futures:
                future.cancel()
            failed.result()  # raises the layer's error
    return [blob.prepare() for blob in blobs]  # each done once: these return at once


# -- the image ----------------------------------------------------------------------


SourceKind = Literal["oci-layout", "docker-archive"]


class LocalImage(Closing):
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
        compressor: Compressor | None = None,
    ) -> None:
        self.source = source
        self.kind: SourceKind = kind
        self.platform = platform
        self._config = config
        self._layers = tuple(layers)
        self._manifest = manifest
        self._scratch = scratch
        self._compressor = compressor
        distinct: dict[int, LocalBlob] = {}
        for blob in (config, *layers):
            distinct.setdefault(id(blob), blob)
        self.blobs: tuple[LocalBlob, ...] = tuple(distinct.values())

    def __repr__(self) -> str:
        return f"<LocalImage {self.kind} {str(self.source)!r} platform={self.platform}>"

    def must_compress(self) -> bool:
        """Whether some layer must be compressed before the manifest's digest is known."""
        return self._manifest is None and any(layer.must_compress() for layer in self._layers)

    def manifest(self, max_workers: int = 1) -> Manifest:
        """Return the manifest to push; for ``docker save`` this prepares every layer first.

        Up to ``max_workers`` layers are prepared at the same time (hashed, or
        compressed on the image's compressor, whose blocks share its pool of
        threads): the deflater and hashlib release the GIL while they work.
        Each layer's bytes depend only on the layer, so the digests are the same
        however many workers ran.  The first layer that fails stops the ones
        not yet started.
        """
        if self._manifest is None:
            config = self._config.prepare()
            layers = _prepare_all(self._layers, max_workers)
            self._manifest = build_docker_manifest(config, layers)
        return self._manifest

    def close(self) -> None:
        """Remove temporary files (compressed layers, an unpacked archive), stop threads."""
        try:
            if self._compressor is not None:
                self._compressor.close()
        finally:
            self._scratch.close()


def open_image(
    source: str | os.PathLike[str],
    *,
    platform: Platform = LINUX_AMD64,
    layer_cache: LayerCache | None = None,
    max_workers: int = 1,
) -> LocalImage:
    """Read an image from an OCI layout, an OCI archive or a ``docker save`` tarball.

    Only metadata is read here (index, manifest, config, sizes); layer bytes are
    read when they are uploaded.  A multi-platform index is narrowed to
    ``platform``.  ``layer_cache`` keeps the compressed digests of ``docker
    save`` layers between pushes (``_push/cache.py``).  ``docker save`` layers
    are compressed on up to ``max_workers`` threads (``_push/compress.py``);
    the bytes do not depend on it.

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
            compressor = Compressor(level=GZIP_LEVEL, workers=max_workers)
            return _open_docker_archive(
                path, files, platform, scratch, compressor, layer_cache=layer_cache
            )
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


# -- OCI layouts --------------------------------------------------------------------


@attrs.frozen
class _Candidate:
    descriptor: Descriptor
    platform: Platform | None
    ref_name: str | None


def _blob_name(digest: str) -> str:
    alg, hexpart = digest.split(":", 1)
    return f"blobs/{alg}/{hexpart}"


class _Layout:
    """The metadata of an OCI layout, each blob read at most once and within a budget."""

    def __init__(self, path: Path, files: _Files) -> None:
        self.path = path
        self.files = files
        self._read: dict[str, bytes] = {}
        self._platforms: dict[str, Platform | None] = {}
        self._left = MAX_METADATA_BYTES

    def where(self, desc: Descriptor) -> str:
        return self.files.describe(_blob_name(desc.digest))

    def blob(self, desc: Descriptor, what: str, limit: int) -> bytes:
        """Return a small blob (an index, manifest or config), checked against ``desc``."""
        data = self._read.get(desc.digest)
        if data is not None:
            return data
        name, where = _blob_name(desc.digest), self.where(desc)
        if desc.size > limit:
            raise ImageSourceError(
                f"{where}: the {what} is declared as {desc.size} bytes, more than a {what}"
                f" can be ({limit}); the layout is corrupt"
            )
        if desc.size > self._left:
            raise ImageSourceError(
                f"{self.path}: choosing the image would read more than {MAX_METADATA_BYTES}"
                " bytes of indexes, manifests and configs; copy the image to push into a"
                " layout of its own (skopeo copy oci:SRC:TAG oci:DEST:TAG)"
            )
        size = self.files.size_of(name, what)
        if size != desc.size:
            raise ImageSourceError(
                f"{where}: the {what} does not match its digest or size ({size} bytes, not"
                f" {desc.size}); the layout is corrupt, copy it again"
            )
        data = self.files.read_small(name, what, limit)
        hasher = new_hasher(desc.digest)
        hasher.update(data)
        actual = digest_of(hasher)
        if actual != desc.digest or len(data) != desc.size:
            raise ImageSourceError(
                f"{where}: the {what} does not match its digest or size ({actual},"
                f" {len(data)} bytes); the layout is corrupt, copy it again"
            )
        self._left -= len(data)
        self._read[desc.digest] = data
        return data

    def candidates(
        self, index: Mapping[str, Any], where: str, depth: int, ref: str | None, seen: set[str]
    ) -> Iterator[_Candidate]:
        """Yield the image manifests an index lists, following each nested index once."""
        if depth > MAX_INDEX_DEPTH:
            raise ImageSourceError(f"{where}: indexes nested more than {MAX_INDEX_DEPTH} deep")
        for entry in index_entries(index, where):
            desc = entry.descriptor
            name = entry.ref_name or ref
            if desc.media_type in INDEX_TYPES:
                if desc.digest in seen:
                    continue
                seen.add(desc.digest)
                nested = json_object(self.blob(desc, "image index", MAX_MANIFEST_BYTES), where)
                yield from self.candidates(nested, self.where(desc), depth + 1, name, seen)
            elif desc.media_type in MANIFEST_TYPES:
                yield _Candidate(desc, entry.platform, name)
            # Anything else (signatures, artifacts) is not an image we could run.

    def manifest(self, desc: Descriptor) -> tuple[bytes, ParsedManifest]:
        data = self.blob(desc, "manifest", MAX_MANIFEST_BYTES)
        return data, parse_manifest(data, desc.media_type, self.where(desc))

    def config(self, desc: Descriptor) -> dict[str, Any]:
        return json_object(self.blob(desc, "image config", MAX_CONFIG_BYTES), self.where(desc))

    def platform_of(self, candidate: _Candidate) -> Platform | None:
        if candidate.platform is not None:
            return candidate.platform
        # No platform in the index: the image's own config says (parsed once,
        # however many manifests share it).
        _, parsed = self.manifest(candidate.descriptor)
        digest = parsed.config.digest
        if digest not in self._platforms:
            config = self.config(parsed.config)
            self._platforms[digest] = config_platform(config, self.where(parsed.config))
        return self._platforms[digest]


def _choose(layout: _Layout, candidates: list[_Candidate], wanted: Platform) -> _Candidate:
    where = str(layout.path)
    unique = list({(c.descriptor.digest, c.platform): c for c in candidates}.values())
    if len(unique) == 1 and unique[0].platform is None:
        return unique[0]  # the config's platform is checked by the caller
    known = [(c, layout.platform_of(c)) for c in unique]
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
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")  # noqa: PLR2004
        raise ImageSourceError(
            f"{where} holds {len(by_digest)} different {wanted} images ({shown});"
            " copy the one to push into a layout of its own"
            " (skopeo copy oci:SRC:TAG oci:DEST:TAG)"
        )
    return next(iter(by_digest.values()))


def _check_platform(config: Mapping[str, Any], wanted: Platform, where: str) -> Platform | None:
    actual = config_platform(config, where)
    if actual is not None and not wanted.accepts(actual):
        raise PlatformError(
            f"{where} is a {actual} image, but Lightsail runs {wanted} containers;"
            f" rebuild it for {wanted} (docker buildx build --platform {wanted} ...)",
            wanted=str(wanted),
            available=(str(actual),),
        )
    return actual


def _open_oci_layout(path: Path, files: _Files, wanted: Platform, scratch: _Scratch) -> LocalImage:
    layout_file = json_object(
        files.read_small("oci-layout", "oci-layout file", 4096), files.describe("oci-layout")
    )
    version = layout_file.get("imageLayoutVersion")
    if not isinstance(version, str) or not version.startswith("1."):
        raise ImageSourceError(
            f"{path}: unsupported OCI image layout version {shorten(version)} (1.x is supported)"
        )
    layout = _Layout(path, files)
    where = files.describe("index.json")
    index = json_object(files.read_small("index.json", "index", MAX_MANIFEST_BYTES), where)
    candidates = list(layout.candidates(index, where, 0, None, set()))
    if not candidates:
        raise ImageSourceError(f"{where} lists no image manifest")
    chosen = _choose(layout, candidates, wanted)
    data, parsed = layout.manifest(chosen.descriptor)
    config_where = layout.where(parsed.config)
    config = layout.config(parsed.config)
    actual = _check_platform(config, wanted, str(path))
    if parsed.config.media_type in (DOCKER_CONFIG, OCI_CONFIG):
        diff_ids(config, config_where)  # an image config must list its layers
    layers_wanted: dict[str, int | None] = {}
    for desc in parsed.layers:
        name = _blob_name(desc.digest)
        if desc.media_type in FOREIGN_LAYER_TYPES and files.find(name) is None:
            continue  # stored elsewhere by design; the registry does not need it
        layers_wanted[name] = desc.size
    files.prefetch(layers_wanted)
    blobs: dict[str, LocalBlob] = {
        parsed.config.digest: LocalBlob(
            files,
            _blob_name(parsed.config.digest),
            what="image config",
            descriptor=parsed.config,
            data=layout.blob(parsed.config, "image config", MAX_CONFIG_BYTES),
        )
    }
    layers = []
    for number, desc in enumerate(parsed.layers, 1):
        name = _blob_name(desc.digest)
        if name not in layers_wanted:
            continue
        files.get(name, f"layer {number}")
        if desc.digest not in blobs:
            blobs[desc.digest] = LocalBlob(files, name, what=f"layer {number}", descriptor=desc)
        layers.append(blobs[desc.digest])
    return LocalImage(
        source=path,
        kind="oci-layout",
        platform=actual or chosen.platform,
        config=blobs[parsed.config.digest],
        layers=layers,
        manifest=Manifest(data, parsed.media_type),
        scratch=scratch,
    )


# -- docker save --------------------------------------------------------------------


@attrs.frozen
class _SavedImage:
    config_name: str
    config: dict[str, Any]
    config_bytes: bytes
    layer_names: tuple[str, ...]
    tags: tuple[str, ...]


def _string_list(value: object, where: str, what: str, *, optional: bool = False) -> list[str]:
    if value is None and optional:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ImageSourceError(f"{where}: '{what}' must be a list of strings, not {shorten(value)}")
    return value


def _saved_images(files: _Files) -> list[_SavedImage]:
    where = files.describe("manifest.json")
    entries = json_value(files.read_small("manifest.json", "manifest", MAX_MANIFEST_BYTES), where)
    if not isinstance(entries, list) or not entries:
        raise ImageSourceError(f"{where} must be a non-empty list of images")
    if len(entries) > MAX_INDEX_ENTRIES:
        raise ImageSourceError(
            f"{where} lists {len(entries)} images, more than the {MAX_INDEX_ENTRIES} read here;"
            " save only the image to push (docker save IMAGE -o FILE)"
        )
    configs: dict[object, tuple[bytes, dict[str, Any]]] = {}
    images = []
    for number, entry in enumerate(entries, 1):
        here = f"{where}: entry {number}"
        if not isinstance(entry, dict):
            raise ImageSourceError(f"{here} is not an object")
        config_name = entry.get("Config")
        if not isinstance(config_name, str) or "Layers" not in entry:
            raise ImageSourceError(f"{here} lacks 'Config' or 'Layers'")
        layers = entry.get("Layers")
        if isinstance(layers, list) and not all(isinstance(name, str) for name in layers):
            raise ImageSourceError(f"{here} has a non-string layer path")
        layers = _string_list(layers, here, "Layers")
        check_layer_count(len(layers), here)
        tags = _string_list(entry.get("RepoTags"), here, "RepoTags", optional=True)
        # The same config listed again, under any name or link, is read once.
        key = files.get(config_name, "image config").key
        if key not in configs:
            data = files.read_small(config_name, "image config", MAX_CONFIG_BYTES)
            configs[key] = (data, json_object(data, files.describe(config_name)))
        config_bytes, config = configs[key]
        images.append(
            _SavedImage(
                config_name=config_name,
                config=config,
                config_bytes=config_bytes,
                layer_names=tuple(layers),
                tags=tuple(tags),
            )
        )
    return images


def _open_docker_archive(
    path: Path,
    files: _Files,
    wanted: Platform,
    scratch: _Scratch,
    compressor: Compressor,
    *,
    layer_cache: LayerCache | None = None,
) -> LocalImage:
    images = _saved_images(files)
    known = [
        (image, config_platform(image.config, files.describe(image.config_name)))
        for image in images
    ]
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
            f"{path} holds {len(matches)} images ({'; '.join(names[:5])}); save only the"
            " image to push (docker save IMAGE -o FILE)"
        )
    image = next(iter(matches.values()))
    where = files.describe(image.config_name)
    layer_diff_ids = diff_ids(image.config, where)
    if len(layer_diff_ids) != len(image.layer_names):
        raise ImageSourceError(
            f"{where} lists {len(layer_diff_ids)} diff IDs but manifest.json lists"
            f" {len(image.layer_names)} layers; the tarball is corrupt, save it again"
        )
    config_blob = LocalBlob(
        files,
        image.config_name,
        what="image config",
        descriptor=Descriptor(
            DOCKER_CONFIG, compute_digest(image.config_bytes), len(image.config_bytes)
        ),
        data=image.config_bytes,
    )
    files.prefetch(dict.fromkeys(image.layer_names))
    layers: dict[object, LocalBlob] = {}
    ordered = []
    for number, (name, diff_id) in enumerate(
        zip(image.layer_names, layer_diff_ids, strict=True), 1
    ):
        member = files.get(name, f"layer {number}")
        # Identical layers (often empty ones, linked to each other) share one
        # blob and one upload.
        if member.key not in layers:
            layers[member.key] = LocalBlob(
                files,
                name,
                what=f"layer {number}",
                diff_id=parse_digest(diff_id, where),
                scratch=scratch,
                layer_cache=layer_cache,
                compressor=compressor,
            )
        ordered.append(layers[member.key])
    return LocalImage(
        source=path,
        kind="docker-archive",
        platform=config_platform(image.config, where),
        config=config_blob,
        layers=ordered,
        manifest=None,
        scratch=scratch,
        compressor=compressor,
    )
