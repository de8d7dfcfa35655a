"""The lightsail-images command: outputs, exit codes, stderr, fake-server and the README demo.

Each exit code is proved at least once through a real subprocess
(``python -m lightsail_images``) against a FakeLightsail served in this
process; the remaining cases call ``_cli.main(argv)`` in-process, which is
faster and counts for coverage.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import pathlib
import re
import runpy
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import lightsail_images as li
from lightsail_images import ErrorDetails, _cli
from lightsail_images.testing import FakeLightsail

ROOT = Path(__file__).resolve().parent.parent
DIGEST_1 = "sha256:" + "1a" * 32
DIGEST_2 = "sha256:" + "2b" * 32
DIGEST_3 = "sha256:" + "3c" * 32
CLI = [sys.executable, "-m", "lightsail_images"]
TIMEOUT = 60
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and shells")


def aws_env(fake, url, **extra):
    """The environment a user would export to point the CLI at the fake."""
    env = {
        "AWS_ENDPOINT_URL": url,
        "AWS_REGION": fake.region_name,
        "AWS_ACCESS_KEY_ID": fake.access_key_id,
        "AWS_SECRET_ACCESS_KEY": fake.secret_access_key,
    }
    env.update(extra)
    return env


def run_cli(*argv, env, **kwargs):
    """Run the real command in a subprocess; the test process's (clean) env plus ``env``."""
    return subprocess.run(
        [*CLI, *argv],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        **kwargs,
    )


@pytest.fixture
def svc(fake):
    fake.add_container_service("svc")
    return fake


@pytest.fixture
def cli(svc, fake_url, monkeypatch, capsys):
    """cli(*argv, **env) runs main(argv) in-process with the fake's env; -> (code, out, err)."""

    def run(*argv, **env):
        for name, value in aws_env(svc, fake_url, **env).items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        code = _cli.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def assert_clean_error(err, *, error_type):
    assert err.startswith(f"lightsail-images: error: {error_type}: ")
    assert "Traceback" not in err


def assert_iso(value):
    parsed = dt.datetime.fromisoformat(value)
    assert parsed.utcoffset() == dt.timedelta(0)
    return parsed


# --- every subcommand's json and text output (in-process) --------------------------------


def test_register_text_names_the_image_to_deploy(cli, svc):
    code, out, err = cli(
        "register", "--service-name", "svc", "--label", "web", "--digest", DIGEST_1
    )
    assert (code, err) == (0, "")
    assert out == (
        f'registered :svc.web.1 ({DIGEST_1}) - use ":svc.web.1" as the image in your deployment\n'
    )
    assert [i.image for i in svc.images("svc")] == [":svc.web.1"]


def test_register_json_is_shaped_like_the_aws_cli(cli, svc):
    argv = ("register", "--service-name", "svc", "--label", "web", "--digest")
    cli(*argv, DIGEST_1)
    code, out, _ = cli(*argv, DIGEST_2, "--output", "json")
    assert code == 0
    assert out.startswith('{\n    "containerImage": {\n        "image": ')  # indent 4, API order
    document = json.loads(out)
    assert list(document) == ["containerImage"]
    image = document["containerImage"]
    assert list(image) == ["image", "digest", "createdAt"]
    assert image["image"] == ":svc.web.2"
    assert image["digest"] == DIGEST_2
    assert assert_iso(image["createdAt"]) == svc.images("svc")[1].created_at


def test_global_options_go_before_or_after_the_subcommand(cli):
    code, out, _ = cli(
        "--output", "json", "register", "--service-name", "svc", "--label", "web", "--digest",
        DIGEST_1,
    )  # fmt: skip
    assert code == 0
    assert json.loads(out)["containerImage"]["image"] == ":svc.web.1"
    # After the subcommand wins over before it.
    code, out, _ = cli("--output", "json", "list", "--service-name", "svc", "--output", "text")
    assert out.startswith("IMAGE")


