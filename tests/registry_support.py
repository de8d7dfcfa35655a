"""Test helpers for image pushes: images built in Python, and registries on loopback.

* Image builders write small, valid images in the three source formats: an OCI
  layout (optionally multi-platform, optionally nested), an OCI archive, and a
  ``docker save`` tarball in the classic layout (``<id>/layer.tar``, a config
  named by its digest, a symlinked duplicate layer as docker writes them).
* :func:`start_registry` runs the real CNCF distribution registry (Debian's
  ``docker-registry`` package) on a free loopback port with htpasswd Basic
  auth, or with token auth against :class:`TokenServer`.  Tests that need it
  skip with a clear message when the binary is absent.
* :class:`FakeRegistry` is a small in-memory registry on the standard library's
  HTTP server, for what the real one cannot be made to do on demand: Bearer
  tokens that expire, 503s, dropped connections, a wrong ``Docker-Content-Digest``.
* :func:`skopeo` runs skopeo, the independent client the tests use as an oracle.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import http.server
import io
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import tarfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

USERNAME = "tester"
PASSWORD = "s3cret-pass"
# bcrypt hash of PASSWORD; distribution accepts only bcrypt in htpasswd files.
# Regenerate with: htpasswd -Bbn tester s3cret-pass
HTPASSWD_LINE = "tester:$2y$05$U91Ey5zMTLa24.buMU/TN.uusrnsALfcpLucXPgcsKw3DWibjEMbu"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# -- image builders -------------------------------------------------------------


def tar_bytes(files: dict[str, bytes]) -> bytes:
    """A deterministic tar of ``files`` (a layer)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def image_config(arch: str, diff_ids: list[str], os_name: str = "linux") -> bytes:
    return json.dumps(
        {
            "architecture": arch,
            "os": os_name,
            "config": {"Cmd": ["/hello"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        },
        sort_keys=True,
    ).encode()


@dataclass
class BuiltImage:
    """What a builder wrote: the expected manifest(s) and the layers' diff IDs."""

    path: Path
    manifests: dict[str, bytes] = field(default_factory=dict)  # platform -> manifest bytes
    diff_ids: list[str] = field(default_factory=list)
    config: bytes = b""

    def digest(self, platform: str = "linux/amd64") -> str:
        return sha256(self.manifests[platform])


def default_layers(seed: str = "") -> list[bytes]:
    return [
        tar_bytes({"hello": b"#!/bin/sh\necho hello " + seed.encode() + b"\n"}),
        tar_bytes({"etc/motd": b"welcome\n" * 50, "data/x": os.urandom(2048)}),
    ]


def _write_blob(layout: Path, data: bytes) -> str:
    digest = sha256(data)
    path = layout / "blobs" / "sha256" / digest.split(":")[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest


def _add_image(
    layout: Path, arch: str, layers: list[bytes], *, compress: bool
) -> tuple[dict[str, object], bytes, list[str], bytes]:
    diff_ids = [sha256(layer) for layer in layers]
    config = image_config(arch, diff_ids)
    layer_descs = []
    for layer in layers:
        blob = gzip_bytes(layer) if compress else layer
        layer_descs.append(
            {
                "mediaType": OCI_LAYER_GZIP if compress else OCI_LAYER,
                "digest": _write_blob(layout, blob),
                "size": len(blob),
            }
        )
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": OCI_CONFIG,
                "digest": _write_blob(layout, config),
                "size": len(config),
            },
            "layers": layer_descs,
        },
        indent=2,
    ).encode()
    desc: dict[str, object] = {
        "mediaType": OCI_MANIFEST,
        "digest": _write_blob(layout, manifest),
        "size": len(manifest),
    }
    return desc, manifest, diff_ids, config


