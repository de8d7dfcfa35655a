"""Pushing images to registries: the real CNCF registry, skopeo as the oracle, and a fake.

Every push here goes the way a user's does, through
``Client.push_container_image`` (with FakeLightsail handing out the registry
login), so the client's transport, retry policy and errors are what is tested.
The real ``docker-registry`` (htpasswd Basic auth, or token auth against a
loopback token server) proves interoperability; skopeo, an independent client,
reads back what was pushed.  The in-memory fake registry drives the failure
paths the real one cannot be made to take on demand.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import pickle
import subprocess
import sys
import textwrap
import threading
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
    lightsail_for,
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
from test_reliability_faults import self_signed  # noqa: F401 - a fixture, shared

import lightsail_images as li
from lightsail_images import (
    DigestMismatchError,
    ImageSourceError,
    LightsailError,
    PlatformError,
    PushProgress,
    RegistryAuthError,
    RegistryError,
    TransportError,
    _retry,
)
from lightsail_images._protocol import HttpResponse
from lightsail_images._push import distribution
from lightsail_images._push import push as push_module
from lightsail_images._push.auth import Authenticator, Credentials
from lightsail_images._push.distribution import Challenge, Repository
from lightsail_images._push.image import DOCKER_MANIFEST
from lightsail_images._push.push import RegistrySession
from lightsail_images._push.sources import open_image
from lightsail_images._push.upload import READ_SIZE, BlobBody, Cancelled
from lightsail_images._retry import RetryPolicy, RetryQuota
from lightsail_images._transport import RequestsTransport
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


@pytest.fixture
def small_monolithic(monkeypatch):
    """Blobs over 1000 bytes go as one streamed PATCH and an empty PUT."""
    monkeypatch.setattr(distribution, "MONOLITHIC_MAX", 1000)


def push(
    source,
    host,
    *,
    username=USERNAME,
    password=PASSWORD,
    max_attempts=None,
    http_session=None,
    label="web",
    **options,
) -> li.ContainerImage:
    """Push ``source`` to the registry at ``host`` the way a user does.

    A FakeLightsail hands out a login for ``http://host``; the client pushes
    with ``insecure_registry=True`` and registers the digest under ``label``.
    """
    with lightsail_for(
        f"http://{host}",
        username=username,
        password=password,
        config=li.ClientConfig(max_attempts=max_attempts),
        http_session=http_session,
    ) as (lightsail, client):
        image = client.push_container_image(
            service_name="svc", label=label, source=source, insecure_registry=True, **options
        )
    assert lightsail.images("svc") == [image]
    return image


def session_for(host: str, **options) -> RegistrySession:
    """The push's registry session, over a transport of its own, for unit checks."""
    return RegistrySession(
        Repository(f"http://{host}", "sr"),
        Credentials(options.pop("username", USERNAME), options.pop("password", PASSWORD)),
        transport=RequestsTransport(session=None, connect_timeout=5, read_timeout=5, pool_size=4),
        new_policy=lambda: RetryPolicy(max_attempts=3, quota=RetryQuota()),
        long_read_timeout=5,
    )


# -- the real registry, with skopeo as the oracle ------------------------------------


def test_oci_layout_push_is_byte_for_byte_and_round_trips(registry, tmp_path):
    built = make_oci_layout(tmp_path / "layout")
    events: list[PushProgress] = []
    pushed = push(tmp_path / "layout", registry.host, on_progress=events.append)
    assert pushed.digest == built.digest()
    ref = f"sr@{built.digest()}"
    assert skopeo_raw_manifest(registry.host, ref) == built.manifests["linux/amd64"]
    manifest, config, layers = read_oci_copy(
        skopeo_copy_to_oci(registry.host, ref, tmp_path / "copy")
    )
    assert config["rootfs"]["diff_ids"] == built.diff_ids
    assert [sha256(gzip.decompress(layer)) for layer in layers] == built.diff_ids
    assert {e.digest for e in events if e.done and not e.skipped} == {
        manifest["config"]["digest"],
        *(layer["digest"] for layer in manifest["layers"]),
    }

    # A second push finds every blob in place and sends none.
    again: list[PushProgress] = []
    repeat = push(tmp_path / "layout", registry.host, on_progress=again.append)
    assert repeat.digest == pushed.digest
    assert again
    assert all(e.skipped and e.done and e.sent == 0 for e in again)