def test_list_text_and_json(cli, svc):
    code, out, _ = cli("list", "--service-name", "svc")
    assert (code, out) == (0, "no images are registered to svc\n")
    svc.register_image("svc", "web", DIGEST_1)
    svc.register_image("svc", "web", DIGEST_2)
    code, out, _ = cli("list", "--service-name", "svc")
    lines = out.splitlines()
    assert lines[0].split() == ["IMAGE", "CREATED", "DIGEST"]
    assert [line.split()[0] for line in lines[1:]] == [":svc.web.2", ":svc.web.1"]  # newest first
    assert lines[1].endswith(DIGEST_2)
    assert lines[1].index("sha256:") == lines[0].index("DIGEST")  # aligned columns
    assert " UTC " in lines[1]
    code, out, _ = cli("list", "--service-name", "svc", "--output", "json")
    document = json.loads(out)
    assert list(document) == ["containerImages"]
    assert [i["image"] for i in document["containerImages"]] == [":svc.web.2", ":svc.web.1"]
    assert [i["digest"] for i in document["containerImages"]] == [DIGEST_2, DIGEST_1]
    for image in document["containerImages"]:
        assert_iso(image["createdAt"])


def test_delete_text_and_json(cli, svc):
    for digest in (DIGEST_1, DIGEST_2):
        svc.register_image("svc", "web", digest)
    code, out, _ = cli("delete", "--service-name", "svc", "--image", ":svc.web.1")
    assert (code, out) == (0, "deleted :svc.web.1 from svc\n")
    # Like the AWS CLI, an empty result prints nothing at all in JSON.
    code, out, _ = cli(
        "delete", "--service-name", "svc", "--image", ":svc.web.2", "--output", "json"
    )
    assert (code, out) == (0, "")
    assert svc.images("svc") == []


def test_ensure_is_idempotent_in_text_and_json(cli, svc):
    argv = ("ensure", "--service-name", "svc", "--label", "web", "--digest", DIGEST_1)
    code, out, _ = cli(*argv)
    assert code == 0
    assert out == (
        f':svc.web.1 ({DIGEST_1}) is registered - use ":svc.web.1" as the image in your '
        "deployment\n"
    )
    code, out, _ = cli(*argv, "--output", "json")
    assert code == 0
    assert json.loads(out)["containerImage"]["image"] == ":svc.web.1"
    assert list(json.loads(out)["containerImage"]) == ["image", "digest", "createdAt"]
    assert len(svc.images("svc")) == 1


@pytest.fixture
def five_images(svc):
    """svc has web.1-3 (web.2 deployed) and worker.1-2."""
    for digest in (DIGEST_1, DIGEST_2, DIGEST_3):
        svc.register_image("svc", "web", digest)
    for digest in (DIGEST_1, DIGEST_2):
        svc.register_image("svc", "worker", digest)
    svc.set_deployment("svc", {"app": ":svc.web.2"})
    return svc


def test_prune_is_a_dry_run_by_default(cli, five_images):
    code, out, _ = cli("prune", "--service-name", "svc", "--keep", "1")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "dry run: would delete 2 images (run again with --yes to delete):"
    assert [line.split()[0] for line in lines[1:3]] == [":svc.web.1", ":svc.worker.1"]
    assert lines[3] == "kept, the newest of each label:"
    assert [line.split()[0] for line in lines[4:6]] == [":svc.web.3", ":svc.worker.2"]
    assert lines[6] == "kept, in use by a deployment:"
    assert lines[7].split()[0] == ":svc.web.2"
    assert len(lines) == 8
    assert len(five_images.images("svc")) == 5

    code, out, _ = cli("prune", "--service-name", "svc", "--keep", "2", "--output", "json")
    document = json.loads(out)
    assert list(document) == ["dryRun", "deleted", "kept", "inUse"]
    assert document["dryRun"] is True
    assert [i["image"] for i in document["deleted"]] == [":svc.web.1"]
    assert [i["image"] for i in document["kept"]] == [
        ":svc.web.3",
        ":svc.web.2",
        ":svc.worker.2",
        ":svc.worker.1",
    ]
    assert document["inUse"] == []
    assert list(document["deleted"][0]) == ["image", "digest", "createdAt"]


