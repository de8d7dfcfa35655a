"""Hostile images on disk: nothing outside the source is read, costs follow declared sizes.

Each class of hostile input from issue #11 for the image sources (an OCI
layout directory, an OCI archive plain or gzipped, a ``docker save`` tarball
or directory), through the function the push uses to read an image and
through ``Client.push_container_image`` against a served ``FakeLightsail``
and an in-memory registry on loopback:

* symlinks inside a layout *directory* that lead out of it are never
  followed, and the registry never receives the bytes they point at;
* a compressed archive only extracts what a manifest references, each file
  at most its declared size: a tiny ``.tar.gz`` cannot fill the temporary
  directory, and a member of unknown type with a huge PAX ``size`` cannot
  make the reader spin;
* an index that fans out (the same nested index or manifest listed
  thousands of times, thousands of manifests sharing one big config) reads
  each blob at most once, counted with an audit hook on ``open``;
* JSON of the wrong types anywhere, JSON nested thousands deep, corrupt
  deflate streams: an ``ImageSourceError`` that names the file.

Throughout: only ``LightsailError`` subclasses escape, and nothing is
registered with Lightsail when the image cannot be read.
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import io
import json
import os
import shutil
import signal
import sys
import tarfile
import tempfile
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import lightsail_images as li
from lightsail_images._push.sources import open_image
from lightsail_images.testing import FakeLightsail
from tests.registry_support import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    FakeRegistry,
    image_config,
    lightsail_and_fake_registry,
    make_docker_save,
    make_oci_layout,
    sha256,
    tar_bytes,
    tar_directory,
)

pytestmark = pytest.mark.reliability

MIB = 1024 * 1024
# Bytes an attacker wants pushed: they live outside every image source.
SECRET = b"AKIA-OUTSIDE-THE-IMAGE-" + b"s" * 64


# -- tools: counting opens, bounding time, reading everything ---------------------------


class _OpenCounter:
    """Counts ``open`` audit events per path under a directory, while active.

    Audit hooks cannot be removed, so one hook is installed for the session
    and consults whichever counter is active.  Past ``limit`` opens of one
    path the hook raises, so a quadratic or exponential reader fails fast
    instead of running for hours.
    """

    active: _OpenCounter | None = None
    installed = False

    def __init__(self, root: Path, limit: int) -> None:
        self.root = str(root)
        self.limit = limit
        self.counts: Counter[str] = Counter()

    @classmethod
    def _hook(cls, event: str, args: tuple[Any, ...]) -> None:
        counter = cls.active
        if counter is None or event != "open" or not args:
            return
        path = args[0]
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, str) or not path.startswith(counter.root):
            return
        counter.counts[path] += 1
        if counter.counts[path] > counter.limit:
            cls.active = None
            raise _TooManyOpens(f"{path} opened more than {counter.limit} times")


class _TooManyOpens(Exception):
    pass


@contextlib.contextmanager
def counting_opens(root: Path, limit: int = 50) -> Iterator[_OpenCounter]:
    if not _OpenCounter.installed:
        sys.addaudithook(_OpenCounter._hook)
        _OpenCounter.installed = True
    counter = _OpenCounter(root, limit)
    _OpenCounter.active = counter
    try:
        yield counter
    finally:
        _OpenCounter.active = None


class _TimedOut(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail the block if it runs longer than ``seconds`` (the reader is pure Python)."""
    if (
        not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return

    def expire(*_: object) -> None:
        raise _TimedOut(f"still reading after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def read_everything(source: Path) -> str:
    """Open ``source`` as a push does, then read every blob; return the manifest digest."""
    with open_image(source) as image:
        digest = image.manifest().digest
        for blob in image.blobs:
            blob.prepare()
            with blob.open() as reader:
                while reader.read(MIB):
                    pass
        return digest


def outcome(source: Path) -> str | li.ImageSourceError:
    """The digest, or the ImageSourceError; any other exception fails the test."""
    try:
        return read_everything(source)
    except li.ImageSourceError as exc:
        str(exc)
        return exc


def tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


@pytest.fixture
def private_tmpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """TMPDIR for the code under test, so its scratch files can be measured."""
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch


# -- the push, end to end ------------------------------------------------------------------


@pytest.fixture
def pushing() -> Iterator[tuple[FakeLightsail, FakeRegistry, li.Client]]:
    with lightsail_and_fake_registry() as (registry, fake, client):
        yield fake, registry, client


def registry_bytes(registry: FakeRegistry) -> list[bytes]:
    """Everything the registry was sent: blobs, unfinished uploads, manifests."""
    return [
        *registry.blobs.values(),
        *(bytes(u) for u in registry.uploads.values()),
        *(m for m, _ in registry.manifests.values()),
    ]


def push_fails(
    pushing: tuple[FakeLightsail, FakeRegistry, li.Client], source: Path
) -> li.ImageSourceError:
    """Push ``source``; it must fail with ImageSourceError and register nothing."""
    fake, registry, client = pushing
    with pytest.raises(li.ImageSourceError) as info:
        client.push_container_image(
            service_name="svc", label="web", source=source, insecure_registry=True
        )
    assert "RegisterContainerImage" not in [r.operation for r in fake.requests]
    assert not fake.images("svc")
    assert not registry.manifests
    assert not any(SECRET in data for data in registry_bytes(registry))
    return info.value


# -- symlinks out of a layout directory ----------------------------------------------------


def _layout_with_secret_layer(root: Path) -> tuple[Path, str]:
    """A valid layout whose only layer is SECRET (so its digest is right), and that digest."""
    layout = root / "layout"
    layer = tar_bytes({"secret": SECRET})
    make_oci_layout(layout, layers=[layer], compress=False)
    return layout, sha256(layer).split(":")[1]


def _move_out(inside: Path, outside: Path) -> None:
    """Move ``inside`` to ``outside`` and leave a symlink to it in its place."""
    outside.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(inside), str(outside))
    inside.symlink_to(outside)


SYMLINKED = ["layer", "config", "manifest", "blobs", "blobs/sha256", "index.json", "oci-layout"]


def _symlink_out(layout: Path, layer_hex: str, what: str, outside: Path) -> str:
    """Replace ``what`` in ``layout`` by a symlink to a copy outside; return its name."""
    blobs = layout / "blobs" / "sha256"
    manifest_hex = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"][7:]
    config_hex = json.loads((blobs / manifest_hex).read_bytes())["config"]["digest"][7:]
    if what == "layer":
        _move_out(blobs / layer_hex, outside / layer_hex)
        return layer_hex
    if what == "config":
        _move_out(blobs / config_hex, outside / config_hex)
        return config_hex
    if what == "manifest":
        _move_out(blobs / manifest_hex, outside / manifest_hex)
        return manifest_hex
    _move_out(layout / what, outside / what)
    return what


@pytest.mark.parametrize("what", SYMLINKED)
def test_symlinks_out_of_a_layout_are_never_followed(tmp_path: Path, what: str) -> None:
    layout, layer_hex = _layout_with_secret_layer(tmp_path)
    name = _symlink_out(layout, layer_hex, what, tmp_path / "outside")
    with counting_opens(tmp_path / "outside") as opened:
        result = outcome(layout)
    assert isinstance(result, li.ImageSourceError), "a symlink out of the layout was followed"
    assert name in str(result)
    assert "outside" in str(result) or "symlink" in str(result)
    assert not opened.counts, f"files outside the source were opened: {dict(opened.counts)}"


@pytest.mark.parametrize("what", ["layer", "blobs", "index.json"])
def test_a_push_never_sends_what_a_symlink_points_at(
    tmp_path: Path, what: str, pushing: tuple[FakeLightsail, FakeRegistry, li.Client]
) -> None:
    layout, layer_hex = _layout_with_secret_layer(tmp_path)
    name = _symlink_out(layout, layer_hex, what, tmp_path / "outside")
    error = push_fails(pushing, layout)
    assert name in str(error)
    fake, registry, _ = pushing
    assert fake.requests == ()  # refused before any call to Lightsail
    assert registry.log == []  # or to the registry


def test_symlinks_that_stay_inside_the_layout_still_work(tmp_path: Path) -> None:
    layout, layer_hex = _layout_with_secret_layer(tmp_path)
    expected = read_everything(layout)
    # A blob kept elsewhere inside the layout, and the layout reached through a link.
    (layout / "store").mkdir()
    _move_out(layout / "blobs" / "sha256" / layer_hex, layout / "store" / layer_hex)
    (tmp_path / "alias").symlink_to(layout)
    assert read_everything(tmp_path / "alias") == expected


def test_a_blob_swapped_for_a_link_after_the_image_was_read_is_not_followed(
    tmp_path: Path,
) -> None:
    layout, layer_hex = _layout_with_secret_layer(tmp_path)
    layer = layout / "blobs" / "sha256" / layer_hex
    with open_image(layout) as image:
        blob = next(b for b in image.blobs if b.what == "layer 1")
        blob.prepare()
        # Between reading the metadata and uploading, the layer becomes a link
        # to a file outside, then another file with the same bytes.
        _move_out(layer, tmp_path / "outside" / layer_hex)
        with pytest.raises(li.ImageSourceError, match=layer_hex):
            blob.open()
        layer.unlink()
        shutil.copyfile(tmp_path / "outside" / layer_hex, layer)
        with pytest.raises(li.ImageSourceError, match="was replaced"):
            blob.open()


def test_docker_save_directory_with_a_layer_symlinked_out(tmp_path: Path) -> None:
    make_docker_save(tmp_path / "app.tar", layers=[tar_bytes({"secret": SECRET})])
    unpacked = tmp_path / "app"
    with tarfile.open(tmp_path / "app.tar") as tar:
        tar.extractall(unpacked, filter="tar")
    entry = json.loads((unpacked / "manifest.json").read_text())[0]
    first = unpacked / entry["Layers"][0]
    _move_out(first, tmp_path / "outside" / "layer.tar")
    with counting_opens(tmp_path / "outside") as opened:
        result = outcome(unpacked)
    assert isinstance(result, li.ImageSourceError)
    assert entry["Layers"][0] in str(result)
    assert not opened.counts


# -- archives: what is extracted, and at what cost -------------------------------------------


class _Zeros(io.RawIOBase):
    """``size`` zero bytes, produced as read (a tar member of any size, in no memory)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def _gz_archive(path: Path, layout: Path, extra: list[tuple[str, int]]) -> None:
    """Tar ``layout`` plus ``extra`` members of zeros (name, size), gzipped."""
    with (
        path.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT, copybufsize=MIB) as tar,
    ):
        for name, size in extra:  # first, before index.json, as a hostile archive would
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, io.BufferedReader(_Zeros(size), MIB))
        for item in sorted(layout.rglob("*")):
            if item.is_file():
                tar.add(item, arcname=item.relative_to(layout).as_posix(), recursive=False)


BOMB = 256 * MIB


def test_a_small_tar_gz_cannot_fill_the_temporary_directory(
    tmp_path: Path, private_tmpdir: Path
) -> None:
    layout = tmp_path / "l"
    built = make_oci_layout(layout)
    _gz_archive(tmp_path / "bomb.tar.gz", layout, [("padding", BOMB)])
    assert (tmp_path / "bomb.tar.gz").stat().st_size < 2 * MIB
    with open_image(tmp_path / "bomb.tar.gz") as image:
        assert image.manifest().digest == built.digest()
        for blob in image.blobs:
            with blob.open() as reader:
                reader.read()
        # Only what the manifest references was written: a few KiB here.
        assert tree_size(private_tmpdir) < 4 * MIB
    assert tree_size(private_tmpdir) == 0


def _prepare_measuring(source: Path, scratch: Path, peaks: list[int]) -> None:
    """Open ``source`` and prepare every blob, noting the scratch size after each step."""
    with open_image(source) as image:
        peaks.append(tree_size(scratch))
        image.manifest()
        for blob in image.blobs:
            blob.prepare()
            peaks.append(tree_size(scratch))


def test_a_referenced_member_larger_than_its_descriptor_is_not_extracted(
    tmp_path: Path, private_tmpdir: Path
) -> None:
    layout = tmp_path / "l"
    built = make_oci_layout(layout)
    layer_hex = json.loads(built.manifests["linux/amd64"])["layers"][0]["digest"][7:]
    (layout / "blobs" / "sha256" / layer_hex).unlink()
    _gz_archive(tmp_path / "bomb.tar.gz", layout, [(f"blobs/sha256/{layer_hex}", BOMB)])
    peaks: list[int] = []
    with pytest.raises(li.ImageSourceError) as info:
        _prepare_measuring(tmp_path / "bomb.tar.gz", private_tmpdir, peaks)
    assert layer_hex in str(info.value)
    assert max(peaks, default=0) < 4 * MIB
    assert tree_size(private_tmpdir) == 0


def test_docker_save_gz_only_extracts_the_listed_layers(
    tmp_path: Path, private_tmpdir: Path
) -> None:
    make_docker_save(tmp_path / "app.tar")
    unpacked = tmp_path / "app"
    with tarfile.open(tmp_path / "app.tar") as tar:
        tar.extractall(unpacked, filter="tar")
    expected = read_everything(tmp_path / "app.tar")
    _gz_archive(tmp_path / "bomb.tar.gz", unpacked, [("junk/layer.tar", BOMB)])
    with open_image(tmp_path / "bomb.tar.gz") as image:
        assert image.manifest().digest == expected
        assert tree_size(private_tmpdir) < 4 * MIB


def _archive_with_unknown_member(huge: int, *, compress: bool, layout: Path) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("strange")
        info.type = b"Q"  # no tar reader knows this type
        info.pax_headers = {"size": str(huge)}
        tar.addfile(info)
        for item in sorted(layout.rglob("*")):
            tar.add(item, arcname=item.relative_to(layout).as_posix(), recursive=False)
    return gzip.compress(out.getvalue(), mtime=0) if compress else out.getvalue()


@pytest.mark.parametrize("compress", [False, True], ids=["tar", "tar.gz"])
@pytest.mark.parametrize("huge", [10**12, 10**18, 8**30])
def test_a_huge_declared_size_cannot_make_the_reader_spin(
    tmp_path: Path, compress: bool, huge: int
) -> None:
    make_oci_layout(tmp_path / "l")
    archive = tmp_path / ("a.tar.gz" if compress else "a.tar")
    archive.write_bytes(
        _archive_with_unknown_member(huge, compress=compress, layout=tmp_path / "l")
    )
    with time_limit(20):
        result = outcome(archive)
    assert isinstance(result, li.ImageSourceError)
    assert str(archive) in str(result)


# -- fan-out: each blob read at most once --------------------------------------------------


def _put(layout: Path, data: bytes) -> dict[str, Any]:
    digest = sha256(data)
    path = layout / "blobs" / "sha256" / digest[7:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": digest, "size": len(data)}


def test_the_same_nested_index_listed_thousands_of_times(tmp_path: Path) -> None:
    layout = tmp_path / "l"
    built = make_oci_layout(layout)
    entry = json.loads((layout / "index.json").read_text())["manifests"][0]
    # Three levels, each listing the level below 2,000 times: 8e9 paths unless
    # each index is read once.
    for _ in range(3):
        nested = json.dumps({"schemaVersion": 2, "manifests": [entry] * 2000}).encode()
        entry = {"mediaType": OCI_INDEX, **_put(layout, nested)}
    (layout / "index.json").write_text(json.dumps({"manifests": [entry] * 2000}))
    with counting_opens(layout, limit=2) as opened, time_limit(60):
        result = outcome(layout)
    assert result == built.digest()
    assert max(opened.counts.values()) == 1, opened.counts.most_common(3)


def test_thousands_of_manifests_sharing_one_big_config(tmp_path: Path) -> None:
    layout = tmp_path / "l"
    layer = tar_bytes({"a": b"b"})
    layer_desc = {"mediaType": OCI_LAYER, **_put(layout, layer)}
    config = json.loads(image_config("amd64", [sha256(layer)]))
    config["history"] = [{"comment": "x" * 1000}] * 3000  # about 3 MiB
    config_desc = {"mediaType": OCI_CONFIG, **_put(layout, json.dumps(config).encode())}
    entries = []
    for number in range(2000):
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config_desc,
            "layers": [layer_desc],
            "annotations": {"n": str(number)},  # 2,000 distinct manifests
        }
        entries.append({"mediaType": OCI_MANIFEST, **_put(layout, json.dumps(manifest).encode())})
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout / "index.json").write_text(json.dumps({"manifests": entries}))
    with counting_opens(layout, limit=2) as opened, time_limit(60):
        result = outcome(layout)
    # They are all amd64 images, so the layout is ambiguous; the point is the cost.
    assert isinstance(result, li.ImageSourceError)
    assert opened.counts[str(layout / "blobs" / "sha256" / config_desc["digest"][7:])] <= 1
    assert max(opened.counts.values()) == 1, opened.counts.most_common(3)


def test_docker_save_listing_one_config_thousands_of_times_under_other_names(
    tmp_path: Path,
) -> None:
    unpacked = _docker_dir(tmp_path)
    expected = read_everything(unpacked)
    entry = json.loads((unpacked / "manifest.json").read_text())[0]
    (unpacked / "d").mkdir()
    spellings = [entry["Config"], "./" + entry["Config"], "d/../" + entry["Config"]]
    entries = [{**entry, "Config": spellings[n % 3]} for n in range(5000)]
    (unpacked / "manifest.json").write_text(json.dumps(entries))
    with counting_opens(unpacked, limit=2) as opened, time_limit(60):
        assert read_everything(unpacked) == expected
    assert opened.counts[str(unpacked / entry["Config"])] == 1


def test_an_index_with_too_many_entries_is_refused(tmp_path: Path) -> None:
    layout = tmp_path / "l"
    make_oci_layout(layout)
    entry = json.loads((layout / "index.json").read_text())["manifests"][0]
    del entry["platform"]  # short entries: 20,000 of them fit the 4 MiB an index may have
    (layout / "index.json").write_text(json.dumps({"manifests": [entry] * 20_000}))
    result = outcome(layout)
    assert isinstance(result, li.ImageSourceError)
    assert "index.json" in str(result)
    assert "entries" in str(result)


# -- wrong JSON types, deep nesting, corrupt streams ----------------------------------------


def _write_layout(root: Path, docs: dict[str, Any]) -> None:
    """Write an OCI layout from its JSON documents, linking digests bottom-up."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / "oci-layout").write_text(_dump(docs["oci-layout"]))
    layer = docs["layer"]
    layer_desc = _put(root, layer)
    config_bytes = _dump(docs["config"]).encode()
    manifest = docs["manifest"]
    if isinstance(manifest, dict):
        for key, desc in (("config", _put(root, config_bytes)), ("layers", layer_desc)):
            target = manifest.get(key)
            if isinstance(target, list) and target and isinstance(target[0], dict):
                target = target[0]
            if isinstance(target, dict) and target.get("digest") == "fill":
                _fill(target, desc)
    manifest_desc = _put(root, _dump(manifest).encode())
    index = docs["index.json"]
    if isinstance(index, dict) and isinstance(index.get("manifests"), list):
        for entry in index["manifests"]:
            if isinstance(entry, dict) and entry.get("digest") == "fill":
                _fill(entry, manifest_desc)
    (root / "index.json").write_text(_dump(index))


class _Raw(str):
    """A document written as these exact characters, not as JSON."""

    __slots__ = ()


def _fill(target: dict[str, Any], desc: dict[str, Any]) -> None:
    """Put the real digest and size where the placeholders still are (not where a test wrote)."""
    target["digest"] = desc["digest"]
    if target.get("size") == 0 and not isinstance(target.get("size"), bool):
        target["size"] = desc["size"]


def _dump(value: Any) -> str:
    return str(value) if isinstance(value, _Raw) else json.dumps(value)


def _valid_docs() -> dict[str, Any]:
    layer = tar_bytes({"hello": b"world"})
    return {
        "oci-layout": {"imageLayoutVersion": "1.0.0"},
        "layer": layer,
        "config": json.loads(image_config("amd64", [sha256(layer)])),
        "manifest": {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": "fill", "size": 0},
            "layers": [{"mediaType": OCI_LAYER, "digest": "fill", "size": 0}],
            "annotations": {"a": "b"},
        },
        "index.json": {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": "fill",
                    "size": 0,
                    "platform": {"os": "linux", "architecture": "amd64"},
                    "annotations": {"org.opencontainers.image.ref.name": "latest"},
                }
            ],
        },
    }


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for number, item in enumerate(value):
            yield from _paths(item, (*prefix, number))


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    doc[path[0]] = _replace(doc[path[0]], path[1:], value)
    return doc


