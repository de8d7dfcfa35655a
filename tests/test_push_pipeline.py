"""The push pipeline: uploads start while later layers are still compressing.

Counted and ordered, not timed: a layer's compression is held until the
registry has a layer it was sent, so a push that waited for every layer
before uploading would never let it through (it fails after a deadline
instead of hanging).  Over real HTTP on loopback (``FakeRegistry``,
``FakeLightsail``).
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from registry_support import (
    FakeRegistry,
    Fault,
    lightsail_and_fake_registry,
    make_docker_save,
    tar_bytes,
)

import lightsail_images as li
from lightsail_images._push import sources as _sources
from lightsail_images.testing import FakeLightsail

Pushing = tuple[FakeRegistry, FakeLightsail, li.Client]


@pytest.fixture
def pushing() -> Iterator[Pushing]:
    with lightsail_and_fake_registry() as (registry, fake, client):
        yield registry, fake, client


def _saved(tmp_path: Path, count: int = 3) -> Path:
    layers = [tar_bytes({f"file{n}": bytes([65 + n]) * 700_000}) for n in range(count)]
    return make_docker_save(tmp_path / "saved.tar", layers=layers).path


def _push(client: li.Client, source: Path, label: str = "web", **options: Any) -> li.ContainerImage:
    return client.push_container_image(
        insecure_registry=True, service_name="svc", label=label, source=source, **options
    )


class _HoldLastLayer:
    """Holds the compression of layer number ``last`` until the registry has a layer."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, registry: FakeRegistry, last: int) -> None:
        self.calls = 0
        self.overlapped: bool | None = None
        lock = threading.Lock()
        original = _sources._gzip_to

        def held(*args: Any) -> Any:
            with lock:
                self.calls += 1
                number = self.calls
            if number == last:
                deadline = time.monotonic() + 10
                # The config and at least one layer committed by the registry.
                while len(registry.blobs) < 2 and time.monotonic() < deadline:
                    time.sleep(0.01)
                self.overlapped = len(registry.blobs) >= 2
            return original(*args)

        monkeypatch.setattr(_sources, "_gzip_to", held)


def test_a_layer_is_uploaded_while_a_later_one_is_still_compressing(
    tmp_path: Path, pushing: Pushing, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry, fake, client = pushing
    hold = _HoldLastLayer(monkeypatch, registry, last=3)
    image = _push(client, _saved(tmp_path))
    assert hold.calls == 3
    assert hold.overlapped is True
    # Log in and ping before the first upload, the manifest after every blob.
    operations = [r.operation for r in fake.requests]
    assert operations[0] == "CreateContainerServiceRegistryLogin"
    assert operations[-1] == "RegisterContainerImage"
    methods = [m for m, path, _ in registry.log if path != "/token"]
    assert methods[0] == "GET"
    puts = [path for m, path, _ in registry.log if m == "PUT"]
    assert "/manifests/" in puts[-1]
    assert registry.count("PUT", "/manifests/") == 1
    assert image.digest in {
        fake_image.digest
        for fake_image in client.get_container_images(service_name="svc").container_images
    }


def test_one_worker_still_overlaps_and_gives_the_same_image(
    tmp_path: Path, pushing: Pushing, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry, _fake, client = pushing
    source = _saved(tmp_path)
    hold = _HoldLastLayer(monkeypatch, registry, last=3)
    one = _push(client, source, max_workers=1)
    assert hold.overlapped is True
    registry.blobs.clear()
    registry.manifests.clear()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "other-cache"))
    many = _push(client, source, label="api", max_workers=4)
    assert many.digest == one.digest


def test_a_registered_image_found_only_after_compressing_is_not_stored_again(
    tmp_path: Path, pushing: Pushing, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry, fake, client = pushing
    source = _saved(tmp_path)
    first = _push(client, source)
    # No layer cache this time: the digests are known only once every layer
    # is compressed, by which time the push has logged in and checked blobs.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    registry.log.clear()
    fake.clear_requests()
    again = _push(client, source)
    assert again == first
    assert registry.count("PUT") == 0  # neither a blob nor the manifest
    assert registry.count("POST") == 0  # no upload session: every blob was there
    assert registry.count("HEAD") == 4  # the config and the three layers
    operations = [r.operation for r in fake.requests]
    assert operations == ["CreateContainerServiceRegistryLogin", "GetContainerImages"]


def test_a_corrupt_layer_calls_the_push_off_and_registers_nothing(
    tmp_path: Path, pushing: Pushing, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry, fake, client = pushing
    built = make_docker_save(tmp_path / "bad.tar", corrupt_diff_id=True)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    with pytest.raises(li.ImageSourceError, match="diff ID"):
        _push(client, built.path)
    assert registry.count("PUT", "/manifests/") == 0
    assert "RegisterContainerImage" not in [r.operation for r in fake.requests]
    # The compressed layers went to a temporary directory that is gone.
    assert not list(scratch.iterdir())


def test_a_failed_upload_calls_off_the_compression_of_later_layers(
    tmp_path: Path, pushing: Pushing, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry, fake, client = pushing
    # The config's upload is refused (400: not retried) while layer 1 compresses.
    registry.faults.append(Fault("POST", "/blobs/uploads", status=400))
    started = 0
    original = _sources._gzip_to

    def held(src: Any, out: Path, compressor: Any, cancelled: threading.Event | None) -> Any:
        nonlocal started
        started += 1
        assert cancelled is not None
        assert cancelled.wait(10), "the failed upload did not call the push off"
        return original(src, out, compressor, cancelled)  # stops at its first block

    monkeypatch.setattr(_sources, "_gzip_to", held)
    with pytest.raises(li.RegistryError) as info:
        _push(client, _saved(tmp_path))
    assert info.value.http_status_code == 400  # the real failure, not the called-off work
    assert started == 1  # layers 2 and 3 were never compressed
    assert registry.count("PUT", "/manifests/") == 0
    assert "RegisterContainerImage" not in [r.operation for r in fake.requests]