def make_oci_layout(
    path: Path,
    *,
    platforms: tuple[str, ...] = ("amd64",),
    layers: list[bytes] | None = None,
    compress: bool = True,
    platform_in_index: bool = True,
    nested: bool = False,
) -> BuiltImage:
    """Write an OCI image layout with one image per architecture in ``platforms``."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    built = BuiltImage(path)
    entries = []
    for arch in platforms:
        desc, manifest, diff_ids, config = _add_image(
            path, arch, layers or default_layers(arch), compress=compress
        )
        if platform_in_index:
            desc["platform"] = {"os": "linux", "architecture": arch}
        entries.append(desc)
        built.manifests[f"linux/{arch}"] = manifest
        if arch == "amd64":
            built.diff_ids, built.config = diff_ids, config
    if nested:
        inner = json.dumps(
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        ).encode()
        entries = [
            {
                "mediaType": OCI_INDEX,
                "digest": _write_blob(path, inner),
                "size": len(inner),
                "annotations": {"org.opencontainers.image.ref.name": "latest"},
            }
        ]
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    (path / "index.json").write_text(json.dumps(index))
    return built


def tar_directory(directory: Path, tar_path: Path, *, compress: bool = False) -> Path:
    """Tar a directory's content at the archive root (``./`` prefixed, like GNU tar)."""
    with tarfile.open(tar_path, "w:gz" if compress else "w") as tar:
        for item in sorted(directory.rglob("*")):
            tar.add(item, arcname="./" + item.relative_to(directory).as_posix(), recursive=False)
    return tar_path


def make_oci_archive(path: Path, scratch: Path, **options: object) -> BuiltImage:
    built = make_oci_layout(scratch, **options)  # type: ignore[arg-type]
    tar_directory(scratch, path)
    built.path = path
    return built


def make_docker_save(
    path: Path,
    *,
    arch: str = "amd64",
    layers: list[bytes] | None = None,
    compress_outer: bool = False,
    gzip_layer: bool = False,
    corrupt_diff_id: bool = False,
) -> BuiltImage:
    """Write a classic ``docker save`` tarball.

    The last layer repeats the first, stored as a symlink to it, as docker does
    for identical layers.  ``gzip_layer`` stores the first layer gzipped (as a
    containerd-backed docker does); ``corrupt_diff_id`` breaks one diff ID.
    """
    layers = list(layers or default_layers(arch))
    layers.append(layers[0])
    diff_ids = [sha256(layer) for layer in layers]
    if corrupt_diff_id:
        diff_ids[1] = sha256(b"something else")
    config = image_config(arch, diff_ids)
    config_name = sha256(config).split(":")[1] + ".json"
    members: list[tuple[str, bytes | str]] = [(config_name, config)]
    layer_paths = []
    for number, layer in enumerate(layers[:-1]):
        layer_id = hashlib.sha256(f"layer-{number}-{arch}".encode()).hexdigest()
        stored = gzip_bytes(layer) if gzip_layer and number == 0 else layer
        members += [
            (f"{layer_id}/VERSION", b"1.0"),
            (f"{layer_id}/json", json.dumps({"id": layer_id}).encode()),
            (f"{layer_id}/layer.tar", stored),
        ]
        layer_paths.append(f"{layer_id}/layer.tar")
    dup_id = hashlib.sha256(f"dup-{arch}".encode()).hexdigest()
    members.append((f"{dup_id}/layer.tar", "../" + layer_paths[0]))  # a symlink
    layer_paths.append(f"{dup_id}/layer.tar")
    manifest = [{"Config": config_name, "RepoTags": [f"app:{arch}"], "Layers": layer_paths}]
    members.append(("manifest.json", json.dumps(manifest).encode()))
    mode = "w:gz" if compress_outer else "w"
    with tarfile.open(path, mode) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if isinstance(data, str):
                info.type = tarfile.SYMTYPE
                info.linkname = data
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return BuiltImage(path, diff_ids=diff_ids, config=config)