hostile_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([-1, 0, 2**63, 10**30, 1.5, float("inf")]),
    st.text(max_size=8),
    st.sampled_from(["12", "sha256:" + "a" * 64, "linux", "amd64", OCI_INDEX, OCI_MANIFEST]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.sampled_from(["os", "digest", "size", "x"]), st.integers(), max_size=2),
)

DOCS = ["oci-layout", "config", "manifest", "index.json"]


def _names_a_file(error: li.ImageSourceError, layout: Path) -> bool:
    text = str(error)
    return str(layout) in text or "sha256:" in text


def _mutated_layout(root: Path, doc: str, choose: Callable[[list[Any]], Any], value: Any) -> None:
    docs = _valid_docs()
    paths = list(_paths(docs[doc]))
    docs[doc] = _replace(copy.deepcopy(docs[doc]), choose(paths), value)
    _write_layout(root, docs)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=st.sampled_from(DOCS), data=st.data(), value=hostile_values)
@example(doc="index.json", data=None, value=["annotations", "as", "a", "list"])
def test_wrong_json_types_anywhere_in_a_layout(
    tmp_path: Path, doc: str, data: st.DataObject | None, value: Any
) -> None:
    root = tmp_path / "layout"

    def choose(paths: list[Any]) -> Any:
        if data is None:  # the explicit example: manifests[0].annotations
            return ("manifests", 0, "annotations")
        return data.draw(st.sampled_from(paths))

    _mutated_layout(root, doc, choose, value)
    result = outcome(root)
    if isinstance(result, li.ImageSourceError):
        assert _names_a_file(result, root), str(result)


