"""Fault injection: make the fake misbehave on purpose, for retry and resilience tests.

Faults are queued rules.  Each rule applies to the next ``times`` requests that
match it (all requests, or only those for one ``operation``), then expires.
Rules are consulted in the order they were added, and a request consumes at
most one rule, so ``fail(times=2)`` followed by ``throttle()`` fails two
requests and throttles the third.

The request-handling core asks :meth:`Faults.take` for the fault of each
request; what a fault does is decided there, once, for both the socket server
and the ``responses`` mock.
"""

from __future__ import annotations

import enum
import threading

import attrs

__all__ = ["Fault", "FaultKind", "Faults"]


class FaultKind(enum.Enum):
    """What an injected fault does to a request."""

    FAIL = "fail"
    """Answer with an error response instead of the real one."""
    DELAY = "delay"
    """Handle the request, then hold the response back for some seconds."""
    DROP = "drop"
    """Close the connection without any response."""


@attrs.frozen
class Fault:
    """One kind of misbehaviour, as queued by the :class:`Faults` methods.

    Attributes:
        kind: what the fault does.
        operation: the operation it applies to (``"RegisterContainerImage"``),
            or ``None`` for every request.
        status: the HTTP status of a ``FAIL``.
        error_type: the error type of a ``FAIL``, e.g. ``"ServiceUnavailable"``.
        message: the error message of a ``FAIL``; a default names the fault.
        seconds: how long a ``DELAY`` holds the response.
        after_processing: for ``FAIL`` and ``DROP``: perform the operation first,
            so its effects persist although the client sees a failure.

    """

    kind: FaultKind
    operation: str | None = None
    status: int = 500
    error_type: str = "ServiceException"
    message: str | None = None
    seconds: float = 0.0
    after_processing: bool = False


@attrs.define
class _Rule:
    fault: Fault
    remaining: int


def _check_times(times: object) -> None:
    if isinstance(times, bool) or not isinstance(times, int) or times < 1:
        msg = f"times must be a whole number of requests, 1 or more, got {times!r}"
        raise ValueError(msg)


def _check_seconds(seconds: object) -> None:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        msg = f"seconds must be a number of seconds, 0 or more, got {seconds!r}"
        raise ValueError(msg)


class Faults:
    """The fault queue of one :class:`~lightsail_images.testing.FakeLightsail`.

    Thread-safe: faults may be added while the server is handling requests.

    Example::

        fake.faults.fail(times=2, status=503, error_type="ServiceUnavailable")
        fake.faults.throttle(operation="GetContainerImages")
        fake.faults.delay(seconds=2.0)          # trips a client read timeout
        fake.faults.drop()                      # no response at all
        fake.faults.fail_after_processing()     # done, but the client sees a 500
        assert fake.faults.pending == 6
        fake.faults.clear()

    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []

    def __repr__(self) -> str:
        return f"<Faults pending={self.pending}>"

    @property
    def pending(self) -> int:
        """How many requests the queued faults will still affect."""
        with self._lock:
            return sum(rule.remaining for rule in self._rules)

    def add(self, fault: Fault, *, times: int = 1) -> None:
        """Queue ``fault`` for the next ``times`` matching requests."""
        _check_times(times)
        with self._lock:
            self._rules.append(_Rule(fault, times))

    def fail(
        self,
        *,
        times: int = 1,
        status: int = 500,
        error_type: str = "ServiceException",
        message: str | None = None,
        operation: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with an error, without processing them.

        Lightsail's own error types (``ServiceException``, ``NotFoundException``...)
        get Lightsail's error body (``code``, ``docs``, ``tip``); any other type
        gets the plain AWS form.

        Example::

            fake.faults.fail(times=2, status=503, error_type="ServiceUnavailable")
        """
        self.add(
            Fault(
                FaultKind.FAIL,
                operation,
                status=status,
                error_type=error_type,
                message=message,
            ),
            times=times,
        )

    def throttle(self, *, times: int = 1, operation: str | None = None) -> None:
        """Answer the next ``times`` matching requests with 400 ``ThrottlingException``."""
        self.fail(
            times=times,
            status=400,
            error_type="ThrottlingException",
            message="Too many requests; slow down and try again.",
            operation=operation,
        )

    def delay(self, seconds: float, *, times: int = 1, operation: str | None = None) -> None:
        """Hold back the response to the next ``times`` matching requests for ``seconds``.

        The request is processed before the wait, as a slow service would, so a
        client that times out and retries sees the effects of its first attempt.
        Stopping the server cuts a pending wait short.
        """
        _check_seconds(seconds)
        self.add(Fault(FaultKind.DELAY, operation, seconds=float(seconds)), times=times)

    def drop(
        self,
        *,
        times: int = 1,
        operation: str | None = None,
        after_processing: bool = False,
    ) -> None:
        """Close the connection of the next ``times`` matching requests without answering.

        In ``fake.mock()`` mode the call raises ``requests.exceptions.ConnectionError``
        instead.  With ``after_processing=True`` the operation is performed first.
        """
        self.add(
            Fault(FaultKind.DROP, operation, after_processing=after_processing),
            times=times,
        )

    def fail_after_processing(
        self,
        *,
        times: int = 1,
        status: int = 500,
        error_type: str = "ServiceException",
        operation: str | None = None,
    ) -> None:
        """Perform the next ``times`` matching requests, then answer with an error anyway.

        The ambiguous failure: the change happened, but the client cannot know.
        Use it to test that retries of non-idempotent calls are handled.
        """
        self.add(
            Fault(
                FaultKind.FAIL,
                operation,
                status=status,
                error_type=error_type,
                after_processing=True,
            ),
            times=times,
        )

    def clear(self) -> None:
        """Forget every queued fault."""
        with self._lock:
            self._rules.clear()

    def take(self, operation: str | None) -> Fault | None:
        """Consume and return the fault for one request to ``operation``, if any.

        Called by the request-handling core once per request.
        """
        with self._lock:
            for index, rule in enumerate(self._rules):
                if rule.fault.operation is None or rule.fault.operation == operation:
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        del self._rules[index]
                    return rule.fault
        return None
