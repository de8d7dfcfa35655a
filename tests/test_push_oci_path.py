"""What an OCI layout push costs: each blob read once, in large pieces, and only to upload it.

The OCI push is most of its time streaming blobs to the registry, so these
tests pin the causes of its wall time rather than the time itself: how many
reads of which size go to each blob file, and when the first one happens.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from registry_support import (
    FakeRegistry,
    lightsail_for,
    make_oci_layout,
    tar_bytes,
)

from lightsail_images._push import sources
from lightsail_images._push.upload import READ_SIZE
from lightsail_images.testing import set_testing


@pytest.fixture(autouse=True)
def _no_backoff() -> Iterator[None]:
    with set_testing(True):
        yield


@pytest.fixture
def fake() -> Iterator[FakeRegistry]:
    server = FakeRegistry()
    yield server
    server.close()


Read = tuple[str, int, int]  # file, bytes asked for, bytes read


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[Read]:
    """Every read of a blob's bytes from disk: which file, how much asked, how much read."""
    seen: list[Read] = []
    original = sources.BlobReader.read

    def spy(self: sources.BlobReader, n: int = -1) -> bytes:
        data = original(self, n)
        seen.append((self._where, n, len(data)))
        return data

    monkeypatch.setattr(sources.BlobReader, "read", spy)
    return seen


def _layout(path: Path, layer_bytes: int) -> tuple[str, int]:
    """An OCI layout with one uncompressed layer; its blob's file name and size."""
    layer = tar_bytes({"data": os.urandom(layer_bytes)})
    make_oci_layout(path, layers=[layer], compress=False)
    blob = next(p for p in (path / "blobs" / "sha256").iterdir() if p.stat().st_size == len(layer))
    return blob.name, len(layer)


@pytest.mark.parametrize("own_session", [True, False], ids=["client-session", "user-session"])
def test_each_oci_blob_is_read_once_in_read_size_pieces(
    fake: FakeRegistry, tmp_path: Path, reads: list[Read], own_session: bool
) -> None:
    # urllib3 reads a file-like body in 16 KiB blocks (its socket block size):
    # a 100 MB image was 6,000 reads, hash updates and sends per blob.  The
    # body is sent as it is iterated instead, READ_SIZE at a time.
    name, size = _layout(tmp_path / "l", 3 * READ_SIZE + 5000)
    session = None if own_session else requests.Session()
    with lightsail_for(f"http://{fake.host}", http_session=session) as (lightsail, client):
        image = client.push_container_image(
            service_name="svc", label="web", source=tmp_path / "l", insecure_registry=True
        )
    assert lightsail.images("svc") == [image]
    layer_reads = [(asked, got) for where, asked, got in reads if where.endswith(name)]
    assert sum(got for _, got in layer_reads) == size  # one pass: no hashing before the upload
    assert [got for _, got in layer_reads] == [READ_SIZE] * (size // READ_SIZE) + [size % READ_SIZE]


def test_an_oci_push_reads_no_blob_before_the_registry_or_when_registered(
    fake: FakeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, size = _layout(tmp_path / "l", 100_000)
    # What the registry had been asked when the layer was first read.
    asked_before_first_read: list[list[tuple[str, str]]] = []
    original = sources.BlobReader.read

    def spy(self: sources.BlobReader, n: int = -1) -> bytes:
        if self._where.endswith(name) and not asked_before_first_read:
            asked_before_first_read.append([(m, p) for m, p, _ in fake.log])
        return original(self, n)

    monkeypatch.setattr(sources.BlobReader, "read", spy)
    with lightsail_for(f"http://{fake.host}") as (_, client):
        client.push_container_image(
            service_name="svc", label="web", source=tmp_path / "l", insecure_registry=True
        )
        [asked] = asked_before_first_read
        assert ("HEAD", f"/v2/sr/blobs/sha256:{name}") in asked  # checked before it is read
        assert ("POST", "/v2/sr/blobs/uploads/") in asked  # read to upload, nothing earlier
        assert len(fake.blobs[f"sha256:{name}"]) == size
        asked_before_first_read.clear()
        log_before = len(fake.log)
        client.push_container_image(
            service_name="svc", label="web", source=tmp_path / "l", insecure_registry=True
        )
    assert asked_before_first_read == []  # registered already: no blob read at all
    assert len(fake.log) == log_before  # and not one request to the registry


def test_a_registered_rerun_needs_no_registry_client(
    fake: FakeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A re-run is mostly the interpreter's start and imports: the registry
    # client (_push.push, its protocol, uploads and models) is not imported.
    _layout(tmp_path / "l", 10_000)
    with lightsail_for(f"http://{fake.host}") as (_, client):
        first = client.push_container_image(
            service_name="svc", label="web", source=tmp_path / "l", insecure_registry=True
        )
        monkeypatch.setitem(sys.modules, "lightsail_images._push.push", None)  # import fails
        again = client.push_container_image(
            service_name="svc", label="web", source=tmp_path / "l", insecure_registry=True
        )
    assert again == first
