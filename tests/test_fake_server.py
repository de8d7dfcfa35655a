"""fake.serve(): a real HTTP/1.1 server on loopback that starts and stops cleanly."""

from __future__ import annotations

import concurrent.futures
import gc
import http.client
import logging
import socket
import threading
import time
import warnings
from urllib.parse import urlsplit

import pytest

import lightsail_images as li
from lightsail_images.testing import FakeLightsail

DIGEST = "sha256:" + "56" * 32


def _connect(url):
    split = urlsplit(url)
    return http.client.HTTPConnection(split.hostname, split.port, timeout=5)


def test_stopping_leaves_no_thread_or_socket_behind(fake):
    fake.add_container_service("svc")
    baseline = threading.active_count()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with fake.serve() as url:
            client = li.Client(
                fake.region_name,
                endpoint_url=url,
                aws_access_key_id=fake.access_key_id,
                aws_secret_access_key=fake.secret_access_key,
            )
            for _ in range(5):
                client.register_container_image(service_name="svc", label="web", digest=DIGEST)
            # One serving thread, one handler for the one kept-alive connection.
            assert threading.active_count() == baseline + 2
        # The client still holds its idle connection open: stopping closed it.
        assert threading.active_count() == baseline
        client.close()
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert len({request.peer for request in fake.requests}) == 1


def test_stopping_cuts_a_pending_delay_short(fake):
    fake.faults.delay(30)
    outcome: list[object] = []

    def slow_call(url):
        connection = _connect(url)
        try:
            connection.request("POST", "/", body=b"{}")
            outcome.append(connection.getresponse().status)
        except (ConnectionError, http.client.HTTPException) as exc:
            outcome.append(exc)
        finally:
            connection.close()

    with fake.serve() as url:
        caller = threading.Thread(target=slow_call, args=(url,))
        caller.start()
        deadline = time.monotonic() + 5
        while not fake.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.monotonic()
    assert time.monotonic() - started < 2
    caller.join(5)
    assert not caller.is_alive()
    assert isinstance(outcome[0], Exception)  # no answer: the connection was closed


def test_http_details(fake, fake_url):
    connection = _connect(fake_url)
    try:
        for _ in range(2):  # two requests on one keep-alive connection
            connection.request("POST", "/", body=b"{}")
            response = connection.getresponse()
            body = response.read()
            assert response.status == 403
            assert response.version == 11
            assert int(response.headers["Content-Length"]) == len(body)
            assert response.headers["Date"].endswith("GMT")
            assert response.headers["x-amzn-RequestId"]
            assert response.headers["x-amzn-ErrorType"].startswith(
                "MissingAuthenticationTokenException:"
            )
            assert not response.will_close
    finally:
        connection.close()
    assert len({request.peer for request in fake.requests}) == 1


def test_chunked_bodies_are_read(fake, fake_url):
    connection = _connect(fake_url)
    try:
        for _ in range(2):  # the connection stays usable after a chunked body
            connection.request("POST", "/", body=iter([b'{"a":', b" 1}"]), encode_chunked=True)
            response = connection.getresponse()
            response.read()
            assert response.status == 403
    finally:
        connection.close()
    assert [request.params for request in fake.requests] == [{"a": 1}, {"a": 1}]


def test_concurrent_clients(fake, fake_url):
    fake.add_container_service("svc")
    with li.Client(
        fake.region_name,
        endpoint_url=fake_url,
        aws_access_key_id=fake.access_key_id,
        aws_secret_access_key=fake.secret_access_key,
    ) as client:

        def register(label):
            return client.register_container_image(service_name="svc", label=label, digest=DIGEST)

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            results = list(pool.map(register, ["a", "b"] * 20))
    names = sorted(result.container_image.image for result in results)
    assert names == sorted(f":svc.{label}.{n}" for label in "ab" for n in range(1, 21))


def test_requests_are_logged_at_debug_level(fake, fake_url, caplog):
    caplog.set_level(logging.DEBUG, logger="lightsail_images.testing")
    connection = _connect(fake_url)
    try:
        connection.request("POST", "/", body=b"{}")
        connection.getresponse().read()
    finally:
        connection.close()
    assert any('"POST / HTTP/1.1" 403' in record.getMessage() for record in caplog.records)


def _ipv6_loopback_works():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback_works(), reason="no IPv6 loopback here")
def test_ipv6_loopback():
    fake = FakeLightsail()
    with fake.serve(host="::1") as url:
        assert url.startswith("http://[::1]:")
        connection = _connect(url)
        try:
            connection.request("POST", "/", body=b"{}")
            assert connection.getresponse().status == 403
        finally:
            connection.close()