def test_prune_yes_deletes(cli, five_images):
    code, out, _ = cli("prune", "--service-name", "svc", "--keep", "2", "--label", "web", "--yes")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "deleted 1 image:"
    assert lines[1].split()[0] == ":svc.web.1"
    assert lines[2] == "kept, the newest 2 of each label:"
    assert [i.image for i in five_images.images("svc")] == [
        ":svc.web.2",
        ":svc.web.3",
        ":svc.worker.1",
        ":svc.worker.2",
    ]
    code, out, _ = cli("prune", "--service-name", "svc", "--keep", "2", "--yes", "--out", "json")
    assert code == 2  # no abbreviations: a new option must never change what one means
    code, out, _ = cli("prune", "--service-name", "svc", "--keep", "5", "--yes", "--output", "json")
    assert json.loads(out)["dryRun"] is False
    assert json.loads(out)["deleted"] == []
    code, out, _ = cli("prune", "--service-name", "svc", "--keep", "5", "--yes")
    assert out.splitlines()[0] == "nothing to delete"
    code, out, _ = cli("prune", "--service-name", "svc", "--keep", "5")
    assert out.splitlines()[0] == "dry run: nothing to delete"
    code, out, _ = cli("prune", "--service-name", "svc", "--keep", "0")
    lines = out.splitlines()
    assert lines[0] == "dry run: would delete 3 images (run again with --yes to delete):"
    assert [line.split()[0] for line in lines[1:4]] == [
        ":svc.web.3",
        ":svc.worker.2",
        ":svc.worker.1",
    ]
    assert len(lines) == 6  # nothing kept as newest: no "kept, the newest" section
    assert lines[4] == "kept, in use by a deployment:"
    assert lines[5].split()[0] == ":svc.web.2"


def test_registry_login_hides_the_password_in_text_only(cli, svc):
    svc.set_registry("registry.example.invalid", username="AWS", password="s3cret-registry-pw")
    code, out, _ = cli("registry-login")
    assert code == 0
    assert "s3cret-registry-pw" not in out
    assert out.splitlines()[:2] == ["registry: registry.example.invalid", "username: AWS"]
    assert out.splitlines()[2].startswith("expires:  ")
    assert "--output json" in out.splitlines()[3]
    code, out, _ = cli("registry-login", "--output", "json")
    login = json.loads(out)["registryLogin"]
    assert list(login) == ["username", "password", "expiresAt", "registry"]
    assert login["password"] == "s3cret-registry-pw"
    assert assert_iso(login["expiresAt"]) > dt.datetime.now(dt.timezone.utc)


# --- exit codes and stderr (in-process) ------------------------------------------------------


def test_argparse_errors_exit_2(cli):
    code, out, err = cli("register", "--service-name", "svc")
    assert (code, out) == (2, "")
    assert "the following arguments are required: --label, --digest" in err
    assert cli("prune", "--service-name", "svc", "--keep", "many")[0] == 2
    assert cli("list", "--service-name", "svc", "--output", "yaml")[0] == 2
    assert cli()[0] == 2  # a subcommand is required


def test_validation_errors_exit_2_and_name_the_options(cli, svc):
    code, out, err = cli("register", "--service-name", "Svc!", "--label", "", "--digest", "x")
    assert (code, out) == (2, "")
    assert_clean_error(err, error_type="ParamValidationError")
    lines = err.splitlines()
    assert lines[0].endswith("ParamValidationError: 3 invalid parameters; nothing was sent")
    assert [line.split(":")[0] for line in lines[1:]] == [
        "  --service-name",
        "  --label",
        "  --digest",
    ]
    assert "'Svc!'" in lines[1]
    code, _, err = cli("prune", "--service-name", "svc", "--keep", "-1")
    assert code == 2
    assert "  --keep: must be a whole number" in err
    code, _, err = cli("delete", "--service-name", "svc", "--image", ":other.web.1")
    assert code == 2
    assert "  --image: ':other.web.1' belongs to container service 'other'" in err
    assert svc.requests == ()  # nothing was sent


def test_rejections_exit_3_with_type_message_tip_and_request_id(cli, svc):
    code, out, err = cli("list", "--service-name", "nope")
    assert (code, out) == (3, "")
    assert_clean_error(err, error_type="NotFoundException")
    request_id = svc.requests[-1].request_id
    lines = err.splitlines()
    assert "No container service named 'nope'" in lines[0]
    assert lines[1].startswith("  tip:        Check the name and the region")
    assert lines[2].startswith("  docs:       https://")
    assert lines[3] == f"  request id: {request_id}"
    assert lines[4] == "  status:     HTTP 400, after 1 attempt"
    # An image a deployment uses cannot be deleted: InvalidInputException, also 3.
    svc.register_image("svc", "web", DIGEST_1)
    svc.set_deployment("svc", {"app": ":svc.web.1"})
    code, _, err = cli("delete", "--service-name", "svc", "--image", ":svc.web.1")
    assert code == 3
    assert_clean_error(err, error_type="InvalidInputException")


