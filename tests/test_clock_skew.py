"""Clock skew: adopt the server's clock from its Date header, retry once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

import lightsail_images as li
from lightsail_images._retry import clock_skew
from lightsail_images.testing import FakeLightsail

DIGEST = "sha256:" + "5c" * 32
NOW = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def served() -> Iterator[tuple[FakeLightsail, str]]:
    fake = FakeLightsail()
    fake.add_container_service("svc")
    with fake.serve() as url:
        yield fake, url


def client_for(fake: FakeLightsail, url: str, secret: str | None = None) -> li.Client:
    return li.Client(
        fake.region_name,
        endpoint_url=url,
        aws_access_key_id=fake.access_key_id,
        aws_secret_access_key=secret or fake.secret_access_key,
        config=li.ClientConfig(max_attempts=1),
    )


@pytest.mark.parametrize(
    "skew", [dt.timedelta(minutes=30), dt.timedelta(hours=-3), dt.timedelta(days=2)]
)
def test_a_skewed_server_clock_is_corrected_and_the_call_succeeds(
    served: tuple[FakeLightsail, str], skew: dt.timedelta
) -> None:
    fake, url = served
    fake.clock_skew = skew
    with client_for(fake, url) as client:
        result = client.register_container_image(service_name="svc", label="web", digest=DIGEST)
        assert result.response_metadata.attempts == 2
        # The correction sticks: the next call needs one attempt.
        again = client.register_container_image(service_name="svc", label="web", digest=DIGEST)
        assert again.response_metadata.attempts == 1
    offset = client._signer.clock_offset
    assert abs(offset - skew) < dt.timedelta(seconds=5)


def test_a_wrong_secret_is_not_mistaken_for_skew(served: tuple[FakeLightsail, str]) -> None:
    fake, url = served
    client = client_for(fake, url, secret="not-the-secret")
    with client, pytest.raises(li.ServiceError) as info:
        client.register_container_image(service_name="svc", label="web", digest=DIGEST)
    assert info.value.code == "InvalidSignatureException"
    assert info.value.attempts == 1
    assert client._signer.clock_offset == dt.timedelta(0)


def test_skew_is_corrected_only_once_per_call(served: tuple[FakeLightsail, str]) -> None:
    fake, url = served
    fake.clock_skew = dt.timedelta(hours=1)
    fake.faults.fail(times=5, status=400, error_type="InvalidSignatureException")
    with client_for(fake, url) as client, pytest.raises(li.ServiceError):
        client.register_container_image(service_name="svc", label="web", digest=DIGEST)
    assert len(fake.requests) == 2


@pytest.mark.parametrize(
    ("code", "date", "expected"),
    [
        ("RequestTimeTooSkewed", "Thu, 01 Jan 2026 12:01:00 GMT", dt.timedelta(minutes=1)),
        ("RequestExpired", "Thu, 01 Jan 2026 11:00:00 GMT", dt.timedelta(hours=-1)),
        ("InvalidSignatureException", "Thu, 01 Jan 2026 12:10:00 GMT", dt.timedelta(minutes=10)),
        ("InvalidSignatureException", "Thu, 01 Jan 2026 12:03:00 GMT", None),  # within tolerance
        ("NotFoundException", "Thu, 01 Jan 2026 15:00:00 GMT", None),
        ("RequestTimeTooSkewed", "", None),
        ("RequestTimeTooSkewed", "not a date", None),
    ],
)
def test_clock_skew_decisions(code: str, date: str, expected: dt.timedelta | None) -> None:
    assert clock_skew(code, {"date": date} if date else {}, NOW) == expected
