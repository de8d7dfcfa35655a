"""The noxfile's pyenv discovery: ``python3 -m nox -s tests`` tests every installed interpreter."""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

ROOT = Path(__file__).resolve().parents[1]


@functools.cache
def _noxfile() -> Any:
    # Loaded once (nox registers sessions globally); its PATH change is undone.
    with mock.patch.dict(os.environ):
        return _load()


def _load() -> Any:
    spec = importlib.util.spec_from_file_location("noxfile_under_test", ROOT / "noxfile.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# What `pyenv versions --bare` printed on a developer machine, plus the odd entries it can list.
PYENV_VERSIONS = """\
2.7.18
3.6.15
3.9.18
3.10.4
3.10.13
3.11.7
3.11.7/envs/tools
3.12.1
3.12.10
3.13.0rc1
3.13.0
3.14.0
pypy3.10-7.3.15
system
"""


def test_discovery_picks_the_newest_patch_of_each_supported_minor(tmp_path: Path) -> None:
    noxfile = _noxfile()
    dirs = noxfile.pyenv_interpreter_dirs(PYENV_VERSIONS, tmp_path)
    assert dirs == [
        tmp_path / "versions" / "3.10.13" / "bin",
        tmp_path / "versions" / "3.11.7" / "bin",
        tmp_path / "versions" / "3.12.10" / "bin",
        tmp_path / "versions" / "3.13.0" / "bin",
    ]


def test_discovery_skips_minors_pyenv_does_not_have(tmp_path: Path) -> None:
    noxfile = _noxfile()
    assert noxfile.pyenv_interpreter_dirs("3.12.1\nsystem\n", tmp_path) == [
        tmp_path / "versions" / "3.12.1" / "bin"
    ]
    assert noxfile.pyenv_interpreter_dirs("", tmp_path) == []


def test_the_supported_minors_are_the_packages_classifiers() -> None:
    noxfile = _noxfile()
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for minor in noxfile.PYTHONS:
        assert f"Programming Language :: Python :: {minor}" in pyproject


@pytest.mark.skipif(shutil.which("pyenv") is None, reason="needs pyenv")
def test_nox_lists_a_test_session_for_every_pyenv_interpreter(tmp_path: Path) -> None:
    # The README's command, asked only to list: every installed supported
    # minor must have a session that nox can run (found on PATH, not skipped).
    versions = subprocess.run(
        ["pyenv", "versions", "--bare"], capture_output=True, text=True, check=True
    ).stdout
    noxfile = _noxfile()
    root = Path(
        subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True).stdout.strip()
    )
    expected = [d for d in noxfile.pyenv_interpreter_dirs(versions, root) if d.is_dir()]
    env = {k: v for k, v in os.environ.items() if k != "PYENV_VERSION"}
    probe = (
        "import runpy, shutil, sys; runpy.run_path('noxfile.py'); "
        "print('\\n'.join(shutil.which('python' + v) or '-' for v in sys.argv[1:]))"
    )
    minors = [d.parent.name.rsplit(".", 1)[0] for d in expected]
    found = subprocess.run(
        [sys.executable, "-c", probe, *minors],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.split()
    assert found == [str(d / f"python{m}") for d, m in zip(expected, minors, strict=True)]
    assert len(found) >= 1