def test_an_unmodelled_error_names_its_code(cli, svc):
    svc.faults.throttle(times=2)
    code, _, err = cli("list", "--service-name", "svc", AWS_MAX_ATTEMPTS="2")
    assert code == 3
    assert_clean_error(err, error_type="ServiceError (ThrottlingException)")
    assert "  status:     HTTP 400, after 2 attempts" in err.splitlines()
    assert "tip:" not in err


def test_failures_after_retries_exit_4(cli, svc):
    svc.faults.fail(times=10, status=503, error_type="ServiceUnavailable")
    code, out, err = cli("list", "--service-name", "svc")
    assert (code, out) == (4, "")
    assert_clean_error(err, error_type="ServiceError (ServiceUnavailable)")
    assert "  status:     HTTP 503, after 3 attempts" in err.splitlines()
    assert f"  request id: {svc.requests[-1].request_id}" in err.splitlines()
    svc.faults.clear()
    code, _, err = cli("list", "--service-name", "svc", "--endpoint-url", "http://127.0.0.1:1")
    assert code == 4
    assert_clean_error(err, error_type="TransportError")
    assert "could not connect to http://127.0.0.1:1/" in err


def test_configuration_errors_exit_5(cli, monkeypatch, tmp_path):
    code, out, err = cli("list", "--service-name", "svc", AWS_REGION=None)
    assert (code, out) == (5, "")
    assert_clean_error(err, error_type="NoRegionError")
    assert "  tip: pass --region REGION (for example us-east-1), set AWS_REGION, " in err
    # --region supplies it.
    assert cli("list", "--service-name", "svc", "--region", "us-east-1")[0] == 0
    code, _, err = cli("list", "--service-name", "svc", AWS_ACCESS_KEY_ID=None)
    assert code == 5
    assert_clean_error(err, error_type="NoCredentialsError")
    assert "--profile NAME" in err
    code, _, err = cli("list", "--service-name", "svc", "--profile", "missing")
    assert code == 5
    assert_clean_error(err, error_type="ConfigurationError")
    assert "'missing'" in err
    code, _, err = cli("list", "--service-name", "svc", "--endpoint-url", "ftp://nowhere")
    assert code == 5