def test_multi_platform_archive_pushes_its_amd64_manifest_in_patches(
    registry, tmp_path, small_monolithic
):
    built = make_oci_archive(
        tmp_path / "image.tar", tmp_path / "scratch", platforms=("arm64", "amd64")
    )
    # Every blob over 1000 bytes goes through POST, one streamed PATCH and a
    # PUT, following the absolute Locations the real registry sends.
    pushed = push(tmp_path / "image.tar", registry.host)
    assert pushed.digest == built.digest("linux/amd64")
    ref = f"sr@{pushed.digest}"
    assert skopeo_raw_manifest(registry.host, ref) == built.manifests["linux/amd64"]
    _, config, _ = read_oci_copy(skopeo_copy_to_oci(registry.host, ref, tmp_path / "c"))
    assert config["architecture"] == "amd64"


def test_docker_save_push_round_trips_with_diff_ids(registry, tmp_path, small_monolithic):
    built = make_docker_save(tmp_path / "app.tar")
    # Layers over the threshold go as one streamed PATCH, as docker sends them.
    pushed = push(tmp_path / "app.tar", registry.host)
    raw = skopeo_raw_manifest(registry.host, f"sr@{pushed.digest}")
    assert sha256(raw) == pushed.digest
    assert json.loads(raw)["mediaType"] == DOCKER_MANIFEST
    assert json.loads(raw)["config"]["digest"] == sha256(built.config)
    _, config, layers = read_oci_copy(
        skopeo_copy_to_oci(registry.host, f"sr@{pushed.digest}", tmp_path / "copy")
    )
    assert config["rootfs"]["diff_ids"] == built.diff_ids
    assert [sha256(gzip.decompress(layer)) for layer in layers] == built.diff_ids

    events: list[PushProgress] = []
    push(tmp_path / "app.tar", registry.host, label="api", on_progress=events.append)
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


def test_registry_going_down_mid_upload_is_a_transport_error(tmp_path):
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
                max_attempts=3,
                max_workers=1,
                on_progress=kill_when_started,
            )
    finally:
        running.stop()
    assert info.value.attempts == 3
    assert "is the registry up" in str(info.value)


def test_connection_cut_mid_upload_recovers_against_the_real_registry(registry, tmp_path):
    layer = tar_bytes({"big": os.urandom(1024 * 1024)})
    built = make_oci_layout(tmp_path / "l", layers=[layer], compress=False)
    proxy = CuttingProxy(registry.port, cut_after=400 * 1024)
    try:
        pushed = push(tmp_path / "l", proxy.host, max_workers=1)
    finally:
        proxy.close()
    assert proxy.cuts == 1
    assert pushed.digest == built.digest()
    ref = f"sr@{pushed.digest}"
    assert skopeo_raw_manifest(registry.host, ref) == built.manifests["linux/amd64"]
    _, _, layers = read_oci_copy(skopeo_copy_to_oci(registry.host, ref, tmp_path / "c"))
    assert [gzip.decompress(data) for data in layers] == [layer]  # skopeo compresses on copy


def test_token_auth_against_the_real_registry(tmp_path):
    token = TokenServer(tmp_path / "token")
    running = start_registry(tmp_path / "registry", token=token)
    try:
        built = make_oci_layout(tmp_path / "l")
        pushed = push(tmp_path / "l", running.host)
        assert pushed.digest == built.digest()
        ref = f"sr@{pushed.digest}"
        assert skopeo_raw_manifest(running.host, ref) == built.manifests["linux/amd64"]
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
        push(tmp_path / "l", fake.host)
        ((data, media_type),) = fake.manifests.values()
        assert (data, media_type) == (built.manifests["linux/amd64"], distribution_media(data))
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


def distribution_media(manifest: bytes) -> str:
    return json.loads(manifest)["mediaType"]


