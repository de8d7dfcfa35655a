"""The push: ping, check each blob, upload the missing ones, store the manifest.

:func:`push_image` is what ``Client.push_container_image`` runs once it has a
registry login: ``GET /v2/``; then, for every blob in a bounded thread pool,
``HEAD`` and, unless the registry has it, an upload (``upload.py``); then the
manifest ``PUT`` and the check of the digest the registry reports.  The first
real failure calls off the other uploads, and the compression of the layers
not yet compressed.

**A pipeline.**  A ``docker save`` layer's digest is known only once it is
compressed.  One thread prepares the blobs in order (a layer's compression
uses all of the compressor's threads, ``compress.py``), and each blob's
``HEAD`` and upload start as soon as its own digest is known, while the
layers after it compress: the first upload does not wait for the last
layer, and the last layer's compression does not run alone.  The manifest,
which names every digest, comes last; ``manifest_wanted`` may then decide
that it is registered already and need not be stored.

Each of these steps is retried on its own through the client's retry loop
(``_retry.call_with_retries``) with the client's policy: ``max_attempts``
from ``ClientConfig``/``AWS_MAX_ATTEMPTS``/the profile, and the client's retry
quota.  Answers ``429`` and ``5xx`` and attempts with no answer are retried;
other ``4xx`` answers are not, they would fail the same way again.  Requests
go through the client's HTTP transport (its session, CA bundle, proxies and
the one place network errors are translated); a registry that never answers
raises :class:`~lightsail_images._errors.TransportError`, as Lightsail does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from functools import partial
from typing import Any, TypeVar

from lightsail_images._errors import RegistryError
from lightsail_images._protocol import HttpRequest, HttpResponse
from lightsail_images._push import distribution
from lightsail_images._push.auth import Authenticator, Credentials
from lightsail_images._push.distribution import Repository, origin, registry_url, retryable
from lightsail_images._push.image import Descriptor, Manifest
from lightsail_images._push.sources import LocalBlob, LocalImage
from lightsail_images._push.upload import BlobBody, BlobUpload, Cancelled
from lightsail_images._registry_models import PushedImage, PushProgress
from lightsail_images._retry import RetryPolicy, call_with_retries
from lightsail_images._transport import AttemptFailed, RequestsTransport

__all__ = ["ProgressCallback", "RegistrySession", "push_image"]

logger = logging.getLogger("lightsail_images")

T = TypeVar("T")

ProgressCallback = Callable[[PushProgress], object]

_UNREACHABLE = "is the registry up, and reachable from here?"


class RegistrySession:
    """One repository, with credentials, over the client's transport; thread-safe.

    Attributes:
        repository: what requests are built for.
        cancelled: set once the push is called off; uploads stop at their next read.

    """

    def __init__(
        self,
        repository: Repository,
        credentials: Credentials,
        *,
        transport: RequestsTransport,
        new_policy: Callable[[], RetryPolicy],
        long_read_timeout: float,
    ) -> None:
        self.repository = repository
        self._transport = transport
        self._new_policy = new_policy
        self._long_read_timeout = long_read_timeout
        self._auth = Authenticator(
            repository,
            credentials,
            lambda request, authorization: self._send(
                request, authorization, "fetching a registry token"
            ),
        )
        self.cancelled = threading.Event()

    def __repr__(self) -> str:
        return f"<RegistrySession {self.repository.base_url}/{self.repository.name}>"

    # -- one exchange --------------------------------------------------------

    def exchange(
        self,
        request: HttpRequest,
        what: str,
        *,
        body: Callable[[], BlobBody] | None = None,
        long: bool = False,
    ) -> HttpResponse:
        """Send with credentials, answering one ``401`` by (re)authenticating.

        ``body`` makes a fresh stream per send; ``long`` allows the registry
        the long read timeout (it verifies a whole blob before answering).
        """
        sent = self._auth.header_for(request.url)
        response = self._send(request, sent, what, body=body, long=long)
        if response.status_code != 401 or origin(request.url) != origin(  # noqa: PLR2004
            self.repository.base_url
        ):
            return response
        if self._auth.retry_after(response, sent):
            again = self._auth.header_for(request.url)
            response = self._send(request, again, what, body=body, long=long)
            if response.status_code != 401:  # noqa: PLR2004 - Unauthorized
                return response
        raise self._auth.refused(response, what)

    def _send(
        self,
        request: HttpRequest,
        authorization: str | None,
        what: str,
        *,
        body: Callable[[], BlobBody] | None = None,
        long: bool = False,
    ) -> HttpResponse:
        headers = dict(request.headers)
        if authorization is not None:
            headers["Authorization"] = authorization
        payload = body() if body is not None else None
        try:
            response = self._transport.send(
                request,
                headers,
                body=payload,
                read_timeout=self._long_read_timeout if long else None,
            )
        except AttemptFailed as exc:
            raise exc.retryable(
                f"{what}: no response", _UNREACHABLE, registry=origin(self.repository.base_url)[1]
            ) from exc.__cause__
        finally:
            if payload is not None:
                payload.close()
        logger.debug("%s %s -> %d", request.method, what, response.status_code)
        return response

    def failure(self, response: HttpResponse, what: str) -> Exception:
        """Return the exception for an unexpected answer: to retry, or final."""
        error, again = distribution.failure(response, what, self.repository)
        return retryable(error) if again else error

    # -- retried steps -------------------------------------------------------

    def step(self, attempt: Callable[[int], T]) -> T:
        """Run one push step under the client's retry policy."""
        return call_with_retries(attempt, self._new_policy(), before=self._check_cancelled)

    def _check_cancelled(self) -> None:
        if self.cancelled.is_set():
            raise Cancelled

    def ping(self) -> None:
        """Check that this is a registry and the credentials work (``GET /v2/``)."""
        base = self.repository.base_url

        def attempt(_: int) -> None:
            response = self.exchange(self.repository.ping(), "contacting the registry")
            if response.status_code == 200:  # noqa: PLR2004 - OK
                return
            if response.status_code == 404:  # noqa: PLR2004 - Not Found
                raise RegistryError(
                    f"{base} has no registry API at /v2/; check the registry address",
                    http_status_code=404,
                )
            raise self.failure(response, f"contacting {base}")

        self.step(attempt)

    def blob_exists(self, digest: str) -> bool:
        """Whether the repository already has this blob (``HEAD``)."""
        what = f"checking for blob {digest}"

        def attempt(_: int) -> bool:
            response = self.exchange(self.repository.blob(digest), what)
            # 307: the blob exists and is served from elsewhere (object storage).
            if response.status_code in (200, 307):
                return True
            if response.status_code == 404:  # noqa: PLR2004 - Not Found
                return False
            raise self.failure(response, what)

        return self.step(attempt)

    def put_manifest(self, manifest: Manifest, tag: str) -> None:
        """Store the manifest under ``tag`` and check the digest the registry reports."""
        what = f"storing the manifest as {self.repository.name}:{tag}"
        request = self.repository.put_manifest(tag, manifest.media_type, manifest.data)

        def attempt(_: int) -> HttpResponse:
            response = self.exchange(request, what)
            if response.status_code not in (200, 201):
                raise self.failure(response, what)
            return response

        response = self.step(attempt)
        mismatch = distribution.digest_mismatch(
            response, manifest.digest, f"the manifest {self.repository.name}:{tag}"
        )
        if mismatch is not None:
            raise mismatch