@pytest.mark.parametrize(
    ("doc", "path", "value"),
    [
        ("index.json", ("manifests", 0, "annotations"), ["a", "list"]),
        ("index.json", ("manifests", 0, "platform"), ["linux", "amd64"]),
        ("index.json", ("manifests", 0, "size"), "12"),
        ("index.json", ("manifests", 0, "size"), True),
        ("index.json", ("manifests", 0, "size"), -5),
        ("index.json", ("manifests", 0, "size"), 10**30),
        ("index.json", ("manifests",), {"0": {}}),
        ("manifest", ("layers",), {"0": {"mediaType": OCI_LAYER}}),
        ("manifest", ("layers", 0, "size"), "7"),
        ("manifest", ("config", "size"), 2**64),
        ("manifest", ("annotations",), [1, 2]),
        ("config", ("rootfs",), ["diff_ids"]),
        ("config", ("rootfs", "diff_ids"), "sha256:abc"),
        ("config", ("architecture",), 64),
        ("oci-layout", ("imageLayoutVersion",), 1),
    ],
)
def test_named_wrong_types_in_a_layout(
    tmp_path: Path, doc: str, path: tuple[Any, ...], value: Any
) -> None:
    _mutated_layout(tmp_path / "l", doc, lambda _: path, value)
    result = outcome(tmp_path / "l")
    if doc == "config" and path == ("rootfs", "diff_ids"):
        return  # OCI layouts push blobs as they are; diff IDs are not needed
    if doc == "manifest" and path == ("annotations",):
        return  # annotations are the registry's business; the bytes are pushed as they are
    assert isinstance(result, li.ImageSourceError), result
    assert _names_a_file(result, tmp_path / "l"), str(result)


