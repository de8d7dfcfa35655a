"""lightsail_images.Client against fake.serve(): success, errors, retries and faults.

Retry sleeps are off (conftest's set_testing), so retry paths run instantly.
"""

from __future__ import annotations

import datetime as dt

import pytest

import lightsail_images as li

DIGEST = "sha256:" + "12" * 32


@pytest.fixture
def client(fake, fake_url):
    fake.add_container_service("svc")
    with li.Client(
        fake.region_name,
        endpoint_url=fake_url,
        aws_access_key_id=fake.access_key_id,
        aws_secret_access_key=fake.secret_access_key,
        config=li.ClientConfig(max_attempts=3, read_timeout=5),
    ) as client:
        yield client


def register(client):
    return client.register_container_image(service_name="svc", label="web", digest=DIGEST)


def test_register_container_image(fake, client):
    first = register(client)
    second = register(client)
    assert first.container_image.image == ":svc.web.1"
    assert second.container_image.image == ":svc.web.2"
    assert first.container_image.digest == DIGEST
    created = first.container_image.created_at
    assert created.tzinfo is not None
    assert abs(created - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(seconds=5)
    assert created == fake.images("svc")[0].created_at
    assert first.response_metadata.http_status_code == 200
    assert first.response_metadata.attempts == 1
    assert first.response_metadata.request_id == fake.requests[0].request_id
    assert all(request.signature_valid for request in fake.requests)
    # Keep-alive: both calls came over one connection.
    assert len({request.peer for request in fake.requests}) == 1


def test_not_found(client):
    with pytest.raises(li.NotFoundException) as caught:
        client.register_container_image(service_name="other", label="web", digest=DIGEST)
    error = caught.value
    assert error.code == "NotFoundException"
    assert error.details.code == "DoesNotExist"
    assert error.tip
    assert error.docs
    assert error.http_status_code == 400
    assert error.request_id
    assert error.response["code"] == "DoesNotExist"


def test_server_side_validation_when_client_side_is_off(fake, fake_url):
    fake.add_container_service("svc")
    with (
        li.Client(
            fake.region_name,
            endpoint_url=fake_url,
            aws_access_key_id=fake.access_key_id,
            aws_secret_access_key=fake.secret_access_key,
            config=li.ClientConfig(parameter_validation=False),
        ) as client,
        pytest.raises(li.InvalidInputException) as caught,
    ):
        client.register_container_image(service_name="svc", label="Web!", digest=DIGEST)
    assert "label" in caught.value.message
    assert caught.value.details.code == "InvalidInput"


def test_transient_failures_are_retried(fake, client):
    fake.faults.fail(times=2, status=503, error_type="ServiceUnavailable")
    result = register(client)
    assert result.response_metadata.attempts == 3
    assert [r.status_code for r in fake.requests] == [503, 503, 200]
    assert result.container_image.image == ":svc.web.1"


def test_retries_stop_after_max_attempts(fake, client):
    fake.faults.fail(times=3, status=500, error_type="ServiceException")
    with pytest.raises(li.ServiceException) as caught:
        register(client)
    assert caught.value.attempts == 3
    assert caught.value.details.code == "InternalFailure"
    assert fake.images("svc") == []


def test_throttling_is_retried(fake, client):
    fake.faults.throttle(operation="RegisterContainerImage")
    assert register(client).response_metadata.attempts == 2


def test_a_dropped_connection_is_retried(fake, client):
    fake.faults.drop()
    result = register(client)
    assert result.response_metadata.attempts == 2
    assert result.container_image.image == ":svc.web.1"


def test_connections_dropped_every_time_end_in_a_transport_error(fake, client):
    fake.faults.drop(times=3)
    with pytest.raises(li.TransportError) as caught:
        register(client)
    assert caught.value.attempts == 3


def test_ambiguous_failures_show_up_as_a_second_version(fake, client):
    # The first attempt registered :svc.web.1, but the client saw a 500 and
    # retried: RegisterContainerImage is not idempotent.
    fake.faults.fail_after_processing()
    result = register(client)
    assert result.response_metadata.attempts == 2
    assert result.container_image.image == ":svc.web.2"
    assert len(fake.images("svc")) == 2


def test_a_read_timeout_is_retried(fake, fake_url):
    fake.add_container_service("svc")
    fake.faults.delay(2.0)
    with li.Client(
        fake.region_name,
        endpoint_url=fake_url,
        aws_access_key_id=fake.access_key_id,
        aws_secret_access_key=fake.secret_access_key,
        config=li.ClientConfig(read_timeout=0.3, max_attempts=2),
    ) as client:
        result = register(client)
    assert result.response_metadata.attempts == 2
    assert result.container_image.image == ":svc.web.2"


def test_a_wrong_secret_is_not_retried(fake, fake_url):
    fake.add_container_service("svc")
    with (
        li.Client(
            fake.region_name,
            endpoint_url=fake_url,
            aws_access_key_id=fake.access_key_id,
            aws_secret_access_key="wrong",
        ) as client,
        pytest.raises(li.ServiceError) as caught,
    ):
        register(client)
    assert (caught.value.code, caught.value.http_status_code) == ("InvalidSignatureException", 403)
    assert caught.value.attempts == 1


@pytest.mark.parametrize("minutes", [10, -10])
def test_the_client_corrects_its_clock_from_the_fakes_date_header(fake, client, minutes):
    fake.clock_skew = dt.timedelta(minutes=minutes)
    result = register(client)
    assert result.response_metadata.attempts == 2
    first, second = fake.requests
    assert (first.status_code, first.error_type) == (400, "InvalidSignatureException")
    assert (second.status_code, second.signature_valid) == (200, True)
    # Later calls are signed with the corrected clock straight away.
    assert register(client).response_metadata.attempts == 1


# --- the lifecycle operations ---------------------------------------------------------------


def test_get_delete_and_login(fake, client):
    for _ in range(3):
        register(client)
    listed = client.get_container_images(service_name="svc").container_images
    assert [image.image for image in listed] == [":svc.web.3", ":svc.web.2", ":svc.web.1"]
    assert listed[0].created_at == fake.images("svc")[-1].created_at
    client.delete_container_image(service_name="svc", image=li.ImageRef("svc", "web", 2))
    assert [image.image for image in fake.images("svc")] == [":svc.web.1", ":svc.web.3"]
    with pytest.raises(li.NotFoundException):
        client.delete_container_image(service_name="svc", image=":svc.web.2")
    fake.set_deployment("svc", {"app": ":svc.web.3"})
    with pytest.raises(li.InvalidInputException, match="deployment"):
        client.delete_container_image(service_name="svc", image=":svc.web.3")
    fake.set_registry("127.0.0.1:5000", username="pusher", password="pw")
    login = client.create_container_service_registry_login().registry_login
    assert (login.registry, login.username, login.password) == ("127.0.0.1:5000", "pusher", "pw")
    assert login.expires_at - dt.datetime.now(dt.timezone.utc) > dt.timedelta(hours=11)


def test_ensure_survives_an_ambiguous_failure_without_a_second_version(fake, client):
    fake.faults.fail_after_processing(operation="RegisterContainerImage")
    image = client.ensure_container_image(service_name="svc", label="web", digest=DIGEST)
    assert image.image == ":svc.web.1"
    assert [i.image for i in fake.images("svc")] == [":svc.web.1"]
    again = client.ensure_container_image(service_name="svc", label="web", digest=DIGEST)
    assert again == image


def test_prune_keeps_the_newest_and_the_deployed(fake, client):
    for _ in range(5):
        register(client)
    fake.set_deployment("svc", {"app": ":svc.web.1"})
    plan = client.prune_container_images(service_name="svc", keep=2)
    assert [image.image for image in plan.deleted] == [":svc.web.3", ":svc.web.2"]
    assert len(fake.images("svc")) == 5  # a dry run
    client.prune_container_images(service_name="svc", keep=2, dry_run=False)
    assert [i.image for i in fake.images("svc")] == [":svc.web.1", ":svc.web.4", ":svc.web.5"]
