"""The compressed digests of ``docker save`` layers, kept on disk so re-runs compress nothing.

Pushing a ``docker save`` tarball means gzip-compressing its layers, and the
manifest's digest (which says whether the image is registered already) is
only known once every layer's compressed digest is.  Compressing is most of
a push's time; a re-run of a push that turns out to be registered already
would compress everything again just to learn that.  So each layer's
compressed digest and size are kept here, and a re-run hashes each layer
(to check it is the layer the config names) instead of compressing it.  A
layer is compressed only if it must be sent.

**Key.**  One small JSON file per layer and compression setting, named by
the SHA-256 of: the entry format, the layer's uncompressed digest (its diff
ID, checked by hashing the layer before every use), the compression (gzip,
its level, and ``compress.SETTINGS``: no name, no timestamp, the block size
and how blocks are cut and flushed) and the zlib version
(``zlib.ZLIB_RUNTIME_VERSION``): another zlib may write other bytes for the
same input, so it never shares an entry.  The entry repeats every part of
its key, and is used only if they all match.  Format 1 entries (one zlib
stream per layer, before the block-parallel compression) name other bytes;
format 2 keys never match them.


**Where.**  ``$XDG_CACHE_HOME/lightsail-images/layers``, else
``~/.cache/lightsail-images/layers``; directories are created private
(``0700``).  Deleting the directory is always safe: the next push compresses
again and writes the entries back.

**Damage.**  An entry that cannot be read, is not valid JSON, or does not
match its key is ignored and written again after the next compression.  An
entry that parses and matches but names the wrong digest (edited by hand) is
caught when the layer is compressed for an upload: the compressed bytes
must have the recorded digest, or the entry is deleted and the push fails
with advice to run it again.  A cache directory that cannot be written is
no error: pushes work as if there were no cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import zlib
from pathlib import Path
from typing import NamedTuple

from lightsail_images._push.compress import SETTINGS
from lightsail_images._validation import is_registered_digest

__all__ = ["CompressedDigest", "LayerCache", "default_cache_dir"]

# 2: block-parallel gzip (compress.py); 1 was one zlib stream per layer.
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


class LayerCache:
    """Compressed digests by (diff ID, gzip level, zlib version); thread-safe, best effort."""

    def __init__(self, directory: Path | None = None, *, level: int) -> None:
        self.directory = directory if directory is not None else default_cache_dir()
        self._key = {
            "format": _FORMAT,
            "compression": SETTINGS,
            "level": level,
            "zlib": zlib.ZLIB_RUNTIME_VERSION,
        }

    def __repr__(self) -> str:
        return f"<LayerCache {str(self.directory)!r}>"

    def _path(self, diff_id: str) -> Path:
        key = json.dumps({**self._key, "diff_id": diff_id}, sort_keys=True)
        return self.directory / (hashlib.sha256(key.encode()).hexdigest() + ".json")

    def get(self, diff_id: str) -> CompressedDigest | None:
        """Return the recorded compressed digest of the layer ``diff_id``, if any and sound."""
        try:
            with self._path(diff_id).open("rb") as f:
                entry = json.loads(f.read(4096))
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or any(
            entry.get(name) != value for name, value in {**self._key, "diff_id": diff_id}.items()
        ):
            return None
        digest, size = entry.get("digest"), entry.get("size")
        if not isinstance(digest, str) or not is_registered_digest(digest):
            return None
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            return None
        return CompressedDigest(digest, size)

    def put(self, diff_id: str, compressed: CompressedDigest) -> None:
        """Record a layer's compressed digest (atomically; silently skipped if impossible)."""
        entry = {**self._key, "diff_id": diff_id, **compressed._asdict()}
        path = self._path(diff_id)
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(fd, "w") as f:
                    json.dump(entry, f, sort_keys=True)
                Path(temporary).replace(path)
            except BaseException:
                with contextlib.suppress(OSError):
                    Path(temporary).unlink()
                raise
        except OSError:
            return

    def forget(self, diff_id: str) -> None:
        """Delete the entry for ``diff_id`` (it named the wrong digest)."""
        with contextlib.suppress(OSError):
            self._path(diff_id).unlink()
