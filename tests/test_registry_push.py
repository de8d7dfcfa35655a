"""Pushing images to registries: the real CNCF registry, skopeo as the oracle, and a fake.

The real ``docker-registry`` (htpasswd Basic auth, or token auth against a
loopback token server) proves interoperability; skopeo, an independent client,
reads back what was pushed.  The in-memory fake registry drives the failure
paths the real one cannot be made to take on demand.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import pickle
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests
from registry_support import (
    PASSWORD,
    USERNAME,
    CuttingProxy,
    FakeRegistry,
    Fault,
    TokenServer,
    make_docker_save,
    make_oci_archive,
    make_oci_layout,
    read_oci_copy,
    sha256,
    skopeo_copy_to_oci,
    skopeo_raw_manifest,
    start_registry,
    tar_bytes,
    write_big_oci_layout,
)

from lightsail_images import (
    DigestMismatchError,
    ImageSourceError,
    LightsailError,
    ParamValidationError,
    PlatformError,
    RegistryAuthError,
    RegistryError,
    RegistryErrorDetail,
    TransportError,
    _retry,
)
from lightsail_images._oci import DOCKER_MANIFEST
from lightsail_images._registry import (
    Challenge,
    PushProgress,
    RegistryClient,
    parse_challenges,
    parse_error_body,
    parse_range,
    push_image,
    resolve_location,
)
from lightsail_images.testing import set_testing


@pytest.fixture(autouse=True)
def _no_backoff():
    with set_testing(True):
        yield


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    running = start_registry(tmp_path_factory.mktemp("registry"))
    yield running
    running.stop()


@pytest.fixture
def fake():
    server = FakeRegistry()
    yield server
    server.close()


def push(source, host, *, repository="sr", tag="t1", **options):
    return push_image(
        source,
        registry=host,
        username=options.pop("username", USERNAME),
        password=options.pop("password", PASSWORD),
        repository=repository,
        tag=tag,
        insecure_http=True,
        **options,
    )


def unique_repository() -> str:
    return "sr" + secrets.token_hex(4)


# -- the real registry, with skopeo as the oracle ------------------------------------


def test_oci_layout_push_is_byte_for_byte_and_round_trips(registry, tmp_path):
    built = make_oci_layout(tmp_path / "layout")
    repo = unique_repository()
    events: list[PushProgress] = []
    pushed = push(tmp_path / "layout", registry.host, repository=repo, on_progress=events.append)
    assert pushed.digest == built.digest()
    assert pushed.reference == f"{registry.host}/{repo}@{built.digest()}"
    assert skopeo_raw_manifest(registry.host, f"{repo}:t1") == built.manifests["linux/amd64"]
    manifest, config, layers = read_oci_copy(
        skopeo_copy_to_oci(registry.host, f"{repo}:t1", tmp_path / "copy")
    )
    assert config["rootfs"]["diff_ids"] == built.diff_ids
    assert [sha256(gzip.decompress(layer)) for layer in layers] == built.diff_ids
    assert {e.digest for e in events if e.done and not e.skipped} == {
        manifest["config"]["digest"],
        *(layer["digest"] for layer in manifest["layers"]),
    }

    # A second push finds every blob in place and sends none.
    again: list[PushProgress] = []
    repeat = push(tmp_path / "layout", registry.host, repository=repo, on_progress=again.append)
    assert repeat.digest == pushed.digest
    assert again
    assert all(e.skipped and e.done and e.sent == 0 for e in again)


def test_multi_platform_archive_pushes_its_amd64_manifest_in_chunks(registry, tmp_path):
    built = make_oci_archive(
        tmp_path / "image.tar", tmp_path / "scratch", platforms=("arm64", "amd64")
    )
    repo = unique_repository()
    events: list[PushProgress] = []
    # Tiny chunks: every blob goes through POST, several PATCHes and a PUT,
    # following the absolute Locations and Ranges the real registry sends.
    pushed = push(
        tmp_path / "image.tar",
        registry.host,
        repository=repo,
        chunk_threshold=500,
        chunk_size=700,
        on_progress=events.append,
    )
    assert pushed.digest == built.digest("linux/amd64")
    assert skopeo_raw_manifest(registry.host, f"{repo}:t1") == built.manifests["linux/amd64"]
    _, config, _ = read_oci_copy(skopeo_copy_to_oci(registry.host, f"{repo}:t1", tmp_path / "c"))
    assert config["architecture"] == "amd64"
    assert any(0 < e.sent < e.size for e in events)  # progress within a blob


def test_docker_save_push_round_trips_with_diff_ids(registry, tmp_path):
    built = make_docker_save(tmp_path / "app.tar")
    repo = unique_repository()
    # Layers over the threshold go as one streamed PATCH, as docker sends them.
    pushed = push(
        tmp_path / "app.tar", registry.host, repository=repo, tag="web-1", chunk_threshold=1000
    )
    assert pushed.media_type == DOCKER_MANIFEST
    raw = skopeo_raw_manifest(registry.host, f"{repo}:web-1")
    assert sha256(raw) == pushed.digest
    assert json.loads(raw)["config"]["digest"] == sha256(built.config)
    _, config, layers = read_oci_copy(
        skopeo_copy_to_oci(registry.host, f"{repo}:web-1", tmp_path / "copy")
    )
    assert config["rootfs"]["diff_ids"] == built.diff_ids
    assert [sha256(gzip.decompress(layer)) for layer in layers] == built.diff_ids

    events: list[PushProgress] = []
    push(
        tmp_path / "app.tar", registry.host, repository=repo, tag="web-2", on_progress=events.append
    )
    assert len(events) == 3
    assert all(e.skipped for e in events)


def test_bad_password_is_refused_by_the_real_registry(registry, tmp_path, caplog):
    make_oci_layout(tmp_path / "l")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(RegistryAuthError, match="rejected the username and password") as info:
        push(tmp_path / "l", registry.host, password="wrong-" + PASSWORD)
    assert info.value.http_status_code == 401
    for text in (str(info.value), repr(info.value), caplog.text):
        assert PASSWORD not in text


def test_registry_going_down_mid_upload_fails_after_retries(tmp_path):
    running = start_registry(tmp_path / "registry")
    layer = tar_bytes({"big": os.urandom(2 * 1024 * 1024)})
    make_oci_layout(tmp_path / "l", layers=[layer], compress=False)

    def kill_when_started(event: PushProgress) -> None:
        if event.sent > 0 and not event.done and running.process.poll() is None:
            running.stop()

    try:
        with pytest.raises(TransportError, match="no response") as info:
            push(
                tmp_path / "l",
                running.host,
                chunk_threshold=1024,
                chunk_size=256 * 1024,
                max_attempts=3,
                max_workers=1,
                on_progress=kill_when_started,
            )
    finally:
        running.stop()
    assert info.value.attempts == 3
    assert "Is the registry up" in str(info.value)


def test_connection_cut_mid_chunk_recovers_against_the_real_registry(registry, tmp_path):
    layer = tar_bytes({"big": os.urandom(1024 * 1024)})
    built = make_oci_layout(tmp_path / "l", layers=[layer], compress=False)
    proxy = CuttingProxy(registry.port, cut_after=400 * 1024)
    repo = unique_repository()
    try:
        pushed = push(
            tmp_path / "l",
            proxy.host,
            repository=repo,
            chunk_threshold=1024,
            chunk_size=256 * 1024,
            max_workers=1,
        )
    finally:
        proxy.close()
    assert proxy.cuts == 1
    assert pushed.digest == built.digest()
    assert skopeo_raw_manifest(registry.host, f"{repo}:t1") == built.manifests["linux/amd64"]
    _, _, layers = read_oci_copy(skopeo_copy_to_oci(registry.host, f"{repo}:t1", tmp_path / "c"))
    assert [gzip.decompress(data) for data in layers] == [layer]  # skopeo compresses on copy


def test_token_auth_against_the_real_registry(tmp_path):
    token = TokenServer(tmp_path / "token")
    running = start_registry(tmp_path / "registry", token=token)
    try:
        built = make_oci_layout(tmp_path / "l")
        pushed = push(tmp_path / "l", running.host)
        assert pushed.digest == built.digest()
        assert skopeo_raw_manifest(running.host, "sr:t1") == built.manifests["linux/amd64"]
        ours = token.requests[0]
        assert ours["service"] == [token.service]
        assert ours["scope"] == ["repository:sr:pull,push"]
        with pytest.raises(RegistryAuthError, match="token service"):
            push(tmp_path / "l", running.host, password="nope")
    finally:
        running.stop()
        token.close()


# -- the fake registry: protocol paths and failures -----------------------------------


def test_bearer_flow_with_relative_locations(tmp_path):
    fake = FakeRegistry(auth="bearer", relative_locations=True)
    try:
        built = make_oci_layout(tmp_path / "l")
        pushed = push(tmp_path / "l", fake.host, repository="sr", tag="v1")
        assert fake.manifests["v1"] == (built.manifests["linux/amd64"], pushed.media_type)
        # Our scope, plus the one the challenge asked for.
        assert fake.token_requests[0] == {
            "service": ["fake-registry"],
            "scope": ["repository:sr:pull,push", "repository:sr:pull"],
        }
        # Only the token service ever sees the password.
        registry_calls = [entry for entry in fake.log if entry[1] != "/token"]
        assert {scheme for _, _, scheme in registry_calls} <= {"", "Bearer"}
    finally:
        fake.close()


def test_expired_token_is_fetched_again(tmp_path):
    fake = FakeRegistry(auth="bearer")
    try:
        make_oci_layout(tmp_path / "l")

        def expire(event: PushProgress) -> None:
            if event.done:
                fake.expire_tokens()

        push(tmp_path / "l", fake.host, on_progress=expire, max_workers=1)
        assert len(fake.token_requests) >= 2
        assert "t1" in fake.manifests
    finally:
        fake.close()


def test_wrong_docker_content_digest_fails_loudly(tmp_path):
    fake = FakeRegistry(wrong_digest=True)
    try:
        built = make_oci_layout(tmp_path / "l")
        with pytest.raises(DigestMismatchError, match="do not register this image") as info:
            push(tmp_path / "l", fake.host)
        assert info.value.expected == built.digest()
        assert info.value.actual != built.digest()
        copy = pickle.loads(pickle.dumps(info.value))
        assert (copy.expected, copy.actual) == (info.value.expected, info.value.actual)
    finally:
        fake.close()


def test_transient_failures_are_retried_with_backoff(fake, tmp_path, monkeypatch):
    delays: list[float] = []
    monkeypatch.setattr(_retry, "sleep", delays.append)
    fake.faults += [
        Fault("POST", "/blobs/uploads", status=503),
        Fault("PUT", "/v2/uploads/", drop=True),
        Fault("HEAD", "/blobs/", status=502),
        Fault("PUT", "/manifests/", status=500),
    ]
    built = make_oci_layout(tmp_path / "l")
    pushed = push(tmp_path / "l", fake.host, max_workers=1)
    assert pushed.digest == built.digest()
    assert not fake.faults  # every fault fired
    assert len(delays) == 4
    # Full jitter: at most 2 ** (n - 1) seconds before retry n of a step.
    assert all(0 <= d <= 4 for d in delays)


def test_chunked_upload_resumes_where_the_registry_got_to(fake, tmp_path):
    layer = tar_bytes({"data": os.urandom(5000)})
    make_oci_layout(tmp_path / "l", layers=[layer], compress=False)
    # The first PATCH stores 100 of its 1000 bytes, then the connection drops.
    fake.faults.append(Fault("PATCH", "/v2/uploads/", keep=100))
    push(tmp_path / "l", fake.host, chunk_threshold=1000, chunk_size=1000, max_workers=1)
    assert sha256(layer) in fake.blobs
    assert fake.count("GET", "/v2/uploads/") == 1  # asked where to resume
    assert fake.count("POST", "/blobs/uploads") == 2  # config and layer, no restart


def test_ecr_like_patch_answers(tmp_path):
    fake = FakeRegistry(ecr_like=True)
    layer = tar_bytes({"data": os.urandom(5000)})
    make_oci_layout(tmp_path / "l", layers=[layer], compress=False)
    try:
        # The default, one streamed PATCH per large blob, copes with 201.
        push(tmp_path / "l", fake.host, chunk_threshold=1000)
        assert sha256(layer) in fake.blobs
        patch_ranges = [entry for entry in fake.log if entry[0] == "PATCH"]
        assert len(patch_ranges) == 1
        # Spec chunks against a registry that drops later chunks: the push
        # fails on the Range check; no short blob is ever committed.
        fake.blobs.clear()
        with pytest.raises(RegistryError, match="holds 1000 bytes after a chunk ending at 2000"):
            push(tmp_path / "l", fake.host, chunk_threshold=1000, chunk_size=1000, max_attempts=2)
        assert sha256(layer) not in fake.blobs
    finally:
        fake.close()


def test_lost_upload_session_starts_again(fake, tmp_path):
    layer = tar_bytes({"data": os.urandom(3000)})
    make_oci_layout(tmp_path / "l", layers=[layer], compress=False)
    fake.faults.append(Fault("PATCH", "/v2/uploads/", status=404))
    push(tmp_path / "l", fake.host, chunk_threshold=1000, chunk_size=1000, max_workers=1)
    assert sha256(layer) in fake.blobs
    assert fake.count("POST", "/blobs/uploads") == 3


def test_persistent_server_errors_give_up(fake, tmp_path):
    make_oci_layout(tmp_path / "l")
    fake.faults.append(Fault("POST", "/blobs/uploads", status=500, times=100))
    with pytest.raises(RegistryError, match="gave up after 2 attempts") as info:
        push(tmp_path / "l", fake.host, max_attempts=2)
    assert info.value.http_status_code == 500
    assert info.value.codes == ("UNAVAILABLE",)
    assert info.value.attempts == 2
    copy = pickle.loads(pickle.dumps(info.value))
    assert (copy.codes, copy.attempts, type(copy)) == (("UNAVAILABLE",), 2, RegistryError)


def test_forbidden_push_is_an_auth_error(fake, tmp_path):
    make_oci_layout(tmp_path / "l")
    fake.faults.append(Fault("POST", "/blobs/uploads", status=403, times=100))
    with pytest.raises(RegistryAuthError, match="may not push to repository 'sr'"):
        push(tmp_path / "l", fake.host)


def test_second_push_sends_no_blob(fake, tmp_path):
    make_docker_save(tmp_path / "app.tar")
    push(tmp_path / "app.tar", fake.host)
    uploads_before = fake.count("POST")
    puts_before = fake.count("PUT", "/v2/uploads/")
    push(tmp_path / "app.tar", fake.host, tag="t2")
    assert fake.count("POST") == uploads_before
    assert fake.count("PUT", "/v2/uploads/") == puts_before
    assert set(fake.manifests) == {"t1", "t2"}


@pytest.mark.parametrize("chunked", [False, True])
def test_blob_corrupted_on_disk_is_never_committed(fake, tmp_path, chunked):
    layer = tar_bytes({"data": os.urandom(3000)})
    built = make_oci_layout(tmp_path / "l", layers=[layer], compress=False)
    digest = json.loads(built.manifests["linux/amd64"])["layers"][0]["digest"]
    path = tmp_path / "l" / "blobs" / "sha256" / digest.split(":")[1]
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    options = {"chunk_threshold": 100, "chunk_size": 1000} if chunked else {}
    with pytest.raises(ImageSourceError, match="changed or the image is corrupt"):
        push(tmp_path / "l", fake.host, max_workers=1, **options)
    assert digest not in fake.blobs
    assert not fake.manifests


def test_wrong_platform_is_refused_before_contacting_the_registry(fake, tmp_path):
    make_oci_layout(tmp_path / "l", platforms=("arm64",))
    with pytest.raises(PlatformError, match="offers linux/arm64"):
        push(tmp_path / "l", fake.host)
    assert fake.log == []


def test_bad_basic_password_and_unknown_schemes(fake, tmp_path, caplog):
    make_oci_layout(tmp_path / "l")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(RegistryAuthError, match="CreateContainerServiceRegistryLogin") as info:
        push(tmp_path / "l", fake.host, password="not-the-password")
    assert "not-the-password" not in str(info.value) + caplog.text
    fake.auth = "bearer"
    with pytest.raises(RegistryAuthError, match="token service"):
        push(tmp_path / "l", fake.host, password="not-the-password")
    assert "not-the-password" not in caplog.text


def test_no_registry_api_and_unsupported_challenge(tmp_path, monkeypatch):
    make_oci_layout(tmp_path / "l")
    fake = FakeRegistry(auth="none")
    try:
        fake.faults.append(Fault("GET", "/v2/", status=404))
        with pytest.raises(RegistryError, match="no registry API"):
            push(tmp_path / "l", fake.host)
        monkeypatch.setattr(FakeRegistry, "_authorized", lambda *_: False)
        monkeypatch.setattr(FakeRegistry, "_challenge", lambda _: 'Negotiate realm="x"')
        with pytest.raises(RegistryAuthError, match="offered: negotiate"):
            push(tmp_path / "l", fake.host)
    finally:
        fake.close()


def test_token_without_push_rights(tmp_path, monkeypatch):
    make_oci_layout(tmp_path / "l")
    fake = FakeRegistry(auth="bearer")
    original = FakeRegistry._authorized
    # The token is good for /v2/ but not for the repository.
    monkeypatch.setattr(
        FakeRegistry, "_authorized", lambda self, h: h.path == "/v2/" and original(self, h)
    )
    monkeypatch.setattr(
        FakeRegistry,
        "_challenge",
        lambda self: f'Bearer realm="http://{self.host}/token",error="insufficient_scope"',
    )
    try:
        with pytest.raises(RegistryAuthError, match="may not push to repository 'sr'"):
            push(tmp_path / "l", fake.host)
    finally:
        fake.close()


def test_given_session_is_used_and_left_open(fake, tmp_path):
    make_oci_layout(tmp_path / "l")
    session = requests.Session()
    calls = []
    original = session.request

    def counting(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    session.request = counting  # type: ignore[method-assign]
    push(tmp_path / "l", fake.host, http_session=session)
    assert "PUT" in calls
    session.get(f"http://{fake.host}/v2/")  # still usable
    session.close()


def test_registry_unreachable_from_the_start(tmp_path):
    make_oci_layout(tmp_path / "l")
    fake = FakeRegistry()
    host = fake.host
    fake.close()
    # A network failure is a TransportError on a push too, as on a Lightsail call.
    with pytest.raises(TransportError, match=r"no response \(.*refused") as info:
        push(tmp_path / "l", host, max_attempts=2)
    assert info.value.attempts == 2
    assert isinstance(info.value, LightsailError)


# -- arguments and pure parsing --------------------------------------------------------


def test_arguments_are_checked_before_anything_happens(tmp_path):
    with pytest.raises(ParamValidationError) as info:
        push_image(
            tmp_path / "missing",
            registry="http://example.com",
            username=USERNAME,
            password=42,  # type: ignore[arg-type]
            repository="Not/Valid",
            tag="-bad",
            max_workers=0,
        )
    fields = [p.field for p in info.value.errors]
    assert fields == ["registry", "repository", "tag", "password", "max_workers"]
    assert "insecure_http=True" in str(info.value)
    assert "42" not in str(info.value)
    for registry in ("ftp://x", "host:port", "", None):
        with pytest.raises(ParamValidationError):
            push_image(
                tmp_path,
                registry=registry,  # type: ignore[arg-type]
                username="u",
                password="p",
                repository="sr",
                tag="t",
            )


@pytest.mark.parametrize("auth", ["basic", "bearer"])
def test_client_state_hides_credentials(auth):
    import base64

    fake = FakeRegistry(auth=auth)
    client = RegistryClient(
        f"http://{fake.host}", repository="sr", username=USERNAME, password=PASSWORD
    )
    try:
        client.ping()
        shown = repr(client) + repr(vars(client))
    finally:
        client.close()
        fake.close()
    assert "'<hidden>'" in shown
    assert PASSWORD not in shown
    assert base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode() not in shown
    assert not any(token in shown for token in fake.tokens)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('Basic realm="registry"', [Challenge("basic", {"realm": "registry"})]),
        (
            'Bearer realm="https://auth.example/token",service="reg",scope="repository:sr:pull"',
            [
                Challenge(
                    "bearer",
                    {
                        "realm": "https://auth.example/token",
                        "service": "reg",
                        "scope": "repository:sr:pull",
                    },
                )
            ],
        ),
        (
            'Bearer realm="a", error="insufficient_scope", Basic Realm=x',
            [
                Challenge("bearer", {"realm": "a", "error": "insufficient_scope"}),
                Challenge("basic", {"realm": "x"}),
            ],
        ),
        (r'Basic realm="say \"hi\""', [Challenge("basic", {"realm": 'say "hi"'})]),
        ("", []),
        ("=odd , Basic", [Challenge("odd"), Challenge("basic")]),
        ("Basic realm=", [Challenge("basic", {"realm": ""})]),
        ('Basic realm = "spaced"', [Challenge("basic", {"realm": "spaced"})]),
    ],
)
def test_parse_challenges(header, expected):
    assert parse_challenges(header) == expected


def test_parse_error_body_range_and_locations():
    body = b'{"errors": [{"code": "DENIED", "message": "no", "detail": {"a": 1}}, {"x": 1}]}'
    assert parse_error_body(body) == (RegistryErrorDetail("DENIED", "no", '{"a":1}'),)
    assert parse_error_body(b"<html>") == ()
    assert parse_error_body(b"[]") == ()
    assert parse_range("0-1023") == 1024
    assert parse_range("bytes=0-9") == 10
    assert parse_range("0-0") == 0
    assert parse_range(None) is None
    assert parse_range("5-9") is None
    base = "https://r.example/v2/sr/blobs/uploads/"
    assert resolve_location(base, "/v2/sr/blobs/uploads/abc?_state=x") == (
        "https://r.example/v2/sr/blobs/uploads/abc?_state=x"
    )
    assert resolve_location(base, "https://s3.example/u/1") == "https://s3.example/u/1"
    assert resolve_location(base, "abc") == "https://r.example/v2/sr/blobs/uploads/abc"


# -- more protocol edges ---------------------------------------------------------------


def test_client_errors_are_not_retried(fake, tmp_path):
    make_oci_layout(tmp_path / "l", layers=[tar_bytes({"a": os.urandom(3000)})], compress=False)
    for options in ({}, {"chunk_threshold": 1000, "chunk_size": 1000}):
        fake.faults.append(Fault("PUT", "/v2/uploads/", status=400))
        before = fake.count("PUT", "/v2/uploads/")
        with pytest.raises(RegistryError, match=r"HTTP 400 \(UNAVAILABLE") as info:
            push(tmp_path / "l", fake.host, max_workers=1, **options)
        assert info.value.attempts == 1
        assert fake.count("PUT", "/v2/uploads/") == before + 1
    fake.faults.append(Fault("GET", "/v2/", status=400))
    with pytest.raises(RegistryError, match="contacting"):
        push(tmp_path / "l", fake.host)


@pytest.mark.parametrize(("status", "posts"), [(503, 2), (404, 3)])
def test_resume_asks_again_or_starts_over(fake, tmp_path, status, posts):
    layer = tar_bytes({"data": os.urandom(4000)})
    make_oci_layout(tmp_path / "l", layers=[layer], compress=False)
    # The first PATCH's answer is lost; asking where the session got to then
    # fails transiently (ask again later) or finds the session gone (start over).
    fake.faults += [
        Fault("PATCH", "/v2/uploads/", drop=True),
        Fault("GET", "/v2/uploads/", status=status),
    ]
    push(tmp_path / "l", fake.host, chunk_threshold=1000, chunk_size=1000, max_workers=1)
    assert sha256(layer) in fake.blobs
    assert fake.count("POST", "/blobs/uploads") == posts


def test_empty_blob_is_uploaded_without_a_body(fake, tmp_path):
    make_oci_layout(tmp_path / "l", layers=[b""], compress=False)
    push(tmp_path / "l", fake.host)
    assert fake.blobs[sha256(b"")] == b""


def test_token_service_failures(tmp_path):
    fake = FakeRegistry(auth="bearer")
    try:
        make_oci_layout(tmp_path / "l")
        fake.faults.append(Fault("GET", "/token", status=503))
        push(tmp_path / "l", fake.host)  # retried
        fake.expire_tokens()
        fake.faults.append(Fault("GET", "/token", status=400, times=10))
        with pytest.raises(RegistryError, match="answered HTTP 400 without a token"):
            push(tmp_path / "l", fake.host)
        fake.faults.clear()
        client = RegistryClient(
            f"http://{fake.host}", repository="sr", username=USERNAME, password=PASSWORD
        )
        token = client._fetch_token(Challenge("bearer", {"realm": f"http://{fake.host}/token"}))
        assert token in fake.tokens
        assert fake.token_requests[-1] == {"scope": ["repository:sr:pull,push"]}
        client.close()
    finally:
        fake.close()


def test_token_answers_and_realms():
    from lightsail_images._registry import _token_from

    assert _token_from(b'{"token": "a"}') == "a"
    assert _token_from(b'{"access_token": "b"}') == "b"
    for body in (b"<html>", b"[]", b'{"token": ""}', b'{"token": 5}'):
        assert _token_from(body) is None
    client = RegistryClient("https://r.example", repository="sr", username="u", password="p")
    for realm, message in (("", "unusable"), ("http://auth.example/t", "unencrypted")):
        with pytest.raises(RegistryAuthError, match=message):
            client._fetch_token(Challenge("bearer", {"realm": realm}))


def test_reauthentication_decisions():
    from lightsail_images._registry import _Response

    client = RegistryClient("https://r.example", repository="sr", username="u", password="p")
    basic = _Response(401, {"www-authenticate": 'Basic realm="r"'}, b"")
    assert client._reauthenticate(basic, None) is True  # first contact: use Basic
    assert client._reauthenticate(basic, client._auth) is False  # Basic was refused
    assert client._reauthenticate(basic, "Bearer stale") is True  # refreshed meanwhile


def test_missing_docker_content_digest_is_accepted(caplog):
    from lightsail_images._registry import _check_reported_digest, _Response

    caplog.set_level(logging.DEBUG, logger="lightsail_images")
    _check_reported_digest(_Response(201, {}, b""), "sha256:" + "0" * 64, "the manifest")
    assert "sent no Docker-Content-Digest" in caplog.text


def test_first_real_failure_cancels_the_other_uploads(monkeypatch):
    import threading

    from lightsail_images import _registry

    client = RegistryClient("https://r.example", repository="sr", username="u", password="p")
    failed = threading.Event()

    def fake_push(_client, blob, _progress):
        if blob == "bad":
            failed.set()
            raise RegistryError("boom", http_status_code=400)
        failed.wait(5)
        assert client.cancelled.wait(5)
        client.retrying(lambda _: None)  # raises _Cancelled: the push was called off

    monkeypatch.setattr(_registry, "_push_blob", fake_push)
    image = type("Image", (), {"blobs": ("slow", "bad")})()
    with pytest.raises(RegistryError, match="boom"):
        _registry._push_blobs(client, image, _registry._Progress(None), max_workers=2)
    client.close()


def test_an_upload_body_stops_once_the_push_is_called_off(tmp_path):
    import hashlib
    import threading

    from lightsail_images._oci import open_image
    from lightsail_images._registry import _Body, _Cancelled

    make_oci_layout(tmp_path / "l")
    stop = threading.Event()
    sent = []
    with open_image(tmp_path / "l") as image:
        blob = image.blobs[0]
        size = blob.prepare().size
        body = _Body(
            blob, start=0, length=size, hasher=hashlib.sha256(), on_read=sent.append, cancelled=stop
        )
        assert len(body) == size
        assert next(iter(body))  # streams...
        stop.set()
        with pytest.raises(_Cancelled):  # ...until called off
            body.read(10)
        body.close()
    assert sent == [size]


# -- memory stays flat for a large layer -----------------------------------------------

_RSS_SCRIPT = textwrap.dedent(
    """
    import json, sys

    def peak_rss():
        # VmHWM, not getrusage: ru_maxrss survives execve, so a child of
        # pytest would report pytest's own peak.
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024

    from lightsail_images._registry import push_image
    before = peak_rss()
    pushed = push_image(
        sys.argv[1], registry=sys.argv[2], username=sys.argv[3], password=sys.argv[4],
        repository="big", tag="t", insecure_http=True,
    )
    print(json.dumps({"digest": pushed.digest, "before": before, "after": peak_rss()}))
    """
)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_large_layer_push_keeps_memory_flat(registry, tmp_path):
    size = 300 * 1024 * 1024
    digest = write_big_oci_layout(tmp_path / "big", size)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _RSS_SCRIPT,
            str(tmp_path / "big"),
            registry.host,
            USERNAME,
            PASSWORD,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    before, after = report["before"] >> 20, report["after"] >> 20
    print(f"peak RSS pushing a {size >> 20} MiB layer: {after} MiB ({before} MiB after imports)")
    assert report["digest"] == digest
    # Whatever streams, buffers are fixed-size: the push may not grow the
    # process by more than a small fraction of the layer.
    assert report["after"] - report["before"] < size / 10
    assert report["after"] < size / 4


def test_a_netrc_entry_for_the_registry_does_not_replace_our_credentials(
    fake, tmp_path, monkeypatch
):
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login intruder password not-the-password\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    make_docker_save(tmp_path / "app.tar")
    assert push(tmp_path / "app.tar", fake.host).digest.startswith("sha256:")
