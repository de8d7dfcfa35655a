"""Compare ``Client.push_container_image`` with ``skopeo copy`` on one loopback registry.

Run from the repository root, with an interpreter that has lightsail_images
installed, and ``docker-registry`` (Debian's CNCF distribution package) and
``skopeo`` on the PATH::

    python benchmarks/bench_push.py                  # 3 rounds, a 256 MiB image
    python benchmarks/bench_push.py --rounds 5 --size 512 --rss-sizes 16,1024

(``nox -s bench_push`` does the same in a fresh virtualenv; it is not one of
the default sessions, and CI does not run it.)

What is measured, every push in a fresh process, the two tools in turns
(A B A B) so that a noisy neighbour slows both alike:

docker-save
    A ``docker save``-style tarball (``manifest.json``, a config, 4
    uncompressed layer tars of about ``--size``/4 MiB each) pushed by
    ``push_container_image`` and by ``skopeo copy docker-archive:... docker://...``.
    Both gzip the layers on the way.
OCI layout
    The same image as an OCI layout with gzip-compressed layers (written once
    by ``skopeo copy docker-archive:... oci:...``), pushed by both.
re-run
    ``push_container_image`` of the same tarball again, to the same registry
    and label: the image is registered already, so nothing should be sent.
    Its wall time is compared with the fresh docker-save push of the same round.

Every fresh push goes to a registry with fresh, empty storage (a new
``docker-registry`` process, started before the clock starts), so every blob
is really sent.  Lightsail's side (the registry login and the registration) is
``lightsail_images.testing.FakeLightsail`` on loopback, in a helper process
that also starts the registries; its CPU is not counted, and it answers in
well under a millisecond.  Each measured process is started by a bare
launcher interpreter (see ``LAUNCHER``), never by this process: Linux counts
the spawning process's peak RSS into a vfork'd child's ``ru_maxrss``, and this
process reads whole files to build the images.

The layers are tar archives of real files from this machine (``/usr``, in a
fixed order, with fixed owners and times), so they compress like an image's
layers do, and the same files give the same tarball byte for byte on every
run.  Figures: wall time from fork to reap, CPU time, and peak RSS
(``ru_maxrss``) of the pushing process, all from the launcher's ``wait4``.
``--rss-sizes`` pushes images of other sizes too, to show whether memory
grows with the image.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from bench import clean_environment  # noqa: E402
from launch import FLOORS, run_process  # noqa: E402

USERNAME, PASSWORD = "tester", "s3cret-pass"  # tests/registry_support.py's htpasswd

KEY_ID = "AKIDBENCHPUSH0000000"
SECRET = "bench-push-secret-not-a-real-one-00000"
SERVICE = "bench"
LAYERS = 4
MIB = 1 << 20

PUSH = """
import json, sys
import lightsail_images as li
sent = []
client = li.Client("us-east-1", endpoint_url={url!r}, aws_access_key_id={key!r},
                   aws_secret_access_key={secret!r})
image = client.push_container_image(
    service_name={service!r}, label={label!r}, source={source!r}, insecure_registry=True,
    on_progress=lambda p: sent.append(p.sent) if p.done and not p.skipped else None,
)
print(json.dumps({{"image": image.image, "digest": image.digest, "uploaded": len(sent)}}))
"""


# The helper: FakeLightsail served on loopback, and a fresh docker-registry on
# request.  Commands on stdin: "registry DIR" (start one, point the fake's
# registry login at it, answer its host) and "stop" (stop it).
HELPER = """
import sys
sys.path.insert(0, {root!r})
from lightsail_images.testing import FakeLightsail
from tests.registry_support import PASSWORD, USERNAME, start_registry

fake = FakeLightsail(access_key_id={key!r}, secret_access_key={secret!r})
fake.add_container_service({service!r})
running = None
with fake.serve() as url:
    print(url, flush=True)
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if running is not None:
            running.stop()
            running = None
        if command == "registry":
            from pathlib import Path
            running = start_registry(Path(argument))
            fake.set_registry("http://" + running.host, username=USERNAME, password=PASSWORD)
            print(running.host, flush=True)
        else:
            print("stopped", flush=True)
