"""One model-to-JSON conversion (``_protocol.to_json``) for the fake's answers and the CLI.

The wire names and the two timestamp forms (epoch seconds on the wire, ISO
8601 in the CLI's output) are defined once, next to the converter that parses
responses; the fake answers with exactly what ``to_json`` makes of its
models, the CLI prints exactly what ``to_json(..., timestamps="iso")`` makes,
and what the fake answers parses back to the same model.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

import lightsail_images as li
from lightsail_images import _cli
from lightsail_images._protocol import converter, to_json, wire_members
from lightsail_images.testing import FakeLightsail

DIGEST = "sha256:" + "6a" * 32
UTC = dt.timezone.utc

instants = st.datetimes(
    min_value=dt.datetime(1971, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
    max_value=dt.datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@given(created_at=instants, image=st.from_regex(r":[a-z]{1,5}\.[a-z]{1,5}\.[1-9]", fullmatch=True))
def test_an_image_round_trips_through_the_wire_form(created_at: dt.datetime, image: str) -> None:
    model = li.ContainerImage(image=image, digest=DIGEST, created_at=created_at)
    wire = to_json(model)
    assert list(wire) == ["image", "digest", "createdAt"]
    assert isinstance(wire["createdAt"], int | float)
    assert converter.structure(json.loads(json.dumps(wire)), li.ContainerImage) == model


@given(created_at=instants)
def test_the_iso_form_is_the_aws_clis_utc_iso_8601(created_at: dt.datetime) -> None:
    shown = to_json(li.ContainerImage(":s.l.1", DIGEST, created_at), timestamps="iso")
    assert shown["createdAt"] == created_at.isoformat()
    assert shown["createdAt"].endswith("+00:00")
    # Another zone is shown in UTC, as the AWS CLI shows it.
    elsewhere = created_at.astimezone(dt.timezone(dt.timedelta(hours=-7)))
    assert to_json(li.ContainerImage(":s.l.1", DIGEST, elsewhere), timestamps="iso") == shown


def test_members_left_unset_are_left_out() -> None:
    assert to_json(li.ErrorDetails(message="m")) == {"message": "m"}
    assert list(to_json(li.ErrorDetails("c", "d", "m", "t"))) == ["code", "docs", "message", "tip"]


def test_lists_and_tuples_of_models_become_lists() -> None:
    image = li.ContainerImage(":s.l.1", DIGEST, dt.datetime(2025, 1, 1, tzinfo=UTC))
    assert to_json((image, image)) == [to_json(image)] * 2
    assert json.dumps(to_json([image], timestamps="iso"))


@pytest.fixture
def fake_with_image() -> FakeLightsail:
    fake = FakeLightsail()
    fake.add_container_service("svc")
    fake.set_registry("127.0.0.1:5000", username="AWS", password="pw-for-the-test")
    return fake


def test_the_fakes_answers_are_the_converters_output(
    fake_with_image: FakeLightsail, sign_request: object
) -> None:
    fake = fake_with_image
    sign = sign_request  # (fake, operation, params) -> (headers, body)

    def call(operation: str, params: dict[str, str]) -> dict[str, object]:
        response = fake.handle("POST", "/", *sign(fake, operation, params))  # type: ignore[operator]
        assert response.status_code == 200, response.body
        return json.loads(response.body)  # type: ignore[no-any-return]

    registered = call(
        "RegisterContainerImage", {"serviceName": "svc", "label": "web", "digest": DIGEST}
    )
    (image,) = fake.images("svc")
    assert registered == {"containerImage": to_json(image)}
    assert call("GetContainerImages", {"serviceName": "svc"}) == {
        "containerImages": [to_json(image)]
    }
    login = call("CreateContainerServiceRegistryLogin", {})["registryLogin"]
    parsed = converter.structure(login, li.ContainerServiceRegistryLogin)
    assert login == to_json(parsed)
    assert parsed.password == "pw-for-the-test"
    # Errors too: Lightsail's shape, the members in ErrorDetails' order.
    response = fake.handle(
        "POST",
        "/",
        *sign(fake, "GetContainerImages", {"serviceName": "nope"}),  # type: ignore[operator]
    )
    error = json.loads(response.body)
    assert list(error) == ["__type", "code", "docs", "message", "tip"]
    assert {"__type": error.pop("__type"), **error} == {
        "__type": "NotFoundException",
        **to_json(converter.structure(error, li.ErrorDetails)),
    }


def test_the_clis_json_is_the_converters_iso_output(
    fake_with_image: FakeLightsail,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake = fake_with_image
    with fake.serve() as url:
        for name, value in {
            "AWS_ENDPOINT_URL": url,
            "AWS_REGION": fake.region_name,
            "AWS_ACCESS_KEY_ID": fake.access_key_id,
            "AWS_SECRET_ACCESS_KEY": fake.secret_access_key,
        }.items():
            monkeypatch.setenv(name, value)
        argv = ["--service-name", "svc", "--output", "json"]
        assert _cli.main(["register", *argv, "--label", "web", "--digest", DIGEST]) == 0
        registered = json.loads(capsys.readouterr().out)
        assert _cli.main(["list", *argv]) == 0
        listed = capsys.readouterr().out
        assert _cli.main(["prune", *argv, "--keep", "0"]) == 0
        pruned = json.loads(capsys.readouterr().out)
    (image,) = fake.images("svc")
    assert registered == {"containerImage": to_json(image, timestamps="iso")}
    expected = {"containerImages": [to_json(image, timestamps="iso")]}
    assert listed == json.dumps(expected, indent=4) + "\n"  # byte for byte
    assert list(pruned) == ["dryRun", "deleted", "kept", "inUse"]
    assert pruned["deleted"] == [to_json(image, timestamps="iso")]


def test_wire_members_names_a_models_members_without_converting_them() -> None:
    image = li.ContainerImage(":s.l.1", DIGEST, dt.datetime(2025, 1, 1, tzinfo=UTC))
    result = li.PruneResult(deleted=(image,), kept=(), in_use=(), dry_run=False)
    members = wire_members(result)
    assert members == {"deleted": (image,), "kept": (), "inUse": (), "dryRun": False}
    assert wire_members(li.ErrorDetails(message="m")) == {"message": "m"}
    # Converted later, as the CLI renders its documents.
    assert to_json(members)["deleted"] == [to_json(image)]
