"""The documentation's promises, checked without building the site (no mkdocs needed).

1. Every ``python`` code block in ``docs/**/*.md`` runs.  The blocks of one page
   share a namespace and run in order, as if a reader pasted them into one
   session; a traceback names the page and the line.  An HTML comment on the
   line above a block (invisible on the site) changes how it is treated:

   ``<!-- fake-aws -->``
       The block talks to AWS as written (``li.Client("us-east-1")``).  Its page
       runs with the standard AWS environment variables (endpoint, region,
       keys) pointing at a ``FakeLightsail`` served on loopback that has a
       container service named ``my-service``, so the snippet is executed
       exactly as a user would run it, configuration lookup included.
   ``<!-- file: NAME.py -->``
       Written to a temporary directory instead of run.  When a page writes a
       ``test_*.py`` file, pytest runs that directory in a subprocess, so a
       conftest/test example in the docs is a suite that really passes.
   ``<!-- no-run: REASON -->``
       Only compiled.  For the rare snippet nothing local can stand in for;
       ``MAX_NO_RUN`` keeps them rare.

   ``README.md``'s blocks run too, but each on its own, in a fresh namespace
   with a fresh fake, since a reader copies one block at a time: every block
   must say what it needs (imports, a client, a digest).  Under ``fake-aws``
   the shell also has a profile named ``deploy`` in its ``~/.aws/config``, as
   a reader following the README's configuration example would.

2. Every public name (``lightsail_images.__all__``, ``lightsail_images.testing.__all__``)
   and every public method and property of their classes has a docstring.
3. Every public name has its own entry (``::: path``) in the API reference
   pages, and every entry there names a public name.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import inspect
import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import lightsail_images
import lightsail_images.testing
from lightsail_images.testing import FakeLightsail

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference"
PUBLIC_MODULES = (lightsail_images, lightsail_images.testing)

# Snippets that are only compiled.  Raise this only with a reason in the review.
MAX_NO_RUN = 3
# The README's push example needs an image on disk and a registry.
MAX_README_NO_RUN = 1
# Public names still waiting for a docstring in the package (the fake's default
# credentials are plain constants with no attribute docstring yet).  Entries
# must be removed as the docstrings land: a stale entry fails the test.
AWAITING_DOCSTRINGS: frozenset[str] = frozenset()
# By convention a version string carries no docstring; the API reference
# describes it in prose, and test 3 still requires its entry there.
NO_DOCSTRING_BY_CONVENTION = frozenset({"lightsail_images.__version__"})

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")
_MARKER = re.compile(r"^<!--\s*(?P<kind>fake-aws|no-run|file)\s*(?::\s*(?P<arg>.*?))?\s*-->$")
_COMMENT = re.compile(r"^<!--.*-->$")
_FILE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.py")


# --- reading code blocks out of Markdown ------------------------------------------------


@dataclass(frozen=True)
class Block:
    """One fenced ``python`` block of a page."""

    page: Path
    line: int  # 1-based line of the first line of code
    code: str
    markers: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def _markers_above(lines: list[str], index: int, page: Path) -> dict[str, str]:
    markers: dict[str, str] = {}
    row = index - 1
    while row >= 0 and not lines[row].strip():
        row -= 1
    while row >= 0 and _COMMENT.match(lines[row].strip()):
        text = lines[row].strip()
        match = _MARKER.match(text)
        if match is None:
            pytest.fail(
                f"{page.relative_to(ROOT)}:{row + 1}: unknown marker {text!r} above a code block; "
                "use <!-- fake-aws -->, <!-- file: NAME.py --> or <!-- no-run: REASON -->"
            )
        markers[match["kind"]] = match["arg"] or ""
        row -= 1
    return markers


def python_blocks(page: Path) -> list[Block]:
    """Return the page's fenced ``python`` blocks, indentation (tabs, admonitions) removed."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        language = opening["info"].split()[0].lower() if opening["info"].strip() else ""
        body: list[str] = []
        end = index + 1
        while end < len(lines):
            closing = _FENCE.match(lines[end])
            if (
                closing is not None
                and closing["fence"][0] == fence[0]
                and len(closing["fence"]) >= len(fence)
                and not closing["info"].strip()
            ):
                break
            row = lines[end]
            body.append(row.removeprefix(indent) if row.startswith(indent) else row.lstrip())
            end += 1
        else:
            pytest.fail(f"{page.relative_to(ROOT)}:{index + 1}: code block is never closed")
        if language in {"python", "py"}:
            markers = _markers_above(lines, index, page)
            blocks.append(Block(page, index + 2, "\n".join(body) + "\n", markers))
        index = end + 1
    return blocks


