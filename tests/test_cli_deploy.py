"""lightsail-images deploy, push --deploy and fake-server --deployment.

In-process runs (``_cli.main``) cover the outputs and argument errors; real
subprocesses prove the exit codes 0, 6 and 7 and the plain progress lines
(a subprocess has no testing switch: the fake settles at the first poll, so
each waits about two seconds).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lightsail_images as li
from lightsail_images import _cli
from lightsail_images.testing import DeploymentRule, FakeLightsail
from tests.registry_support import lightsail_for, make_oci_layout, start_registry
from tests.test_cli import CLI, TIMEOUT, assert_iso, aws_env, run_cli

DIGEST = "sha256:" + "7e" * 32
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and shells")


@pytest.fixture
def svc(fake: FakeLightsail) -> FakeLightsail:
    fake.add_container_service("svc")
    for _ in range(3):
        fake.register_image("svc", "web", DIGEST)
    fake.set_deployment(
        "svc",
        {
            "web": li.Container(image=":svc.web.1", ports={"8080": "HTTP"}),
            "proxy": li.Container(image="nginx:1.27"),
        },
        public_endpoint=li.EndpointRequest(container_name="web", container_port=8080),
    )
    return fake


@pytest.fixture
def cli(svc: FakeLightsail, fake_url: str, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Any:
    def run(*argv: str) -> tuple[int, str, str]:
        for name, value in aws_env(svc, fake_url).items():
            monkeypatch.setenv(name, value)
        code = _cli.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_deploy_label_json_is_shaped_like_create_container_service_deployment(
    cli: Any, svc: FakeLightsail
) -> None:
    code, out, err = cli("deploy", "--service-name", "svc", "--label", "web", "--output", "json")
    assert code == 0, err
    service = json.loads(out)["containerService"]
    assert service["containerServiceName"] == "svc"
    assert service["state"] == "RUNNING"
    current = service["currentDeployment"]
    assert current["version"] == 2
    assert current["state"] == "ACTIVE"
    assert current["containers"]["web"] == {
        "image": ":svc.web.3",  # the label's newest version
        "command": [],
        "environment": {},
        "ports": {"8080": "HTTP"},
    }
    assert current["containers"]["proxy"]["image"] == "nginx:1.27"
    assert current["publicEndpoint"]["containerName"] == "web"
    assert_iso(current["createdAt"])
    assert_iso(service["createdAt"])
    # Not a terminal: a plain line per step on stderr.
    assert "lightsail-images: deploy: created deployment 2 with :svc.web.3" in err
    assert "lightsail-images: deploy: deployment 2 is ACTIVE (service RUNNING)" in err


def test_deploy_text_image_version_container_name_and_no_wait(cli: Any, svc: FakeLightsail) -> None:
    code, out, _ = cli("deploy", "--service-name", "svc", "--label", "web", "--version", "2")
    assert code == 0
    assert out.splitlines()[0] == (
        "deployment 2 of svc is ACTIVE: web=:svc.web.2, proxy=nginx:1.27"
    )
    assert out.splitlines()[1].startswith("url: https://svc.")
    svc.set_deployment_rule("svc", DeploymentRule(polls=3))
    code, out, _ = cli(
        "deploy", "--service-name", "svc", "--image", "nginx:1.28",
        "--container-name", "proxy", "--no-wait",
    )  # fmt: skip
    assert code == 0
    assert out.startswith("deployment 3 of svc is ACTIVATING: web=:svc.web.2, proxy=nginx:1.28")
    code, out, err = cli("deploy", "--service-name", "svc", "--label", "web")
    assert code == 0
    assert "deployment 3 is still activating" in err  # waited for it, then deployed on top
    assert out.startswith("deployment 4 of svc is ACTIVE: web=:svc.web.3, proxy=nginx:1.28")


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--label", "api"], ["--label: no image is registered under 'api'"]),
        (["--image", ":svc.web.2", "--version", "2"], ["--version: goes with --label"]),
        (["--image", ":svc.db.1"], ["--image:", "web (:svc.web.1)", "proxy (nginx:1.27)"]),
        (["--image", ":svc.web.2", "--container-name", "nope"], ["--container-name:"]),
        (["--image", ":svc.web.2", "--label", "web"], ["not allowed with argument"]),
        (["--image", ":svc.web.2", "--timeout", "0"], ["--timeout", "greater than 0"]),
        ([], ["one of the arguments --image --label is required"]),
    ],
)
def test_deploy_argument_errors_exit_2_and_name_the_flags(
    cli: Any, svc: FakeLightsail, argv: list[str], words: list[str]
) -> None:
    code, out, err = cli("deploy", "--service-name", "svc", *argv)
    assert (code, out) == (2, "")
    for word in words:
        assert word in err
    assert [d.version for d in svc.deployments("svc")] == [1]


def test_every_deploy_exception_maps_to_its_exit_code() -> None:
    failed = li.DeploymentFailedError(service_name="s", version=2, logs={})
    timeout = li.DeploymentTimeoutError(service_name="s", version=2, timeout=5, state="ACTIVATING")
    assert _cli.exit_code_for(failed) == 6
    assert _cli.exit_code_for(timeout) == 7


def test_subprocess_deploy_exit_0(svc: FakeLightsail, fake_url: str) -> None:
    svc.set_deployment_rule("svc", DeploymentRule(polls=0))
    result = run_cli(
        "deploy", "--service-name", "svc", "--image", ":svc.web.2", env=aws_env(svc, fake_url)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("deployment 2 of svc is ACTIVE: web=:svc.web.2")
    # Seconds since the start: the first poll comes about 2 seconds in.
    lines = [re.sub(r"\(\d+s\)$", "(Ns)", line) for line in result.stderr.splitlines()]
    assert lines == [
        "lightsail-images: deploy: created deployment 2 with :svc.web.2 (Ns)",
        "lightsail-images: deploy: deployment 2 is ACTIVE (service RUNNING) (Ns)",
    ]


def test_subprocess_failed_deployment_exits_6_with_the_logs(
    svc: FakeLightsail, fake_url: str
) -> None:
    svc.set_deployment_rule(
        "svc",
        DeploymentRule(polls=0, healthy=False, log_lines=("Error: cannot open app.py",)),
    )
    result = run_cli(
        "deploy", "--service-name", "svc", "--label", "web", env=aws_env(svc, fake_url)
    )
    assert (result.returncode, result.stdout) == (6, "")
    head = "lightsail-images: error: DeploymentFailedError: deployment 2 of container service"
    assert f"{head} 'svc' failed" in result.stderr
    assert (
        "last log lines of container 'web':\n  [deployment:2] Creating your deployment"
        in result.stderr
    )
    assert "  Error: cannot open app.py\n" in result.stderr
    assert "Traceback" not in result.stderr


def test_subprocess_timeout_exits_7_and_says_it_may_still_finish(
    svc: FakeLightsail, fake_url: str
) -> None:
    svc.set_deployment_rule("svc", DeploymentRule(polls=1000))
    result = run_cli(
        "deploy", "--service-name", "svc", "--label", "web", "--timeout", "1",
        env=aws_env(svc, fake_url),
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (7, "")
    assert (
        "DeploymentTimeoutError: deployment 2 of container service 'svc' was still ACTIVATING"
        in result.stderr
    )
    assert "may still finish" in result.stderr


def test_the_terminal_display_redraws_one_line() -> None:
    class Terminal:
        def __init__(self) -> None:
            self.text = ""

        def isatty(self) -> bool:
            return True

        def write(self, text: str) -> None:
            self.text += text

        def flush(self) -> None:
            pass

    terminal = Terminal()
    with _cli._DeployDisplay(terminal) as display:
        display.update(
            li.DeploymentProgress(kind="created", message="created deployment 2", service_name="s")
        )
        display.update(
            li.DeploymentProgress(
                kind="active", message="deployment 2 is ACTIVE", service_name="s", elapsed=7
            )
        )
    assert terminal.text.count("\n") == 1
    assert terminal.text.endswith("\r\x1b[Kdeploying: deployment 2 is ACTIVE (7s)\n")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    running = start_registry(tmp_path_factory.mktemp("deploy-registry"))
    yield running
    running.stop()


def test_push_deploy_in_one_command(
    registry: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    with lightsail_for(f"http://{registry.host}") as (fake, client):
        fake.register_image("svc", "web", DIGEST)
        fake.set_deployment("svc", {"app": ":svc.web.1"})
        url = client.endpoint_url
        for name, value in aws_env(fake, url).items():
            monkeypatch.setenv(name, value)
        built = make_oci_layout(tmp_path / "layout", layers=None)
        code = _cli.main(
            ["push", "--service-name", "svc", "--label", "web", "--insecure-registry", "--deploy",
             "--output", "json", str(built.path)]
        )  # fmt: skip
        out, err = capsys.readouterr()
        assert code == 0, err
        assert json.loads(out)["containerImage"]["image"] == ":svc.web.2"
        current = fake.container_services()[0].current_deployment
        assert current is not None
        assert current.containers is not None
        assert current.containers["app"].image == ":svc.web.2"
        assert "deployment 2 is ACTIVE" in err


def test_fake_server_starts_with_deployments(monkeypatch: pytest.MonkeyPatch) -> None:
    with subprocess.Popen(
        [*CLI, "fake-server", "--service", "my-svc",
         "--deployment", "my-svc/web=:my-svc.web.2@8080", "--deployment", "my-svc/proxy=nginx"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:  # fmt: skip
        watchdog = threading.Timer(TIMEOUT, proc.kill)
        watchdog.start()
        try:
            info = json.loads(proc.stdout.readline())  # type: ignore[union-attr]
            with li.Client(**info) as client:
                service = client.get_container_services(service_name="my-svc").container_services[0]
                images = client.get_container_images(service_name="my-svc").container_images
            proc.terminate()
            proc.communicate(timeout=TIMEOUT)
        finally:
            watchdog.cancel()
            proc.kill()
    assert service.state == "RUNNING"
    assert service.current_deployment is not None
    assert service.current_deployment.containers == {
        "web": li.Container(
            image=":my-svc.web.2", command=(), environment={}, ports={"8080": "HTTP"}
        ),
        "proxy": li.Container(image="nginx", command=(), environment={}, ports={}),
    }
    assert service.current_deployment.public_endpoint is not None
    assert service.current_deployment.public_endpoint.container_port == 8080
    assert [i.image for i in images] == [":my-svc.web.2", ":my-svc.web.1"]


def test_fake_server_rejects_a_malformed_deployment(capsys: Any) -> None:
    code = _cli.main(["fake-server", "--service", "s", "--deployment", "s-web-nginx"])
    assert code == 2
    assert (
        "--deployment: 's-web-nginx' is not SERVICE/CONTAINER=IMAGE[@PORT]"
        in capsys.readouterr().err
    )