def write_big_oci_layout(path: Path, size: int) -> str:
    """An OCI layout with one uncompressed layer of about ``size`` bytes, written in chunks."""
    path.mkdir(parents=True)
    (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    blobs = path / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    part = path / "layer.partial"

    class _Random(io.RawIOBase):
        def __init__(self) -> None:
            self.left = size

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
            n = min(len(buffer), self.left, 1 << 20)
            buffer[:n] = os.urandom(n)
            self.left -= n
            return n

    with part.open("wb") as out, tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo("big.bin")
        info.size = size
        tar.addfile(info, io.BufferedReader(_Random(), 1 << 20))
    hasher = hashlib.sha256()
    with part.open("rb") as src:
        while chunk := src.read(1 << 20):
            hasher.update(chunk)
    layer_digest = "sha256:" + hasher.hexdigest()
    layer_size = part.stat().st_size
    part.rename(blobs / hasher.hexdigest())
    config = image_config("amd64", [layer_digest])
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": OCI_CONFIG,
                "digest": _write_blob(path, config),
                "size": len(config),
            },
            "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest, "size": layer_size}],
        }
    ).encode()
    digest = _write_blob(path, manifest)
    index = {
        "schemaVersion": 2,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest, "size": len(manifest)}],
    }
    (path / "index.json").write_text(json.dumps(index))
    return digest


# -- the real registry ----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def registry_binary() -> str:
    """The distribution registry's path, or skip the test saying how to install it."""
    binary = shutil.which("docker-registry") or shutil.which("registry")
    if binary is None:
        pytest.skip(
            "the CNCF distribution registry is not installed; on Debian/Ubuntu:"
            " apt-get install -y docker-registry"
        )
    return binary


def skopeo_binary() -> str:
    binary = shutil.which("skopeo")
    if binary is None:
        pytest.skip("skopeo is not installed; on Debian/Ubuntu: apt-get install -y skopeo")
    return binary


@dataclass
class RunningRegistry:
    """A ``docker-registry serve`` process on loopback."""

    process: subprocess.Popen[bytes]
    port: int
    root: Path
    config: Path

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log(self) -> str:
        return (self.root / "registry.log").read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


def registry_config(root: Path, port: int, *, token: TokenServer | None = None) -> str:
    if token is None:
        (root / "htpasswd").write_text(HTPASSWD_LINE + "\n")
        auth = f"  htpasswd:\n    realm: test-realm\n    path: {root / 'htpasswd'}\n"
    else:
        auth = (
            "  token:\n"
            f"    realm: {token.realm}\n"
            f"    service: {token.service}\n"
            f"    issuer: {token.issuer}\n"
            f"    rootcertbundle: {token.cert}\n"
        )
    return (
        "version: 0.1\n"
        "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        "  maintenance:\n    uploadpurging:\n      enabled: false\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: not-a-secret-test-only\n"
        f"auth:\n{auth}"
    )