"""


class Helper:
    """The helper process: the fake Lightsail's URL, and registries on request."""

    def __init__(self, python: str) -> None:
        program = HELPER.format(root=str(ROOT), key=KEY_ID, secret=SECRET, service=SERVICE)
        self._process = subprocess.Popen(
            [python, "-c", program], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.url = self._answer()

    def _answer(self) -> str:
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        if not line:
            msg = "the benchmark's helper process (fake Lightsail, registries) failed"
            raise RuntimeError(msg)
        return line

    def _command(self, text: str) -> str:
        assert self._process.stdin is not None
        self._process.stdin.write(text + "\n")
        self._process.stdin.flush()
        return self._answer()

    def registry(self, root: Path) -> str:
        """Start a registry with empty storage in ``root``; return its host."""
        return self._command(f"registry {root}")

    def stop_registry(self) -> None:
        self._command("stop")

    def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(timeout=30)


# --- the image ------------------------------------------------------------------


def system_files() -> Iterator[Path]:
    """Regular, readable files under /usr, in a fixed order."""
    for top in ("/usr/lib", "/usr/share", "/usr/bin", "/usr/libexec"):
        for directory, dirs, files in os.walk(top):
            dirs.sort()
            for name in sorted(files):
                path = Path(directory, name)
                if path.is_symlink() or not path.is_file():
                    continue
                if os.access(path, os.R_OK):
                    yield path


def write_layer(out: Path, files: Iterator[Path], size: int) -> str:
    """Write a layer tar of about ``size`` bytes from ``files``; return its diff ID.

    Files larger than what is left of ``size`` are skipped (they stay unused).
    """
    written = 0
    with (
        out.open("wb") as raw,
        tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in files:
            try:
                if path.stat().st_size > max(size - written, MIB):
                    continue  # keep each layer near its size: no file overshoots it
                data = path.read_bytes()
            except OSError:
                continue
            info = tarfile.TarInfo(str(path).lstrip("/"))
            info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
            written += len(data)
            if written >= size:
                break
    digest = hashlib.sha256()
    with out.open("rb") as f:
        while chunk := f.read(MIB):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def build_docker_save(workdir: Path, size_mib: int) -> Path:
    """A docker save tarball of about ``size_mib`` MiB in 4 layers (reused if built)."""
    tarball = workdir / f"docker-save-{size_mib}.tar"
    if tarball.exists():
        return tarball
    staging = workdir / f"staging-{size_mib}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    files = system_files()
    diff_ids, layer_names = [], []
    for number in range(LAYERS):
        layer = staging / f"layer{number}.tar"
        diff_ids.append(write_layer(layer, files, size_mib * MIB // LAYERS))
        layer_names.append(f"{diff_ids[-1].split(':')[1]}/layer.tar")
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        },
        sort_keys=True,
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps(
        [{"Config": config_name, "RepoTags": ["bench:latest"], "Layers": layer_names}]
    ).encode()
    partial = tarball.with_suffix(".partial")
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in ((config_name, config), ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
        for number, name in enumerate(layer_names):
            info = tar.gettarinfo(str(staging / f"layer{number}.tar"), arcname=name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 1_700_000_000, 0, 0, "", ""
            with (staging / f"layer{number}.tar").open("rb") as f:
                tar.addfile(info, f)
    partial.rename(tarball)
    shutil.rmtree(staging)
    return tarball


def skopeo(*args: str) -> None:
    subprocess.run(["skopeo", "--insecure-policy", *args], check=True, capture_output=True)


def build_oci_layout(workdir: Path, tarball: Path) -> Path:
    layout = workdir / (tarball.stem + "-oci")
    if not layout.exists():
        skopeo("copy", f"docker-archive:{tarball}", f"oci:{layout}:latest")
    return layout


# --- the pushes -------------------------------------------------------------------


class Pushes:
    """Runs each push in a fresh process against a fresh registry; keeps the samples."""

    def __init__(
        self, args: argparse.Namespace, helper: Helper, scratch: Path, env: dict[str, str]
    ) -> None:
        self.args = args
        self.helper = helper
        self.scratch = scratch
        self.env = env
        self.samples: dict[str, list[float]] = {}
        self.pushes = 0

    def add(self, name: str, value: float) -> None:
        self.samples.setdefault(name, []).append(value)

    @contextlib.contextmanager
    def fresh_registry(self) -> Iterator[str]:
        """A registry with empty storage, for one push (and its re-run); yields its host."""
        self.pushes += 1
        host = self.helper.registry(self.scratch / f"registry-{self.pushes}")
        try:
            yield host
        finally:
            self.helper.stop_registry()
            shutil.rmtree(self.scratch / f"registry-{self.pushes}", ignore_errors=True)

    def ours(
        self, source: Path, label: str, cache: Path
    ) -> tuple[float, float, float, dict[str, object]]:
        """Push with ``push_container_image``: wall s, CPU s, peak RSS MiB, the result.

        ``cache`` is the layer cache's home (``XDG_CACHE_HOME``): a fresh push
        gets an empty one, as in a fresh CI job; its re-run gets the same one.
        """
        program = PUSH.format(
            url=self.helper.url,
            key=KEY_ID,
            secret=SECRET,
            service=SERVICE,
            label=label,
            source=str(source),
        )
        env = {**self.env, "XDG_CACHE_HOME": str(cache)}
        wall, cpu, rss, output = run_process([self.args.python, "-c", program], env)
        result = next(line for line in output.splitlines() if line.startswith('{"image"'))
        return wall, cpu, rss, json.loads(result)

    def skopeo(self, registry_host: str, source: str) -> tuple[float, float, float]:
        """Push with ``skopeo copy``: wall s, CPU s, peak RSS MiB."""
        argv = [
            "skopeo",
            "--insecure-policy",
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
            "--dest-creds",
            f"{USERNAME}:{PASSWORD}",
            source,
            f"docker://{registry_host}/{SERVICE}:skopeo",
        ]
        wall, cpu, rss, _ = run_process(argv, self.env)
        return wall, cpu, rss


def one_round(
    pushes: Pushes, number: int, sources: tuple[Path, Path], rss_sources: dict[int, Path]
) -> None:
    """One round: each push kind by both tools, the re-run, the other sizes."""
    tarball, layout = sources
    for kind, ours_source, skopeo_source in (
        ("docker-save", tarball, f"docker-archive:{tarball}"),
        ("OCI layout", layout, f"oci:{layout}:latest"),
    ):
        with pushes.fresh_registry():
            label = f"r{number}-{kind[0].lower()}"
            cache = pushes.scratch / f"cache-{pushes.pushes}"
            wall, cpu, rss, result = pushes.ours(ours_source, label, cache)
            for figure, value in (("wall", wall), ("cpu", cpu), ("rss", rss)):
                pushes.add(f"{kind}|{figure}|ours", value)
            if kind == "docker-save":
                again, _, _, repeat = pushes.ours(ours_source, label, cache)
                if repeat["digest"] != result["digest"]:
                    msg = f"the re-run pushed another digest: {repeat} != {result}"
                    raise RuntimeError(msg)
                pushes.add("re-run|wall|ours", again)
                pushes.add("re-run|uploaded|ours", float(repeat["uploaded"]))  # type: ignore[arg-type]
                pushes.add("re-run|ratio|ours", again / wall)
        with pushes.fresh_registry() as host:
            wall, cpu, rss = pushes.skopeo(host, skopeo_source)
            for figure, value in (("wall", wall), ("cpu", cpu), ("rss", rss)):
                pushes.add(f"{kind}|{figure}|skopeo", value)
    for size, source in rss_sources.items():
        with pushes.fresh_registry():
            cache = pushes.scratch / f"cache-{pushes.pushes}"
            *_, rss, _ = pushes.ours(source, f"r{number}-s{size}", cache)
            pushes.add(f"rss-{size}|rss|ours", rss)
    print(
        f"round {number}/{pushes.args.rounds}: "
        + ", ".join(
            f"{kind} {pushes.samples[f'{kind}|wall|ours'][-1]:.2f} s vs skopeo "
            f"{pushes.samples[f'{kind}|wall|skopeo'][-1]:.2f} s"
            for kind in ("docker-save", "OCI layout")
        )
        + f", re-run {pushes.samples['re-run|wall|ours'][-1]:.2f} s",
        file=sys.stderr,
        flush=True,
    )


def measure(args: argparse.Namespace, workdir: Path, scratch: Path) -> Pushes:
    tarball = build_docker_save(workdir, args.size)
    layout = build_oci_layout(workdir, tarball)
    rss_sources = {size: build_docker_save(workdir, size) for size in args.rss_sizes}
    helper = Helper(args.python)
    try:
        home = scratch / "home"
        home.mkdir()
        env = clean_environment(home)
        pushes = Pushes(args, helper, scratch, env)
        # One unmeasured push of each: page cache, bytecode cache, the layer cache.
        with pushes.fresh_registry() as host:
            pushes.ours(tarball, "warmup", scratch / "cache-warmup")
            pushes.skopeo(host, f"docker-archive:{tarball}")
        for number in range(1, args.rounds + 1):
            one_round(pushes, number, (tarball, layout), rss_sources)
    finally:
        helper.close()
    return pushes


def report(pushes: Pushes, args: argparse.Namespace) -> str:
    samples = pushes.samples
    lines = [
        (
            f"{args.rounds} rounds, ours and skopeo alternating, a fresh registry per push; "
            f"{args.size} MiB image in {LAYERS} layers; {os.cpu_count()} CPUs; {args.python}"
        ),
        "medians; ratio = lightsail_images / skopeo; per-round = range of the rounds' own ratios",
        "",
        (
            f"{'push':<13}{'figure':<9}{'lightsail_images':>17}{'skopeo':>9}{'ratio':>8}  "
            f"{'per-round':<12}target"
        ),
    ]
    for kind, target in (("docker-save", 1.2), ("OCI layout", 0.9)):
        for figure, unit, scale in (("wall", "s", 1.0), ("cpu", "s", 1.0), ("rss", "MiB", 1.0)):
            ours, theirs = samples[f"{kind}|{figure}|ours"], samples[f"{kind}|{figure}|skopeo"]
            ratio = statistics.median(ours) / statistics.median(theirs)
            rounds = [a / b for a, b in zip(ours, theirs, strict=True)]
            verdict = ""
            if figure == "wall":
                verdict = f"<= {target:.2f} {'met' if ratio <= target else 'NOT met'}"
            lines.append(
                f"{kind:<13}{figure + ' ' + unit:<9}{statistics.median(ours) * scale:>17.2f}"
                f"{statistics.median(theirs) * scale:>9.2f}{ratio:>8.3f}  "
                f"{min(rounds):.2f}-{max(rounds):.2f}   {verdict}"
            )
    again = samples["re-run|ratio|ours"]
    ratio = statistics.median(again)
    lines += [
        "",
        (
            f"re-run of the docker-save push (already registered): "
            f"{statistics.median(samples['re-run|wall|ours']):.2f} s, "
            f"{ratio:.3f} of the fresh push "
            f"(per round {min(again):.3f}-{max(again):.3f}); target < 0.10 "
            f"{'met' if ratio < 0.10 else 'NOT met'}; blobs uploaded: "
            f"{int(max(samples['re-run|uploaded|ours']))}"
        ),
    ]
    sizes = {args.size: samples["docker-save|rss|ours"]}
    sizes.update({size: samples[f"rss-{size}|rss|ours"] for size in args.rss_sizes})
    lines.append(
        f"peak RSS floor (the launcher's pages at fork; a process below it reads as it):"
        f" {max(FLOORS):.1f} MiB"
    )
    lines.append(
        "peak RSS of a docker-save push by image size: "
        + ", ".join(
            f"{size} MiB: {statistics.median(v):.1f} MiB" for size, v in sorted(sizes.items())
        )
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="A B pairs per push kind")
    parser.add_argument("--size", type=int, default=256, help="image size in MiB")
    parser.add_argument(
        "--rss-sizes",
        type=lambda text: [int(x) for x in text.split(",") if x],
        default=[16],
        help="other image sizes (MiB) to push for peak RSS, comma-separated",
    )
    parser.add_argument(
        "--python", default=sys.executable, help="an interpreter with lightsail_images"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "lightsail-images-bench-push",
        help="where the images are built and kept between runs",
    )
    args = parser.parse_args(argv)
    for tool in ("skopeo", "docker-registry"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is not on the PATH; install it (Debian: apt install {tool})")
    args.workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        pushes = measure(args, args.workdir, Path(scratch))
    print(report(pushes, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