def doc_pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def pages_with_code() -> list[Path]:
    # A cheap look at collection time; the blocks themselves are read (and their
    # markers checked) inside the test, so one bad page fails one test.
    fence = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*py(thon)?\b", re.MULTILINE)
    return [page for page in doc_pages() if fence.search(page.read_text(encoding="utf-8"))]


# --- running a page ---------------------------------------------------------------------------


def _compile(block: Block) -> object:
    # Padding keeps line numbers in tracebacks equal to the page's own.
    source = "\n" * (block.line - 1) + block.code
    return compile(source, str(block.page), "exec")


@contextlib.contextmanager
def _restored_process_state() -> Iterator[None]:
    """Give back the environment and the logging levels the examples may change."""
    environ = dict(os.environ)
    loggers = {name: logging.getLogger(name).level for name in ("", "lightsail_images")}
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(environ)
        for name, level in loggers.items():
            logging.getLogger(name).setLevel(level)


@contextlib.contextmanager
def _fake_aws(resources: contextlib.ExitStack, home: Path) -> Iterator[None]:
    """Point the standard AWS settings at a served fake, as a user's shell would."""
    fake = FakeLightsail()
    fake.add_container_service("my-service")
    url = resources.enter_context(fake.serve())
    config = home / "aws-config"
    config.write_text(f"[profile deploy]\nregion = {fake.region_name}\n", encoding="utf-8")
    os.environ.update(
        {
            "AWS_CONFIG_FILE": str(config),
            "AWS_ENDPOINT_URL_LIGHTSAIL": url,
            "AWS_REGION": fake.region_name,
            "AWS_DEFAULT_REGION": fake.region_name,
            "AWS_ACCESS_KEY_ID": fake.access_key_id,
            "AWS_SECRET_ACCESS_KEY": fake.secret_access_key,
        }
    )
    yield


def _close_leftovers(namespace: dict[str, object]) -> None:
    """Close what a page left open for the reader to close later."""
    for value in namespace.values():
        if isinstance(value, contextlib.ExitStack | lightsail_images.Client):
            value.close()


def _run_written_tests(directory: Path, page: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(directory)],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert result.returncode == 0, (
        f"the test files written by {page.relative_to(ROOT)} do not pass:\n"
        f"{result.stdout}\n{result.stderr}"
    )


@pytest.mark.parametrize("page", pages_with_code(), ids=lambda page: page.stem)
def test_code_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = python_blocks(page)
    files = tmp_path / "files"
    files.mkdir()
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    with _restored_process_state(), contextlib.ExitStack() as resources:
        if any("fake-aws" in block.markers for block in blocks):
            resources.enter_context(_fake_aws(resources, tmp_path))
        try:
            for block in blocks:
                code = _compile(block)
                if "no-run" in block.markers:
                    continue
                if "file" in block.markers:
                    name = block.markers["file"]
                    assert _FILE_NAME.fullmatch(name), f"{block.where}: bad file name {name!r}"
                    (files / name).write_text(block.code, encoding="utf-8")
                    continue
                exec(code, namespace)  # noqa: S102 - running the documentation is the point
        finally:
            _close_leftovers(namespace)
    if any(path.name.startswith("test_") for path in files.iterdir()):
        _run_written_tests(files, page)
    servers = [t.name for t in threading.enumerate() if t.name.startswith("FakeLightsail-")]
    assert not servers, f"{page.relative_to(ROOT)} leaves fake servers running: {servers}"


def _readme_blocks() -> list[Block]:
    return python_blocks(README)


@pytest.mark.parametrize("index", range(len(_readme_blocks())), ids=lambda i: f"block{i + 1}")
def test_readme_blocks_run_each_on_its_own(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    block = _readme_blocks()[index]
    code = _compile(block)  # a SyntaxError names README.md and the line
    if "no-run" in block.markers:
        assert block.markers["no-run"], f"{block.where}: say why it cannot run"
        return
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "readme"}
    with _restored_process_state(), contextlib.ExitStack() as resources:
        if "fake-aws" in block.markers:
            resources.enter_context(_fake_aws(resources, tmp_path))
        try:
            exec(code, namespace)  # noqa: S102 - running the documentation is the point
        finally:
            _close_leftovers(namespace)


def test_the_readme_has_code_to_run() -> None:
    blocks = _readme_blocks()
    assert len(blocks) >= 6
    skipped = [block.where for block in blocks if "no-run" in block.markers]
    assert len(skipped) <= MAX_README_NO_RUN, skipped


def test_no_run_snippets_are_rare_and_compile() -> None:
    skipped = [
        block for page in doc_pages() for block in python_blocks(page) if "no-run" in block.markers
    ]
    for block in skipped:
        assert block.markers["no-run"], (
            f"{block.where}: say why it cannot run: <!-- no-run: ... -->"
        )
        _compile(block)  # a SyntaxError names the page and line
    assert len(skipped) <= MAX_NO_RUN, [block.where for block in skipped]


