"""Standard-mode retries, as in botocore's ``retries/standard.py``.

What is retried: throttling error codes (and HTTP 429), transient errors (HTTP
500/502/503/504, ``RequestTimeout*``), and attempts that got no response at
all.  Nothing else: a 4xx error will fail the same way again.

How long to wait: full-jitter exponential backoff, ``random() * min(2 ** (n - 1), 20)``
seconds before retry ``n``.

How much to retry: a client-wide quota of 500 units.  A retry costs 5 units
(10 after a timeout); a call that succeeds first time refunds 1; a call that
succeeds after retries refunds its last retry's cost.  Under a sustained outage
the quota drains and calls fail after one attempt instead of multiplying load.

One loop runs every retried step, :func:`call_with_retries`: a Lightsail API
call, ``ensure_container_image``'s check-then-register, and each step of a
registry push (ping, blob check, upload, manifest).  A step's attempt raises
:class:`Retryable` for a failure worth another attempt, carrying the exception
to raise if none is left; anything else it raises ends the step at once.  The
policy (``max_attempts`` from ``ClientConfig``, ``AWS_MAX_ATTEMPTS`` or the
profile, and the client's quota) is the client's, whatever the step.

``set_testing(True)`` turns the backoff sleeps off, for test suites.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Generator, Mapping
from typing import TypeVar

from lightsail_images._errors import ServiceError

__all__ = [
    "INITIAL_QUOTA",
    "MAX_BACKOFF",
    "RetryPolicy",
    "RetryQuota",
    "Retryable",
    "call_with_retries",
    "clock_skew",
    "is_retryable",
    "is_testing",
    "set_testing",
    "sleep",
]

logger = logging.getLogger("lightsail_images")

T = TypeVar("T")

MAX_BACKOFF = 20.0
INITIAL_QUOTA = 500
RETRY_COST = 5
TIMEOUT_RETRY_COST = 10
NO_RETRY_INCREMENT = 1

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
TRANSIENT_CODES = frozenset(
    {"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"}
)
TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
THROTTLING_STATUS = 429


def is_retryable(error: ServiceError) -> bool:
    """Whether a service error is worth another attempt (throttling or transient)."""
    return (
        error.code in THROTTLING_CODES
        or error.code in TRANSIENT_CODES
        or error.http_status_code in TRANSIENT_STATUS
        or error.http_status_code == THROTTLING_STATUS
    )


# Errors that name a clock problem outright, and errors that may hide one (a
# signature that "does not match" because it was computed for the wrong time).
CLOCK_SKEW_CODES = frozenset(
    {
        "RequestTimeTooSkewed",
        "RequestExpired",
        "RequestInTheFuture",
        "RequestTimeTooSkewedException",
    }
)
AUTH_ERROR_CODES = frozenset(
    {"InvalidSignatureException", "SignatureDoesNotMatch", "AuthFailure", "InvalidSignature"}
)
# SigV4 accepts signatures within 5 minutes of the server's time; a smaller
# difference cannot be what made the request fail.
SKEW_TOLERANCE = dt.timedelta(minutes=4)
# Server times worth adopting.  A Date header outside this range is broken or
# hostile, and signing at such a time would overflow datetime arithmetic.
SANE_SERVER_TIMES = (
    dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc),
    dt.datetime(9000, 1, 1, tzinfo=dt.timezone.utc),
)


def clock_skew(
    code: str,
    headers: Mapping[str, str],
    local_now: dt.datetime,
    *,
    signed_offset: dt.timedelta = dt.timedelta(0),
) -> dt.timedelta | None:
    """Return how far the server's clock is ahead of ours, if that explains the error.

    The server's time comes from the response's ``Date`` header.  For an
    outright clock error the offset is returned whatever its size; for a
    signature error only when the request's signing time (``local_now`` plus
    the ``signed_offset`` it was signed with) is more than the 4-minute
    tolerance away from it, so a real signature problem (a wrong secret) is
    not mistaken for skew, and an offset adopted earlier can be dropped again
    once the clocks agree.
    """
    if code not in CLOCK_SKEW_CODES and code not in AUTH_ERROR_CODES:
        return None
    raw = headers.get("date")
    if not raw:
        return None
    try:
        server_now = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if server_now.tzinfo is None:
        server_now = server_now.replace(tzinfo=dt.timezone.utc)
    if not SANE_SERVER_TIMES[0] <= server_now <= SANE_SERVER_TIMES[1]:
        return None
    offset = server_now - local_now
    if code in AUTH_ERROR_CODES and abs(offset - signed_offset) <= SKEW_TOLERANCE:
        return None
    return offset


class RetryQuota:
    """The client-wide retry budget, shared by every thread using the client."""

    def __init__(self, capacity: int = INITIAL_QUOTA) -> None:
        self._max = capacity
        self._available = capacity
        self._lock = threading.Lock()

    @property
    def available(self) -> int:
        """Units left right now."""
        return self._available

    def acquire(self, amount: int) -> bool:
        """Take ``amount`` units if there are enough; return whether it did."""
        with self._lock:
            if amount > self._available:
                return False
            self._available -= amount
            return True

    def release(self, amount: int) -> None:
        """Give units back, never above the initial capacity."""
        with self._lock:
            self._available = min(self._available + amount, self._max)


class RetryPolicy:
    """Decides, attempt by attempt, whether and when to retry one call."""

    def __init__(
        self,
        *,
        max_attempts: int,
        quota: RetryQuota,
        rand: Callable[[], float] | None = None,
    ) -> None:
        self.max_attempts = max_attempts
        self._quota = quota
        self._rand = rand or _random

    def delay(self, attempt: int, *, retryable: bool, timeout: bool) -> float | None:
        """Return seconds to wait before the next attempt, or ``None`` to stop.

        ``attempt`` is the 1-based number of the attempt that just failed.  A
        granted retry takes its cost from the quota; :meth:`succeeded` refunds it.
        """
        if not retryable or attempt >= self.max_attempts:
            return None
        cost = TIMEOUT_RETRY_COST if timeout else RETRY_COST
        if not self._quota.acquire(cost):
            return None
        self._last_cost = cost
        return self._rand() * min(2.0 ** (attempt - 1), MAX_BACKOFF)

    def succeeded(self, attempts: int) -> None:
        """Refund quota after a successful response."""
        if attempts > 1:
            self._quota.release(self._last_cost)
        else:
            self._quota.release(NO_RETRY_INCREMENT)

    _last_cost: int = 0


class Retryable(Exception):
    """Raised by one attempt: it failed in a way another attempt may not.

    Args:
        give_up: builds the exception to raise when no attempt is left, from
            the number of attempts made.
        description: what failed, for the debug log.
        timeout: the attempt timed out (a retry costs more quota).
        immediate: retry at once, outside the attempt budget and the quota
            (a request re-signed after a clock-skew correction).

    The exception's ``__cause__``, if any, becomes the cause of the final error.

    """

    def __init__(
        self,
        give_up: Callable[[int], BaseException],
        *,
        description: str,
        timeout: bool = False,
        immediate: bool = False,
    ) -> None:
        super().__init__(description)
        self.give_up = give_up
        self.description = description
        self.timeout = timeout
        self.immediate = immediate


def call_with_retries(
    attempt: Callable[[int], T], policy: RetryPolicy, *, before: Callable[[], None] | None = None
) -> T:
    """Run ``attempt(n)`` for n = 1, 2, ... until it returns, under ``policy``.

    ``before`` runs ahead of every attempt (a push checks there whether it was
    called off).  Returns what the successful attempt returned; raises what a
    :class:`Retryable` gives up with once the policy refuses another attempt,
    or whatever else an attempt raised.
    """
    number = 0
    while True:
        number += 1
        if before is not None:
            before()
        try:
            result = attempt(number)
        except Retryable as failure:
            if failure.immediate:
                policy.max_attempts += 1
                continue
            delay = policy.delay(number, retryable=True, timeout=failure.timeout)
            if delay is None:
                raise failure.give_up(number) from failure.__cause__
            logger.debug(
                "attempt %d/%d failed: %s; retrying in %.2f s",
                number,
                policy.max_attempts,
                failure.description,
                delay,
            )
            sleep(delay)
            continue
        policy.succeeded(number)
        return result


def _random() -> float:
    return random.random()  # noqa: S311 - jitter, not cryptography


_testing = threading.Event()


def set_testing(on: bool) -> contextlib.AbstractContextManager[None]:
    """Turn retry sleeps off (``True``) or back on, for test suites.

    Usable as a plain call or a context manager that restores the old state::

        with set_testing(True):
            client.register_container_image(...)  # retries do not sleep
    """
    was = _testing.is_set()
    if on:
        _testing.set()
    else:
        _testing.clear()
    return _restore(was)


@contextlib.contextmanager
def _restore(was: bool) -> Generator[None, None, None]:
    try:
        yield
    finally:
        if was:
            _testing.set()
        else:
            _testing.clear()


def is_testing() -> bool:
    """Whether retry sleeps are switched off."""
    return _testing.is_set()


def sleep(seconds: float) -> None:
    """Sleep before a retry, unless testing mode is on."""
    if seconds > 0 and not _testing.is_set():
        _clock_sleep(seconds)


# Indirection so tests can observe backoff without patching time.sleep globally.
_clock_sleep = time.sleep