def test_expired_token_is_fetched_again(tmp_path):
    fake = FakeRegistry(auth="bearer")
    try:
        make_oci_layout(tmp_path / "l")

        def expire(event: PushProgress) -> None:
            if event.done:
                fake.expire_tokens()

        push(tmp_path / "l", fake.host, on_progress=expire, max_workers=1)
        assert len(fake.token_requests) >= 2
        assert len(fake.manifests) == 1
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


def test_ecr_like_patch_answers(tmp_path, small_monolithic):
    fake = FakeRegistry(ecr_like=True)
    layer = tar_bytes({"data": os.urandom(5000)})
    make_oci_layout(tmp_path / "l", layers=[layer], compress=False)
    try:
        # One streamed PATCH per large blob, answered 201 as ECR does.
        push(tmp_path / "l", fake.host)
        assert sha256(layer) in fake.blobs
        patches = [entry for entry in fake.log if entry[0] == "PATCH"]
        assert len(patches) == 1
    finally:
        fake.close()


def test_a_registry_that_keeps_part_of_a_patch_fails_the_push(tmp_path, small_monolithic):
    # The Range of the PATCH's answer says the registry holds less than was
    # sent (bytes dropped, as reported of ECR): no short blob is committed.
    fake = FakeRegistry(lossy_patch=True)
    layer = tar_bytes({"data": os.urandom(5000)})
    make_oci_layout(tmp_path / "l", layers=[layer], compress=False)
    try:
        with pytest.raises(RegistryError, match=r"holds \d+ of the blob's \d+ bytes") as info:
            push(tmp_path / "l", fake.host, max_attempts=2)
        assert info.value.attempts == 2
        assert sha256(layer) not in fake.blobs
        assert not fake.manifests
    finally:
        fake.close()


def test_lost_upload_session_starts_again(fake, tmp_path, small_monolithic):
    layer = tar_bytes({"data": os.urandom(3000)})
    make_oci_layout(tmp_path / "l", layers=[layer], compress=False)
    fake.faults.append(Fault("PATCH", "/v2/uploads/", status=404))
    push(tmp_path / "l", fake.host, max_workers=1)
    assert sha256(layer) in fake.blobs
    assert fake.count("POST", "/blobs/uploads") == 3  # config, layer, layer again


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


def test_push_steps_take_their_attempts_from_the_client(fake, tmp_path, monkeypatch):
    # Regression: the registry had its own default of 5 attempts per step and
    # ignored ClientConfig.max_attempts and AWS_MAX_ATTEMPTS.
    make_oci_layout(tmp_path / "l")
    fake.faults.append(Fault("HEAD", "/blobs/", status=503, times=100))
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "4")
    with pytest.raises(RegistryError, match="gave up after 4 attempts") as info:
        push(tmp_path / "l", fake.host, max_workers=1)
    assert info.value.attempts == 4
    assert fake.count("HEAD") == 4  # the failure called the other blob off
    with pytest.raises(RegistryError) as info:
        push(tmp_path / "l", fake.host, max_workers=1, max_attempts=1)  # ClientConfig wins
    assert info.value.attempts == 1
    assert fake.count("HEAD") == 5


def test_push_retries_draw_on_the_clients_retry_quota(fake, tmp_path):
    # Regression: registry retries ignored the client's quota.  With the quota
    # drained (a sustained outage elsewhere), a failing step is not retried.
    make_oci_layout(tmp_path / "l")
    fake.faults.append(Fault("HEAD", "/blobs/", status=503, times=100))
    with lightsail_for(f"http://{fake.host}", config=li.ClientConfig(max_attempts=5)) as (
        _,
        client,
    ):
        client._quota.acquire(client._quota.available)  # drained
        with pytest.raises(RegistryError) as info:
            client.push_container_image(
                service_name="svc",
                label="web",
                source=tmp_path / "l",
                insecure_registry=True,
                max_workers=1,
            )
    assert info.value.attempts == 1
    assert fake.count("HEAD") == 1  # the failure called the other blob off


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
    push(tmp_path / "app.tar", fake.host)
    assert fake.count("POST") == uploads_before
    assert fake.count("PUT", "/v2/uploads/") == puts_before
    assert len(fake.manifests) == 2  # a tag per push