def _docker_dir(tmp_path: Path) -> Path:
    make_docker_save(tmp_path / "app.tar")
    unpacked = tmp_path / "app"
    with tarfile.open(tmp_path / "app.tar") as tar:
        tar.extractall(unpacked, filter="tar")
    return unpacked


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("RepoTags", 5),
        ("RepoTags", {"a": 1}),
        ("RepoTags", [1, None]),
        ("Layers", {"a": "b"}),
        ("Layers", "x/layer.tar"),
        ("Config", ["c.json"]),
        ("Config", None),
    ],
)
def test_wrong_json_types_in_docker_manifest_json(
    tmp_path: Path, key: str, value: Any, pushing: tuple[FakeLightsail, FakeRegistry, li.Client]
) -> None:
    unpacked = _docker_dir(tmp_path)
    entries = json.loads((unpacked / "manifest.json").read_text())
    entries[0][key] = value
    (unpacked / "manifest.json").write_text(json.dumps(entries))
    error = push_fails(pushing, unpacked)
    assert "manifest.json" in str(error)
    assert pushing[0].requests == ()


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), value=hostile_values, target=st.sampled_from(["manifest.json", "config"]))
def test_wrong_json_types_anywhere_in_a_docker_save(
    tmp_path: Path, data: st.DataObject, value: Any, target: str
) -> None:
    root = tmp_path / "case"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir()
    unpacked = _docker_dir(root)
    entries = json.loads((unpacked / "manifest.json").read_text())
    if target == "manifest.json":
        entries = _replace(entries, data.draw(st.sampled_from(list(_paths(entries)))), value)
        (unpacked / "manifest.json").write_text(json.dumps(entries))
    else:
        config_path = unpacked / entries[0]["Config"]
        config = json.loads(config_path.read_text())
        config = _replace(config, data.draw(st.sampled_from(list(_paths(config)))), value)
        config_path.write_text(json.dumps(config))
    result = outcome(unpacked)
    if isinstance(result, li.ImageSourceError):
        assert str(unpacked) in str(result), str(result)


