"""The layer cache: a re-run of a docker save push compresses nothing and sends nothing.

Counted, not timed: the registry's request log (``FakeRegistry.log``), the
Lightsail calls, and how many times a layer was gzip-compressed.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import lightsail_images as li
from lightsail_images._push import compress
from lightsail_images._push import sources as _sources
from lightsail_images._push.cache import (
    CompressedDigest,
    LayerCache,
    default_cache_dir,
    file_state,
)
from lightsail_images._push.compress import Compressor, Gzipped
from lightsail_images._push.sources import GZIP_LEVEL, open_image
from lightsail_images.testing import FakeLightsail
from tests.registry_support import (
    FakeRegistry,
    lightsail_for,
    make_docker_save,
    make_oci_layout,
    tar_bytes,
)

DIFF_ID = "sha256:" + "d1" * 32
COMPRESSED = CompressedDigest("sha256:" + "c0" * 32, 1234)


class Compressions:
    """Counts layer compressions (``_gzip_to`` calls)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self._lock = threading.Lock()
        original = _sources._gzip_to

        def counted(
            src: _sources.BlobReader,
            out: Path,
            compressor: Compressor,
            cancelled: threading.Event | None,
        ) -> Gzipped:
            with self._lock:
                self.count += 1
            return original(src, out, compressor, cancelled)

        monkeypatch.setattr(_sources, "_gzip_to", counted)


