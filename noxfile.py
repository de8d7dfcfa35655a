"""Task runner: every check CI runs is a session here.

python3 -m nox                 # the default sessions
python3 -m nox -s tests-3.12   # one interpreter
"""

from __future__ import annotations

import pathlib

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "typecheck", "tests", "coverage"]
# Test on every supported interpreter that is installed; skip the others.
nox.options.error_on_missing_interpreters = False

ROOT = pathlib.Path(__file__).parent
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
TEST_DEPS = [
    "pytest>=8",
    "responses>=0.24",
    "hypothesis>=6.90",
    "boto3>=1.28",
    "coverage[toml]>=7.3",
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
def typecheck(session: nox.Session) -> None:
    """mypy --strict and pyright strict, on the package and the typed usage file."""
    session.install("-e", ".", "mypy>=1.8", "pyright>=1.1.380", "types-requests", *TEST_DEPS)
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
