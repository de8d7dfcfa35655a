"""push_container_image end to end: a real registry on loopback, FakeLightsail for the API."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import lightsail_images as li
from lightsail_images.testing import FakeLightsail
from tests.registry_support import (
    PASSWORD,
    USERNAME,
    RunningRegistry,
    lightsail_for,
    make_docker_save,
    make_oci_archive,
    make_oci_layout,
    skopeo_raw_manifest,
    start_registry,
)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    running = start_registry(tmp_path_factory.mktemp("push-registry"))
    yield running
    running.stop()


@pytest.fixture
def lightsail(registry: RunningRegistry) -> Iterator[tuple[FakeLightsail, li.Client]]:
    with lightsail_for(f"http://{registry.host}") as (fake, client):
        yield fake, client


def operations(fake: FakeLightsail) -> list[str]:
    return [r.operation or "" for r in fake.requests]


@pytest.mark.parametrize("kind", ["oci-layout", "oci-archive", "docker-save"])
def test_push_registers_each_source_format_and_reruns_do_nothing(
    kind: str, tmp_path: Path, registry: RunningRegistry, lightsail: tuple[FakeLightsail, li.Client]
) -> None:
    fake, client = lightsail
    if kind == "oci-layout":
        built = make_oci_layout(tmp_path / "layout", layers=None)
    elif kind == "oci-archive":
        built = make_oci_archive(tmp_path / "image.tar", tmp_path / "scratch")
    else:
        built = make_docker_save(tmp_path / "saved.tar")
    events: list[li.PushProgress] = []
    image = client.push_container_image(
        insecure_registry=True,
        service_name="svc",
        label="web",
        source=built.path,
        on_progress=events.append,
    )
    assert image.image == ":svc.web.1"
    assert image.digest.startswith("sha256:")
    if kind != "docker-save":
        assert image.digest == built.digest()  # pushed byte for byte
    # The registry holds exactly that manifest (skopeo is the independent reader).
    tags = [p for p in (registry.root / "data").rglob("tags/*") if p.is_dir()]
    assert tags, "a tag was pushed"
    tag = tags[-1].name
    assert skopeo_raw_manifest(registry.host, f"sr:{tag}")
    assert {e.digest for e in events if e.done}  # progress was reported
    if kind == "docker-save":
        # Its digest is known only once its layers are compressed, and they
        # compress while they upload: it logs in first and checks after.
        first = ["CreateContainerServiceRegistryLogin", "GetContainerImages"]
    else:
        first = ["GetContainerImages", "CreateContainerServiceRegistryLogin"]
    assert operations(fake) == [*first, "GetContainerImages", "RegisterContainerImage"]
    fake.clear_requests()
    again = client.push_container_image(
        insecure_registry=True, service_name="svc", label="web", source=built.path
    )
    assert again == image
    assert operations(fake) == ["GetContainerImages"]  # no login, no push, no registration
    assert len(fake.images("svc")) == 1


def test_the_same_image_under_another_label_skips_every_blob(
    tmp_path: Path, lightsail: tuple[FakeLightsail, li.Client]
) -> None:
    _fake, client = lightsail
    built = make_oci_layout(tmp_path / "layout")
    client.push_container_image(
        insecure_registry=True, service_name="svc", label="web", source=built.path
    )
    events: list[li.PushProgress] = []
    other = client.push_container_image(
        insecure_registry=True,
        service_name="svc",
        label="api",
        source=built.path,
        on_progress=events.append,
    )
    assert other.image == ":svc.api.1"
    done = [e for e in events if e.done]
    assert done
    assert all(e.skipped and e.sent == 0 for e in done)


def test_wrong_platform_is_refused_before_any_request(
    tmp_path: Path, lightsail: tuple[FakeLightsail, li.Client]
) -> None:
    fake, client = lightsail
    built = make_oci_layout(tmp_path / "arm", platforms=("arm64", "s390x"))
    with pytest.raises(li.PlatformError) as info:
        client.push_container_image(
            insecure_registry=True, service_name="svc", label="web", source=built.path
        )
    assert "linux/arm64" in str(info.value)
    assert fake.requests == ()


def test_bad_registry_credentials_are_a_clear_error(
    tmp_path: Path, registry: RunningRegistry, lightsail: tuple[FakeLightsail, li.Client]
) -> None:
    fake, client = lightsail
    fake.set_registry(f"http://{registry.host}", username=USERNAME, password="wrong-password")
    built = make_oci_layout(tmp_path / "layout")
    with pytest.raises(li.RegistryAuthError) as info:
        client.push_container_image(
            insecure_registry=True, service_name="svc", label="web", source=built.path
        )
    assert "wrong-password" not in str(info.value)
    assert fake.images("svc") == []


def test_missing_source_and_bad_names(
    tmp_path: Path, lightsail: tuple[FakeLightsail, li.Client]
) -> None:
    fake, client = lightsail
    with pytest.raises(li.ImageSourceError):
        client.push_container_image(
            insecure_registry=True, service_name="svc", label="web", source=tmp_path / "nope"
        )
    with pytest.raises(li.ParamValidationError) as info:
        client.push_container_image(
            insecure_registry=True, service_name="Svc", label="-web", source=tmp_path / "nope"
        )
    assert [p.field for p in info.value.errors] == ["service_name", "label"]
    assert fake.requests == ()


def test_registry_down_is_a_transport_error(tmp_path: Path) -> None:
    built = make_oci_layout(tmp_path / "layout")
    # The discard port: connections are refused.
    with (
        lightsail_for("http://127.0.0.1:9") as (fake, client),
        pytest.raises(li.TransportError) as info,  # no response from the registry
    ):
        client.push_container_image(
            insecure_registry=True, service_name="svc", label="web", source=built.path
        )
    assert info.value.registry == "127.0.0.1:9"  # not Lightsail's endpoint
    assert fake.images("svc") == []


# --- the CLI ---------------------------------------------------------------------


def run_cli(fake: FakeLightsail, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "AWS_ACCESS_KEY_ID": fake.access_key_id,
        "AWS_SECRET_ACCESS_KEY": fake.secret_access_key,
        "AWS_REGION": fake.region_name,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    return subprocess.run(
        [sys.executable, "-m", "lightsail_images", *args, "--endpoint-url", url],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_cli_push_prints_the_image_and_reports_progress(
    tmp_path: Path, registry: RunningRegistry
) -> None:
    fake = FakeLightsail()
    fake.add_container_service("svc")
    fake.set_registry(f"http://{registry.host}", username=USERNAME, password=PASSWORD)
    built = make_docker_save(tmp_path / "saved.tar")
    arm = make_oci_layout(tmp_path / "arm", platforms=("arm64",))
    push = ("push", "--service-name", "svc", "--label", "web", "--insecure-registry")
    with fake.serve() as url:
        first = run_cli(fake, url, *push, str(built.path))
        again = run_cli(fake, url, *push, str(built.path), "--output", "json")
        wrong = run_cli(fake, url, *push, str(arm.path))
        bad_jobs = run_cli(
            fake, url, "push", "--service-name", "svc", "--label", "web", "--jobs", "0", "x"
        )
    assert first.returncode == 0, first.stderr
    assert "pushed and registered :svc.web.1" in first.stdout
    assert " pushed" in first.stderr  # a plain line per blob when stderr is not a terminal
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["containerImage"]["image"] == ":svc.web.1"
    assert wrong.returncode == 2
    assert "PlatformError" in wrong.stderr
    assert "linux/arm64" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    assert bad_jobs.returncode == 2
    assert len(fake.images("svc")) == 1


def test_cli_push_display_redraws_one_line_on_a_terminal() -> None:
    from lightsail_images import PushProgress
    from lightsail_images._cli import _PushDisplay

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    with _PushDisplay(screen) as display:
        display.update(
            PushProgress(
                digest="sha256:aa",
                media_type="m",
                size=2_000_000,
                sent=0,
                skipped=False,
                done=False,
            )
        )
        display.update(
            PushProgress(
                digest="sha256:bb", media_type="m", size=10, sent=0, skipped=True, done=True
            )
        )
        display.update(
            PushProgress(
                digest="sha256:aa",
                media_type="m",
                size=2_000_000,
                sent=2_000_000,
                skipped=False,
                done=True,
            )
        )
    text = screen.getvalue()
    assert text.count("\r") == 3
    assert (
        text.rstrip("\n")
        .rsplit("\r", 1)[-1]
        .startswith("pushing: 2/2 blobs done (1 already there), 2.0 MB of 2.0 MB")
    )
    assert text.endswith("\n")


def test_a_plain_http_registry_needs_the_explicit_option(
    tmp_path: Path, registry: RunningRegistry, lightsail: tuple[FakeLightsail, li.Client]
) -> None:
    fake, client = lightsail
    built = make_oci_layout(tmp_path / "layout")
    with pytest.raises(li.ConfigurationError, match="insecure_registry=True") as info:
        client.push_container_image(service_name="svc", label="web", source=built.path)
    assert PASSWORD not in str(info.value)
    assert fake.images("svc") == []
    assert "RegisterContainerImage" not in operations(fake)


def test_push_with_deploy_runs_the_image_and_reruns_create_nothing(
    tmp_path: Path, lightsail: tuple[FakeLightsail, li.Client]
) -> None:
    fake, client = lightsail
    fake.register_image("svc", "web", "sha256:" + "0" * 64)
    fake.set_deployment(
        "svc",
        {"app": li.Container(image=":svc.web.1", ports={"8080": "HTTP"}), "proxy": "nginx"},
        public_endpoint=li.EndpointRequest(container_name="app", container_port=8080),
    )
    built = make_oci_layout(tmp_path / "layout", layers=None)
    events: list[li.DeploymentProgress] = []
    image = client.push_container_image(
        insecure_registry=True,
        service_name="svc",
        label="web",
        source=built.path,
        deploy=True,
        on_deploy_progress=events.append,
    )
    assert image.image == ":svc.web.2"
    current = fake.container_services()[0].current_deployment
    assert current is not None
    assert current.containers is not None
    assert current.containers["app"].image == ":svc.web.2"
    assert current.containers["proxy"].image == "nginx"
    assert events[-1].kind == "active"
    fake.clear_requests()
    client.push_container_image(
        insecure_registry=True, service_name="svc", label="web", source=built.path, deploy=True
    )
    assert operations(fake) == ["GetContainerImages", "GetContainerServices"]


def test_push_checks_the_deploy_arguments_before_reading_the_image(
    tmp_path: Path, lightsail: tuple[FakeLightsail, li.Client]
) -> None:
    fake, client = lightsail
    with pytest.raises(li.ParamValidationError) as caught:
        client.push_container_image(
            service_name="svc",
            label="web",
            source=tmp_path / "missing.tar",
            deploy=True,
            container_name="Bad!",
            deploy_timeout=-1,
        )
    assert {p.field for p in caught.value.errors} == {"container_name", "deploy_timeout"}
    assert fake.requests == ()
