"""Task runner: every check CI runs is a session here.

python3 -m nox                 # the default sessions
python3 -m nox -s tests-3.12   # one interpreter

On a machine with pyenv, every supported interpreter pyenv has installed is
found here (:func:`pyenv_interpreter_dirs`), not only the ones on ``PATH``, so
the README's ``python3 -m nox -s tests`` and CI (``.ci/run``) test the same set.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "typecheck", "tests", "coverage"]
# Test on every supported interpreter that is installed; skip the others.
nox.options.error_on_missing_interpreters = False

ROOT = pathlib.Path(__file__).parent
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


def pyenv_interpreter_dirs(
    versions_bare: str, root: pathlib.Path, minors: tuple[str, ...] = tuple(PYTHONS)
) -> list[pathlib.Path]:
    """Return the ``bin`` directory of the newest pyenv patch release of each minor in ``minors``.

    ``versions_bare`` is the output of ``pyenv versions --bare``; lines that are
    not a plain CPython release (``system``, ``3.13.0rc1``, ``pypy3.10-7.3``,
    virtualenvs such as ``3.11.7/envs/tools``) are ignored.
    """
    newest: dict[str, tuple[int, str]] = {}
    for line in versions_bare.splitlines():
        match = re.fullmatch(r"(?P<minor>3\.\d+)\.(?P<patch>\d+)", line.strip())
        if match is None or match["minor"] not in minors:
            continue
        patch = int(match["patch"])
        if match["minor"] not in newest or patch > newest[match["minor"]][0]:
            newest[match["minor"]] = (patch, line.strip())
    return [root / "versions" / newest[m][1] / "bin" for m in minors if m in newest]


def _use_pyenv_interpreters() -> None:
    # pyenv's shims answer for every pythonX.Y on PATH but fail for a version
    # that is not selected, so nox would find an interpreter it cannot run.
    # Putting each version's own bin directory first makes pythonX.Y real.
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return
    try:
        versions = subprocess.run(
            [pyenv, "versions", "--bare"], capture_output=True, text=True, check=True
        ).stdout
        root = subprocess.run(
            [pyenv, "root"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return
    dirs = [str(d) for d in pyenv_interpreter_dirs(versions, pathlib.Path(root)) if d.is_dir()]
    if dirs:
        os.environ["PATH"] = os.pathsep.join([*dirs, os.environ.get("PATH", "")])


_use_pyenv_interpreters()
TEST_DEPS = [
    "pytest>=8",
    "responses>=0.24",
    "hypothesis>=6.90",
    "boto3>=1.28",
    "coverage[toml]>=7.3",
    "nox>=2024.3",  # tests/test_noxfile.py checks the interpreter discovery
    "awscli",  # tests/test_cli_awscli.py compares --output json with the real AWS CLI
]


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Run the test suite under coverage on every supported interpreter present."""
    session.install("-e", ".", *TEST_DEPS)
    session.run(
        "coverage",
        "run",
        "-m",
        "pytest",
        *session.posargs,
        env={"COVERAGE_FILE": str(ROOT / f".coverage.{session.python}")},
    )


@nox.session
def coverage(session: nox.Session) -> None:
    """Combine coverage from the test sessions and enforce the floor (95% branch)."""
    session.install("coverage[toml]>=7.3")
    files = [str(p) for p in ROOT.glob(".coverage.*")]
    if not files:
        session.error("no coverage data: run the tests session first (python3 -m nox -s tests)")
    session.run("coverage", "combine", "--keep", *files, env={"COVERAGE_FILE": ".coverage"})
    session.run("coverage", "report", env={"COVERAGE_FILE": ".coverage"})


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff lint and format check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
@nox.parametrize("botocore_stubs", [False, True], ids=["default", "botocore-stubs"])
def typecheck(session: nox.Session, botocore_stubs: bool) -> None:
    """mypy --strict and pyright strict, on the package and the typed usage file.

    Twice: as a default install sees botocore (no types at all), and with
    botocore-stubs installed, as many users' environments have it.
    """
    session.install("-e", ".", "mypy>=1.8", "pyright>=1.1.380", "types-requests", *TEST_DEPS)
    if botocore_stubs:
        session.install("botocore-stubs")
    else:
        session.run("python", "-m", "pip", "uninstall", "--yes", "--quiet", "botocore-stubs")
    session.run("mypy")
    session.run("pyright")


@nox.session
def demo(session: nox.Session) -> None:
    """Run the README demo: the lightsail-images command against its own fake server."""
    session.install(".")
    session.run("python", "examples/demo.py")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site into site/, strictly: any warning fails the build."""
    session.install("-r", "docs/requirements.txt", "-e", ".")
    session.run(
        "mkdocs",
        "build",
        "--strict",
        "--site-dir",
        str(ROOT / "site"),
        *session.posargs,
        # Silence Material's banner about its successor; it is not a build warning.
        env={"NO_MKDOCS_2_WARNING": "1"},
    )


@nox.session
def reliability(session: nox.Session) -> None:
    """Fault, load and hostile-input tests over loopback (docs/reliability.md); about a minute."""
    session.install("-e", ".", *TEST_DEPS)
    session.run("pytest", "-m", "reliability", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmark against boto3's lightsail client on loopback; prints ratios (docs/performance.md).

    Not a default session: it takes minutes and its figures are for reading, not gating.
    python3 -m nox -s bench -- --rounds 11 --calls 5000
    """
    # boto3 is the yardstick here, so it is installed only for this session.
    session.install("-e", ".", "boto3>=1.28")
    session.run("python", "benchmarks/bench.py", *session.posargs)


@nox.session
def bench_push(session: nox.Session) -> None:
    """Benchmark pushes against skopeo copy on a loopback docker-registry (docs/performance.md).

    Not a default session, and not run in CI: it needs skopeo and docker-registry
    on the PATH, builds a 256 MiB image once, and takes minutes.
    python3 -m nox -s bench_push -- --rounds 5 --rss-sizes 16,1024
    """
    # The loopback registry helper lives in the test support module, which imports pytest.
    session.install("-e", ".", "pytest>=8")
    session.run("python", "benchmarks/bench_push.py", *session.posargs)
