"""The pytest plugin: fixtures for testing code that uses ``lightsail_images``.

pytest loads it by itself through the ``pytest11`` entry point that the
package declares, so a test needs no ``conftest.py``::

    def test_register(lightsail_client, lightsail_fake):
        lightsail_client.register_container_image(
            service_name="my-service", label="web", digest="sha256:" + "ab" * 32
        )
        assert len(lightsail_fake.images("my-service")) == 1

Fixtures (each fresh for every test):

``lightsail_fake``
    A :class:`~lightsail_images.testing.FakeLightsail` with the container
    services named by the ``lightsail_services`` ini option (default:
    ``my-service``).
``lightsail_endpoint``
    ``lightsail_fake`` served over HTTP on 127.0.0.1; the endpoint URL.
``lightsail_client``
    A :class:`~lightsail_images.Client` for that endpoint, signed with the
    fake's credentials, closed after the test; retry backoff sleeps are off
    while it is in use (retries still happen).

Only pytest imports this module (the entry point is read by nothing else),
so installing the package never makes pytest a dependency; it imports only
the standard library, pytest and this package.  With plugin autoloading off
(``PYTEST_DISABLE_PLUGIN_AUTOLOAD``), enable it with
``-p lightsail_images.testing.pytest_plugin``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lightsail_images._client import Client
from lightsail_images._config import ClientConfig
from lightsail_images._retry import set_testing
from lightsail_images.testing._fake import FakeLightsail

__all__ = ["lightsail_client", "lightsail_endpoint", "lightsail_fake"]

_SERVICES_OPTION = "lightsail_services"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Declare the ``lightsail_services`` ini option."""
    parser.addini(
        _SERVICES_OPTION,
        type="linelist",
        default=["my-service"],
        help="container services the lightsail_fake fixture starts with (default: my-service)",
    )


@pytest.fixture
def lightsail_fake(request: pytest.FixtureRequest) -> FakeLightsail:
    """Give a fresh in-memory Lightsail with the ``lightsail_services`` container services."""
    fake = FakeLightsail()
    services: list[str] = request.config.getini(_SERVICES_OPTION)
    for name in services:
        fake.add_container_service(name)
    return fake


@pytest.fixture
def lightsail_endpoint(lightsail_fake: FakeLightsail) -> Iterator[str]:
    """Serve ``lightsail_fake`` over HTTP on 127.0.0.1 for the test; give its endpoint URL."""
    with lightsail_fake.serve() as url:
        yield url


@pytest.fixture
def lightsail_client(lightsail_fake: FakeLightsail, lightsail_endpoint: str) -> Iterator[Client]:
    """Give a client for ``lightsail_fake``, retry backoff sleeps off; closed after the test."""
    with (
        set_testing(True),
        Client(
            lightsail_fake.region_name,
            endpoint_url=lightsail_endpoint,
            aws_access_key_id=lightsail_fake.access_key_id,
            aws_secret_access_key=lightsail_fake.secret_access_key,
            # A test that hangs should fail in seconds, not after botocore's 60.
            config=ClientConfig(connect_timeout=5, read_timeout=10),
        ) as client,
    ):
        yield client