DEEP = 100_000


@pytest.mark.parametrize("doc", ["index.json", "manifest", "config", "oci-layout"])
def test_json_nested_thousands_deep_in_a_layout(tmp_path: Path, doc: str) -> None:
    docs = _valid_docs()
    docs[doc] = _Raw("[" * DEEP + "]" * DEEP)
    _write_layout(tmp_path / "l", docs)
    result = outcome(tmp_path / "l")
    assert isinstance(result, li.ImageSourceError)
    assert "nested" in str(result) or "deep" in str(result)
    assert _names_a_file(result, tmp_path / "l")


@pytest.mark.parametrize("doc", ["manifest.json", "config"])
def test_json_nested_thousands_deep_in_a_docker_save(
    tmp_path: Path, doc: str, pushing: tuple[FakeLightsail, FakeRegistry, li.Client]
) -> None:
    unpacked = _docker_dir(tmp_path)
    entry = json.loads((unpacked / "manifest.json").read_text())[0]
    name = "manifest.json" if doc == "manifest.json" else entry["Config"]
    (unpacked / name).write_text('{"a":' * DEEP + "1" + "}" * DEEP)
    error = push_fails(pushing, unpacked)
    assert name in str(error)


def _corrupt_gzip(data: bytes) -> bytes:
    packed = bytearray(gzip.compress(data, mtime=0))
    # Damage the deflate stream after the 10-byte header: bad block types.
    for offset in range(12, min(len(packed) - 8, 60)):
        packed[offset] ^= 0xFF
    return bytes(packed)