def start_registry(root: Path, *, token: TokenServer | None = None) -> RunningRegistry:
    """Run ``docker-registry serve CONFIG`` on a free loopback port; wait until it answers."""
    binary = registry_binary()
    root.mkdir(parents=True, exist_ok=True)
    last_error = ""
    for _ in range(3):  # a port picked free may be taken before the registry binds it
        port = free_port()
        config = root / "config.yml"
        config.write_text(registry_config(root, port, token=token))
        log = (root / "registry.log").open("wb")
        process = subprocess.Popen(
            [binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        running = RunningRegistry(process, port, root, config)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and process.poll() is None:
            try:
                urllib.request.urlopen(f"http://{running.host}/v2/", timeout=1)
            except urllib.error.HTTPError:
                return running  # 401: up and asking for credentials
            except OSError:
                time.sleep(0.05)
            else:
                return running
        last_error = running.log()
        running.stop()
    msg = f"docker-registry did not start:\n{last_error}"
    raise RuntimeError(msg)


def skopeo(*args: str) -> bytes:
    """Run skopeo with a permissive policy (no signature checks), return stdout."""
    result = subprocess.run(
        [skopeo_binary(), "--insecure-policy", *args],
        capture_output=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        msg = f"skopeo {' '.join(args)} failed:\n{result.stderr.decode(errors='replace')}"
        raise AssertionError(msg)
    return result.stdout


def skopeo_raw_manifest(host: str, ref: str) -> bytes:
    return skopeo(
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--creds",
        f"{USERNAME}:{PASSWORD}",
        f"docker://{host}/{ref}",
    )


def skopeo_copy_to_oci(host: str, ref: str, dest: Path) -> Path:
    skopeo(
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        f"{USERNAME}:{PASSWORD}",
        f"docker://{host}/{ref}",
        f"oci:{dest}:copied",
    )
    return dest


def read_oci_copy(dest: Path) -> tuple[dict[str, object], dict[str, object], list[bytes]]:
    """The manifest, config and layer blobs of a layout written by skopeo copy."""
    index = json.loads((dest / "index.json").read_text())
    (entry,) = index["manifests"]

    def blob(digest: str) -> bytes:
        data = (dest / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()
        assert sha256(data) == digest
        return data

    manifest = json.loads(blob(entry["digest"]))
    config = json.loads(blob(manifest["config"]["digest"]))
    layers = [blob(layer["digest"]) for layer in manifest["layers"]]
    return manifest, config, layers


# -- a token server for the real registry -----------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """Issues the JWTs distribution's ``token`` auth expects, signed with openssl.

    The signing certificate travels in the token's ``x5c`` header and is the
    registry's ``rootcertbundle``, so no key-ID derivation is needed.
    """

    service = "test-registry"
    issuer = "test-issuer"

    def __init__(self, root: Path) -> None:
        openssl = shutil.which("openssl")
        if openssl is None:
            pytest.skip("openssl is needed to sign registry tokens")
        self._openssl = openssl
        root.mkdir(parents=True, exist_ok=True)
        self.key, self.cert = root / "token.key", root / "token.pem"
        subprocess.run(
            [
                *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
                *("-subj", "/CN=test-token", "-keyout", str(self.key), "-out", str(self.cert)),
            ],
            check=True,
            capture_output=True,
        )
        der = subprocess.run(
            [openssl, "x509", "-in", str(self.cert), "-outform", "DER"],
            check=True,
            capture_output=True,
        ).stdout
        self._x5c = base64.b64encode(der).decode()
        self.requests: list[dict[str, list[str]]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                server.requests.append(query)
                expected = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps({"token": server.sign(query)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.realm = f"http://127.0.0.1:{self._httpd.server_address[1]}/token"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def sign(self, query: dict[str, list[str]]) -> str:
        access = []
        for scope in query.get("scope", []):
            kind, name, actions = scope.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        claims = {
            "iss": self.issuer,
            "sub": USERNAME,
            "aud": self.service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        signing_input = (
            f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        )
        signature = subprocess.run(
            [self._openssl, "dgst", "-sha256", "-sign", str(self.key)],
            input=signing_input.encode(),
            check=True,
            capture_output=True,
        ).stdout
        return f"{signing_input}.{_b64url(signature)}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


# -- an in-memory fake registry ---------------------------------------------------


@dataclass
class Fault:
    """Make the next ``times`` requests matching ``method`` and ``path_part`` fail.

    ``status`` answers with that HTTP status; ``drop`` closes the connection
    without an answer; ``keep`` (PATCH only) stores that many bytes of the
    chunk before dropping, as a registry that lost its answer would.
    """

    method: str
    path_part: str
    status: int | None = None
    drop: bool = False
    keep: int | None = None
    times: int = 1


class FakeRegistry:
    """A minimal distribution API in memory, with switches for failure modes."""

    def __init__(
        self,
        *,
        auth: str = "basic",
        relative_locations: bool = True,
        wrong_digest: bool = False,
        ecr_like: bool = False,
        lossy_patch: bool = False,
        tls: tuple[str, str] | None = None,
    ) -> None:
        self.auth = auth
        # Keep only half of each PATCH, and say so in the Range of the answer.
        self.lossy_patch = lossy_patch
        # Answer PATCH with 201 and, after an upload's first PATCH, drop the
        # bytes and leave Range where it was (aws/containers-roadmap#2831).
        self.ecr_like = ecr_like
        self.relative_locations = relative_locations
        self.wrong_digest = wrong_digest
        self.blobs: dict[str, bytes] = {}
        self.uploads: dict[str, bytearray] = {}
        self.manifests: dict[str, tuple[bytes, str]] = {}
        self.faults: list[Fault] = []
        self.log: list[tuple[str, str, str]] = []  # method, path, auth scheme
        self.token_requests: list[dict[str, list[str]]] = []
        self.tokens: set[str] = set()
        self._lock = threading.Lock()
        registry = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                registry.handle(self, "GET")

            def do_HEAD(self) -> None:
                registry.handle(self, "HEAD")

            def do_POST(self) -> None:
                registry.handle(self, "POST")

            def do_PUT(self) -> None:
                registry.handle(self, "PUT")

            def do_PATCH(self) -> None:
                registry.handle(self, "PATCH")

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        if tls is not None:  # (certificate file, key file): serve HTTPS
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self.host = f"127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def count(self, method: str, path_part: str = "") -> int:
        return sum(1 for m, p, _ in self.log if m == method and path_part in p)

    # -- plumbing -----------------------------------------------------------------

    def _reply(
        self,
        h: http.server.BaseHTTPRequestHandler,
        status: int,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> None:
        h.send_response(status)
        for key, value in (headers or {}).items():
            h.send_header(key, value)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def _error(
        self, h: http.server.BaseHTTPRequestHandler, status: int, code: str, **headers: str
    ) -> None:
        body = json.dumps({"errors": [{"code": code, "message": code.lower()}]}).encode()
        self._reply(h, status, {"Content-Type": "application/json", **headers}, body)

    def _body(self, h: http.server.BaseHTTPRequestHandler) -> bytes:
        length = int(h.headers.get("Content-Length") or 0)
        return h.rfile.read(length) if length else b""

    def _authorized(self, h: http.server.BaseHTTPRequestHandler) -> bool:
        header = h.headers.get("Authorization", "")
        basic = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
        if self.auth == "none":
            return True
        if self.auth == "basic":
            return header == basic
        return header.startswith("Bearer ") and header[7:] in self.tokens

    def _challenge(self) -> str:
        if self.auth == "basic":
            return 'Basic realm="fake"'
        return (
            f'Bearer realm="http://{self.host}/token",service="fake-registry",'
            'scope="repository:sr:pull"'
        )

    def _location(self, upload: str) -> str:
        path = f"/v2/uploads/{upload}?_state={secrets.token_hex(4)}"
        return path if self.relative_locations else f"http://{self.host}{path}"

    # -- the API ------------------------------------------------------------------

    def handle(self, h: http.server.BaseHTTPRequestHandler, method: str) -> None:
        url = urllib.parse.urlsplit(h.path)
        auth_scheme = h.headers.get("Authorization", "").split(" ")[0]
        with self._lock:
            self.log.append((method, url.path, auth_scheme))
            fault = next(
                (f for f in self.faults if f.method == method and f.path_part in url.path), None
            )
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
        if fault is not None:
            body = self._body(h)
            if fault.keep is not None:
                upload = url.path.rsplit("/", 1)[1]
                self.uploads[upload] += body[: fault.keep]
            if fault.status is not None:
                self._error(h, fault.status, "UNAVAILABLE")
            else:
                h.close_connection = True
            return
        if url.path == "/token":
            self._token(h, url.query)
            return
        if not self._authorized(h):
            self._body(h)
            self._error(h, 401, "UNAUTHORIZED", **{"WWW-Authenticate": self._challenge()})
            return
        self._route(h, method, url)

    def _token(self, h: http.server.BaseHTTPRequestHandler, query: str) -> None:
        self.token_requests.append(urllib.parse.parse_qs(query))
        basic = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
        if h.headers.get("Authorization") != basic:
            self._error(h, 401, "UNAUTHORIZED")
            return
        token = secrets.token_hex(16)
        self.tokens.add(token)
        self._reply(
            h, 200, {"Content-Type": "application/json"}, json.dumps({"token": token}).encode()
        )

    def _route(
        self, h: http.server.BaseHTTPRequestHandler, method: str, url: urllib.parse.SplitResult
    ) -> None:
        parts = url.path.strip("/").split("/")
        query = urllib.parse.parse_qs(url.query)
        if url.path == "/v2/":
            self._reply(h, 200, {}, b"{}")
        elif parts[:2] == ["v2", "uploads"]:
            self._upload(h, method, parts[2], query)
        elif len(parts) >= 4 and parts[-2] == "blobs" and method == "HEAD":
            digest = parts[-1]
            if digest in self.blobs:
                self._reply(h, 200, {"Docker-Content-Digest": digest})
            else:
                self._reply(h, 404)
        elif parts[-2:] == ["blobs", "uploads"] and method == "POST":
            upload = secrets.token_hex(8)
            self.uploads[upload] = bytearray()
            self._reply(h, 202, {"Location": self._location(upload), "Range": "0-0"})
        elif len(parts) >= 4 and parts[-2] == "manifests" and method == "PUT":
            body = self._body(h)
            digest = sha256(body)
            self.manifests[parts[-1]] = (body, h.headers.get("Content-Type", ""))
            reported = sha256(body + b" ") if self.wrong_digest else digest
            self._reply(h, 201, {"Docker-Content-Digest": reported})
        else:
            self._body(h)
            self._error(h, 404, "NOT_FOUND")

    def _upload(
        self,
        h: http.server.BaseHTTPRequestHandler,
        method: str,
        upload: str,
        query: dict[str, list[str]],
    ) -> None:
        data = self.uploads.get(upload)
        if data is None:
            self._body(h)
            self._error(h, 404, "BLOB_UPLOAD_UNKNOWN")
            return
        if method == "GET":
            end = max(len(data) - 1, 0)
            self._reply(h, 204, {"Range": f"0-{end}", "Location": self._location(upload)})
        elif method == "PATCH":
            start = int(h.headers.get("Content-Range", "0-0").split("-")[0])
            body = self._body(h)
            if start != len(data):
                self._error(h, 416, "BLOB_UPLOAD_INVALID")
                return
            if self.lossy_patch:
                body = body[: len(body) // 2]
            if not (self.ecr_like and data):
                data += body
            headers = {"Range": f"0-{len(data) - 1}", "Location": self._location(upload)}
            self._reply(h, 201 if self.ecr_like else 202, headers)
        elif method == "PUT":
            data += self._body(h)
            digest = query["digest"][0]
            if sha256(bytes(data)) != digest:
                self._error(h, 400, "DIGEST_INVALID")
                return
            self.blobs[digest] = bytes(data)
            del self.uploads[upload]
            self._reply(h, 201, {"Docker-Content-Digest": digest})
        else:
            self._error(h, 405, "UNSUPPORTED")


# -- a TCP proxy that cuts a connection once ------------------------------------------


class CuttingProxy:
    """Forwards loopback TCP to ``target_port``; cuts one connection mid-request.

    The first connection whose client has sent more than ``cut_after`` bytes is
    closed on both sides, as a flaky network would; later connections pass.
    """

    def __init__(self, target_port: int, cut_after: int) -> None:
        self._target = target_port
        self._cut_after = cut_after
        self.cuts = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self._target))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, from_client: bool) -> None:
        sent = 0
        try:
            while data := src.recv(65536):
                sent += len(data)
                if from_client and sent > self._cut_after:
                    with self._lock:
                        cut = self.cuts == 0
                        self.cuts += cut
                    if cut:
                        break
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self._listener.close()


# -- a client whose registry login points at a test registry ---------------------------


@contextlib.contextmanager
def lightsail_for(
    registry: str, *, username: str = USERNAME, password: str = PASSWORD, **client_options: object
):  # type: ignore[no-untyped-def]
    """Yield ``(fake, client)``: a FakeLightsail with service ``svc`` whose registry
    login names ``registry``, served on loopback, and a client connected to it."""
    import lightsail_images as li
    from lightsail_images.testing import FakeLightsail

    fake = FakeLightsail()
    fake.add_container_service("svc")
    fake.set_registry(registry, username=username, password=password)
    with (
        fake.serve() as url,
        li.Client(
            fake.region_name,
            endpoint_url=url,
            aws_access_key_id=fake.access_key_id,
            aws_secret_access_key=fake.secret_access_key,
            **client_options,  # type: ignore[arg-type]
        ) as client,
    ):
        yield fake, client


@contextlib.contextmanager
def lightsail_and_fake_registry():  # type: ignore[no-untyped-def]
    """Yield ``(registry, fake, client)``: a :class:`FakeRegistry`, and :func:`lightsail_for` it."""
    registry = FakeRegistry()
    try:
        with lightsail_for(f"http://{registry.host}") as (fake, client):
            yield registry, fake, client
    finally:
        registry.close()
