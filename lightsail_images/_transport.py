"""Sending bytes over HTTP with ``requests``: the only module that does.

Both protocols go through here: Lightsail's API calls, and every request of a
registry push (pings, checks, token fetches, manifests, and blob uploads,
whose bodies stream from disk).  So a caller's ``http_session`` (its CA
bundle, proxies, adapters) applies to pushes exactly as to API calls.

One ``requests.Session`` per client gives connection reuse (keep-alive) and a
bounded pool; ``requests`` sessions are shared between threads routinely, and
the pool itself is thread-safe.  TLS certificates are always verified (a
session passed in by the user keeps its own ``verify`` and proxy settings).

Our own session sends each attempt straight through its adapter (the
connection pool), with what ``Session.request`` would work out on every call
worked out once per URL instead: the prepared URL, the adapter mounted for it,
and the proxies and CA bundle ``merge_environment_settings`` reads from the
environment (botocore, too, reads them once per client).  ``Session.request``
scans the whole environment twice per call, and merges session cookies and
``~/.netrc`` credentials that an AWS request never wants; that was two thirds
of a call's CPU time.  A session passed in by the user still goes through
``Session.request``, so its auth, default headers, hooks and cookies apply.

Every ``requests``/``urllib3`` exception is translated here, once, into
:class:`AttemptFailed`, which the retry loop turns into ``TransportError``.
Response bodies are read up to a cap, so a hostile or broken peer cannot make
the client hold an unbounded body in memory.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple, Protocol

import requests
import requests.adapters
import requests.utils
import urllib3
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions
from typing_extensions import Self

from lightsail_images._errors import TransportError
from lightsail_images._protocol import HttpRequest, HttpResponse
from lightsail_images._retry import Retryable

__all__ = [
    "DEADLINE_FACTOR",
    "MAX_BODY_BYTES",
    "MAX_ERROR_BODY_BYTES",
    "AttemptFailed",
    "RequestsTransport",
    "UploadBody",
]

logger = logging.getLogger("lightsail_images")

# A success body of 1,000 images is about 150 KB; 8 MiB leaves ample room.  The
# cap also bounds decoding: JSON can cost ~25 times its size as Python objects
# ('{},{},...' is 3 bytes per dict), so 64 MiB could mean 1.6 GB.
MAX_BODY_BYTES = 8 * 1024 * 1024
# Error bodies are a few hundred bytes; a proxy's HTML page may be more.
MAX_ERROR_BODY_BYTES = 64 * 1024
# A whole response (headers and capped body) must arrive within this many
# read timeouts of the request being sent; see _Deadline.
DEADLINE_FACTOR = 2


# requests adds "Accept: */*" and "Connection: keep-alive" by default; botocore
# sends neither (HTTP/1.1 keeps connections alive anyway).  A None value removes
# a session default, so our requests carry exactly botocore's headers.
_DROP_SESSION_DEFAULTS: dict[str, str | None] = {"Accept": None, "Connection": None}
# Bodies are read in blocks no larger than this: http.client sizes its buffer
# by the amount asked for when a body's length is unknown.
_READ_BLOCK = 65536
# Routes cached per (method, URL): one for each Lightsail operation, and a
# bounded number of a push's registry URLs.
_MAX_ROUTES = 64
_MISSING = object()


def _proxies_key(proxies: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(proxies.items())) if proxies else ()


class AttemptFailed(Exception):
    """One attempt got no usable HTTP response.

    ``timeout`` marks read/connect timeouts, which cost more retry quota.
    """

    def __init__(self, description: str, *, timeout: bool) -> None:
        super().__init__(description)
        self.description = description
        self.timeout = timeout

    def retryable(self, what: str, advice: str, *, registry: str | None = None) -> Retryable:
        """Turn this failure into a retry-loop signal that gives up with ``TransportError``.

        The message reads ``"<what>: <description> (after N attempts); <advice>"``.
        """

        def give_up(attempts: int) -> TransportError:
            after = f" (after {attempts} attempts)" if attempts > 1 else ""
            reason = f"{what}: {self.description}{after}"
            return TransportError(
                f"{reason}; {advice}", attempts=attempts, reason=reason, registry=registry
            )

        return Retryable(give_up, description=self.description, timeout=self.timeout)


class UploadBody(Protocol):
    """A request body streamed from disk: iterated in pieces, with a known length.

    Sent as it is iterated, in its own pieces.  A body with ``read`` would be
    read by urllib3 in 16 KiB blocks, however large its own pieces are.
    """

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[bytes]: ...


class _Route(NamedTuple):
    """What sending to one method and URL needs, worked out once."""

    prepared: requests.PreparedRequest  # only its method and URL
    adapter: requests.adapters.BaseAdapter
    settings: Mapping[str, Any]  # proxies, stream, verify, cert, from the environment


class RequestsTransport:
    """Sends :class:`HttpRequest` objects through a ``requests.Session``."""

    def __init__(
        self,
        *,
        session: requests.Session | None,
        connect_timeout: float,
        read_timeout: float,
        pool_size: int,
    ) -> None:
        self._owns_session = session is None
        # The adapter of the session we create (None for the caller's session).
        self._adapter: requests.adapters.HTTPAdapter | None = None
        if session is None:
            session = requests.Session()
            adapter = _DeadlineAdapter(
                pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0
            )
            self._adapter = adapter
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            # Proxies and CA bundles still come from the environment
            # (HTTPS_PROXY, REQUESTS_CA_BUNDLE), as with botocore.
        self._session = session
        self._timeout = (connect_timeout, read_timeout)
        self._routes: dict[tuple[str, str], _Route] = {}  # for our own session

    def send(
        self,
        request: HttpRequest,
        headers: Mapping[str, str],
        *,
        body: UploadBody | None = None,
        read_timeout: float | None = None,
    ) -> HttpResponse:
        """Send one attempt; raise :class:`AttemptFailed` when no response arrives.

        ``headers`` are sent as given (the caller's session adds its defaults);
        ``body``, when given, streams instead of ``request.body``; ``read_timeout``
        replaces the client's for this request (a registry verifying a large
        blob takes longer to answer).
        """
        data: bytes | UploadBody = request.body if body is None else body
        timeout = self._timeout if read_timeout is None else (self._timeout[0], read_timeout)
        deadline = _Deadline(timeout[1] * DEADLINE_FACTOR)
        try:
            with deadline:
                if self._owns_session:
                    response = self._send_direct(request, headers, data, timeout)
                    content = _read_direct(response.raw, _limit(response), deadline)
                else:
                    response = self._session.request(
                        request.method,
                        request.url,
                        data=data,
                        headers={**_DROP_SESSION_DEFAULTS, **headers},
                        # Explicit, so a caller's session.verify (a custom CA) is not
                        # replaced by REQUESTS_CA_BUNDLE, as requests otherwise does;
                        # with the default True, the environment's bundle still applies.
                        verify=self._session.verify,
                        # An explicit no-op auth: otherwise requests looks the host up
                        # in ~/.netrc and an entry there replaces our Authorization.
                        auth=_no_netrc_auth,
                        timeout=timeout,
                        stream=True,
                        allow_redirects=False,
                    )
                    # The caller's adapter has no deadline hook: the body, at least.
                    deadline.watch(_socket_of(response))
                    content = _read_capped(response, _limit(response), deadline)
            if deadline.expired:
                # Cut off mid-headers, http.client may take what came as all
                # there is: never trust a response the deadline ended.
                raise deadline.failure(request.url)
        except requests.exceptions.Timeout as exc:
            raise AttemptFailed(_describe(exc, request.url), timeout=True) from exc
        except (requests.exceptions.RequestException, OSError, ValueError) as exc:
            if deadline.expired:
                raise deadline.failure(request.url) from exc
            # ValueError: http.client refused a header it cannot write (a
            # session token with a line break, say); nothing was sent.
            raise AttemptFailed(_describe(exc, request.url), timeout=False) from exc
        return HttpResponse(
            status_code=response.status_code,
            # By name, so repeated headers are joined with ", " (as
            # CaseInsensitiveDict and urllib3's [] join them; urllib3's
            # items() gives each value apart).
            headers={name.lower(): response.headers[name] for name in response.headers},
            body=content,
        )

    def _send_direct(
        self,
        request: HttpRequest,
        headers: Mapping[str, str],
        body: bytes | UploadBody,
        timeout: tuple[float, float],
    ) -> requests.Response:
        route = self._routes.get((request.method, request.url)) or self._route(
            request.method, request.url
        )
        # Only our headers and body: no session defaults, cookies or netrc.
        # prepare_headers would check every header the way http.client checks
        # it again before sending it (a twentieth of a call's CPU), and
        # prepare_body, given bytes, only sets them and their length (urllib3
        # sends an iterable body piece by piece).
        prepared = requests.PreparedRequest()
        prepared.method, prepared.url = route.prepared.method, route.prepared.url
        # A plain dict: the signer's names are unique whatever their case, the
        # adapter looks up only "Content-Length" as written here, and urllib3
        # lowercases names itself; a CaseInsensitiveDict would copy each twice.
        prepared.headers = {**headers, "Content-Length": str(len(body))}  # type: ignore[assignment]  # pyright: ignore[reportAttributeAccessIssue]
        # urllib3 streams a file-like body; requests' stubs know only bytes and str.
        prepared.body = body  # type: ignore[assignment]  # pyright: ignore[reportAttributeAccessIssue]
        return route.adapter.send(prepared, timeout=timeout, **route.settings)

    def _route(self, method: str, url: str) -> _Route:
        # One route per client in practice (one endpoint, one method).  Two
        # threads racing here build equal routes; either one is right.
        prepared = requests.PreparedRequest()
        prepared.prepare_method(method)
        prepared.prepare_url(url, None)
        route = _Route(
            prepared=prepared,
            adapter=self._session.get_adapter(url),
            settings=self._session.merge_environment_settings(
                url, {}, stream=True, verify=self._session.verify, cert=None
            ),
        )
        if len(self._routes) >= _MAX_ROUTES:
            # A push's upload URLs are each used once; do not hoard them.
            self._routes.clear()
        self._routes[method, url] = route
        return route

    def close(self) -> None:
        """Close pooled connections, unless the session belongs to the caller."""
        if self._adapter is not None:
            # urllib3 2 forgets its pools on clear() and leaves closing them to
            # garbage collection, which an exception the caller still holds
            # (it references its pool) postpones: close them here, now.
            for manager in (self._adapter.poolmanager, *self._adapter.proxy_manager.values()):
                for key in manager.pools.keys():  # noqa: SIM118 - a snapshot; iter() raises
                    with contextlib.suppress(KeyError):  # evicted meanwhile
                        manager.pools[key].close()
        if self._owns_session:
            self._session.close()


def _no_netrc_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """Leave a request's own Authorization header alone (an explicit no-op auth).

    With no auth given, requests looks the host up in ``~/.netrc`` and an
    entry there replaces the header we set.
    """
    return request


def _limit(response: requests.Response) -> int:
    ok = 200 <= response.status_code < 300  # noqa: PLR2004 - the 2xx range
    return MAX_BODY_BYTES if ok else MAX_ERROR_BODY_BYTES


def _read_capped(response: requests.Response, limit: int, deadline: _Deadline) -> bytes:
    """Read at most ``limit`` bytes of a caller's session's response (any adapter's); close it."""
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(chunk_size=_READ_BLOCK):
            room = limit - size
            if len(chunk) >= room:
                chunks.append(chunk[:room])
                # The rest is not read: this connection is dropped, not reused.
                break
            chunks.append(chunk)
            size += len(chunk)
        deadline.finish()
    except requests.exceptions.ConnectionError as exc:
        # requests reports a read timeout *in the body* as a ConnectionError
        # wrapping urllib3's ReadTimeoutError; it is a timeout all the same.
        if exc.args and isinstance(exc.args[0], urllib3.exceptions.ReadTimeoutError):
            raise requests.exceptions.ReadTimeout(*exc.args, request=exc.request) from exc
        raise
    finally:
        response.close()
    return b"".join(chunks)


def _read_direct(raw: urllib3.BaseHTTPResponse, limit: int, deadline: _Deadline) -> bytes:
    """Read at most ``limit`` bytes of our own adapter's response; release its connection.

    The body ``iter_content`` would give (decoded as it decodes), read with
    urllib3's ``read`` without its two generators and ``stream`` loop, and
    urllib3's errors translated as it translates them, except that a read
    timeout in the body is a ``ReadTimeout`` (as :func:`_read_capped` makes
    it).  The connection goes back to the pool only when the body was read
    to its end, as ``requests.Response.close`` decides; a body past the cap
    is not read, and that connection is dropped.
    """
    chunks: list[bytes] = []
    size = 0
    complete = False
    # Not encoded: urllib3 gives the body's bytes as they come (no decoder).
    plain = "content-encoding" not in raw.headers
    try:
        while size < limit:
            want = min(_READ_BLOCK, limit - size)
            # The rest of a body of known length, asked for exactly: urllib3
            # then reads once, where asked for more it reads again to find
            # the end.  (Not 0: a read of nothing reads nothing.)
            remaining = raw.length_remaining
            exact = False
            if plain and remaining is not None and 0 < remaining <= want:
                want, exact = remaining, True
            chunk = raw.read(want, decode_content=True)
            chunks.append(chunk)
            size += len(chunk)
            # The end of the body: a short read (empty, or less than asked
            # for) or the exact rest, once the connection's body is closed, as
            # urllib3's stream() decides.  (Before that, a decoder may give
            # less than asked.)
            if (len(chunk) < want or exact) and raw.closed:
                complete = True
                break
        # Before the connection can go back to the pool for another request.
        deadline.finish()
    except urllib3.exceptions.ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from exc
    except urllib3.exceptions.DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from exc
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.exceptions.ReadTimeout(exc) from exc
    except urllib3.exceptions.SSLError as exc:
        raise requests.exceptions.SSLError(exc) from exc
    finally:
        if not complete:
            raw.close()
        raw.release_conn()
    return b"".join(chunks)


def _public(url: str) -> str:
    # Scheme, host and path: a registry's upload URL may carry state in its query.
    return urllib.parse.urlsplit(url)._replace(query="", fragment="").geturl()


def _describe(exc: Exception, url: str) -> str:
    url = _public(url)
    kind = {
        requests.exceptions.ConnectTimeout: "timed out connecting to",
        requests.exceptions.ReadTimeout: "timed out waiting for a response from",
        requests.exceptions.SSLError: "TLS handshake or certificate check failed for",
        requests.exceptions.ProxyError: "the proxy failed for",
        requests.exceptions.ChunkedEncodingError: "the connection broke mid-response from",
        requests.exceptions.ConnectionError: "could not connect to",
    }
    reason = _ERRNO.search(str(exc))
    detail = f" ({reason.group(0).rstrip()})" if reason else ""
    for cls, text in kind.items():
        if isinstance(exc, cls):
            return f"{text} {url}{detail}"
    return f"HTTP request to {url} failed ({type(exc).__name__}){detail}"


# urllib3 buries the OS's reason ("[Errno 111] Connection refused") deep in
# its message; that short phrase is the useful part.
_ERRNO = re.compile(r"\[Errno -?\d+\][^'\")\]]*")


# --- the deadline: a whole response within the read timeout ----------------------------
#
# requests' read timeout bounds each wait for data, so a peer that trickles a
# byte just inside it can hold a request forever.  Every request therefore
# also gets a deadline: from the moment the request is sent, the status line,
# the headers and the (capped) body must all arrive within DEADLINE_FACTOR
# times the read timeout.  (Twice, so that a peer that sends nothing is still
# reported by the read timeout, as a plain "timed out waiting for a response",
# and a slow but steady answer has room to finish.)
# When it passes, one watchdog thread shuts the connection's socket down,
# which ends the blocked read at once; the attempt then fails as a timeout
# and is retried like one.  Our own session's connections report their
# socket when they start waiting for a response (_DeadlineAdapter); through
# a caller's session, whose adapters are theirs, the deadline covers the body.


class _Deadline:
    """One request's deadline; a context manager marking the thread's current request."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._entry: _Watch | None = None

    def __enter__(self) -> Self:
        _current.deadline = self
        return self

    def __exit__(self, *_: object) -> None:
        _current.deadline = None
        self.finish()

    def watch(self, sock: socket.socket | None) -> None:
        """Start the clock (once) on the socket the response comes in on."""
        if sock is not None and self._entry is None:
            self._entry = _WATCHDOG.watch(time.monotonic() + self.seconds, sock, self)

    def failure(self, url: str) -> AttemptFailed:
        """Describe the attempt this deadline ended, as a timeout."""
        return AttemptFailed(
            f"gave up on {_public(url)}: the response did not arrive in full within"
            f" {self.seconds:g} s ({DEADLINE_FACTOR} times the read timeout)",
            timeout=True,
        )

    def finish(self) -> None:
        """Stop watching: the response is in."""
        if self._entry is not None:
            _WATCHDOG.cancel(self._entry)


class _Current(threading.local):
    deadline: _Deadline | None = None


_current = _Current()


class _Watch:
    __slots__ = ("deadline", "sock", "when")

    def __init__(self, when: float, sock: socket.socket, deadline: _Deadline) -> None:
        self.when = when
        self.sock: socket.socket | None = sock  # None once the response is in
        self.deadline = deadline


class _Watchdog:
    """One daemon thread that shuts down the sockets of requests past their deadline.

    Watching is on every request's path, so it is kept cheap: the requests
    being watched sit in a dict (added and removed in constant time, never
    more of them than there are requests in flight), and the thread sleeps
    until the earliest deadline it knew of when it last looked.  A request
    wakes it only when its own deadline is earlier than that (after an idle
    spell, or with a shorter timeout): with one read timeout, as in a loop
    of calls, a later request's deadline is never earlier, so it just joins
    the dict, and the thread, waking at the old deadline, finds the new one.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._watched: dict[int, _Watch] = {}
        # When the thread will look next (inf: when woken).  Written under the lock.
        self._wake_at = math.inf
        self._thread: threading.Thread | None = None

    def watch(self, when: float, sock: socket.socket, deadline: _Deadline) -> _Watch:
        entry = _Watch(when, sock, deadline)
        self._watched[id(entry)] = entry
        # Read after the entry is in: the thread sets _wake_at before it looks
        # at the dict, so either it sees this entry or we see its new _wake_at.
        if when < self._wake_at:
            with self._cond:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="lightsail-deadlines", daemon=True
                    )
                    self._thread.start()
                self._cond.notify()
        return entry

    def cancel(self, entry: _Watch) -> None:
        # Under the lock, so the thread never shuts a socket whose request is over.
        with self._cond:
            self._watched.pop(id(entry), None)
            entry.sock = None

    def _run(self) -> None:
        with self._cond:
            while True:
                self._wake_at = math.inf
                now = time.monotonic()
                for entry in list(self._watched.values()):
                    if entry.when > now:
                        self._wake_at = min(self._wake_at, entry.when)
                        continue
                    del self._watched[id(entry)]
                    if entry.sock is not None:
                        entry.deadline.expired = True
                        with contextlib.suppress(OSError):
                            # socket.socket's own shutdown, under an SSL socket too:
                            # it ends a read blocked in another thread at once.
                            socket.socket.shutdown(entry.sock, socket.SHUT_RDWR)
                        entry.sock = None
                self._cond.wait(None if self._wake_at == math.inf else self._wake_at - now)