class Hashes:
    """Counts layers hashed to check their diff ID (``_hash_stream`` calls)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self._lock = threading.Lock()
        original = _sources._hash_stream

        def counted(src: _sources.BlobReader, digest_like: str) -> str:
            with self._lock:
                self.count += 1
            return original(src, digest_like)

        monkeypatch.setattr(_sources, "_hash_stream", counted)


@pytest.fixture
def registry() -> Iterator[FakeRegistry]:
    server = FakeRegistry()
    yield server
    server.close()


@pytest.fixture
def lightsail(registry: FakeRegistry) -> Iterator[tuple[FakeLightsail, li.Client]]:
    with lightsail_for(f"http://{registry.host}") as (fake, client):
        yield fake, client


def push(client: li.Client, source: Path, label: str = "web") -> li.ContainerImage:
    return client.push_container_image(
        insecure_registry=True, service_name="svc", label=label, source=source
    )


def saved_image(tmp_path: Path) -> Path:
    layers = [tar_bytes({f"file{n}": bytes([65 + n]) * 200_000}) for n in range(3)]
    return make_docker_save(tmp_path / "saved.tar", layers=layers).path


def test_a_registered_rerun_hashes_compresses_and_sends_nothing(
    tmp_path: Path,
    registry: FakeRegistry,
    lightsail: tuple[FakeLightsail, li.Client],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake, client = lightsail
    source = saved_image(tmp_path)
    compressions = Compressions(monkeypatch)
    first = push(client, source)
    assert compressions.count == 3  # three distinct layers
    assert registry.count("PUT", "/manifests/") == 1
    sent = len(registry.log)
    fake.clear_requests()

    hashes = Hashes(monkeypatch)
    again = push(client, source)
    assert again == first
    assert compressions.count == 3  # nothing compressed again
    assert hashes.count == 0  # nor hashed: the tarball is untouched since
    assert len(registry.log) == sent  # not one registry request
    assert [r.operation for r in fake.requests] == ["GetContainerImages"]


def test_a_new_label_uploads_from_the_cache_by_compressing_only_missing_layers(
    tmp_path: Path,
    registry: FakeRegistry,
    lightsail: tuple[FakeLightsail, li.Client],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fake, client = lightsail
    source = saved_image(tmp_path)
    first = push(client, source)
    # A fresh, empty registry: every layer must be sent again, from cached digests.
    registry.blobs.clear()
    registry.manifests.clear()
    compressions = Compressions(monkeypatch)
    other = push(client, source, label="api")
    assert other.digest == first.digest
    assert compressions.count == 3  # compressed for the uploads, matching the cache
    with open_image(source) as image:
        layers = json.loads(image.manifest().data)["layers"]
    assert {layer["digest"] for layer in layers} <= set(registry.blobs)


def test_cached_and_fresh_compression_give_the_same_manifest(tmp_path: Path) -> None:
    source = saved_image(tmp_path)
    cache = LayerCache(tmp_path / "cache", level=GZIP_LEVEL)
    with open_image(source) as image:
        plain = image.manifest()
    with open_image(source, layer_cache=cache) as image:
        first = image.manifest()
    with open_image(source, layer_cache=cache) as image:
        cached = image.manifest()
        # The bytes to upload are made on demand and are what the manifest says.
        for blob in image.blobs[1:]:
            with blob.open() as reader:
                data = reader.read()
            assert len(data) == blob.prepare().size
    assert plain.data == first.data == cached.data


def test_a_cached_digest_is_used_only_for_the_layer_it_was_computed_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = make_docker_save(tmp_path / "saved.tar", corrupt_diff_id=True).path
    cache = LayerCache(tmp_path / "cache", level=GZIP_LEVEL)
    with open_image(source) as image, image._config.open() as reader:
        config = json.loads(reader.read())
    wrong_diff_id = config["rootfs"]["diff_ids"][1]
    cache.put(wrong_diff_id, COMPRESSED)  # an entry for the diff ID the config claims
    with (
        open_image(source, layer_cache=cache) as image,
        pytest.raises(li.ImageSourceError, match="diff ID"),
    ):
        image.manifest()


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b"{not json",
        b"[]",
        b'{"digest": "sha256:00"}',
        b"\xff\xfe binary",
    ],
    ids=["empty", "truncated", "not an object", "incomplete", "binary"],
)
def test_a_damaged_entry_is_ignored_and_written_again(tmp_path: Path, damage: bytes) -> None:
    cache = LayerCache(tmp_path / "cache", level=GZIP_LEVEL)
    cache.put(DIFF_ID, COMPRESSED)
    (entry,) = (tmp_path / "cache").iterdir()
    entry.write_bytes(damage)
    assert cache.get(DIFF_ID) is None
    cache.put(DIFF_ID, COMPRESSED)
    assert cache.get(DIFF_ID) == COMPRESSED


def test_a_wrong_but_well_formed_entry_is_caught_at_upload_and_removed(
    tmp_path: Path,
    lightsail: tuple[FakeLightsail, li.Client],
) -> None:
    _fake, client = lightsail
    source = saved_image(tmp_path)
    cache = LayerCache(default_cache_dir(), level=GZIP_LEVEL)
    with open_image(source) as image, image._config.open() as reader:
        config = json.loads(reader.read())
    diff_id = config["rootfs"]["diff_ids"][0]
    cache.put(diff_id, COMPRESSED)  # as if edited by hand
    with pytest.raises(li.ImageSourceError, match="layer cache") as info:
        push(client, source)
    assert "run the push again" in str(info.value)
    assert cache.get(diff_id) is None  # the wrong entry is gone
    push(client, source)  # and the next run works


def test_entries_are_keyed_by_compression_level_and_deflater_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    LayerCache(tmp_path, level=6).put(DIFF_ID, COMPRESSED)
    assert LayerCache(tmp_path, level=6).get(DIFF_ID) == COMPRESSED
    assert LayerCache(tmp_path, level=9).get(DIFF_ID) is None
    assert LayerCache(tmp_path, level=6).get("sha256:" + "d2" * 32) is None
    monkeypatch.setattr(compress, "ENGINE", "zlib-ng 0.0.0-other")
    assert LayerCache(tmp_path, level=6).get(DIFF_ID) is None


def test_the_cache_lives_under_xdg_cache_home_or_the_home_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "lightsail-images" / "layers"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "lightsail-images" / "layers"
    cache = LayerCache(level=GZIP_LEVEL)
    cache.put(DIFF_ID, COMPRESSED)
    assert (cache.directory.stat().st_mode & 0o777) == 0o700


def test_an_unwritable_cache_is_no_error(
    tmp_path: Path,
    registry: FakeRegistry,
    lightsail: tuple[FakeLightsail, li.Client],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    _fake, client = lightsail
    image = push(client, saved_image(tmp_path))
    assert image.image == ":svc.web.1"
    assert registry.count("PUT", "/manifests/") == 1


def test_oci_layouts_do_not_use_the_cache(
    tmp_path: Path, lightsail: tuple[FakeLightsail, li.Client]
) -> None:
    _fake, client = lightsail
    push(client, make_oci_layout(tmp_path / "layout").path)
    assert not default_cache_dir().exists() or not any(default_cache_dir().iterdir())
    assert os.environ["XDG_CACHE_HOME"]  # the suite never touches the real cache


# -- re-runs of an unchanged tarball hash nothing ------------------------------------


Pushed = tuple[li.Client, Path, li.ContainerImage]


@pytest.fixture
def pushed(tmp_path: Path, lightsail: tuple[FakeLightsail, li.Client]) -> Pushed:
    """A client, a docker save tarball, and the image its first push registered."""
    _fake, client = lightsail
    source = saved_image(tmp_path)
    return client, source, push(client, source)


def test_a_touched_tarball_is_hashed_again_in_full(
    registry: FakeRegistry, pushed: Pushed, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, source, first = pushed
    info = source.stat()
    os.utime(source, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
    hashes = Hashes(monkeypatch)
    sent = len(registry.log)
    assert push(client, source) == first
    assert hashes.count == 3  # every layer checked again: the file may have changed
    assert len(registry.log) == sent
    hashes.count = 0
    assert push(client, source) == first  # and recorded again under the new times
    assert hashes.count == 0


def test_a_tarball_rewritten_with_other_layers_is_never_trusted(
    tmp_path: Path, registry: FakeRegistry, pushed: Pushed
) -> None:
    client, source, _ = pushed
    # Same path, same size, new content: a new inode or new times, so no trust.
    layers = [tar_bytes({f"file{n}": bytes([97 + n]) * 200_000}) for n in range(3)]
    built = make_docker_save(tmp_path / "other.tar", layers=layers)
    built.path.replace(source)
    other = push(client, source)
    with open_image(source) as image:
        assert other.digest == image.manifest().digest
    assert registry.count("PUT", "/manifests/") == 2


def test_damaged_hash_records_are_ignored_and_written_again(
    pushed: Pushed, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, source, first = pushed
    for entry in default_cache_dir().iterdir():
        entry.write_bytes(b'{"diff_id": "sha256:' + b"0" * 64 + b'"}')  # wrong, and keyless
    hashes = Hashes(monkeypatch)
    assert push(client, source) == first  # every entry ignored: hashed and compressed again
    assert hashes.count == 0  # compressing learns the diff IDs, no separate hash
    assert push(client, source) == first
    assert hashes.count == 0


def test_hash_records_are_keyed_by_the_file_and_the_member(tmp_path: Path) -> None:
    cache = LayerCache(tmp_path / "cache", level=GZIP_LEVEL)
    layer = tmp_path / "layer"
    layer.write_bytes(b"x" * 100)
    state = file_state(layer, offset=0, length=100)
    assert state is not None
    assert cache.hashed(state) is None
    cache.record_hash(state, DIFF_ID)
    assert cache.hashed(state) == DIFF_ID
    assert cache.hashed(state._replace(offset=1)) is None
    assert cache.hashed(state._replace(length=99)) is None
    assert cache.hashed(state._replace(ctime_ns=state.ctime_ns + 1)) is None
    assert cache.hashed(state._replace(inode=state.inode + 1)) is None
    assert file_state(tmp_path / "missing", offset=0, length=1) is None
    cache.record_hash(state, "not a digest")
    assert cache.hashed(state) is None