@pytest.mark.parametrize("patched", [False, True])
def test_blob_corrupted_on_disk_is_never_committed(fake, tmp_path, monkeypatch, patched):
    if patched:
        monkeypatch.setattr(distribution, "MONOLITHIC_MAX", 100)
    layer = tar_bytes({"data": os.urandom(3000)})
    built = make_oci_layout(tmp_path / "l", layers=[layer], compress=False)
    digest = json.loads(built.manifests["linux/amd64"])["layers"][0]["digest"]
    path = tmp_path / "l" / "blobs" / "sha256" / digest.split(":")[1]
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ImageSourceError, match="changed or the image is corrupt"):
        push(tmp_path / "l", fake.host, max_workers=1)
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
    assert "HEAD" in calls
    session.get(f"http://{fake.host}/v2/")  # still usable
    session.close()


def test_a_callers_custom_ca_is_honoured_by_pushes(tmp_path, self_signed, monkeypatch):  # noqa: F811
    # Regression: the registry requests did not pass the session's verify, so
    # requests let REQUESTS_CA_BUNDLE replace the caller's CA on the push path
    # (Lightsail calls honoured it).  The registry is HTTPS with a certificate
    # only the caller's CA file trusts.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", requests.certs.where())
    fake = FakeRegistry(tls=self_signed)
    built = make_oci_layout(tmp_path / "l")
    try:
        with requests.Session() as session:
            session.verify = self_signed[0]
            with lightsail_for(fake.host, http_session=session) as (_, client):  # bare host: HTTPS
                image = client.push_container_image(
                    service_name="svc", label="web", source=tmp_path / "l"
                )
        # The control: the client's own session trusts only the environment's
        # CA bundle, so the same push fails the certificate check.
        with (
            lightsail_for(fake.host, config=li.ClientConfig(max_attempts=1)) as (_, default),
            pytest.raises(TransportError, match="certificate") as info,
        ):
            default.push_container_image(service_name="svc", label="web", source=tmp_path / "l")
    finally:
        fake.close()
    assert image.digest == built.digest()
    assert len(fake.manifests) == 1
    assert isinstance(info.value.__cause__, requests.exceptions.SSLError)


def test_registry_unreachable_from_the_start(tmp_path):
    make_oci_layout(tmp_path / "l")
    fake = FakeRegistry()
    host = fake.host
    fake.close()
    # A network failure is a TransportError on a push too, as on a Lightsail call.
    with pytest.raises(TransportError, match=r"no response.*refused") as info:
        push(tmp_path / "l", host, max_attempts=2)
    assert info.value.attempts == 2
    assert isinstance(info.value, LightsailError)


# -- arguments and pure parsing --------------------------------------------------------


def test_push_arguments_are_checked_before_anything_happens(tmp_path):
    with lightsail_for("127.0.0.1:9") as (fake, client):
        for workers in (0, -1, 1.5, True):
            with pytest.raises(li.ParamValidationError) as info:
                client.push_container_image(
                    service_name="svc",
                    label="web",
                    source=tmp_path / "missing",
                    max_workers=workers,  # type: ignore[arg-type]
                )
            assert [p.field for p in info.value.errors] == ["max_workers"]
    assert fake.requests == ()


@pytest.mark.parametrize(
    ("registry", "error"),
    [
        ("ftp://x", RegistryError),
        ("host:port", RegistryError),
        ("host:99999", RegistryError),
        ("http://[::1", RegistryError),
        ("", RegistryError),
        ("http://127.0.0.1:5000", li.ConfigurationError),
    ],
)
def test_registry_addresses_from_a_login(registry, error):
    with pytest.raises(error):
        distribution.registry_url(registry, insecure_registry=False)


def test_registry_addresses_that_work():
    url = distribution.registry_url
    assert url("123.dkr.ecr.us-east-1.amazonaws.com", insecure_registry=False) == (
        "https://123.dkr.ecr.us-east-1.amazonaws.com"
    )
    assert url("http://127.0.0.1:5000/", insecure_registry=True) == "http://127.0.0.1:5000"
    assert url("[::1]:5000", insecure_registry=False) == "https://[::1]:5000"


