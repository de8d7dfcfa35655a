"""Reading images from disk: OCI layouts, OCI archives, docker save tarballs.

No network here: every test builds its image in Python and reads it back.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import pickle
import posixpath
import tarfile
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from registry_support import (
    OCI_MANIFEST,
    default_layers,
    gzip_bytes,
    make_docker_save,
    make_oci_archive,
    make_oci_layout,
    sha256,
    tar_bytes,
    tar_directory,
)

from lightsail_images import ImageSourceError, LightsailError, PlatformError
from lightsail_images._push import image as _image
from lightsail_images._push import sources as _sources
from lightsail_images._push.image import (
    DOCKER_CONFIG,
    DOCKER_LAYER_GZIP,
    DOCKER_MANIFEST,
    LINUX_AMD64,
    Platform,
    parse_platform,
)
from lightsail_images._push.sources import _normalize, open_image


def _blob_bytes(blob) -> bytes:
    with blob.open() as reader:
        return reader.read()


# -- OCI layouts -------------------------------------------------------------------


def test_oci_layout_manifest_is_the_bytes_on_disk(tmp_path):
    built = make_oci_layout(tmp_path / "layout")
    with open_image(tmp_path / "layout") as image:
        manifest = image.manifest()
        assert image.kind == "oci-layout"
        assert image.platform == LINUX_AMD64
        assert manifest.data == built.manifests["linux/amd64"]
        assert manifest.digest == built.digest()
        assert manifest.media_type == OCI_MANIFEST
        descriptors = [blob.prepare() for blob in image.blobs]
        # Blobs are pushed as stored: their digests are the file contents'.
        for blob, desc in zip(image.blobs, descriptors, strict=True):
            assert sha256(_blob_bytes(blob)) == desc.digest
        assert [d.digest for d in descriptors[1:]] == [
            layer["digest"] for layer in json.loads(manifest.data)["layers"]
        ]


def test_oci_archive_reads_members_in_place_without_unpacking(tmp_path):
    built = make_oci_archive(tmp_path / "image.tar", tmp_path / "scratch")
    with open_image(tmp_path / "image.tar") as image:
        assert image.kind == "oci-layout"
        assert image.manifest().digest == built.digest()
        for blob in image.blobs:
            assert sha256(_blob_bytes(blob)) == blob.prepare().digest
        assert image._scratch._dir is None  # nothing was extracted


def test_multi_platform_index_yields_the_amd64_manifest(tmp_path):
    built = make_oci_layout(tmp_path / "l", platforms=("arm64", "amd64"))
    with open_image(tmp_path / "l") as image:
        assert image.manifest().digest == built.digest("linux/amd64")
    arm = Platform("linux", "arm64")
    with open_image(tmp_path / "l", platform=arm) as image:
        assert image.manifest().digest == built.digest("linux/arm64")


def test_nested_index_and_platform_from_config(tmp_path):
    built = make_oci_layout(
        tmp_path / "l", platforms=("arm64", "amd64"), nested=True, platform_in_index=False
    )
    with open_image(tmp_path / "l") as image:
        assert image.manifest().digest == built.digest()
        assert image.platform == LINUX_AMD64


def test_wrong_platform_names_what_the_image_offers(tmp_path):
    make_oci_layout(tmp_path / "l", platforms=("arm64", "s390x"))
    with pytest.raises(PlatformError) as info:
        open_image(tmp_path / "l")
    assert info.value.available == ("linux/arm64", "linux/s390x")
    assert info.value.wanted == "linux/amd64"
    assert "linux/arm64, linux/s390x" in str(info.value)
    assert "--platform linux/amd64" in str(info.value)
    assert isinstance(info.value, ImageSourceError)
    assert isinstance(info.value, LightsailError)
    copy = pickle.loads(pickle.dumps(info.value))
    assert (copy.available, str(copy)) == (info.value.available, str(info.value))


def test_single_image_of_the_wrong_platform_is_refused_from_its_config(tmp_path):
    make_oci_layout(tmp_path / "l", platforms=("arm64",), platform_in_index=False)
    with pytest.raises(PlatformError, match="linux/arm64 image") as info:
        open_image(tmp_path / "l")
    assert info.value.available == ("linux/arm64",)


def test_ambiguous_layout_is_refused(tmp_path):
    built = make_oci_layout(tmp_path / "l", platforms=("amd64",))
    index = json.loads((tmp_path / "l" / "index.json").read_text())
    other = make_oci_layout(tmp_path / "m", platforms=("amd64",), layers=default_layers("x"))
    for blob in (tmp_path / "m" / "blobs" / "sha256").iterdir():
        (tmp_path / "l" / "blobs" / "sha256" / blob.name).write_bytes(blob.read_bytes())
    second = json.loads((tmp_path / "m" / "index.json").read_text())["manifests"][0]
    index["manifests"].append(second)
    (tmp_path / "l" / "index.json").write_text(json.dumps(index))
    assert built.digest() != other.digest()
    with pytest.raises(ImageSourceError, match="2 different linux/amd64 images"):
        open_image(tmp_path / "l")


def test_missing_and_corrupt_blobs_are_reported(tmp_path):
    built = make_oci_layout(tmp_path / "l")
    layer = json.loads(built.manifests["linux/amd64"])["layers"][0]["digest"]
    layer_path = tmp_path / "l" / "blobs" / "sha256" / layer.split(":")[1]
    data = layer_path.read_bytes()
    layer_path.unlink()
    with pytest.raises(ImageSourceError, match=r"layer 1 .* is missing"):
        open_image(tmp_path / "l")
    layer_path.write_bytes(data + b"x")
    with open_image(tmp_path / "l") as image, pytest.raises(ImageSourceError, match="bytes but"):
        image.blobs[1].prepare()
    manifest = tmp_path / "l" / "blobs" / "sha256" / built.digest().split(":")[1]
    manifest.write_bytes(manifest.read_bytes().replace(b"2", b"3", 1))
    with pytest.raises(ImageSourceError, match="does not match its digest"):
        open_image(tmp_path / "l")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"imageLayoutVersion": "2.0.0"}, "unsupported OCI image layout version"),
        ("index", "lists no image manifest"),
        ("schema1", "schema 1"),
    ],
)
def test_malformed_layouts(tmp_path, change, message):
    built = make_oci_layout(tmp_path / "l")
    if change == "index":
        (tmp_path / "l" / "index.json").write_text('{"schemaVersion": 2, "manifests": []}')
    elif change == "schema1":
        data = json.dumps({"schemaVersion": 1, "name": "x", "fsLayers": []}).encode()
        digest = sha256(data)
        (tmp_path / "l" / "blobs" / "sha256" / digest.split(":")[1]).write_bytes(data)
        entry = {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(data)}
        (tmp_path / "l" / "index.json").write_text(json.dumps({"manifests": [entry]}))
    else:
        (tmp_path / "l" / "oci-layout").write_text(json.dumps(change))
    assert built.manifests
    with pytest.raises(ImageSourceError, match=message):
        open_image(tmp_path / "l")


@pytest.mark.parametrize(
    "content",
    [b"not json", b"[1, 2]", b'{"manifests": [{"mediaType": "x", "size": 1, "digest": "md5:1"}]}'],
)
def test_bad_index_json(tmp_path, content):
    make_oci_layout(tmp_path / "l")
    (tmp_path / "l" / "index.json").write_bytes(content)
    with pytest.raises(ImageSourceError):
        open_image(tmp_path / "l")


def test_not_an_image(tmp_path):
    with pytest.raises(ImageSourceError, match="does not exist"):
        open_image(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageSourceError, match=r"neither 'manifest\.json'"):
        open_image(tmp_path / "empty")
    (tmp_path / "junk.tar").write_bytes(b"\x01" * 2000)
    with pytest.raises(ImageSourceError, match="tar archive"):
        open_image(tmp_path / "junk.tar")


# -- docker save --------------------------------------------------------------------


def test_docker_save_is_converted_with_gzip_layers_matching_diff_ids(tmp_path):
    built = make_docker_save(tmp_path / "app.tar")
    with open_image(tmp_path / "app.tar") as image:
        assert image.kind == "docker-archive"
        assert image.platform == LINUX_AMD64
        # The duplicate (symlinked) layer is one blob: config + 2 layers.
        assert len(image.blobs) == 3
        manifest = image.manifest()
        body = json.loads(manifest.data)
        assert manifest.media_type == body["mediaType"] == DOCKER_MANIFEST
        assert body["config"] == {
            "mediaType": DOCKER_CONFIG,
            "size": len(built.config),
            "digest": sha256(built.config),
        }
        assert [layer["mediaType"] for layer in body["layers"]] == [DOCKER_LAYER_GZIP] * 3
        assert body["layers"][0] == body["layers"][2]
        for blob in image.blobs[1:]:
            desc = blob.prepare()
            data = _blob_bytes(blob)
            assert (sha256(data), len(data)) == (desc.digest, desc.size)
        uncompressed = [
            sha256(gzip.decompress(_blob_bytes(image.blobs[1 + i % 2]))) for i in range(3)
        ]
        assert uncompressed == built.diff_ids
        first_digest = manifest.digest
    # Deterministic compression: the same tarball gives the same manifest.
    with open_image(tmp_path / "app.tar") as image:
        assert image.manifest().digest == first_digest
        scratch = image._scratch.directory()
    assert not scratch.exists()  # temporary layers are removed on close


class _Overlap:
    """Wraps ``_gzip_to``: counts layers compressing at once, and can hold them at a barrier."""

    def __init__(self, monkeypatch, barrier: threading.Barrier | None = None) -> None:
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()
        self._barrier = barrier
        original = _sources._gzip_to

        def counted(*args):
            with self._lock:
                self.running += 1
                self.most = max(self.most, self.running)
            try:
                if self._barrier is not None:
                    self._barrier.wait(timeout=60)
                return original(*args)
            finally:
                with self._lock:
                    self.running -= 1

        monkeypatch.setattr(_sources, "_gzip_to", counted)


def test_docker_save_layers_are_compressed_in_parallel_with_the_same_digests(tmp_path, monkeypatch):
    layers = [tar_bytes({f"f{n}": bytes([n]) * 300_000}) for n in range(3)]
    make_docker_save(tmp_path / "app.tar", layers=layers)
    with open_image(tmp_path / "app.tar") as image:
        one_at_a_time = image.manifest(max_workers=1)
    # Three distinct layers, three workers: all three must be compressing at
    # the same moment to pass the barrier (it would break if they ran in turn).
    overlap = _Overlap(monkeypatch, threading.Barrier(3))
    with open_image(tmp_path / "app.tar") as image:
        parallel = image.manifest(max_workers=3)
    assert overlap.most == 3
    assert parallel.data == one_at_a_time.data  # the same bytes, so the same digests


@pytest.mark.parametrize("max_workers", [1, 2])
def test_layer_compression_never_exceeds_max_workers(tmp_path, monkeypatch, max_workers):
    layers = [tar_bytes({f"f{n}": bytes([n]) * 100_000}) for n in range(4)]
    make_docker_save(tmp_path / "app.tar", layers=layers)
    overlap = _Overlap(monkeypatch)
    with open_image(tmp_path / "app.tar") as image:
        image.manifest(max_workers=max_workers)
    assert 1 <= overlap.most <= max_workers


def test_a_corrupt_layer_fails_the_parallel_preparation(tmp_path):
    make_docker_save(tmp_path / "app.tar", corrupt_diff_id=True)
    with (
        open_image(tmp_path / "app.tar") as image,
        pytest.raises(ImageSourceError, match="diff ID"),
    ):
        image.manifest(max_workers=3)


def test_compressed_docker_save_and_unpacked_directory_give_the_same_image(tmp_path):
    layers = default_layers("same")
    make_docker_save(tmp_path / "plain.tar", layers=layers)
    make_docker_save(tmp_path / "packed.tar.gz", layers=layers, compress_outer=True)
    (tmp_path / "dir").mkdir()
    with tarfile.open(tmp_path / "plain.tar") as tar:
        tar.extractall(tmp_path / "dir", filter="tar")
    digests = set()
    for source in ("plain.tar", "packed.tar.gz", "dir"):
        with open_image(tmp_path / source) as image:
            digests.add(image.manifest().digest)
    assert len(digests) == 1


def test_docker_save_layer_already_gzipped_is_pushed_as_is(tmp_path):
    layers = default_layers()
    make_docker_save(tmp_path / "app.tar", layers=layers, gzip_layer=True)
    with open_image(tmp_path / "app.tar") as image:
        desc = image.blobs[1].prepare()
        assert desc.digest == sha256(gzip_bytes(layers[0]))


def test_docker_save_with_wrong_diff_id_is_refused(tmp_path):
    make_docker_save(tmp_path / "app.tar", corrupt_diff_id=True)
    with (
        open_image(tmp_path / "app.tar") as image,
        pytest.raises(ImageSourceError, match=r"diff ID .* export it again"),
    ):
        image.manifest()


def test_docker_save_of_another_platform_is_refused(tmp_path):
    make_docker_save(tmp_path / "app.tar", arch="arm64")
    with pytest.raises(PlatformError, match="holds no linux/amd64 image; it has linux/arm64"):
        open_image(tmp_path / "app.tar")


def _rewrite_docker_save(src: Path, dest: Path, edit) -> None:
    with tarfile.open(src) as tar_in, tarfile.open(dest, "w") as tar_out:
        for member in tar_in:
            data = tar_in.extractfile(member).read() if member.isreg() else None
            if member.name == "manifest.json":
                data = json.dumps(edit(json.loads(data))).encode()
                member.size = len(data)
            tar_out.addfile(member, None if data is None else __import__("io").BytesIO(data))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: [{**m[0], "Layers": ["../../etc/passwd"] * 3}], "leaves the image"),
        (lambda m: [{**m[0], "Layers": m[0]["Layers"][:1]}], "lists 3 diff IDs"),
        (lambda m: [{**m[0], "Layers": ["nope/layer.tar"] * 3}], "layer 1 'nope/layer.tar'"),
        (lambda m: [m[0], m[0] | {"Config": m[0]["Config"]}], None),
        (lambda _: {"not": "a list"}, "non-empty list"),
        (lambda _: [42], "not an object"),
        (lambda _: [{"Config": 1, "Layers": []}], "lacks 'Config'"),
    ],
)
def test_malformed_docker_save(tmp_path, edit, message):
    make_docker_save(tmp_path / "app.tar")
    _rewrite_docker_save(tmp_path / "app.tar", tmp_path / "bad.tar", edit)
    if message is None:  # the same image listed twice is one image
        with open_image(tmp_path / "bad.tar") as image:
            assert image.manifest()
        return
    with pytest.raises(ImageSourceError, match=message), open_image(tmp_path / "bad.tar") as image:
        image.manifest()


def test_docker_save_holding_two_images_is_refused(tmp_path):
    make_docker_save(tmp_path / "a.tar", layers=default_layers("a"))
    make_docker_save(tmp_path / "b.tar", layers=default_layers("b"))
    (tmp_path / "both").mkdir()
    for name in ("a.tar", "b.tar"):
        with tarfile.open(tmp_path / name) as tar:
            tar.extractall(tmp_path / "both" / name, filter="tar")
    entries = []
    for name in ("a.tar", "b.tar"):
        entry = json.loads((tmp_path / "both" / name / "manifest.json").read_text())[0]
        entries.append(
            {
                "Config": f"{name}/{entry['Config']}",
                "RepoTags": entry["RepoTags"],
                "Layers": [f"{name}/{layer}" for layer in entry["Layers"]],
            }
        )
    (tmp_path / "both" / "manifest.json").write_text(json.dumps(entries))
    with pytest.raises(ImageSourceError, match="holds 2 images"):
        open_image(tmp_path / "both")


def test_zstd_layer_is_refused(tmp_path):
    layers = [b"\x28\xb5\x2f\xfd" + b"\0" * 60, tar_bytes({"a": b"b"})]
    make_docker_save(tmp_path / "app.tar", layers=layers)
    with open_image(tmp_path / "app.tar") as image, pytest.raises(ImageSourceError, match="zstd"):
        image.manifest()


def test_compressed_oci_archive_keeps_small_members_and_unpacks_large_ones(tmp_path, monkeypatch):
    built = make_oci_layout(tmp_path / "l")
    tar_directory(tmp_path / "l", tmp_path / "oci.tar.gz", compress=True)
    with open_image(tmp_path / "oci.tar.gz") as image:
        assert image.manifest().digest == built.digest()
        assert image._scratch._dir is None  # every member was small: read in memory
    # With no memory budget, each member read is unpacked to a temporary directory.
    monkeypatch.setattr(_sources, "_KEEP_BUDGET", 0)
    with open_image(tmp_path / "oci.tar.gz") as image:
        assert image.manifest().digest == built.digest()
        for blob in image.blobs:
            assert sha256(_blob_bytes(blob)) == blob.prepare().digest
        unpacked = image._scratch.directory()
        assert len(list(unpacked.iterdir())) == 6  # oci-layout, index, manifest, config, 2 layers
    assert not unpacked.exists()


# -- pure helpers ---------------------------------------------------------------------


def test_parse_platform():
    assert parse_platform("linux/amd64") == LINUX_AMD64
    assert str(parse_platform("linux/arm64/v8")) == "linux/arm64/v8"
    for bad in ("linux", "linux//x", "a/b/c/d"):
        with pytest.raises(ValueError, match="linux/amd64"):
            parse_platform(bad)
    assert LINUX_AMD64.accepts(Platform("linux", "amd64", "v3"))
    assert not Platform("linux", "arm64", "v8").accepts(Platform("linux", "arm64", "v7"))


@given(st.text(alphabet="ab./\\", max_size=12))
def test_normalized_names_never_leave_the_image(name):
    clean = _normalize(name)
    if clean is not None:
        assert not clean.startswith(("/", "../"))
        assert clean != ".."
        assert hashlib.sha256(clean.encode())  # a usable str


# -- more edges: malformed metadata, odd tars, layouts with extras -----------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"layers": [], "config": []}', "descriptor must be a JSON object"),
        (b'{"layers": [], "config": {"size": 1}}', "has no mediaType"),
        (b'{"layers": [], "config": {"mediaType": "x", "size": -1}}', "size is missing"),
        (b'{"mediaType": "text/plain"}', "not an image manifest"),
        (b'{"mediaType": "application/vnd.oci.image.manifest.v1+json"}', "no list of layers"),
        (
            (
                b'{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution'
                b'.manifest.v1+prettyjws"}'
            ),
            "schema 1",
        ),
    ],
)
def test_manifest_parsing_errors(data, message):
    with pytest.raises(ImageSourceError, match=message):
        _image.parse_manifest(data, None, "m")


def test_manifest_without_media_type_is_read_as_oci():
    config = {"mediaType": "c", "size": 2, "digest": "sha256:" + "a" * 64}
    parsed = _image.parse_manifest(json.dumps({"config": config, "layers": []}).encode(), None, "m")
    assert parsed.media_type == OCI_MANIFEST
    assert parsed.config.size == 2


def test_config_without_rootfs_and_platform_without_os():
    with pytest.raises(ImageSourceError, match=r"no rootfs\.diff_ids"):
        _image.diff_ids({"rootfs": {}}, "c")
    assert _image.config_platform({"architecture": "amd64"}, "c") is None
    with pytest.raises(ImageSourceError, match="no 'manifests' list"):
        _image.index_entries({}, "i")


def test_blob_reader_guards(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"0123456789")
    member = _sources._Member(path, 2, 20)  # claims more than the file holds
    with _sources.BlobReader(member, "f") as reader:
        with pytest.raises(ValueError, match="outside"):
            reader.seek(21)
        assert reader.read(4) == b"2345"
        assert reader.read() == b"6789"  # a short read, then the truth
        with pytest.raises(ImageSourceError, match="ended 12 bytes early"):
            reader.read()
    with pytest.raises(ImageSourceError, match="cannot read missing"):
        _sources.BlobReader(_sources._Member(tmp_path / "nope", 0, 1), "missing")
    files = _sources._Directory(tmp_path)
    with pytest.raises(ImageSourceError, match="more than a config can be"):
        files.read_small("f", "config", 5)


def _tar(path: Path, entries) -> None:
    with tarfile.open(path, "w") as tar:
        for name, kind, value in entries:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(value)
                tar.addfile(info, __import__("io").BytesIO(value))
            else:
                info.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
                info.linkname = value
                tar.addfile(info)


def test_tar_links_hard_and_symbolic_and_escapes(tmp_path):
    _tar(
        tmp_path / "t.tar",
        [
            ("../evil", "file", b"x"),
            ("a/real", "file", b"data"),
            ("hard", "hard", "a/real"),
            ("a/sym", "sym", "real"),
            ("out", "sym", "../../etc/passwd"),
            ("hardout", "hard", "/etc/passwd"),
            ("loop1", "sym", "loop2"),
            ("loop2", "sym", "loop1"),
        ],
    )
    with tarfile.open(tmp_path / "t.tar") as tar:
        files = _sources._tar_members(tar, tmp_path / "t.tar", "t.tar")
    assert files.read_small("hard", "x", 10) == b"data"
    assert files.read_small("a/sym", "x", 10) == b"data"
    assert files.find("evil") is None  # "../evil" was never indexed
    assert files.find("out") is None
    assert files.find("hardout") is None
    with pytest.raises(ImageSourceError, match="too many links"):
        files.find("loop1")


def test_docker_save_with_hard_linked_duplicate_layer(tmp_path):
    make_docker_save(tmp_path / "app.tar")
    with tarfile.open(tmp_path / "app.tar") as tar_in, tarfile.open(tmp_path / "h.tar", "w") as out:
        for member in tar_in:
            if member.issym():
                member.type = tarfile.LNKTYPE
                member.linkname = posixpath.normpath(
                    posixpath.join(posixpath.dirname(member.name), member.linkname)
                )
                out.addfile(member)
            else:
                out.addfile(member, tar_in.extractfile(member))
    with open_image(tmp_path / "h.tar") as image:
        assert len(image.blobs) == 3
        assert image.manifest()


def test_docker_save_odd_layers(tmp_path, monkeypatch):
    bad_gzip = b"\x1f\x8b" + b"\0" * 40
    make_docker_save(tmp_path / "g.tar", layers=[bad_gzip, tar_bytes({"a": b"b"})])
    with (
        open_image(tmp_path / "g.tar") as image,
        pytest.raises(ImageSourceError, match="not a valid gzip stream"),
    ):
        image.manifest()
    make_docker_save(tmp_path / "ok.tar")
    monkeypatch.setattr(_sources._Scratch, "new_file", lambda _: tmp_path / "no" / "dir" / "x")
    with (
        open_image(tmp_path / "ok.tar") as image,
        pytest.raises(ImageSourceError, match="point TMPDIR at a disk with more space"),
    ):
        image.manifest()


def test_docker_save_manifest_json_problems(tmp_path):
    make_docker_save(tmp_path / "app.tar")
    (tmp_path / "d").mkdir()
    with tarfile.open(tmp_path / "app.tar") as tar:
        tar.extractall(tmp_path / "d", filter="tar")
    manifest = tmp_path / "d" / "manifest.json"
    entry = json.loads(manifest.read_text())[0]
    manifest.write_text("{oops")
    with pytest.raises(ImageSourceError, match="not valid JSON"):
        open_image(tmp_path / "d")
    manifest.write_text(json.dumps([{**entry, "Layers": [1, 2, 3]}]))
    with pytest.raises(ImageSourceError, match="non-string layer path"):
        open_image(tmp_path / "d")


def test_unreadable_blob_in_a_directory(tmp_path):
    built = make_oci_layout(tmp_path / "l")
    layer = json.loads(built.manifests["linux/amd64"])["layers"][0]["digest"]
    path = tmp_path / "l" / "blobs" / "sha256" / layer.split(":")[1]
    path.unlink()
    path.symlink_to(path)  # a loop: stat fails with ELOOP
    with pytest.raises(
        ImageSourceError, match=r"cannot read .*: Too many levels of symbolic links"
    ):
        open_image(tmp_path / "l")


def test_os_errors_are_translated(tmp_path, monkeypatch):
    def fail(*_):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(_sources, "_open_files", fail)
    with pytest.raises(ImageSourceError, match=r"cannot read .*: Permission denied"):
        open_image(tmp_path)


def test_layout_extras_variants_duplicates_and_foreign_layers(tmp_path):
    layer = tar_bytes({"same": b"layer"})
    built = make_oci_layout(tmp_path / "l", layers=[layer, layer], compress=False)
    index_path = tmp_path / "l" / "index.json"
    index = json.loads(index_path.read_text())
    amd64 = index["manifests"][0]
    # An amd64/v3 variant of the same image, and an artifact that is no image.
    v3 = {**amd64, "platform": {"os": "linux", "architecture": "amd64", "variant": "v3"}}
    v3["digest"], v3["size"] = _oci_blob(tmp_path / "l", built.manifests["linux/amd64"] + b" ")
    artifact = {"mediaType": "application/vnd.example+json", "digest": amd64["digest"], "size": 1}
    index["manifests"] = [v3, artifact, amd64]
    index_path.write_text(json.dumps(index))
    with open_image(tmp_path / "l") as image:
        assert image.manifest().digest == built.digest()  # the baseline variant wins
        assert len(image.blobs) == 2  # the repeated layer is one blob
        assert "LocalImage oci-layout" in repr(image)
        assert "layer 1" in repr(image.blobs[1])

    # A nondistributable layer that the layout does not hold is skipped.
    manifest = json.loads(built.manifests["linux/amd64"])
    manifest["layers"].append(
        {
            "mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
            "digest": "sha256:" + "f" * 64,
            "size": 10,
            "urls": ["https://example.com/layer"],
        }
    )
    data = json.dumps(manifest).encode()
    digest, size = _oci_blob(tmp_path / "l", data)
    index["manifests"] = [{**amd64, "digest": digest, "size": size}]
    index_path.write_text(json.dumps(index))
    with open_image(tmp_path / "l") as image:
        assert image.manifest().data == data
        assert len(image.blobs) == 2


def test_indexes_nested_too_deep_are_refused(tmp_path):
    built = make_oci_layout(tmp_path / "l")
    entry = json.loads((tmp_path / "l" / "index.json").read_text())["manifests"][0]
    for _ in range(6):
        data = json.dumps({"schemaVersion": 2, "manifests": [entry]}).encode()
        digest, size = _oci_blob(tmp_path / "l", data)
        entry = {
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": digest,
            "size": size,
        }
    (tmp_path / "l" / "index.json").write_text(json.dumps({"manifests": [entry]}))
    assert built.manifests
    with pytest.raises(ImageSourceError, match="nested more than 4 deep"):
        open_image(tmp_path / "l")


def _oci_blob(layout: Path, data: bytes) -> tuple[str, int]:
    digest = sha256(data)
    (layout / "blobs" / "sha256" / digest.split(":")[1]).write_bytes(data)
    return digest, len(data)