def test_profile_option_selects_a_profile(cli, svc, monkeypatch, tmp_path):
    config = tmp_path / "config"
    config.write_text(
        "[profile demo]\nregion = us-east-1\n"
        f"aws_access_key_id = {svc.access_key_id}\n"
        f"aws_secret_access_key = {svc.secret_access_key}\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    # An explicit profile's keys win over the environment's, as in botocore.
    code, out, _ = cli(
        "list", "--service-name", "svc", "--profile", "demo",
        AWS_REGION=None, AWS_ACCESS_KEY_ID="AKIAWRONG", AWS_SECRET_ACCESS_KEY="wrong",
    )  # fmt: skip
    assert (code, out) == (0, "no images are registered to svc\n")


def _service_error(cls=li.ServiceError, **kwargs):
    defaults = {
        "code": cls.__name__,
        "message": "",
        "details": ErrorDetails(),
        "http_status_code": 400,
        "request_id": None,
        "operation_name": "GetContainerImages",
    }
    return cls(**{**defaults, **kwargs})


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (li.ParamValidationError("Op", ()), 2),
        (_service_error(li.NotFoundException), 3),
        (_service_error(code="Throttling", http_status_code=429), 3),
        (_service_error(li.ServiceException, http_status_code=500), 4),
        (_service_error(code="ServiceUnavailable", http_status_code=503), 4),
        (li.TransportError("no route"), 4),
        (li.MalformedResponseError("garbled", http_status_code=200, request_id="rid-1"), 4),
        (li.ConfigurationError("bad"), 5),
        (li.NoRegionError("none"), 5),
        (li.NoCredentialsError("none"), 5),
        (li.LightsailError("other"), 1),
        (RuntimeError("bug"), 1),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_every_exception_maps_to_one_exit_code(error, code):
    assert _cli.exit_code_for(error) == code


def test_malformed_responses_show_status_and_request_id():
    error = li.MalformedResponseError("garbled body", http_status_code=200, request_id="rid-7")
    assert _cli.describe_error(error) == [
        "lightsail-images: error: MalformedResponseError: garbled body",
        "  request id: rid-7",
        "  status:     HTTP 200",
    ]
    bare = _service_error(code="Teapot", http_status_code=418)
    assert _cli.describe_error(bare) == [
        "lightsail-images: error: ServiceError (Teapot): no message",
        "  status: HTTP 418, after 1 attempt",
    ]


def test_debug_shows_the_traceback_and_debug_logs(cli, svc):
    code, _, err = cli("list", "--service-name", "nope", "--debug")
    assert code == 3
    assert "Traceback (most recent call last)" in err
    assert "lightsail_images DEBUG: GetContainerImages attempt 1/3: HTTP 400" in err
    assert err.splitlines()[-5].startswith("lightsail-images: error: NotFoundException: ")
    assert svc.secret_access_key not in err
    # The handler is removed again: a later run logs nothing.
    code, _, err = cli("list", "--service-name", "svc")
    assert (code, err) == (0, "")


def test_an_unexpected_error_is_a_bug_report_not_a_traceback(cli, monkeypatch):
    def broken(self, **kwargs):
        msg = "unexpected"
        raise RuntimeError(msg)

    monkeypatch.setattr(li.Client, "get_container_images", broken)
    code, out, err = cli("list", "--service-name", "svc")
    assert (code, out) == (1, "")
    assert err.splitlines()[0] == "lightsail-images: internal error: RuntimeError: unexpected"
    assert "--debug" in err
    assert "Traceback" not in err
    code, _, err = cli("list", "--service-name", "svc", "--debug")
    assert code == 1
    assert "Traceback (most recent call last)" in err


def test_keyboard_interrupt_exits_130_quietly(cli, monkeypatch):
    def interrupted(self, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(li.Client, "get_container_images", interrupted)
    assert cli("list", "--service-name", "svc") == (130, "", "")


def test_version_and_help(cli):
    code, out, _ = cli("--version")
    assert (code, out) == (0, f"lightsail-images {li.__version__}\n")
    code, out, _ = cli("--help")
    assert code == 0
    for name in ("register", "list", "delete", "ensure", "prune", "registry-login", "fake-server"):
        assert name in out
    assert "exit codes:" in out
    code, out, _ = cli("prune", "--help")
    assert code == 0
    assert "--yes" in out
    assert "--region REGION" in out


def test_python_dash_m_runs_main(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["lightsail-images", "--version"])
    frozen: list[None] = []  # run() freezes the heap: not this test process's
    monkeypatch.setattr(_cli.gc, "freeze", lambda: frozen.append(None))
    # run_path, not run_module: the package's pytest11 plugin makes pytest's
    # assertion rewriter the package's loader, and runpy needs get_code() from it.
    main_py = pathlib.Path(li.__file__).parent / "__main__.py"
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(str(main_py), run_name="__main__")
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"lightsail-images {li.__version__}\n"
    assert frozen == [None]


# --- fake-server, in-process ------------------------------------------------------------------


def test_fake_server_in_process_serves_until_sigterm(monkeypatch, capsys):
    read_fd, write_fd = os.pipe()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(os.fdopen(write_fd, "wb")))
    seen: list[object] = []

    def client_side():
        try:
            with os.fdopen(read_fd) as lines:
                info = json.loads(lines.readline())
                seen.append(info)
                with li.Client(**info) as client:
                    result = client.register_container_image(
                        service_name="one", label="web", digest=DIGEST_1
                    )
                seen.append(result.container_image.image)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=client_side)
    thread.start()
    code = _cli.main(
        ["fake-server", "--service", "one", "--service", "two", "--region", "eu-west-2"]
    )
    thread.join()
    sys.stdout.close()
    assert code == 0
    info, image = seen
    assert list(info) == [
        "endpoint_url",
        "region_name",
        "aws_access_key_id",
        "aws_secret_access_key",
    ]
    assert info["region_name"] == "eu-west-2"
    assert info["endpoint_url"].startswith("http://127.0.0.1:")
    assert image == ":one.web.1"
    err = capsys.readouterr().err
    assert "services: one, two" in err
    assert err.endswith("lightsail-images: fake Lightsail stopped\n")
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored


def test_fake_server_argument_errors(capsys):
    assert _cli.main(["fake-server", "--service", "Bad_Name"]) == 2
    assert "--service: " in capsys.readouterr().err
    for port in ("70000", "http"):
        assert _cli.main(["fake-server", "--port", port]) == 2
        assert "must be a TCP port number" in capsys.readouterr().err
    with FakeLightsail().serve() as url:
        port = url.rsplit(":", 1)[1]
        assert _cli.main(["fake-server", "--port", port]) == 5
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


