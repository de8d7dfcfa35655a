"""Resource hygiene: no socket, thread or warning left behind, whatever went wrong.

Each scenario runs with ``ResourceWarning`` turned into an error (and an
unraisable-exception hook, since a warning raised in ``__del__`` cannot
propagate), then compares the open file descriptors (``/proc/self/fd``) and
``threading.active_count()`` with what they were before.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import gc
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import lightsail_images as li
from lightsail_images.testing import FakeLightsail, set_testing
from tests.test_reliability_faults import RESETS, resetting_server

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.skipif(sys.platform != "linux", reason="counts descriptors in /proc/self/fd"),
]

DIGEST = "sha256:" + "9d" * 32


def open_fds() -> set[str]:
    return {entry.name for entry in Path("/proc/self/fd").iterdir()}


def settle(until: Callable[[], bool], seconds: float = 5.0) -> bool:
    """Wait (briefly) for background threads to notice closed sockets."""
    deadline = time.monotonic() + seconds
    while not until():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@contextlib.contextmanager
def no_leaks() -> Iterator[None]:
    """Fail if the block leaves a descriptor, a thread or a ResourceWarning behind."""
    unraisable: list[object] = []
    previous_hook = sys.unraisablehook
    gc.collect()
    fds_before, threads_before = open_fds(), threading.active_count()
    sys.unraisablehook = unraisable.append
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            yield
            gc.collect()
        assert settle(lambda: threading.active_count() <= threads_before), [
            t.name for t in threading.enumerate()
        ]
        gc.collect()
        assert settle(lambda: open_fds() <= fds_before), open_fds() - fds_before
    finally:
        sys.unraisablehook = previous_hook
    assert not unraisable, unraisable


def client_for(fake: FakeLightsail, url: str, **config: object) -> li.Client:
    return li.Client(
        fake.region_name,
        endpoint_url=url,
        aws_access_key_id=fake.access_key_id,
        aws_secret_access_key=fake.secret_access_key,
        config=li.ClientConfig(**config),  # type: ignore[arg-type]
    )


def mixed_calls(fake: FakeLightsail, client: li.Client) -> None:
    """Successes, errors, drops, timeouts, ambiguous failures and ensure."""
    for n in range(20):
        client.register_container_image(service_name="svc", label="web", digest=DIGEST)
        if n % 5 == 0:
            with pytest.raises(li.NotFoundException):
                client.get_container_images(service_name="missing")
    fake.faults.drop(times=3)
    with pytest.raises(li.TransportError):
        client.register_container_image(service_name="svc", label="web", digest=DIGEST)
    fake.faults.delay(1.0, times=3)
    with pytest.raises(li.TransportError):
        client.register_container_image(service_name="svc", label="web", digest=DIGEST)
    fake.faults.fail_after_processing(times=1, operation="RegisterContainerImage")
    client.ensure_container_image(service_name="svc", label="api", digest=DIGEST)
    client.create_container_service_registry_login()


@pytest.fixture(scope="module", autouse=True)
def _warm_up() -> None:
    # One-time lazy imports and caches (botocore data, urllib3, ssl) open files
    # once; run the scenario first so the measured runs start from steady state.
    # (Module scope runs before conftest's per-test fixtures: switch sleeps off here.)
    fake = FakeLightsail()
    fake.add_container_service("svc")
    with (
        set_testing(True),
        fake.serve() as url,
        client_for(fake, url, read_timeout=0.2, max_attempts=3) as client,
    ):
        mixed_calls(fake, client)


def test_context_manager_exit_leaves_nothing_behind() -> None:
    fake = FakeLightsail()
    fake.add_container_service("svc")
    with no_leaks(), fake.serve() as url, client_for(fake, url, read_timeout=0.2) as client:
        mixed_calls(fake, client)


def test_close_closes_connections_even_while_an_old_error_is_kept() -> None:
    # A caller that keeps a TransportError (to log or re-raise later) keeps its
    # urllib3 pool alive through the exception chain; urllib3 2 closes pools
    # only when they are garbage, so close() must close them itself.
    # Guards the fix in _transport.py.
    fake = FakeLightsail()
    fake.add_container_service("svc")
    kept: list[li.TransportError] = []
    with fake.serve() as url:
        serving = threading.active_count()
        client = client_for(fake, url, read_timeout=0.2, max_attempts=1)
        fake.faults.delay(1.0, times=1)
        try:
            client.register_container_image(service_name="svc", label="web", digest=DIGEST)
        except li.TransportError as exc:
            kept.append(exc)
        client.register_container_image(service_name="svc", label="web", digest=DIGEST)
        assert threading.active_count() > serving  # the kept-alive connection's handler
        client.close()
        # No gc.collect() here: closing must not depend on the collector.
        assert settle(lambda: threading.active_count() == serving), [
            t.name for t in threading.enumerate()
        ]
    assert kept


def test_close_releases_pooled_connections_while_the_server_still_runs() -> None:
    fake = FakeLightsail()
    fake.add_container_service("svc")
    with fake.serve() as url:
        gc.collect()
        serving_threads = threading.active_count()
        fds_before = open_fds()
        client = client_for(fake, url, max_pool_connections=4)
        with warnings.catch_warnings(), concurrent.futures.ThreadPoolExecutor(4) as pool:
            warnings.simplefilter("error", ResourceWarning)
            list(
                pool.map(
                    lambda _: client.register_container_image(
                        service_name="svc", label="web", digest=DIGEST
                    ),
                    range(40),
                )
            )
        assert threading.active_count() > serving_threads  # kept-alive connections
        client.close()
        # Each handler thread ends when its connection is closed by the client.
        assert settle(lambda: threading.active_count() == serving_threads)
        gc.collect()
        assert settle(lambda: open_fds() <= fds_before)
        with pytest.raises(li.ConfigurationError, match="closed"):
            client.register_container_image(service_name="svc", label="web", digest=DIGEST)


def test_close_during_an_in_flight_call() -> None:
    fake = FakeLightsail()
    fake.add_container_service("svc")
    outcome: list[object] = []
    with no_leaks(), fake.serve() as url:
        client = client_for(fake, url, read_timeout=5)
        fake.faults.delay(0.5, times=1)

        def call() -> None:
            try:
                outcome.append(
                    client.register_container_image(service_name="svc", label="web", digest=DIGEST)
                )
            except li.LightsailError as exc:
                outcome.append(exc)

        caller = threading.Thread(target=call)
        caller.start()
        assert settle(lambda: bool(fake.requests))
        client.close()
        caller.join(10)
        assert not caller.is_alive()
        with pytest.raises(li.ConfigurationError):
            client.register_container_image(service_name="svc", label="web", digest=DIGEST)
    # The call in flight finishes (or fails as a library error); nothing hangs.
    assert len(outcome) == 1
    assert isinstance(outcome[0], li.RegisterContainerImageResult | li.LightsailError)


@pytest.mark.parametrize("stage", ["in-the-headers", "in-the-body", "in-an-error-body"])
def test_failed_attempts_do_not_accumulate_sockets(stage: str) -> None:
    sent, _ = RESETS[stage]
    with no_leaks(), resetting_server(sent, 0.0) as server:
        with li.Client(
            "us-east-1",
            endpoint_url=server.url,
            aws_access_key_id="AKIDHYGIENE",
            aws_secret_access_key="hygiene-secret",
            config=li.ClientConfig(max_attempts=2),
        ) as client:
            idle = len(open_fds())
            peak = idle
            for _ in range(15):
                with contextlib.suppress(li.LightsailError):
                    client.register_container_image(service_name="svc", label="web", digest=DIGEST)
                peak = max(peak, len(open_fds()))
        assert server.connections == 30
    # Broken connections are discarded as they fail, not kept until close():
    # 30 failed connections, never more than a few descriptors at a time.
    assert peak - idle <= 4


def test_stopping_the_fake_mid_call_is_clean_for_the_client_too() -> None:
    fake = FakeLightsail()
    fake.add_container_service("svc")
    fake.faults.delay(30, times=1)
    outcome: list[object] = []
    with no_leaks():
        with fake.serve() as url:
            client = client_for(fake, url, read_timeout=10)

            def call() -> None:
                try:
                    client.register_container_image(service_name="svc", label="web", digest=DIGEST)
                except li.LightsailError as exc:
                    outcome.append(exc)

            caller = threading.Thread(target=call)
            caller.start()
            assert settle(lambda: bool(fake.requests))
            stopping = time.monotonic()
        # Leaving serve() cut the 30 s delay short and joined every handler.
        assert time.monotonic() - stopping < 5
        caller.join(10)
        assert not caller.is_alive()
        client.close()
    # The held request was dropped; the retries found nothing listening.
    assert len(outcome) == 1
    assert isinstance(outcome[0], li.TransportError)
    assert outcome[0].attempts == 3