def test_session_state_hides_credentials():
    for auth in ("basic", "bearer"):
        fake = FakeRegistry(auth=auth)
        session = session_for(fake.host)
        try:
            session.ping()
            shown = repr(session) + repr(vars(session)) + repr(vars(session._auth))
        finally:
            fake.close()
        assert "'<hidden>'" in shown
        assert PASSWORD not in shown
        import base64

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
    assert distribution.parse_challenges(header) == expected


def test_parse_error_body_range_and_locations():
    body = b'{"errors": [{"code": "DENIED", "message": "no", "detail": {"a": 1}}, {"x": 1}]}'
    assert distribution.parse_error_body(body) == (
        li.RegistryErrorDetail("DENIED", "no", '{"a":1}'),
    )
    assert distribution.parse_error_body(b"<html>") == ()
    assert distribution.parse_error_body(b"[]") == ()
    parse_range = distribution.parse_range
    assert parse_range("0-1023") == 1024
    assert parse_range("bytes=0-9") == 10
    assert parse_range("0-0") == 0
    assert parse_range(None) is None
    assert parse_range("5-9") is None
    base = "https://r.example/v2/sr/blobs/uploads/"

    def resolve(location: str) -> str:
        answer = HttpResponse(status_code=202, headers={"location": location}, body=b"")
        return distribution.resolve_location(base, answer, "uploading")

    assert resolve("/v2/sr/blobs/uploads/abc?_state=x") == (
        "https://r.example/v2/sr/blobs/uploads/abc?_state=x"
    )
    assert resolve("https://s3.example/u/1") == "https://s3.example/u/1"
    assert resolve("abc") == "https://r.example/v2/sr/blobs/uploads/abc"


# -- more protocol edges ---------------------------------------------------------------


def test_client_errors_are_not_retried(fake, tmp_path, monkeypatch):
    make_oci_layout(tmp_path / "l", layers=[tar_bytes({"a": os.urandom(3000)})], compress=False)
    for monolithic_max in (distribution.MONOLITHIC_MAX, 1000):
        monkeypatch.setattr(distribution, "MONOLITHIC_MAX", monolithic_max)
        fake.faults.append(Fault("PUT", "/v2/uploads/", status=400))
        before = fake.count("PUT", "/v2/uploads/")
        with pytest.raises(RegistryError, match=r"HTTP 400 \(UNAVAILABLE") as info:
            push(tmp_path / "l", fake.host, max_workers=1)
        assert info.value.attempts == 1
        assert fake.count("PUT", "/v2/uploads/") == before + 1
    fake.faults.append(Fault("GET", "/v2/", status=400))
    with pytest.raises(RegistryError, match="contacting"):
        push(tmp_path / "l", fake.host)


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
        session = session_for(fake.host)
        session.ping()
        assert fake.token_requests[-1] == {
            "service": ["fake-registry"],
            "scope": ["repository:sr:pull,push", "repository:sr:pull"],
        }
    finally:
        fake.close()


def test_token_answers_and_realms():
    parse_token = distribution.parse_token
    assert parse_token(b'{"token": "a"}') == "a"
    assert parse_token(b'{"access_token": "b"}') == "b"
    for body in (b"<html>", b"[]", b'{"token": ""}', b'{"token": 5}'):
        assert parse_token(body) is None
    repository = Repository("https://r.example", "sr")
    for realm, message in (("", "unusable"), ("http://auth.example/t", "unencrypted")):
        with pytest.raises(RegistryAuthError, match=message):
            repository.token(Challenge("bearer", {"realm": realm}))


def test_reauthentication_decisions():
    sent: list[str | None] = []

    def send(request, authorization):
        sent.append(authorization)
        return HttpResponse(status_code=200, headers={}, body=b'{"token": "t1"}')

    auth = Authenticator(Repository("https://r.example", "sr"), Credentials("u", "p"), send)
    basic = HttpResponse(401, {"www-authenticate": 'Basic realm="r"'}, b"")
    assert auth.retry_after(basic, None) is True  # first contact: use Basic
    current = auth.header_for("https://r.example/v2/")
    assert current is not None
    assert current.startswith("Basic ")
    assert auth.retry_after(basic, current) is False  # Basic was refused
    assert auth.retry_after(basic, "Bearer stale") is True  # refreshed meanwhile
    assert auth.header_for("https://elsewhere.example/v2/") is None  # never off-origin
    bearer = HttpResponse(401, {"www-authenticate": 'Bearer realm="https://r.example/t"'}, b"")
    assert auth.retry_after(bearer, current) is True
    assert auth.header_for("https://r.example/v2/") == "Bearer t1"
    assert sent == [current]  # the token service got Basic


