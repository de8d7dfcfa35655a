"""The README demo: the lightsail-images command against its own fake Lightsail.

Run it once the package is installed; it needs no AWS account, network or Docker::

    python examples/demo.py

It starts ``lightsail-images fake-server --service my-service``, points the
real command at it through the usual AWS environment variables, registers an
image twice under one label (versions 1 and 2), lists the images, then shows a
service error (a missing container service: NotFoundException, exit status 3)
and a validation error (a bad digest: exit status 2, nothing sent).  Each
command is printed as you would type it, followed by what it prints and its
exit status.  The script exits 0 when everything behaved as described, 1
otherwise, and always stops the server.
"""

# This file is a script in a directory without __init__.py (INP001), and it
# runs our own command by design (S603).

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

CLI = [sys.executable, "-m", "lightsail_images"]
SHOWN = "lightsail-images"  # how a user types the command
SERVICE = "my-service"
DIGEST_1 = "sha256:" + hashlib.sha256(b"my-app build 1").hexdigest()
DIGEST_2 = "sha256:" + hashlib.sha256(b"my-app build 2").hexdigest()
TIMEOUT = 60


def say(text: str = "") -> None:
    """Print a line of the demo's transcript."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def clean_environment(scratch: Path) -> dict[str, str]:
    """Return this process's environment without any AWS settings or config files."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env["AWS_CONFIG_FILE"] = str(scratch / "config")  # absent: no profile interferes
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(scratch / "credentials")
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    return env


def run(args: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the command as a user would, and print it with its output and exit status."""
    say(f"$ {SHOWN} {' '.join(args)}")
    result = subprocess.run(
        [*CLI, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    for text in (result.stdout, result.stderr):
        if text:
            sys.stdout.write(text)
    say(f"(exit status {result.returncode})")
    say()
    return result


Result = subprocess.CompletedProcess[str]


def _is_json_image(result: Result, image: str) -> bool:
    try:
        return json.loads(result.stdout)["containerImage"]["image"] == image
    except (ValueError, KeyError, TypeError):
        return False


REGISTER = ["register", "--service-name", SERVICE, "--label", "web"]

#: The demo: each command, what should happen, and how to tell.
STEPS: list[tuple[list[str], str, Callable[[Result], bool]]] = [
    (
        [*REGISTER, "--digest", DIGEST_1],
        "the first registration is version 1",
        lambda r: r.returncode == 0 and f":{SERVICE}.web.1" in r.stdout,
    ),
    (
        [*REGISTER, "--digest", DIGEST_2, "--output", "json"],
        "the second registration is version 2, printed as JSON",
        lambda r: r.returncode == 0 and _is_json_image(r, f":{SERVICE}.web.2"),
    ),
    (
        ["list", "--service-name", SERVICE],
        "the list shows both versions",
        lambda r: r.returncode == 0 and all(f":{SERVICE}.web.{v}" in r.stdout for v in (1, 2)),
    ),
    (
        ["register", "--service-name", "no-such-service", "--label", "web", "--digest", DIGEST_1],
        "a missing service is NotFoundException, exit status 3",
        lambda r: r.returncode == 3 and "error: NotFoundException:" in r.stderr,  # noqa: PLR2004
    ),
    (
        [*REGISTER, "--digest", "sha256:not-a-digest"],
        "a bad digest is ParamValidationError, exit status 2, and nothing is sent",
        lambda r: r.returncode == 2 and "error: ParamValidationError:" in r.stderr,  # noqa: PLR2004
    ),
]


def start_server(env: Mapping[str, str]) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """Start the fake server; return it and the environment its first line describes."""
    say(f"$ {SHOWN} fake-server --service {SERVICE} &")
    server = subprocess.Popen(
        [*CLI, "fake-server", "--service", SERVICE],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None  # noqa: S101 - for the type checker
    first = server.stdout.readline()
    say(first.rstrip())
    say()
    if not first:
        stop_server(server)
        msg = "the fake server did not start"
        raise RuntimeError(msg)
    info = json.loads(first)
    say("# point the command at it, exactly as you would at AWS:")
    exported = {
        "AWS_ENDPOINT_URL": info["endpoint_url"],
        "AWS_REGION": info["region_name"],
        "AWS_ACCESS_KEY_ID": info["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": info["aws_secret_access_key"],
    }
    for name, value in exported.items():
        say(f"$ export {name}={value}")
    say()
    return server, exported


def stop_server(server: subprocess.Popen[str]) -> bool:
    """Stop the fake server as Ctrl-C would; return whether it stopped cleanly."""
    say(f"# stopping the fake server (SIGINT, as Ctrl-C would): kill -INT {server.pid}")
    if os.name == "posix":
        server.send_signal(signal.SIGINT)
    else:  # no SIGINT to send to another process on Windows
        server.terminate()
    try:
        _, errors = server.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        server.kill()
        server.communicate()
        return False
    if server.returncode != 0:
        sys.stdout.write(errors)
    return server.returncode == 0 or os.name != "posix"


def main() -> int:
    """Run the demo; return 0 when every command behaved as expected."""
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        env = clean_environment(Path(scratch))
        server, exported = start_server(env)
        try:
            env.update(exported)
            for args, expectation, check in STEPS:
                if not check(run(args, env)):
                    failures.append(expectation)
                    say(f"!! unexpected: {expectation}")
                    say()
        finally:
            if not stop_server(server):
                failures.append("the fake server stops cleanly, exit status 0")
    say()
    if failures:
        say(f"demo FAILED: {len(failures)} unexpected result(s): {'; '.join(failures)}")
        return 1
    say("demo OK: every command behaved as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