# --- through real subprocesses: one per exit code, and more ------------------------------------


def test_subprocess_register_json_exit_0(svc, fake_url):
    result = run_cli(
        "register", "--service-name", "svc", "--label", "web", "--digest", DIGEST_1,
        "--output", "json", env=aws_env(svc, fake_url),
    )  # fmt: skip
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout)["containerImage"]["image"] == ":svc.web.1"


def test_the_command_freezes_the_heap_only_after_main_and_exits_with_its_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The exit's garbage collections skip what is frozen: a command's process
    # is its own.  main(), called in someone else's process, freezes nothing.
    events: list[object] = []
    monkeypatch.setattr(_cli, "main", lambda: events.append("main") or 3)
    monkeypatch.setattr(_cli.gc, "freeze", lambda: events.append("freeze"))
    with pytest.raises(SystemExit) as exit_:
        _cli.run()
    assert (events, exit_.value.code) == (["main", "freeze"], 3)


def test_main_leaves_the_garbage_collector_alone(cli, monkeypatch):
    frozen: list[None] = []
    monkeypatch.setattr(_cli.gc, "freeze", lambda: frozen.append(None))
    assert cli("list", "--service-name", "svc", "--output", "json")[0] == 0
    assert cli("--version")[0] == 0
    assert frozen == []


