"""Deterministic gzip of one layer on several threads, the way ``pigz`` does it.

A ``docker save`` layer is sent gzip-compressed, and its compressed digest
must be the same on every run (a re-run must find the blobs present, the
layer cache must stay true).  One deflate stream is one thread, so a large
layer would keep one core busy while the others wait.  Instead the layer is
cut into blocks of ``block_size`` bytes and each block is deflated on its
own, on a pool of up to ``workers`` threads (the deflater releases the GIL):

* each block is a raw deflate stream primed with the 32 KiB that come before
  it (``zdict``), so it may refer back into the previous block exactly as one
  long stream could, and it ends with ``Z_SYNC_FLUSH`` (byte-aligned, not
  final); the last block ends with ``Z_FINISH``.  Concatenated in order they
  are one valid deflate stream;
* that stream is wrapped in one gzip member with a fixed header (no name,
  mtime 0, no extra flags, OS "unknown") and the CRC-32 and length of the
  whole layer, computed in order.

Each block's bytes depend only on its data, the 32 KiB before it, whether it
is the last, the level and the block size: never on the number of workers or
on which thread finished first, so the output is a function of the layer and
the fixed settings (:data:`SETTINGS`, part of the layer cache's key).  Memory
stays bounded: at most ``2 * workers`` blocks (and their outputs) are in
flight per layer, whatever its size.

The uncompressed bytes are hashed on the way (the layer's diff ID) and so
are the compressed ones (the blob's digest), in the calling thread.

**The deflater** is zlib-ng (the ``zlib-ng`` package, the only module that
imports it): it writes standard deflate, which every gzip reader and
registry takes, about twice as fast as the standard library's zlib at the
same level, for output within 1 % of zlib's size (measured on the layers of
``benchmarks/bench_push.py``; docs/performance.md).  Its bytes, like zlib's,
are its own: another version may write others for the same input, so its
version (:data:`ENGINE`) is part of the layer cache's key.  Reading gzip
(layers stored compressed, ``.tar.gz`` sources) stays with the standard
library.
"""

from __future__ import annotations

import hashlib
import struct
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import NamedTuple

from zlib_ng import zlib_ng

from lightsail_images._closing import Closing
from lightsail_images._validation import digest_of

__all__ = ["BLOCK_SIZE", "ENGINE", "SETTINGS", "Cancelled", "Compressor", "Gzipped"]

# 256 KiB: on this project's benchmark layers, blocks of 64 KiB to 1 MiB all
# compress at the same speed and within 0.1 % of one stream's size at the
# same level; smaller blocks mean more Python overhead per byte, larger ones
# more memory in flight and a longer tail when a layer ends.
BLOCK_SIZE = 256 * 1024
# Deflate's window: how far back a block may refer.
_WINDOW = 32 * 1024
# The fixed gzip header: magic, deflate, no flags, mtime 0, no extra flags,
# OS 255 ("unknown"), so the bytes do not depend on the machine or the time.
_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
# The deflater and its version; the bytes depend on it (the layer cache's key).
ENGINE = f"zlib-ng {zlib_ng.ZLIBNG_RUNTIME_VERSION}"
# Everything besides the level and the deflater that the bytes depend on;
# the layer cache keys its entries on it.
SETTINGS = f"gzip, no name, mtime 0, blocks of {BLOCK_SIZE} bytes primed with 32 KiB, sync flush"


class Cancelled(Exception):
    """The push was called off; compressing or uploading stops at its next block."""


class Gzipped(NamedTuple):
    """What compressing a layer found: its diff ID, and the gzip blob's digest and size."""

    diff_id: str
    digest: str
    size: int


def _deflate(level: int, data: bytes, dictionary: bytes, last: bool) -> bytes:
    if dictionary:
        deflater = zlib_ng.compressobj(
            level, zlib_ng.DEFLATED, -zlib_ng.MAX_WBITS, zlib_ng.DEF_MEM_LEVEL, 0, dictionary
        )
    else:
        deflater = zlib_ng.compressobj(
            level, zlib_ng.DEFLATED, -zlib_ng.MAX_WBITS, zlib_ng.DEF_MEM_LEVEL, 0
        )
    flush = zlib_ng.Z_FINISH if last else zlib_ng.Z_SYNC_FLUSH
    return deflater.compress(data) + deflater.flush(flush)


def _read_block(read: Callable[[int], bytes], size: int) -> bytes:
    """Read exactly ``size`` bytes, fewer only at the end: block edges never move."""
    data = read(size)
    if len(data) in (0, size):
        return data
    parts = [data]
    left = size - len(data)
    while left and (more := read(left)):
        parts.append(more)
        left -= len(more)
    return b"".join(parts)


class Compressor(Closing):
    """Gzips layers on a shared pool of up to ``workers`` threads; thread-safe.

    ``workers`` of 1 compresses in the calling thread.  The bytes are the same
    for any ``workers``.
    """

    def __init__(self, *, level: int, workers: int, block_size: int = BLOCK_SIZE) -> None:
        if block_size < 1:
            raise ValueError(f"block_size must be positive, not {block_size}")
        self.level = level
        self.workers = max(1, workers)
        self.block_size = block_size
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Compressor level={self.level} workers={self.workers}>"

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.workers, thread_name_prefix="lightsail-gzip"
                )
            return self._pool

    def gzip(
        self,
        read: Callable[[int], bytes],
        write: Callable[[bytes], object],
        *,
        cancelled: threading.Event | None = None,
    ) -> Gzipped:
        """Compress everything ``read`` returns into ``write``; return the digests.

        Raises:
            Cancelled: ``cancelled`` was set; what was written is incomplete.

        """
        plain = hashlib.sha256()
        packed = hashlib.sha256()
        crc = 0
        length = 0
        size = 0

        def emit(data: bytes) -> None:
            nonlocal size
            packed.update(data)
            size += len(data)
            write(data)

        emit(_HEADER)
        pool = self._executor() if self.workers > 1 else None
        in_flight: deque[Future[bytes]] = deque()
        window = b""
        block = _read_block(read, self.block_size)
        try:
            while True:
                if cancelled is not None and cancelled.is_set():
                    raise Cancelled
                # Read ahead: only the next read says whether this block is the last.
                following = _read_block(read, self.block_size) if block else b""
                last = not following
                plain.update(block)
                crc = zlib_ng.crc32(block, crc)
                length += len(block)
                if pool is None:
                    emit(_deflate(self.level, block, window, last))
                else:
                    in_flight.append(pool.submit(_deflate, self.level, block, window, last))
                    while len(in_flight) >= 2 * self.workers or (last and in_flight):
                        emit(in_flight.popleft().result())
                if last:
                    break
                window = block[-_WINDOW:] if len(block) >= _WINDOW else (window + block)[-_WINDOW:]
                block = following
        finally:
            for future in in_flight:
                future.cancel()
        emit(struct.pack("<II", crc & 0xFFFFFFFF, length & 0xFFFFFFFF))
        return Gzipped(digest_of(plain), digest_of(packed), size)

    def close(self) -> None:
        """Stop the pool's threads (after the blocks already given to it)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
