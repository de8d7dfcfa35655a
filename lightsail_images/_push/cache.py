"""What ``docker save`` pushes learn about layers, kept on disk so re-runs redo nothing.

Pushing a ``docker save`` tarball means gzip-compressing its layers, and the
manifest's digest (which says whether the image is registered already) is
only known once every layer's compressed digest is.  Compressing is most of
a push's time; a re-run of a push that turns out to be registered already
would compress everything again just to learn that.  So two kinds of small
entries are kept here:

* each layer's **compressed digest** and size, by its diff ID: a re-run
  needs no compression to know the manifest, and a layer is compressed only
  if it must be sent;
* each layer's **diff ID, by where its bytes are**: a re-run of the same
  tarball, untouched since, need not even hash the layers (to check they are
  the layers the config names).  Where is the file's real path, device,
  inode, size, modification and status-change times in nanoseconds, and the
  member's offset and length in it.  If any of those differ, the layer is
  hashed as before.  This is the trust ``make``, ``rsync`` and ``git``'s
  index place in a file's metadata: a file rewritten in place with the same
  size within one timestamp tick, or with its times forged, would be taken
  for the old one (setting ``ctime`` back needs root or the system clock).
  A layer whose bytes must be uploaded is still hashed as it is compressed
  and must match the config's diff ID.

**Key.**  One small JSON file per entry, named by the SHA-256 of its key.  A
compressed digest's key: the entry format, the layer's diff ID, the
compression (gzip, its level, and ``compress.SETTINGS``: no name, no
timestamp, the block size and how blocks are cut and flushed) and the
deflater's name and version (``compress.ENGINE``, zlib-ng's): another
version may write other bytes for the same input, so it never shares an
entry.  A diff ID's key: the entry format and the file's state above.  An
entry repeats every part of its key, and is used only if they all match.
Format 1 entries (one zlib stream per layer, before the block-parallel
compression) name other bytes; format 2 keys never match them, nor do
entries written with the standard library's zlib (keyed on ``"zlib"``, not
``"deflate"``).

**Where.**  ``$XDG_CACHE_HOME/lightsail-images/layers``, else
``~/.cache/lightsail-images/layers``; directories are created private
(``0700``).  Deleting the directory is always safe: the next push hashes and
compresses again and writes the entries back.

**Damage.**  An entry that cannot be read, is not valid JSON, or does not
match its key is ignored and written again after the next compression (or
hash).  A compressed-digest entry that parses and matches but names the
wrong digest (edited by hand) is caught when the layer is compressed for an
upload: the compressed bytes must have the recorded digest, or the entry is
deleted and the push fails with advice to run it again.  A cache directory
that cannot be written is no error: pushes work as if there were no cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

from lightsail_images._push import compress
from lightsail_images._validation import is_registered_digest

__all__ = ["CompressedDigest", "FileState", "LayerCache", "default_cache_dir", "file_state"]

# 2: block-parallel gzip (compress.py), and diff IDs by file state; 1 was one
# zlib stream per layer.
_FORMAT = 2


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/lightsail-images/layers``, else ``~/.cache/lightsail-images/layers``."""
    base = os.environ.get("XDG_CACHE_HOME") or ""
    # The XDG spec: a relative XDG_CACHE_HOME is invalid and ignored.
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    return root / "lightsail-images" / "layers"


class CompressedDigest(NamedTuple):
    """A layer's compressed digest and size."""

    digest: str
    size: int


class FileState(NamedTuple):
    """Where a layer's bytes are, and what their file looked like then."""

    path: str
    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int
    offset: int
    length: int


def file_state(path: str | os.PathLike[str], *, offset: int, length: int) -> FileState | None:
    """Return the state of ``length`` bytes at ``offset`` in ``path``, or ``None`` if unknown."""
    try:
        real = os.path.realpath(path)
        info = Path(real).stat()
    except (OSError, ValueError):
        return None
    return FileState(
        real,
        info.st_dev,
        info.st_ino,
        info.st_size,
        info.st_mtime_ns,
        info.st_ctime_ns,
        offset,
        length,
    )


class LayerCache:
    """Compressed digests by diff ID, and diff IDs by file state; thread-safe, best effort."""

    def __init__(self, directory: Path | None = None, *, level: int) -> None:
        self.directory = directory if directory is not None else default_cache_dir()
        self._key = {
            "format": _FORMAT,
            "compression": compress.SETTINGS,
            "level": level,
            "deflate": compress.ENGINE,
        }

    def __repr__(self) -> str:
        return f"<LayerCache {str(self.directory)!r}>"

    # -- entries -------------------------------------------------------------

    def _path(self, key: dict[str, Any]) -> Path:
        name = json.dumps(key, sort_keys=True)
        return self.directory / (hashlib.sha256(name.encode()).hexdigest() + ".json")

    def _load(self, key: dict[str, Any]) -> dict[str, Any] | None:
        """Return the entry for ``key`` if it is an object that repeats the whole key."""
        try:
            with self._path(key).open("rb") as f:
                entry = json.loads(f.read(4096))
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or any(
            entry.get(name) != value for name, value in key.items()
        ):
            return None
        return entry

    def _store(self, key: dict[str, Any], values: dict[str, Any]) -> None:
        """Write an entry atomically; silently skipped if impossible."""
        path = self._path(key)
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(fd, "w") as f:
                    json.dump({**key, **values}, f, sort_keys=True)
                Path(temporary).replace(path)
            except BaseException:
                with contextlib.suppress(OSError):
                    Path(temporary).unlink()
                raise
        except OSError:
            return

    # -- compressed digests --------------------------------------------------

    def get(self, diff_id: str) -> CompressedDigest | None:
        """Return the recorded compressed digest of the layer ``diff_id``, if any and sound."""
        entry = self._load({**self._key, "diff_id": diff_id})
        if entry is None:
            return None
        digest, size = entry.get("digest"), entry.get("size")
        if not isinstance(digest, str) or not is_registered_digest(digest):
            return None
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            return None
        return CompressedDigest(digest, size)

    def put(self, diff_id: str, compressed: CompressedDigest) -> None:
        """Record a layer's compressed digest (atomically; silently skipped if impossible)."""
        self._store({**self._key, "diff_id": diff_id}, compressed._asdict())

    def forget(self, diff_id: str) -> None:
        """Delete the entry for ``diff_id`` (it named the wrong digest)."""
        with contextlib.suppress(OSError):
            self._path({**self._key, "diff_id": diff_id}).unlink()

    # -- diff IDs by file state ----------------------------------------------

    @staticmethod
    def _state_key(state: FileState) -> dict[str, Any]:
        return {"format": _FORMAT, "kind": "diff ID by file state", **state._asdict()}

    def hashed(self, state: FileState) -> str | None:
        """Return the diff ID recorded for the bytes ``state`` describes, if any and sound."""
        entry = self._load(self._state_key(state))
        diff_id = None if entry is None else entry.get("diff_id")
        if not isinstance(diff_id, str) or not is_registered_digest(diff_id):
            return None
        return diff_id

    def record_hash(self, state: FileState, diff_id: str) -> None:
        """Record that the bytes ``state`` describes hash to ``diff_id``."""
        self._store(self._state_key(state), {"diff_id": diff_id})
