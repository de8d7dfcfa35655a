"""The pytest plugin that the package registers (``pytest11``): a user's test in two lines."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]


def test_the_plugin_is_registered_through_the_pytest11_entry_point() -> None:
    points = importlib.metadata.entry_points(group="pytest11")
    ours = [point for point in points if point.name == "lightsail_images"]
    assert [point.value for point in ours] == ["lightsail_images.testing.pytest_plugin"]


def test_a_users_test_is_two_lines(pytester: pytest.Pytester) -> None:
    register = (
        'lightsail_client.register_container_image(service_name="my-service", '
        'label="web", digest="sha256:" + "ab" * 32)'
    )
    check = 'assert [i.image for i in lightsail_fake.images("my-service")] == [":my-service.web.1"]'
    pytester.makepyfile(
        f"def test_register(lightsail_client, lightsail_fake):\n    {register}\n    {check}\n"
    )
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=1)


def test_the_client_talks_to_the_served_fake_with_backoff_sleeps_off(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import time

        import lightsail_images as li
        from lightsail_images.testing import is_testing

        def test_retries_do_not_sleep(lightsail_client, lightsail_fake, lightsail_endpoint):
            assert isinstance(lightsail_client, li.Client)
            assert lightsail_client.endpoint_url == lightsail_endpoint
            assert lightsail_endpoint.startswith("http://127.0.0.1:")
            assert is_testing()
            lightsail_fake.faults.fail(times=2, status=503, error_type="ServiceUnavailable")
            started = time.monotonic()
            result = lightsail_client.get_container_images(service_name="my-service")
            assert result.response_metadata.attempts == 3
            assert time.monotonic() - started < 1.0
            assert all(r.signature_valid for r in lightsail_fake.requests)

        def test_each_test_gets_a_fresh_fake(lightsail_fake):
            assert not lightsail_fake.requests

        def test_sleeps_are_back_without_the_client():
            assert not is_testing()
        """
    )
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=3)


def test_the_services_come_from_an_ini_option(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        """
        [pytest]
        lightsail_services =
            api
            worker
        """
    )
    pytester.makepyfile(
        """
        def test_services(lightsail_client):
            for name in ("api", "worker"):
                lightsail_client.get_container_images(service_name=name)
        """
    )
    pytester.runpytest_subprocess("-q").assert_outcomes(passed=1)


def test_fixtures_are_listed_with_their_docs(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--fixtures", "-q")
    result.stdout.fnmatch_lines(
        [
            "*lightsail_fake*",
            "*fresh in-memory Lightsail*",
            "*lightsail_endpoint*",
            "*lightsail_client*",
        ]
    )


def test_importing_the_package_does_not_import_pytest() -> None:
    # The entry point is installed for everyone; only pytest may load the plugin.
    code = (
        "import sys, lightsail_images, lightsail_images.testing; "
        "assert 'pytest' not in sys.modules, 'pytest imported'; "
        "assert 'lightsail_images.testing.pytest_plugin' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