class _Progress:
    """Serialises user callbacks: one at a time, whatever thread uploads."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self._callback = callback
        self._lock = threading.Lock()

    def emit(self, event: PushProgress) -> None:
        if self._callback is not None:
            with self._lock:
                self._callback(event)


def push_image(
    image: LocalImage,
    *,
    registry: str,
    username: str,
    password: str,
    repository: str,
    tag: str,
    transport: RequestsTransport,
    new_policy: Callable[[], RetryPolicy],
    long_read_timeout: float,
    insecure_registry: bool = False,
    on_progress: ProgressCallback | None = None,
    max_workers: int = 3,
    manifest_wanted: Callable[[Manifest], bool] | None = None,
) -> PushedImage | None:
    """Push an opened image to ``registry`` as ``repository:tag``.

    ``registry``, ``username`` and ``password`` come from a registry login;
    ``transport`` and ``new_policy`` are the client's.  Once every blob is
    there, ``manifest_wanted`` (if given) is asked whether to store the
    manifest; if it says no, nothing more is sent and ``None`` is returned.

    Raises:
        RegistryAuthError: the credentials were rejected, or may not push.
        DigestMismatchError: the registry reports another digest than the one sent.
        RegistryError: the registry refused a step, or failed it after retries.
        TransportError: the registry did not answer, after retries.
        ImageSourceError: the image's bytes on disk do not match their digests.
        ConfigurationError: a plain-http registry without ``insecure_registry``.

    """
    base_url = registry_url(registry, insecure_registry=insecure_registry)
    session = RegistrySession(
        Repository(base_url, repository),
        Credentials(username, password),
        transport=transport,
        new_policy=new_policy,
        long_read_timeout=long_read_timeout,
    )
    session.ping()
    _push_blobs(session, image, _Progress(on_progress), max_workers)
    manifest = image.manifest()  # every blob is prepared: this computes nothing
    if manifest_wanted is not None and not manifest_wanted(manifest):
        return None
    session.put_manifest(manifest, tag)
    return PushedImage(
        registry=origin(base_url)[1],
        repository=repository,
        tag=tag,
        digest=manifest.digest,
        media_type=manifest.media_type,
        size=manifest.size,
    )


def _push_blob(
    session: RegistrySession, blob: LocalBlob, prepared: Future[Descriptor], progress: _Progress
) -> None:
    desc = prepared.result()
    if session.blob_exists(desc.digest):
        progress.emit(
            PushProgress(
                digest=desc.digest,
                media_type=desc.media_type,
                size=desc.size,
                sent=0,
                skipped=True,
                done=True,
            )
        )
        return
    session.step(BlobUpload(session, blob, desc, progress.emit).attempt)


def _unless_called_off(session: RegistrySession, step: Callable[[], T]) -> T:
    # A worker that fails calls the push off at once, so a blob the pool
    # starts next (before the main thread hears of the failure) sends nothing.
    if session.cancelled.is_set():
        raise Cancelled
    try:
        return step()
    except Exception:
        session.cancelled.set()
        raise


def _push_blobs(
    session: RegistrySession, image: LocalImage, progress: _Progress, max_workers: int
) -> None:
    """Prepare the blobs in order and push each once prepared; the first failure stops the rest."""
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="lightsail-prepare") as preparer,
        ThreadPoolExecutor(
            max_workers=max(1, min(max_workers, len(image.blobs))),
            thread_name_prefix="lightsail-push",
        ) as pool,
    ):
        prepared = [
            preparer.submit(_unless_called_off, session, partial(blob.prepare, session.cancelled))
            for blob in image.blobs
        ]
        futures: list[Future[Any]] = [
            *prepared,
            *(
                pool.submit(
                    _unless_called_off,
                    session,
                    partial(_push_blob, session, blob, ready, progress),
                )
                for blob, ready in zip(image.blobs, prepared, strict=True)
            ),
        ]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in futures if f in done and f.exception() is not None]
        if failed:
            session.cancelled.set()
            for future in futures:
                future.cancel()
            wait(futures)
            # Report a real failure, not a worker that stopped because of it.
            # Every future's, now that all are done: the worker that stopped
            # can finish before the one whose failure stopped it.
            failed = [f for f in futures if not f.cancelled() and f.exception() is not None]
            real = [f for f in failed if not isinstance(f.exception(), Cancelled)]
            error = (real or failed)[0].exception()
            assert error is not None  # noqa: S101 - filtered above
            raise error