def test_missing_docker_content_digest_is_accepted():
    answer = HttpResponse(status_code=201, headers={}, body=b"")
    assert distribution.digest_mismatch(answer, "sha256:" + "0" * 64, "the manifest") is None


class _NamedBlob:
    """A blob whose preparation gives its name: enough for _push_blobs' bookkeeping."""

    def __init__(self, name):
        self.name = name

    def prepare(self, _cancelled):
        return self.name


def test_first_real_failure_cancels_the_other_uploads(monkeypatch):
    session = session_for("127.0.0.1:9")
    failed = threading.Event()

    def fake_push(_session, blob, prepared, _progress):
        if prepared.result() == "bad":
            failed.set()
            raise RegistryError("boom", http_status_code=400)
        failed.wait(5)
        assert session.cancelled.wait(5)
        session.step(lambda _: None)  # raises Cancelled: the push was called off

    monkeypatch.setattr(push_module, "_push_blob", fake_push)
    image = type("Image", (), {"blobs": (_NamedBlob("slow"), _NamedBlob("bad"))})()
    with pytest.raises(RegistryError, match="boom"):
        push_module._push_blobs(session, image, push_module._Progress(None), max_workers=2)


def test_the_real_failure_is_reported_when_a_stopped_worker_finishes_first(monkeypatch):
    # The failing worker calls the push off before its own future is done; a
    # worker that stops because of it can be done first, and the main thread
    # can wake on that one.  The error raised must still be the real one.
    session = session_for("127.0.0.1:9")
    first_wait_over = threading.Event()
    real_wait = push_module.wait

    def wait(futures, **kwargs):
        result = real_wait(futures, **kwargs)
        first_wait_over.set()
        return result

    def fake_push(_session, blob, prepared, _progress):
        if prepared.result() == "bad":
            session.cancelled.set()  # as _unless_called_off does, before re-raising
            assert first_wait_over.wait(5)  # the stopped worker woke the main thread
            raise RegistryError("boom", http_status_code=400)
        assert session.cancelled.wait(5)
        session.step(lambda _: None)  # raises Cancelled: the push was called off

    monkeypatch.setattr(push_module, "wait", wait)
    monkeypatch.setattr(push_module, "_push_blob", fake_push)
    image = type("Image", (), {"blobs": (_NamedBlob("slow"), _NamedBlob("bad"))})()
    with pytest.raises(RegistryError, match="boom"):
        push_module._push_blobs(session, image, push_module._Progress(None), max_workers=2)


def test_an_upload_body_stops_once_the_push_is_called_off(tmp_path):
    make_oci_layout(tmp_path / "l", layers=[tar_bytes({"a": os.urandom(3 * READ_SIZE)})])
    stop = threading.Event()
    sent = []
    with open_image(tmp_path / "l") as image:
        blob = image.blobs[1]  # the layer: more than one piece
        size = blob.prepare().size
        body = BlobBody(
            blob, length=size, hasher=hashlib.sha256(), on_read=sent.append, cancelled=stop
        )
        assert len(body) == size
        chunks = iter(body)
        assert next(chunks)  # streams...
        stop.set()
        with pytest.raises(Cancelled):  # ...until called off
            next(chunks)
        body.close()
    assert sent == [READ_SIZE]


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

    import lightsail_images as li
    from lightsail_images.testing import FakeLightsail

    fake = FakeLightsail()
    fake.add_container_service("svc")
    fake.set_registry("http://" + sys.argv[2], username=sys.argv[3], password=sys.argv[4])
    with fake.serve() as url, li.Client(
        fake.region_name, endpoint_url=url, aws_access_key_id=fake.access_key_id,
        aws_secret_access_key=fake.secret_access_key,
    ) as client:
        before = peak_rss()
        pushed = client.push_container_image(
            service_name="svc", label="big", source=sys.argv[1], insecure_registry=True
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