_WATCHDOG = _Watchdog()


def _socket_of(response: requests.Response) -> socket.socket | None:
    connection = getattr(response.raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    return sock if isinstance(sock, socket.socket) else None


def _on_response_wait(sock: object) -> None:
    deadline = _current.deadline
    if deadline is not None and isinstance(sock, socket.socket):
        deadline.watch(sock)


class _DeadlineHTTPConnection(urllib3.connection.HTTPConnection):
    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        _on_response_wait(self.sock)
        return super().getresponse(*args, **kwargs)


class _DeadlineHTTPSConnection(urllib3.connection.HTTPSConnection):
    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        _on_response_wait(self.sock)
        return super().getresponse(*args, **kwargs)


# urllib3's stubs declare ConnectionCls as its Protocol types, which the
# concrete connection classes do not satisfy to pyright's letter.
class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection  # pyright: ignore[reportAssignmentType]


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection  # pyright: ignore[reportAssignmentType]


_DEADLINE_POOLS: dict[str, type[urllib3.HTTPConnectionPool | urllib3.HTTPSConnectionPool]] = {
    "http": _HTTPPool,
    "https": _HTTPSPool,
}


class _DeadlineAdapter(requests.adapters.HTTPAdapter):
    """Our own session's adapter: its connections start the deadline's clock.

    It also skips work that ``HTTPAdapter`` redoes for every request and that
    our requests never need (the methods below are documented as
    overridable): the pool key (the URL parsed again, a CA bundle path
    checked on disk) and the URL to send (the proxies matched, the URL parsed
    twice more) are kept per URL, as pure functions of their arguments; and
    the response's cookies and text encoding are not worked out, since our
    session's cookies are never sent and bodies are read as bytes.  Together
    a tenth of a call's CPU.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._memo: dict[tuple[Any, ...], Any] = {}

    def _remember(self, key: tuple[Any, ...], work: Callable[[], Any]) -> Any:
        value = self._memo.get(key, _MISSING)
        if value is _MISSING:
            value = work()
            if len(self._memo) >= _MAX_ROUTES:
                # A push's upload URLs are each used once; do not hoard them.
                self._memo.clear()
            self._memo[key] = value
        return value

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> Any:  # requests' own (private) TypedDicts
        host_params, pool_kwargs = self._remember(
            ("pool key", request.url, verify, cert),
            lambda: super(_DeadlineAdapter, self).build_connection_pool_key_attributes(
                request, verify, cert
            ),
        )
        # Copies: the caller may change what it gets.
        return dict(host_params), dict(pool_kwargs)

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: Any,
        proxies: Any = None,
        cert: Any = None,
    ) -> Any:  # urllib3.HTTPConnectionPool
        # HTTPAdapter's answer without working out the pool key every time:
        # the key and its context are kept per URL and settings, and the pool
        # is looked up by that key in the pool manager on every request, as
        # PoolManager.connection_from_host does last.  So a pool the manager
        # has evicted (and closed) is never used again: the manager makes a
        # new one.  Through a proxy, requests' own way every time.
        found = self._remember(
            ("pool", request.url, verify, cert, _proxies_key(proxies)),
            lambda: self._pool_key(request, verify, proxies, cert),
        )
        if found is None:
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        manager, pool_key, context = found
        if manager is not self.poolmanager:  # init_poolmanager ran again
            self._memo.clear()
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        # A copy: a new pool's construction takes entries out of it.
        return manager.connection_from_pool_key(pool_key, request_context=dict(context))

    def _pool_key(
        self, request: requests.PreparedRequest, verify: Any, proxies: Any, cert: Any
    ) -> tuple[urllib3.PoolManager, Any, dict[str, Any]] | None:
        """Work out what PoolManager.connection_from_host does before the lookup, or None.

        None (proxies, a URL requests refuses) leaves the request to requests.
        """
        if requests.utils.select_proxy(request.url or "", proxies):
            return None
        try:
            host_params, pool_kwargs = self.build_connection_pool_key_attributes(
                request, verify, cert
            )
        except ValueError:
            return None
        manager = self.poolmanager
        scheme = (host_params["scheme"] or "http").lower()
        key_function = manager.key_fn_by_scheme.get(scheme)
        if not host_params["host"] or key_function is None:
            return None
        # PoolManager._merge_pool_kwargs, then connection_from_host.
        context = dict(manager.connection_pool_kw)
        for name, value in pool_kwargs.items():
            if value is None:
                context.pop(name, None)
            else:
                context[name] = value
        context["scheme"] = host_params["scheme"] or "http"
        port = host_params["port"]
        context["port"] = (
            urllib3.connectionpool.port_by_scheme.get(scheme, 80) if port is None else port
        )
        context["host"] = host_params["host"]
        if "strict" in context:  # urllib3 warns and drops it; let it
            return None
        return manager, key_function(context), context

    def request_url(self, request: requests.PreparedRequest, proxies: Any) -> str:
        url: str = self._remember(
            ("url", request.url, _proxies_key(proxies)),
            lambda: super(_DeadlineAdapter, self).request_url(request, proxies),
        )
        return url

    def build_response(self, req: requests.PreparedRequest, resp: Any) -> requests.Response:
        # HTTPAdapter.build_response without extract_cookies_to_jar and
        # get_encoding_from_headers (see the class docstring).
        response = requests.Response()
        response.status_code = resp.status
        # urllib3's own headers, already case-insensitive: not copied into a
        # CaseInsensitiveDict (RequestsTransport.send reads them once).
        response.headers = resp.headers
        response.raw = resp
        response.reason = resp.reason
        response.url = req.url or ""
        response.request = req
        response.connection = self
        return response

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _DEADLINE_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if isinstance(manager, urllib3.PoolManager):
            manager.pool_classes_by_scheme = _DEADLINE_POOLS
        return manager
