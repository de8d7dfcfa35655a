"""The container-image lifecycle, over real HTTP against FakeLightsail."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
from collections.abc import Iterator

import boto3
import botocore.config
import pytest
from hypothesis import given
from hypothesis import strategies as st

import lightsail_images as li
from lightsail_images.testing import FakeLightsail


def digest(n: int) -> str:
    return f"sha256:{n:064x}"


@pytest.fixture
def served() -> Iterator[tuple[FakeLightsail, str]]:
    fake = FakeLightsail()
    fake.add_container_service("svc")
    fake.add_container_service("other")
    with fake.serve() as url:
        yield fake, url


def make_client(fake: FakeLightsail, url: str, **config: object) -> li.Client:
    return li.Client(
        fake.region_name,
        endpoint_url=url,
        aws_access_key_id=fake.access_key_id,
        aws_secret_access_key=fake.secret_access_key,
        config=li.ClientConfig(**config),  # type: ignore[arg-type]
    )


@pytest.fixture
def client(served: tuple[FakeLightsail, str]) -> Iterator[li.Client]:
    with make_client(*served) as c:
        yield c


@pytest.fixture
def boto(served: tuple[FakeLightsail, str]) -> Iterator[object]:
    fake, url = served
    c = boto3.client(
        "lightsail",
        endpoint_url=url,
        region_name=fake.region_name,
        aws_access_key_id=fake.access_key_id,
        aws_secret_access_key=fake.secret_access_key,
        config=botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )
    yield c
    c.close()


# --- ImageRef --------------------------------------------------------------------


@given(
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", fullmatch=True),
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,51}[a-z0-9])?", fullmatch=True),
    st.integers(min_value=1, max_value=10**12),
)
def test_image_ref_round_trips(service: str, label: str, version: int) -> None:
    ref = li.ImageRef(service, label, version)
    assert li.ImageRef.parse(str(ref)) == ref
    assert str(li.ImageRef.parse(str(ref))) == str(ref)


@pytest.mark.parametrize(
    "name",
    [
        "nginx:latest",
        "svc.web.1",
        ":svc.web",
        ":svc.web.0",
        ":svc.web.01",
        ":Svc.web.1",
        ":svc.we_b.1",
        ":svc.web.1\n",
        ":-svc.web.1",
        ":svc.web-.1",
        ":svc..1",
        "",
        ":" + "a" * 64 + ".web.1",
        ":svc.web.x",
    ],
)
def test_image_ref_rejects_other_names(name: str) -> None:
    with pytest.raises(ValueError, match="not a registered Lightsail image name"):
        li.ImageRef.parse(name)


def test_container_image_exposes_its_ref() -> None:
    image = li.ContainerImage(":my-svc.web.12", digest(1), dt.datetime.now(dt.timezone.utc))
    assert image.ref == li.ImageRef("my-svc", "web", 12)


# --- get / delete / registry login ---------------------------------------------------


def test_get_container_images_lists_a_thousand_images_like_botocore(
    served: tuple[FakeLightsail, str], client: li.Client, boto: object
) -> None:
    fake, _ = served
    for n in range(1000):
        fake.register_image("svc", f"l{n % 7}", digest(n))
    ours = client.get_container_images(service_name="svc")
    theirs = boto.get_container_images(serviceName="svc")  # type: ignore[attr-defined]
    assert len(ours.container_images) == 1000
    assert [(i.image, i.digest, i.created_at) for i in ours.container_images] == [
        (i["image"], i["digest"], i["createdAt"]) for i in theirs["containerImages"]
    ]
    assert ours.response_metadata.http_status_code == 200
    assert ours.response_metadata.request_id


def test_get_container_images_of_an_empty_service(client: li.Client) -> None:
    assert client.get_container_images(service_name="other").container_images == ()


def test_get_container_images_of_a_missing_service(client: li.Client) -> None:
    with pytest.raises(li.NotFoundException) as info:
        client.get_container_images(service_name="missing")
    assert info.value.details.code  # Lightsail's own sub-code is kept
    assert info.value.tip


def test_delete_container_image(served: tuple[FakeLightsail, str], client: li.Client) -> None:
    fake, _ = served
    first = client.register_container_image(service_name="svc", label="web", digest=digest(1))
    client.register_container_image(service_name="svc", label="web", digest=digest(2))
    result = client.delete_container_image(service_name="svc", image=first.container_image.ref)
    assert isinstance(result, li.DeleteContainerImageResult)
    assert result.response_metadata.http_status_code == 200
    assert [i.image for i in fake.images("svc")] == [":svc.web.2"]
    with pytest.raises(li.NotFoundException):
        client.delete_container_image(service_name="svc", image=":svc.web.1")
    # Deleting frees no version number.
    again = client.register_container_image(service_name="svc", label="web", digest=digest(1))
    assert again.container_image.image == ":svc.web.3"


@pytest.mark.parametrize(
    ("image", "needle"),
    [
        ("nginx:latest", "registered image name"),
        (":svc.web", "registered image name"),
        (":other.web.1", "belongs to container service 'other'"),
    ],
)
def test_delete_validates_the_image_name(client: li.Client, image: str, needle: str) -> None:
    with pytest.raises(li.ParamValidationError, match=needle):
        client.delete_container_image(service_name="svc", image=image)


def test_registry_login(client: li.Client, boto: object) -> None:
    result = client.create_container_service_registry_login()
    login = result.registry_login
    assert login.username
    assert login.registry
    assert login.password
    assert login.password not in repr(result)
    assert login.password not in str(login)
    assert login.expires_at.tzinfo is not None
    hours = (login.expires_at - dt.datetime.now(dt.timezone.utc)).total_seconds() / 3600
    assert 11.9 < hours <= 12.01
    theirs = boto.create_container_service_registry_login()["registryLogin"]  # type: ignore[attr-defined]
    assert set(theirs) == {"username", "password", "expiresAt", "registry"}


# --- ensure ----------------------------------------------------------------------


def test_ensure_registers_once_and_is_a_no_op_on_rerun(
    served: tuple[FakeLightsail, str], client: li.Client
) -> None:
    fake, _ = served
    first = client.ensure_container_image(service_name="svc", label="web", digest=digest(7))
    second = client.ensure_container_image(service_name="svc", label="web", digest=digest(7))
    assert first == second
    assert first.image == ":svc.web.1"
    other_label = client.ensure_container_image(service_name="svc", label="api", digest=digest(7))
    assert other_label.image == ":svc.api.1"
    new_digest = client.ensure_container_image(service_name="svc", label="web", digest=digest(8))
    assert new_digest.image == ":svc.web.2"
    assert len(fake.images("svc")) == 3
    registrations = [r for r in fake.requests if r.operation == "RegisterContainerImage"]
    assert len(registrations) == 3


@pytest.mark.parametrize(
    "inject",
    [
        lambda f: f.faults.fail_after_processing(times=1, operation="RegisterContainerImage"),
        lambda f: f.faults.fail_after_processing(
            times=2, status=503, error_type="ServiceUnavailable", operation="RegisterContainerImage"
        ),
        lambda f: f.faults.drop(times=1, operation="RegisterContainerImage", after_processing=True),
    ],
    ids=["500-after-processing", "503-twice-after-processing", "dropped-after-processing"],
)
def test_ensure_registers_exactly_once_across_ambiguous_failures(
    served: tuple[FakeLightsail, str], client: li.Client, inject: object
) -> None:
    fake, _ = served
    inject(fake)  # type: ignore[operator]
    image = client.ensure_container_image(service_name="svc", label="web", digest=digest(3))
    assert image.image == ":svc.web.1"
    assert [i.digest for i in fake.images("svc")] == [digest(3)]
    # And a plain re-run still registers nothing.
    assert client.ensure_container_image(service_name="svc", label="web", digest=digest(3)) == image
    assert len(fake.images("svc")) == 1


def test_ensure_after_a_read_timeout_checks_before_registering_again(
    served: tuple[FakeLightsail, str],
) -> None:
    fake, url = served
    fake.faults.delay(1.0, times=1, operation="RegisterContainerImage")
    with make_client(fake, url, read_timeout=0.3) as client:
        image = client.ensure_container_image(service_name="svc", label="web", digest=digest(4))
    assert image.image == ":svc.web.1"
    assert len(fake.images("svc")) == 1


def test_plain_register_would_duplicate_where_ensure_does_not(
    served: tuple[FakeLightsail, str], client: li.Client
) -> None:
    # The contrast that motivates ensure: register retries the 500 and registers twice.
    fake, _ = served
    fake.faults.fail_after_processing(times=1, operation="RegisterContainerImage")
    result = client.register_container_image(service_name="svc", label="web", digest=digest(5))
    assert result.container_image.image == ":svc.web.2"
    assert len(fake.images("svc")) == 2


def test_ensure_gives_up_with_the_error_when_failures_persist(
    served: tuple[FakeLightsail, str], client: li.Client
) -> None:
    fake, _ = served
    fake.faults.fail(
        times=10, status=503, error_type="ServiceUnavailable", operation="RegisterContainerImage"
    )
    with pytest.raises(li.ServiceError) as info:
        client.ensure_container_image(service_name="svc", label="web", digest=digest(6))
    assert info.value.code == "ServiceUnavailable"
    registrations = [r for r in fake.requests if r.operation == "RegisterContainerImage"]
    assert len(registrations) == 3  # max_attempts, each after a fresh listing
    assert fake.images("svc") == []


def test_ensure_stops_when_listing_is_denied(
    served: tuple[FakeLightsail, str], client: li.Client
) -> None:
    fake, _ = served
    fake.faults.fail(
        times=1, status=400, error_type="AccessDeniedException", operation="GetContainerImages"
    )
    with pytest.raises(li.AccessDeniedException):
        client.ensure_container_image(service_name="svc", label="web", digest=digest(9))
    assert fake.images("svc") == []
    assert not [r for r in fake.requests if r.operation == "RegisterContainerImage"]


def test_ensure_validates_before_any_request(
    served: tuple[FakeLightsail, str], client: li.Client
) -> None:
    fake, _ = served
    with pytest.raises(li.ParamValidationError):
        client.ensure_container_image(service_name="svc", label="Web", digest=digest(1))
    assert fake.requests == ()


def test_ensure_from_many_threads_registers_each_digest_once(
    served: tuple[FakeLightsail, str], client: li.Client
) -> None:
    fake, _ = served
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(
            pool.map(
                lambda n: client.ensure_container_image(
                    service_name="svc", label="web", digest=digest(n % 4)
                ),
                range(40),
            )
        )
    assert len({r.image for r in results}) == 4
    assert sorted(i.digest for i in fake.images("svc")) == sorted(digest(n) for n in range(4))


# --- prune -----------------------------------------------------------------------


@pytest.fixture
def populated(served: tuple[FakeLightsail, str]) -> FakeLightsail:
    fake, _ = served
    for n in range(1, 12):
        fake.register_image("svc", "web", digest(n))  # :svc.web.1 .. .11
    for n in range(1, 4):
        fake.register_image("svc", "api", digest(100 + n))  # :svc.api.1 .. .3
    fake.set_deployment("svc", {"app": ":svc.web.2", "proxy": "nginx:latest"})
    fake.set_deployment("svc", {"app": ":svc.web.3"}, next_deployment=True)
    return fake


def test_prune_dry_run_reports_and_deletes_nothing(
    populated: FakeLightsail, client: li.Client
) -> None:
    result = client.prune_container_images(service_name="svc", keep=2)
    assert result.dry_run
    assert {i.image for i in result.kept} == {
        ":svc.web.11",
        ":svc.web.10",
        ":svc.api.3",
        ":svc.api.2",
    }
    assert {i.image for i in result.in_use} == {":svc.web.2", ":svc.web.3"}
    assert {i.image for i in result.deleted} == {":svc.api.1"} | {
        f":svc.web.{n}" for n in (1, 4, 5, 6, 7, 8, 9)
    }
    assert len(populated.images("svc")) == 14
    assert not [r for r in populated.requests if r.operation == "DeleteContainerImage"]


def test_prune_deletes_old_versions_but_never_deployed_ones(
    populated: FakeLightsail, client: li.Client
) -> None:
    result = client.prune_container_images(service_name="svc", keep=2, label="web", dry_run=False)
    assert not result.dry_run
    remaining = {i.image for i in populated.images("svc")}
    assert remaining == {
        ":svc.web.11",
        ":svc.web.10",
        ":svc.web.2",
        ":svc.web.3",
        ":svc.api.1",
        ":svc.api.2",
        ":svc.api.3",
    }
    assert {i.image for i in result.deleted} == {f":svc.web.{n}" for n in (1, 4, 5, 6, 7, 8, 9)}
    # Re-running finds nothing more to do.
    again = client.prune_container_images(service_name="svc", keep=2, label="web", dry_run=False)
    assert again.deleted == ()


def test_prune_keep_zero_keeps_only_what_is_deployed(
    populated: FakeLightsail, client: li.Client
) -> None:
    client.prune_container_images(service_name="svc", keep=0, dry_run=False)
    assert {i.image for i in populated.images("svc")} == {":svc.web.2", ":svc.web.3"}


@pytest.mark.parametrize("keep", [-1, 1.5, True, "2", None])
def test_prune_rejects_bad_keep(client: li.Client, keep: object) -> None:
    with pytest.raises(li.ParamValidationError, match="keep"):
        client.prune_container_images(service_name="svc", keep=keep)  # type: ignore[arg-type]


def test_prune_of_a_missing_service(client: li.Client) -> None:
    with pytest.raises(li.NotFoundException):
        client.prune_container_images(service_name="missing", keep=1)
