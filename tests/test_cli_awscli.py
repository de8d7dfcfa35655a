"""``--output json`` side by side with the real AWS CLI (the ``awscli`` package from PyPI).

Both commands talk to one ``lightsail-images fake-server`` over loopback, with
the same environment and the same ``~/.aws/config``.  For every command that
has an AWS CLI twin the JSON must have the same keys, the same layout and the
same value formats, under each ``cli_timestamp_format`` the AWS CLI v1 knows
(``none``, its default, and ``iso8601``); ``wire`` is v2's name for ``none``.
A listing of the same state is compared byte for byte.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# CI installs awscli (noxfile TEST_DEPS); a developer venv without it skips.
if importlib.util.find_spec("awscli") is None and not os.environ.get("CI"):
    pytest.skip("needs the awscli package (pip install awscli)", allow_module_level=True)

DIGEST_1 = "sha256:" + "1a" * 32
DIGEST_2 = "sha256:" + "2b" * 32
TIMEOUT = 120


class Shell:
    """One fake-server, and both CLIs pointed at it through the same settings."""

    def __init__(self, info: dict[str, str], home: Path) -> None:
        self.info = info
        self.config = home / "config"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            "AWS_ACCESS_KEY_ID": info["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": info["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": info["region_name"],
            "AWS_CONFIG_FILE": str(self.config),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            # The AWS CLI v1 prints iso8601 in local time; ours is always UTC.
            "TZ": "UTC",
        }
        self.timestamps(None)

    def timestamps(self, value: str | None) -> None:
        setting = "" if value is None else f"cli_timestamp_format = {value}\n"
        self.config.write_text(f"[default]\n{setting}", encoding="utf-8")

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, env=self.env, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )

    def aws(self, *args: str) -> str:
        result = self._run(
            [
                sys.executable,
                "-m",
                "awscli",
                "lightsail",
                *args,
                "--endpoint-url",
                self.info["endpoint_url"],
                "--output",
                "json",
            ]
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def ours(self, *args: str, code: int = 0) -> str:
        result = self._run(
            [
                sys.executable,
                "-m",
                "lightsail_images",
                *args,
                "--endpoint-url",
                self.info["endpoint_url"],
                "--output",
                "json",
            ]
        )
        assert result.returncode == code, result.stderr
        return result.stdout if code == 0 else result.stderr


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[Shell]:
    with subprocess.Popen(
        [sys.executable, "-m", "lightsail_images", "fake-server", "--service", "svc"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as server:
        try:
            assert server.stdout is not None
            info = json.loads(server.stdout.readline())
            yield Shell(info, tmp_path)
        finally:
            server.terminate()
            server.wait(timeout=TIMEOUT)


ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00")


def shape(value: Any) -> Any:
    """The document with each value replaced by its format: keys and layout kept."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    if isinstance(value, str):
        for name, pattern in (
            ("iso8601", ISO),
            ("digest", re.compile(r"sha256:[0-9a-f]{64}")),
            ("image", re.compile(r":svc\.[a-z]+\.\d+")),
        ):
            if pattern.fullmatch(value):
                return name
        return "str"
    return type(value).__name__  # float for epoch seconds, as the wire has them


def layout(text: str) -> str:
    """The printed text with every value blanked: indentation, order and punctuation kept."""
    return re.sub(r'("[A-Za-z]+": )("[^"]*"|[-+0-9.eE]+)', r"\1V", text)


@pytest.mark.parametrize("timestamps", ["iso8601", "none"])
def test_register_prints_what_register_container_image_prints(
    shell: Shell, timestamps: str
) -> None:
    shell.timestamps(timestamps)
    theirs = shell.aws(
        "register-container-image", "--service-name", "svc", "--label", "aws", "--digest", DIGEST_1
    )
    ours = shell.ours("register", "--service-name", "svc", "--label", "ours", "--digest", DIGEST_2)
    assert shape(json.loads(ours)) == shape(json.loads(theirs))
    assert layout(ours) == layout(theirs)
    created = json.loads(ours)["containerImage"]["createdAt"]
    assert isinstance(created, float if timestamps == "none" else str)


@pytest.mark.parametrize("timestamps", ["iso8601", "none"])
def test_list_prints_what_get_container_images_prints_byte_for_byte(
    shell: Shell, timestamps: str
) -> None:
    shell.ours("register", "--service-name", "svc", "--label", "web", "--digest", DIGEST_1)
    shell.ours("register", "--service-name", "svc", "--label", "web", "--digest", DIGEST_2)
    shell.timestamps(timestamps)
    theirs = shell.aws("get-container-images", "--service-name", "svc")
    ours = shell.ours("list", "--service-name", "svc")
    assert ours == theirs
    assert len(json.loads(ours)["containerImages"]) == 2


def test_an_empty_list_is_the_same_too(shell: Shell) -> None:
    shell.timestamps("iso8601")
    assert shell.ours("list", "--service-name", "svc") == shell.aws(
        "get-container-images", "--service-name", "svc"
    )


def test_delete_prints_nothing_like_delete_container_image(shell: Shell) -> None:
    shell.ours("register", "--service-name", "svc", "--label", "web", "--digest", DIGEST_1)
    shell.ours("register", "--service-name", "svc", "--label", "web", "--digest", DIGEST_2)
    theirs = shell.aws("delete-container-image", "--service-name", "svc", "--image", ":svc.web.1")
    ours = shell.ours("delete", "--service-name", "svc", "--image", ":svc.web.2")
    assert ours == theirs == ""


@pytest.mark.parametrize("timestamps", ["iso8601", "none"])
def test_registry_login_prints_what_create_container_service_registry_login_prints(
    shell: Shell, timestamps: str
) -> None:
    shell.timestamps(timestamps)
    theirs = shell.aws("create-container-service-registry-login")
    ours = shell.ours("registry-login")
    assert shape(json.loads(ours)) == shape(json.loads(theirs))
    assert layout(ours) == layout(theirs)


def test_the_default_is_the_aws_cli_v2_default_and_wire_is_none(shell: Shell) -> None:
    shell.ours("register", "--service-name", "svc", "--label", "web", "--digest", DIGEST_1)
    shell.timestamps(None)
    default = shell.ours("list", "--service-name", "svc")
    shell.timestamps("iso8601")
    assert default == shell.aws("get-container-images", "--service-name", "svc")
    shell.timestamps("wire")
    wire = shell.ours("list", "--service-name", "svc")
    shell.timestamps("none")
    assert wire == shell.aws("get-container-images", "--service-name", "svc")


def test_an_unknown_timestamp_format_is_a_configuration_error(shell: Shell) -> None:
    shell.timestamps("epoch")
    err = shell.ours("list", "--service-name", "svc", code=5)
    assert "cli_timestamp_format" in err
    assert "'epoch'" in err
    assert "iso8601" in err