def test_a_corrupt_deflate_stream_in_a_docker_layer(
    tmp_path: Path, pushing: tuple[FakeLightsail, FakeRegistry, li.Client]
) -> None:
    layer = tar_bytes({"hello": b"x" * 5000})
    bad = _corrupt_gzip(layer)
    with pytest.raises(zlib.error):
        gzip.decompress(bad)  # the damage is in the deflate data, not the header
    make_docker_save(tmp_path / "app.tar", layers=[bad, tar_bytes({"b": b"c"})])
    error = push_fails(pushing, tmp_path / "app.tar")
    assert "layer.tar" in str(error)
    assert "gzip" in str(error)


def test_a_corrupt_deflate_stream_in_a_compressed_archive(tmp_path: Path) -> None:
    make_oci_layout(tmp_path / "l")
    tar_directory(tmp_path / "l", tmp_path / "a.tar.gz", compress=True)
    data = bytearray((tmp_path / "a.tar.gz").read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(b ^ 0x5A for b in data[middle : middle + 64])
    (tmp_path / "a.tar.gz").write_bytes(bytes(data))
    result = outcome(tmp_path / "a.tar.gz")
    assert isinstance(result, li.ImageSourceError)
    assert str(tmp_path / "a.tar.gz") in str(result)


# -- random tar archives: only ImageSourceError, in bounded time -----------------------------

NAMES = st.sampled_from(
    [
        "oci-layout",
        "index.json",
        "manifest.json",
        "./index.json",
        "blobs/sha256/" + "a" * 64,
        "blobs",
        "../escape",
        "/etc/passwd",
        "x/layer.tar",
        "c.json",
    ]
)
KINDS = st.sampled_from(["file", "dir", "sym", "hard", "unknown", "huge"])
CONTENTS = st.one_of(
    st.binary(max_size=64),
    st.sampled_from(
        [
            b'{"imageLayoutVersion": "1.0.0"}',
            b'{"manifests": [{"mediaType": "' + OCI_MANIFEST.encode() + b'", "size": 2,'
            b' "digest": "sha256:' + b"a" * 64 + b'"}]}',
            b'[{"Config": "c.json", "Layers": ["x/layer.tar"], "RepoTags": 5}]',
            b'{"rootfs": {"diff_ids": []}, "os": "linux", "architecture": "amd64"}',
            b"[" * 5000,
        ]
    ),
)


def _random_tar(members: list[tuple[str, str, bytes]], compress: bool, truncate: int) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, content in members:
            info = tarfile.TarInfo(name)
            if kind in ("sym", "hard"):
                info.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
                info.linkname = content.decode("latin-1")[:40] or "index.json"
                tar.addfile(info)
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind in ("unknown", "huge"):
                info.type = b"Q"
                info.pax_headers = {"size": str(10**15 if kind == "huge" else len(content))}
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    data = out.getvalue()
    if truncate:
        data = data[: max(0, len(data) - truncate)]
    return gzip.compress(data, mtime=0) if compress else data


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    members=st.lists(st.tuples(NAMES, KINDS, CONTENTS), max_size=8),
    compress=st.booleans(),
    truncate=st.sampled_from([0, 0, 100, 700]),
)
def test_random_tar_archives(
    tmp_path: Path, members: list[tuple[str, str, bytes]], compress: bool, truncate: int
) -> None:
    archive = tmp_path / "random.tar"
    archive.write_bytes(_random_tar(members, compress, truncate))
    with time_limit(20):
        result = outcome(archive)
    if isinstance(result, li.ImageSourceError):
        assert str(archive) in str(result), str(result)
