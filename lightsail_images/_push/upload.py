"""Uploading one blob: an upload session, and the bytes streamed from disk into it.

A blob of up to ``MONOLITHIC_MAX`` bytes goes in one ``PUT``; a larger one in
one streamed ``PATCH`` and an empty ``PUT`` (see ``distribution.py`` for why
this and not the spec's resumable chunks).  A failed attempt starts a new
session: a registry keeps no promise about a session that failed.

Bodies stream from disk in small reads; no layer is ever held in memory.  The
bytes are hashed as they are sent, and a blob whose bytes no longer match its
digest (the file changed, or the image is corrupt) fails with
:class:`~lightsail_images._errors.ImageSourceError` before the upload is
committed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from lightsail_images._errors import ImageSourceError, RegistryError
from lightsail_images._protocol import HttpResponse
from lightsail_images._push import distribution
from lightsail_images._push.compress import Cancelled
from lightsail_images._push.distribution import digest_mismatch, parse_range, resolve_location
from lightsail_images._push.image import Descriptor, Hasher, new_hasher
from lightsail_images._push.sources import LocalBlob
from lightsail_images._registry_models import PushProgress
from lightsail_images._validation import digest_of

if TYPE_CHECKING:
    from lightsail_images._push.push import RegistrySession

__all__ = ["BlobBody", "BlobUpload", "Cancelled"]

READ_SIZE = 256 * 1024
# Progress events come at most once per this many bytes of a blob.
PROGRESS_STEP = 1024 * 1024


class BlobBody:
    """A blob streamed as a request body, hashed and counted as it goes.

    ``requests`` sends an iterable with ``__len__`` as it is iterated, with a
    ``Content-Length``, so the blob never sits in memory whole.  It has no
    ``read`` on purpose: urllib3 reads a file-like body in blocks of its
    socket block size (16 KiB), which made every blob thousands of reads,
    hash updates, progress calls and ``send`` calls; iterated, it goes
    ``READ_SIZE`` at a time.
    """

    def __init__(
        self,
        blob: LocalBlob,
        *,
        length: int,
        hasher: Hasher,
        on_read: Callable[[int], None],
        cancelled: threading.Event,
    ) -> None:
        self._blob = blob
        self._reader = blob.open(cancelled)
        self._left = length
        self._length = length
        self.hasher = hasher
        self._on_read = on_read
        self._cancelled = cancelled

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        """Yield the blob ``READ_SIZE`` bytes at a time, hashing them.

        Raises:
            Cancelled: the push was called off.
            ImageSourceError: the file cannot be read, or ends early.

        """
        while self._left and (chunk := self._read(READ_SIZE)):
            yield chunk

    @property
    def complete(self) -> bool:
        """Every byte was read (and so hashed)."""
        return self._left == 0

    def _read(self, n: int) -> bytes:
        if self._cancelled.is_set():
            raise Cancelled
        n = min(n, self._left)
        try:
            data = self._reader.read(n)
        except OSError as exc:
            # Not a network failure: the file on disk cannot be read.
            raise ImageSourceError(f"cannot read {self._blob.what}: {exc.strerror or exc}") from exc
        self._left -= len(data)
        self.hasher.update(data)
        self._on_read(len(data))
        return data

    def close(self) -> None:
        """Close the file."""
        self._reader.close()


class BlobUpload:
    """One blob's upload: an attempt at a time, under the step's retry loop."""

    def __init__(
        self,
        session: RegistrySession,
        blob: LocalBlob,
        desc: Descriptor,
        emit: Callable[[PushProgress], None],
    ) -> None:
        self._session = session
        self._blob = blob
        self._desc = desc
        self._emit = emit
        self._what = f"uploading {blob.what} {desc.digest}"
        self._reported = 0

    def attempt(self, _: int) -> None:
        """Open a session and send the whole blob into it; commit it."""
        location = self._start()
        if self._desc.size <= distribution.MONOLITHIC_MAX:
            self._put(location, with_body=True)
            return
        body = self._patch(location)
        self._put(body, with_body=False)

    def _start(self) -> str:
        request = self._session.repository.start_upload()
        response = self._session.exchange(request, self._what)
        if response.status_code != 202:  # noqa: PLR2004 - Accepted
            raise self._session.failure(response, f"{self._what}: opening an upload session")
        self._report(0, force=True)
        return resolve_location(request.url, response, f"{self._what}: opening an upload session")

    def _put(self, location: str, *, with_body: bool) -> None:
        """Commit the upload: with the whole blob, or (after a PATCH) empty."""
        request = self._session.repository.put_blob(location, self._desc.digest)
        bodies: list[BlobBody] = []
        if with_body and self._desc.size:
            response = self._session.exchange(
                request, self._what, body=self._body_factory(bodies), long=True
            )
            if bodies and bodies[-1].complete:
                self._check_local(bodies[-1].hasher)
        else:
            response = self._session.exchange(request, self._what, long=True)
        if response.status_code != 201:  # noqa: PLR2004 - Created
            raise self._failure(response)
        mismatch = digest_mismatch(response, self._desc.digest, self._blob.what)
        if mismatch is not None:
            raise mismatch
        self._report(self._desc.size, done=True)

    def _patch(self, location: str) -> str:
        """Stream the whole blob in one PATCH; return where to commit it."""
        request = self._session.repository.patch(location)
        bodies: list[BlobBody] = []
        response = self._session.exchange(
            request, self._what, body=self._body_factory(bodies), long=True
        )
        # 202 is the spec's answer; ECR says 201.
        if response.status_code not in (201, 202):
            raise self._failure(response)
        # Every byte was read and hashed by now: check before committing.
        self._check_local(bodies[-1].hasher)
        held = parse_range(response.headers.get("range"))
        if held is not None and held != self._desc.size:
            raise distribution.retryable(
                RegistryError(
                    f"{self._what}: the registry holds {held} of the blob's"
                    f" {self._desc.size} bytes after the upload",
                    http_status_code=response.status_code,
                )
            )
        self._report(self._desc.size, force=True)
        if "location" not in response.headers:
            return location
        return resolve_location(location, response, self._what)

    def _failure(self, response: HttpResponse) -> Exception:
        error, again = distribution.failure(response, self._what, self._session.repository)
        # The registry lost the session (404) or disagrees about its length
        # (416): it cannot be continued, but a new one may succeed.
        if again or response.status_code in (404, 416):
            return distribution.retryable(error)
        return error

    def _body_factory(self, bodies: list[BlobBody]) -> Callable[[], BlobBody]:
        """Return a maker of a new body per send (a 401 sends again); the last is ``bodies[-1]``."""

        def make() -> BlobBody:
            counted = 0

            def on_read(n: int) -> None:
                nonlocal counted
                counted += n
                self._report(counted)

            bodies.append(
                BlobBody(
                    self._blob,
                    length=self._desc.size,
                    hasher=new_hasher(self._desc.digest),
                    on_read=on_read,
                    cancelled=self._session.cancelled,
                )
            )
            return bodies[-1]

        return make

    def _report(self, sent: int, *, done: bool = False, force: bool = False) -> None:
        if force or done or sent - self._reported >= PROGRESS_STEP or sent < self._reported:
            self._reported = sent
            self._emit(
                PushProgress(
                    digest=self._desc.digest,
                    media_type=self._desc.media_type,
                    size=self._desc.size,
                    sent=sent,
                    done=done,
                )
            )

    def _check_local(self, hasher: Hasher) -> None:
        actual = digest_of(hasher)
        if actual != self._desc.digest:
            raise ImageSourceError(
                f"{self._blob.what} should have digest {self._desc.digest} but its bytes on"
                f" disk hash to {actual}; the file changed or the image is corrupt."
                " Export or copy the image again"
            )
