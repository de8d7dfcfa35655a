"""Soak: one client, 16 threads, 3,000 calls, 20% of requests faulted at random.

The fake's fault queue is replaced by a seeded coin (``RandomFaults``): each
request the fake receives is, with probability ``FAULT_RATE``, answered by a
fault drawn from ``FAULT_MIX`` (503s, throttles, 500s after processing, dropped
connections before and after processing, delays past the read timeout).  The
draws come from one ``random.Random(SEED)`` in arrival order, so the fault
sequence is fixed; which call meets which fault depends on thread scheduling.

What must hold, whatever the interleaving:

* every call ends in a result or a ``LightsailError`` (nothing else escapes,
  no thread dies);
* ``ensure_container_image`` registers each (label, digest) exactly once, and
  every thread that ensured a pair got the same image back;
* the request count stays well under ``calls * max_attempts``;
* it all finishes within ``TIME_BOUND`` seconds, and leaves no thread behind.

Run ``pytest -m reliability -s tests/test_reliability_soak.py`` to see the figures.
"""

from __future__ import annotations

import collections
import concurrent.futures
import random
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import lightsail_images as li
from lightsail_images.testing import FakeLightsail, Fault, FaultKind, Faults

pytestmark = pytest.mark.reliability

SEED = 20240611
THREADS = 16
CALLS = 3000
FAULT_RATE = 0.20
MAX_ATTEMPTS = 3
READ_TIMEOUT = 0.5
TIME_BOUND = 60.0

FAULT_MIX: list[tuple[str, Fault, int]] = [
    ("503", Fault(FaultKind.FAIL, status=503, error_type="ServiceUnavailable"), 30),
    ("throttle", Fault(FaultKind.FAIL, status=400, error_type="ThrottlingException"), 20),
    (
        "500-after-processing",
        Fault(FaultKind.FAIL, status=500, error_type="ServiceException", after_processing=True),
        15,
    ),
    ("drop", Fault(FaultKind.DROP), 15),
    ("drop-after-processing", Fault(FaultKind.DROP, after_processing=True), 10),
    ("delay-past-timeout", Fault(FaultKind.DELAY, seconds=READ_TIMEOUT * 2), 10),
]


class RandomFaults(Faults):
    """Queued faults first; otherwise a seeded coin decides, ``rate`` of the time."""

    def __init__(self, rate: float, seed: int) -> None:
        super().__init__()
        self._rate = rate
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self.decisions = 0
        self.injected: collections.Counter[str] = collections.Counter()

    def take(self, operation: str | None) -> Fault | None:
        queued = super().take(operation)
        if queued is not None:
            return queued
        with self._rng_lock:
            self.decisions += 1
            if self._rng.random() >= self._rate:
                return None
            name, fault, _ = self._rng.choices(FAULT_MIX, weights=[w for *_, w in FAULT_MIX])[0]
            self.injected[name] += 1
        return fault


def digest(n: int) -> str:
    return f"sha256:{n:064x}"


def plan(rng: random.Random) -> list[tuple[str, dict[str, Any]]]:
    """The calls to make, drawn once from the seed."""
    ensure_labels = ["web", "api", "batch"]
    ensure_digests = [digest(n) for n in range(1, 21)]
    calls: list[tuple[str, dict[str, Any]]] = []
    for _ in range(CALLS):
        roll = rng.random()
        if roll < 0.40:
            calls.append(
                (
                    "register",
                    {
                        "service_name": "soak",
                        "label": rng.choice(["web", "api", "worker"]),
                        "digest": digest(rng.getrandbits(200) + 1000),
                    },
                )
            )
        elif roll < 0.70:
            calls.append(
                (
                    "ensure",
                    {
                        "service_name": "ens",
                        "label": rng.choice(ensure_labels),
                        "digest": rng.choice(ensure_digests),
                    },
                )
            )
        elif roll < 0.85:
            calls.append(("list", {"service_name": "ens"}))
        elif roll < 0.90:
            calls.append(("login", {}))
        elif roll < 0.95:
            calls.append(("list", {"service_name": "missing"}))
        else:
            calls.append(("delete", {"service_name": "soak", "image": ":soak.web.999999"}))
    return calls


def method(client: li.Client, kind: str) -> Callable[..., Any]:
    return {
        "register": client.register_container_image,
        "ensure": client.ensure_container_image,
        "list": client.get_container_images,
        "login": client.create_container_service_registry_login,
        "delete": client.delete_container_image,
    }[kind]