def test_subprocess_console_script_and_version():
    script = Path(sys.executable).parent / "lightsail-images"
    commands = [CLI] + ([[str(script)]] if script.exists() else [])
    for command in commands:
        result = subprocess.run(
            [*command, "--version"], capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
        assert (result.returncode, result.stdout) == (0, f"lightsail-images {li.__version__}\n")


# name: (argv, extra environment, inject 503s?, exit code, error type on stderr)
EXIT_CASES = {
    "2-argparse": (["register", "--service-name", "svc", "--label", "web"], {}, False, 2, None),
    "2-validation": (
        ["register", "--service-name", "svc", "--label", "web", "--digest", "sha256:abc"],
        {},
        False,
        2,
        "ParamValidationError",
    ),
    "3-not-found": (
        ["register", "--service-name", "nope", "--label", "web", "--digest", DIGEST_1],
        {},
        False,
        3,
        "NotFoundException",
    ),
    "4-503": (
        ["list", "--service-name", "svc"],
        {"AWS_MAX_ATTEMPTS": "2"},
        True,
        4,
        "ServiceError (ServiceUnavailable)",
    ),
    "4-closed-port": (
        ["list", "--service-name", "svc", "--endpoint-url", "http://127.0.0.1:1"],
        {"AWS_MAX_ATTEMPTS": "1"},
        False,
        4,
        "TransportError",
    ),
    "5-no-region": (
        ["list", "--service-name", "svc"],
        {"AWS_REGION": ""},
        False,
        5,
        "NoRegionError",
    ),
    "5-no-credentials": (
        ["list", "--service-name", "svc"],
        {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""},
        False,
        5,
        "NoCredentialsError",
    ),
}


@pytest.mark.parametrize("name", list(EXIT_CASES))
def test_subprocess_exit_codes(svc, fake_url, name):
    argv, extra_env, fail, code, error_type = EXIT_CASES[name]
    if fail:
        svc.faults.fail(times=10, status=503, error_type="ServiceUnavailable")
    result = run_cli(*argv, env=aws_env(svc, fake_url, **extra_env))
    assert (result.returncode, result.stdout) == (code, "")
    assert "Traceback" not in result.stderr
    if error_type is None:
        assert result.stderr.startswith("usage: lightsail-images register")
        assert "error: the following arguments are required: --digest" in result.stderr
        return
    assert result.stderr.startswith(f"lightsail-images: error: {error_type}: ")
    if code in (3, 4) and error_type != "TransportError":
        assert f"  request id: {svc.requests[-1].request_id}\n" in result.stderr
    if code == 3:
        assert "  tip:        Check the name and the region" in result.stderr
    assert svc.secret_access_key not in result.stderr


def test_subprocess_debug_prints_the_traceback(svc, fake_url):
    result = run_cli("list", "--service-name", "nope", "--debug", env=aws_env(svc, fake_url))
    assert result.returncode == 3
    assert "Traceback (most recent call last)" in result.stderr
    assert "lightsail_images.NotFoundException" in result.stderr
    assert " lightsail_images DEBUG: " in result.stderr
    assert "lightsail-images: error: NotFoundException: " in result.stderr


def _sigint_not_ignored():
    # A shell's background job starts with SIGINT ignored, and children
    # inherit that; make sure the child gets Python's KeyboardInterrupt.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        return lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)
    return lambda: None


def _wait_for(condition, what):
    deadline = time.monotonic() + TIMEOUT / 2
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_subprocess_ctrl_c_exits_130_quietly(svc, fake_url):
    svc.faults.delay(30)  # the request hangs until the server stops
    restore = _sigint_not_ignored()
    try:
        proc = subprocess.Popen(
            [*CLI, "list", "--service-name", "svc"],
            env={**os.environ, **aws_env(svc, fake_url)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        restore()
    with proc:
        try:
            _wait_for(lambda: svc.requests, "the request")
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=TIMEOUT)
        finally:
            proc.kill()
    assert (proc.returncode, out, err) == (130, "", "")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_subprocess_fake_server(signum):
    with subprocess.Popen(
        [*CLI, "fake-server", "--service", "my-service"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        watchdog = threading.Timer(TIMEOUT, proc.kill)  # a hung server must not hang the suite
        watchdog.start()
        try:
            first = proc.stdout.readline()
            info = json.loads(first)
            assert set(info) == {
                "endpoint_url",
                "region_name",
                "aws_access_key_id",
                "aws_secret_access_key",
            }
            with li.Client(**info) as client:
                result = client.register_container_image(
                    service_name="my-service", label="web", digest=DIGEST_1
                )
            assert result.container_image.image == ":my-service.web.1"
            proc.send_signal(signum)
            out, err = proc.communicate(timeout=TIMEOUT)
        finally:
            watchdog.cancel()
            proc.kill()
    assert proc.returncode == 0
    assert out == ""  # the JSON line was the only stdout
    assert "Traceback" not in err
    assert err.endswith("fake Lightsail stopped\n")


def test_readme_demo_runs():
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 2,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "$ lightsail-images fake-server --service my-service" in out
    assert "registered :my-service.web.1 (" in out
    assert '"image": ":my-service.web.2"' in out
    assert "lightsail-images: error: NotFoundException: " in out
    assert "lightsail-images: error: ParamValidationError: " in out
    assert "(exit status 3)" in out
    assert "(exit status 2)" in out
    assert out.rstrip().endswith("demo OK: every command behaved as expected")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"this is not a tar archive", "tar archive"),
        (b"\x1f\x8b\x08\x00" + b"\x00" * 40, "compressed"),  # a gzip header, then garbage
    ],
)
def test_push_of_a_malformed_image_exits_2_with_the_image_source_message(
    cli, svc, tmp_path, content, expected
):
    image = tmp_path / "broken.tar"
    image.write_bytes(content)
    code, out, err = cli("push", "--service-name", "svc", "--label", "web", str(image))
    assert code == 2
    assert out == ""
    assert_clean_error(err, error_type="ImageSourceError")
    assert "broken.tar" in err
    assert expected in err
    assert svc.images("svc") == []


# --- advice for the person at the shell -------------------------------------------------------

# What a Python user is told, which a shell user cannot act on.
PYTHON_ADVICE = re.compile(
    r"\b(service_name|region_name|profile_name|endpoint_url|aws_access_key_id|"
    r"prune_container_images|add_container_service)\b|ClientConfig|to Client\b|=\s*'"
)


def assert_shell_advice(err):
    assert PYTHON_ADVICE.search(err) is None, err
    assert "Traceback" not in err


def test_an_image_of_another_service_is_explained_in_flags(cli, svc):
    code, _, err = cli("delete", "--service-name", "svc", "--image", ":other.web.1")
    assert code == 2
    assert_shell_advice(err)
    assert "  --image: ':other.web.1' belongs to container service 'other', not 'svc'" in err


def test_keep_is_named_as_typed(cli, svc):
    code, _, err = cli("prune", "--service-name", "svc", "--keep", "-1")
    assert code == 2
    assert_shell_advice(err)
    assert "  --keep: must be a whole number of versions to keep, 0 or more; got -1" in err


def test_configuration_errors_advise_in_flags_and_variables(cli, svc):
    code, _, err = cli("list", "--service-name", "svc", AWS_REGION=None)
    assert code == 5
    assert_shell_advice(err)
    assert "--region REGION" in err
    assert "AWS_REGION" in err
    code, _, err = cli("list", "--service-name", "svc", AWS_ACCESS_KEY_ID=None)
    assert code == 5
    assert_shell_advice(err)
    assert err.startswith("lightsail-images: error: NoCredentialsError: no AWS credentials")
    assert "AWS_ACCESS_KEY_ID" in err
    assert "--profile NAME" in err
    code, _, err = cli("list", "--service-name", "svc", "--profile", "nope")
    assert code == 5
    assert_shell_advice(err)
    assert "the AWS profile 'nope' was not found" in err
    assert "aws configure --profile nope" in err
    assert "--profile NAME / set AWS_PROFILE" in err


def test_a_transport_error_points_at_the_timeout_flags(cli, svc):
    code, _, err = cli(
        "list", "--service-name", "svc", "--endpoint-url", "http://127.0.0.1:1",
        AWS_MAX_ATTEMPTS="1",
    )  # fmt: skip
    assert code == 4
    assert_shell_advice(err)
    assert "could not connect to http://127.0.0.1:1/" in err
    assert "--endpoint-url" in err
    assert "--cli-connect-timeout" in err
    assert "--cli-read-timeout" in err


def test_timeout_flags_reach_the_client(cli, svc, monkeypatch):
    seen = []
    real = _cli.Client

    def spy(*args, **kwargs):
        client = real(*args, **kwargs)
        seen.append(client.config)
        return client

    monkeypatch.setattr(_cli, "Client", spy)
    code, _, err = cli(
        "list", "--service-name", "svc", "--cli-connect-timeout", "3", "--cli-read-timeout", "7.5"
    )
    assert (code, err) == (0, "")
    assert (seen[0].connect_timeout, seen[0].read_timeout) == (3, 7.5)
    code, _, _ = cli("list", "--service-name", "svc")
    assert (seen[1].connect_timeout, seen[1].read_timeout) == (60, 60)


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf"])
def test_timeout_flags_reject_what_is_not_a_wait(cli, svc, value):
    code, _, err = cli("list", "--service-name", "svc", "--cli-read-timeout", value)
    assert code == 2
    assert "--cli-read-timeout: must be a number of seconds above 0" in err


def test_an_uppercase_digest_says_lowercase_is_required(cli, svc):
    upper = "sha256:" + "AB" * 32
    code, _, err = cli("register", "--service-name", "svc", "--label", "web", "--digest", upper)
    assert code == 2
    assert "got 64 characters" not in err
    assert "must be lowercase" in err


def test_help_and_docstrings_say_lowercase(capsys):
    assert _cli.main(["register", "--help"]) == 0
    assert "64 lowercase hex digits" in " ".join(capsys.readouterr().out.split())
    assert "lowercase" in (li.Client.register_container_image.__doc__ or "")


def test_fake_server_names_the_service_flag_without_claiming_nothing_was_sent():
    result = run_cli("fake-server", "--service", "Bad_Name", env={})
    assert result.returncode == 2
    assert result.stdout == ""
    assert "nothing was sent" not in result.stderr
    assert "add_container_service" not in result.stderr
    assert result.stderr.startswith("lightsail-images fake-server: error: --service: must use only")
    assert "'Bad_Name'" in result.stderr


def test_subcommand_descriptions_are_wrapped_like_the_option_help(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "60")
    for command in [c.name for c in _cli.COMMANDS]:
        assert _cli.main([command, "--help"]) == 0
        description = capsys.readouterr().out.split("\n\n")[1]  # after the usage
        assert len(description) > 60, description
        assert max(len(line) for line in description.splitlines()) <= 60, (command, description)
    # The exit-code table keeps its layout.
    assert _cli.main(["--help"]) == 0
    assert "  0    success\n" in capsys.readouterr().out


def test_push_to_a_registry_that_does_not_answer_exits_4_with_registry_advice(cli, svc, tmp_path):
    from registry_support import make_oci_layout

    svc.set_registry("http://127.0.0.1:9", username="AWS", password="registry-pw")  # refused
    built = make_oci_layout(tmp_path / "l")
    code, out, err = cli(
        "push", "--service-name", "svc", "--label", "web", "--insecure-registry", str(built.path)
    )
    assert code == 4
    assert out == ""
    assert_clean_error(err, error_type="TransportError")
    assert "the registry 127.0.0.1:9 did not answer" in err
    assert "--endpoint-url" not in err  # Lightsail's endpoint was fine
    assert "registry-pw" not in err