def test_the_docs_have_code_to_run() -> None:
    # Guards the extractor itself: a regression that finds no blocks would pass vacuously.
    assert len(pages_with_code()) >= 5
    assert sum(len(python_blocks(page)) for page in doc_pages()) >= 30


# --- docstrings ---------------------------------------------------------------------------------


def public_names() -> dict[str, object]:
    """Every public name, by its import path (``lightsail_images.testing.Faults``)."""
    return {
        f"{module.__name__}.{name}": getattr(module, name)
        for module in PUBLIC_MODULES
        for name in module.__all__
    }


def _own_doc(obj: object) -> str | None:
    # inspect.getdoc() would inherit a base class's docstring; we want the object's own.
    if isinstance(obj, classmethod | staticmethod):
        obj = obj.__func__
    doc = vars(obj).get("__doc__") if inspect.isclass(obj) else getattr(obj, "__doc__", None)
    return doc if isinstance(doc, str) and doc.strip() else None


def _has_attribute_docstring(path: str) -> bool:
    """Whether a module-level constant has a docstring, the string literal after it."""
    module_name, _, name = path.rpartition(".")
    module = importlib.import_module(module_name)
    tree = ast.parse(inspect.getsource(module))
    for statement in tree.body:
        if isinstance(statement, ast.ImportFrom) and statement.module:
            imported = {alias.asname or alias.name: alias.name for alias in statement.names}
            if name in imported:
                return _has_attribute_docstring(f"{statement.module}.{imported[name]}")
        targets: list[ast.expr] = []
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, ast.AnnAssign):
            targets = [statement.target]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            following = tree.body[tree.body.index(statement) + 1 :][:1]
            return bool(
                following
                and isinstance(following[0], ast.Expr)
                and isinstance(following[0].value, ast.Constant)
                and isinstance(following[0].value.value, str)
            )
    return False


def undocumented() -> set[str]:
    missing: set[str] = set()
    for path, obj in public_names().items():
        if path in NO_DOCSTRING_BY_CONVENTION:
            continue
        if inspect.isclass(obj) or inspect.isroutine(obj):
            if _own_doc(obj) is None:
                missing.add(path)
        elif not _has_attribute_docstring(path):
            missing.add(path)
        if not inspect.isclass(obj):
            continue
        for member, value in vars(obj).items():
            if member.startswith("_"):
                continue
            is_method = inspect.isroutine(value) or isinstance(value, classmethod | staticmethod)
            if (is_method or isinstance(value, property)) and _own_doc(value) is None:
                missing.add(f"{path}.{member}")
    return missing


def test_every_public_name_has_a_docstring() -> None:
    missing = undocumented()
    new = sorted(missing - AWAITING_DOCSTRINGS)
    assert not new, f"public names without a docstring: {new}"
    stale = sorted(AWAITING_DOCSTRINGS - missing)
    assert not stale, f"these have docstrings now; remove them from AWAITING_DOCSTRINGS: {stale}"


def test_the_client_and_the_fake_document_every_method() -> None:
    # The two classes users spend the most time with, spelled out.
    for cls in (lightsail_images.Client, FakeLightsail):
        methods = [
            name
            for name, value in vars(cls).items()
            if not name.startswith("_")
            and (inspect.isroutine(value) or isinstance(value, property))
        ]
        assert len(methods) >= 4, cls
        assert all(_own_doc(vars(cls)[name]) for name in methods), cls


# --- the API reference ----------------------------------------------------------------------------


def reference_entries() -> dict[str, Path]:
    entries: dict[str, Path] = {}
    for page in sorted(REFERENCE.glob("*.md")):
        for match in re.finditer(
            r"^:::[ \t]+(\S+)", page.read_text(encoding="utf-8"), re.MULTILINE
        ):
            assert match[1] not in entries, f"{match[1]} is documented twice"
            entries[match[1]] = page
    return entries


def test_every_public_name_is_in_the_api_reference() -> None:
    entries = reference_entries()
    public = set(public_names())
    assert sorted(public - set(entries)) == [], "add a ::: entry to docs/reference/"
    assert sorted(set(entries) - public) == [], "the reference documents names that are not public"


def test_the_reference_pages_are_in_the_nav() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in doc_pages():
        relative = page.relative_to(DOCS).as_posix()
        assert f": {relative}" in config, f"{relative} is missing from the nav in mkdocs.yml"


def test_included_files_exist() -> None:
    # pymdownx.snippets includes (the changelog page) resolve from the repository root.
    for page in doc_pages():
        for target in re.findall(
            r'^--8<--\s+"([^"]+)"', page.read_text(encoding="utf-8"), re.MULTILINE
        ):
            assert (ROOT / target).is_file(), f"{page.relative_to(ROOT)} includes missing {target}"