def test_sixteen_threads_three_thousand_calls_twenty_percent_faults() -> None:
    threads_before = threading.active_count()
    crashed: list[object] = []
    previous_hook = threading.excepthook
    threading.excepthook = crashed.append

    fake = FakeLightsail()
    fake.add_container_service("soak")
    fake.add_container_service("ens")
    faults = RandomFaults(FAULT_RATE, SEED)
    fake._faults = faults
    calls = plan(random.Random(SEED))

    results: list[tuple[str, dict[str, Any], object]] = []
    unexpected: list[tuple[str, BaseException]] = []
    lock = threading.Lock()

    def run(kind: str, kwargs: dict[str, Any], client: li.Client) -> None:
        try:
            outcome: object = method(client, kind)(**kwargs)
        except li.LightsailError as exc:
            outcome = exc
        except BaseException as exc:
            with lock:
                unexpected.append((kind, exc))
            return
        with lock:
            results.append((kind, kwargs, outcome))

    started = time.monotonic()
    try:
        with (
            fake.serve() as url,
            li.Client(
                fake.region_name,
                endpoint_url=url,
                aws_access_key_id=fake.access_key_id,
                aws_secret_access_key=fake.secret_access_key,
                config=li.ClientConfig(
                    max_attempts=MAX_ATTEMPTS,
                    read_timeout=READ_TIMEOUT,
                    connect_timeout=2,
                    max_pool_connections=THREADS,
                ),
            ) as client,
            concurrent.futures.ThreadPoolExecutor(THREADS) as pool,
        ):
            futures = [pool.submit(run, kind, kwargs, client) for kind, kwargs in calls]
            concurrent.futures.wait(futures, timeout=TIME_BOUND)
            assert all(f.done() for f in futures), "the soak did not finish in time"
            quota_left = client._quota.available
    finally:
        threading.excepthook = previous_hook
    elapsed = time.monotonic() - started

    # -- every call ended, in a result or a library error ----------------------------
    assert not unexpected, unexpected[:5]
    assert not crashed
    assert len(results) == CALLS
    outcomes = collections.Counter(
        f"{kind}:{type(o).__name__}" + (f"({o.code})" if isinstance(o, li.ServiceError) else "")
        for kind, _, o in results
    )
    for kind, kwargs, outcome in results:
        metadata = getattr(outcome, "response_metadata", None)
        if metadata is not None:
            assert 1 <= metadata.attempts <= MAX_ATTEMPTS
        if isinstance(outcome, li.ServiceError | li.TransportError):
            assert 1 <= outcome.attempts <= MAX_ATTEMPTS
        if isinstance(outcome, li.RegisterContainerImageResult):
            assert outcome.container_image.digest == kwargs["digest"]
        if kwargs.get("service_name") == "missing" or kind == "delete":
            assert not hasattr(outcome, "response_metadata")  # never found, however retried

    # -- ensure: one version per (label, digest), the same answer for every thread -----
    registered = collections.Counter(
        (image.ref.label, image.digest) for image in fake.images("ens")
    )
    duplicates = {pair: n for pair, n in registered.items() if n > 1}
    assert duplicates == {}
    answers: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    for kind, kwargs, outcome in results:
        if kind == "ensure" and isinstance(outcome, li.ContainerImage):
            answers[kwargs["label"], kwargs["digest"]].add(outcome.image)
            assert outcome.digest == kwargs["digest"]
            assert outcome.ref.label == kwargs["label"]
    assert all(len(images) == 1 for images in answers.values()), answers
    by_name = {image.image: image for image in fake.images("ens")}
    assert all(next(iter(images)) in by_name for images in answers.values())

    # -- load stayed bounded ---------------------------------------------------------------
    requests_made = len(fake.requests)
    assert requests_made < 2 * CALLS  # vs. calls * max_attempts = 9,000
    injected = sum(faults.injected.values())
    assert 0.15 < injected / faults.decisions < 0.25
    failed = sum(
        1
        for kind, kwargs, o in results
        if isinstance(o, li.LightsailError) and not isinstance(o, li.NotFoundException)
    )
    assert failed < 0.05 * CALLS
    assert elapsed < TIME_BOUND

    gone = time.monotonic() + 5
    while threading.active_count() > threads_before and time.monotonic() < gone:
        time.sleep(0.05)
    assert threading.active_count() <= threads_before

    figures = {
        "threads": THREADS,
        "calls": CALLS,
        "seed": SEED,
        "fault_rate": FAULT_RATE,
        "elapsed_s": round(elapsed, 1),
        "requests": requests_made,
        "faults_injected": dict(faults.injected),
        "faults_total": injected,
        "outcomes": dict(sorted(outcomes.items())),
        "library_errors_excluding_not_found": failed,
        "ensure_pairs": len(registered),
        "ensure_duplicates": len(duplicates),
        "soak_images_registered": len(fake.images("soak")),
        "quota_left": quota_left,
        "fds_open": len(list(Path("/proc/self/fd").iterdir())) if sys.platform == "linux" else None,
    }
    print("\nsoak figures:", figures)
