"""Compare lightsail_images with boto3's ``lightsail`` client on one loopback server.

Run from anywhere, with an interpreter that has both libraries installed::

    python benchmarks/bench.py                      # 7 rounds, 3000 warm calls
    python benchmarks/bench.py --rounds 11 --calls 5000
    python benchmarks/bench.py --paths environment,profile
    python benchmarks/bench.py --python /other/venv/bin/python

(``nox -s bench`` does the same in a fresh virtualenv.)  Both clients make the
same ``register_container_image`` call against the same server: a minimal
HTTP/1.1 keep-alive server in its own process, whose CPU is never counted.
Every measured run is a fresh interpreter, started in an empty directory so
that the package measured is the one ``--python`` has installed.  The two
clients alternate, A B A B, round after round, so a noisy neighbour on a
shared machine slows both alike.  The report gives medians over the rounds and
the ratio ``lightsail_images / boto3`` of those medians, with the range of the
per-round ratios beside it: only ratios mean anything on a shared machine;
absolute times do not travel.

Three credential paths, each measured the same way (``--paths`` picks some):

explicit
    Keys and region passed to the client.
environment
    ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and ``AWS_DEFAULT_REGION``
    set; the client is given only the endpoint.
profile
    ``AWS_PROFILE=bench``: the keys in the shared credentials file's
    ``[bench]`` section, the region in the config file's ``[profile bench]``.

Otherwise both clients get the same environment: no other ``AWS_*``
variables, an empty ``HOME`` with no ``.netrc``, the instance metadata
service disabled, no proxies, and bytecode cached for both
(``PYTHONPYCACHEPREFIX``), as for installed packages.  Neither touches the
network beyond loopback.

The figures (docs/performance.md says more):

cold wall
    Wall time of a whole process: interpreter start, import, client creation,
    one call, exit.  Measured from fork to reap by a bare launcher process
    (``launch.py``), which also reads the CPU time and peak RSS below.
cold CPU
    User + system CPU time of that process, from ``wait4``; less noisy than wall.
peak RSS
    ``ru_maxrss`` of that process, from ``wait4``: the high-water mark of its
    resident memory, interpreter included.
warm CPU/call
    One process per library, one client each, keep-alive.  After ``--warmup``
    calls, the two processes take turns, A B A B, running ``--blocks`` blocks
    of calls each (``--calls`` in all), so that both see the same moments of
    the machine's load; ``time.process_time()`` summed over the blocks,
    divided by the calls.  Client-side work only (the server is another
    process, and a waiting process uses no CPU).
warm wall/call
    The same blocks' wall time per call (adds the server's answer time).
import
    ``python -X importtime -c "import X"``: cumulative time of the top-level
    import.  boto3 defers loading its service model to client creation, so
    this compares what ``import`` costs, not a whole start (see cold wall).

Below the table, two floors, measured the same way in every round: a bare
interpreter (``python -c pass``), and a process that only imports the
dependencies the design names (requests, botocore's signer, attrs, cattrs).
No client built on those dependencies can start faster or smaller than that.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from launch import FLOORS, run_process

SERVICE = "bench-svc"
LABEL = "web"
DIGEST = "sha256:" + "ab" * 32
KEY_ID = "AKIDBENCHMARK0000000"
SECRET = "benchmark-secret-key-not-a-real-one-0000"
REGION = "us-east-1"

RESPONSE_BODY = json.dumps(
    {
        "containerImage": {
            "image": f":{SERVICE}.{LABEL}.1",
            "digest": DIGEST,
            "createdAt": 1700000000.0,
        }
    }
).encode()

IMPLS = ("lightsail_images", "boto3")

# The code each measured process runs: the same call with the same arguments,
# each library spelling it its own way.
MAKE_CLIENT = {
    "lightsail_images": (
        "import lightsail_images\n"
        "client = lightsail_images.Client({arguments})\n"
        "def call():\n"
        "    return client.register_container_image("
        "service_name={service!r}, label={label!r}, digest={digest!r})\n"
    ),
    "boto3": (
        "import boto3\n"
        "client = boto3.client('lightsail', {arguments})\n"
        "def call():\n"
        "    return client.register_container_image("
        "serviceName={service!r}, label={label!r}, digest={digest!r})\n"
    ),
}

# The client's arguments on each credential path: (lightsail_images, boto3).
KEYS = "aws_access_key_id={key!r}, aws_secret_access_key={secret!r}"
EXPLICIT_ARGUMENTS = (
    "{region!r}, endpoint_url={url!r}, " + KEYS,
    "region_name={region!r}, endpoint_url={url!r}, " + KEYS,
)
ENDPOINT_ONLY = ("endpoint_url={url!r}", "endpoint_url={url!r}")
PATHS = {
    "explicit": EXPLICIT_ARGUMENTS,
    "environment": ENDPOINT_ONLY,
    "profile": ENDPOINT_ONLY,
}

# Targets (ratio to boto3): cold wall, peak RSS, warm CPU/call.  The explicit
# path's are the older ones; the environment and profile paths have their own.
TARGETS = {
    "explicit": {"cold wall": 0.65, "peak RSS": 0.75, "warm CPU/call": 0.60},
    "environment": {"cold wall": 0.60, "peak RSS": 0.70, "warm CPU/call": 0.55},
    "profile": {"cold wall": 0.60, "peak RSS": 0.70, "warm CPU/call": 0.55},
}

COLD = "{client}call()\n"

# Warms up, then runs a block of calls for every count read from stdin.
WARM = """{client}
import json, sys, time
for _ in range({warmup}):
    call()
print("ready", flush=True)
for line in sys.stdin:
    count = int(line)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        call()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(json.dumps({{"cpu": cpu, "wall": wall}}), flush=True)
"""

# The dependencies the design names, and nothing of ours: the floor.
DEPENDENCIES = "import requests, botocore.auth, attrs, cattrs\n"

# Modules a plain `import lightsail_images` must not load (tests/test_imports.py
# guards the same list); the report shows any that appear.
HEAVY = (
    "boto3",
    "botocore.session",
    "botocore.credentials",
    "botocore.client",
    "botocore.endpoint",
    "botocore.docs",
)


# --- the server ------------------------------------------------------------


def _serve_connection(conn: socket.socket) -> None:
    """Answer every request on one connection with the same 200, keeping it open."""
    head = (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Type: application/x-amz-json-1.1\r\n"
        b"x-amzn-RequestId: 00000000-0000-4000-8000-000000000000\r\n"
        b"Content-Length: " + str(len(RESPONSE_BODY)).encode() + b"\r\n"
        b"\r\n"
    )
    reply = head + RESPONSE_BODY
    buffer = b""
    with conn:
        while True:
            while b"\r\n\r\n" not in buffer:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buffer += chunk
            header, _, buffer = buffer.partition(b"\r\n\r\n")
            length = 0
            for line in header.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(buffer) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buffer += chunk
            buffer = buffer[length:]
            conn.sendall(reply)


def serve() -> None:
    """Serve until stdin closes; print the port first."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.listen(128)
    print(listener.getsockname()[1], flush=True)

    def accept() -> None:
        while True:
            conn, _ = listener.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=_serve_connection, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    sys.stdin.read()  # the parent closes our stdin to stop us


# --- the measured processes -------------------------------------------------


def clean_environment(home: Path) -> dict[str, str]:
    """No AWS settings, an empty HOME, no proxies, bytecode cached outside the tree."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AWS_") and "proxy" not in name.lower()
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        {
            "HOME": str(home),
            "AWS_CONFIG_FILE": str(home / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            # Installed packages run from cached bytecode; so do both here,
            # whatever PYTHONDONTWRITEBYTECODE said, without writing to the tree.
            "PYTHONPYCACHEPREFIX": str(home / "pycache"),
        }
    )
    return env


def path_environment(path: str, env: dict[str, str]) -> dict[str, str]:
    """The environment for one credential path, writing its profile files if it has them."""
    home = Path(env["HOME"])
    if path == "environment":
        return {
            **env,
            "AWS_ACCESS_KEY_ID": KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_DEFAULT_REGION": REGION,
        }
    if path == "profile":
        files = home / "profile"
        files.mkdir(exist_ok=True)
        (files / "credentials").write_text(
            f"[bench]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\n"
        )
        (files / "config").write_text(f"[profile bench]\nregion = {REGION}\n")
        return {
            **env,
            "AWS_PROFILE": "bench",
            "AWS_CONFIG_FILE": str(files / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(files / "credentials"),
        }
    return env


def warm_per_call(
    python: str, programs: dict[str, str], env: dict[str, str], blocks: int, calls: int
) -> dict[str, tuple[float, float]]:
    """Run the warm loops in turns, block by block; return CPU s and wall s per call."""
    workers = {
        impl: subprocess.Popen(
            [python, "-c", program],
            env=env,
            cwd=env["HOME"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for impl, program in programs.items()
    }
    totals = {impl: [0.0, 0.0] for impl in workers}
    try:
        for worker in workers.values():
            assert worker.stdout is not None
            if worker.stdout.readline().strip() != "ready":
                msg = f"a warm-loop process failed to start: {worker.args!r}"
                raise RuntimeError(msg)
        size = max(calls // blocks, 1)
        for _ in range(blocks):
            for impl, worker in workers.items():
                assert worker.stdin is not None
                assert worker.stdout is not None
                worker.stdin.write(f"{size}\n")
                worker.stdin.flush()
                result = json.loads(worker.stdout.readline())
                totals[impl][0] += result["cpu"]
                totals[impl][1] += result["wall"]
    finally:
        for worker in workers.values():
            assert worker.stdin is not None
            worker.stdin.close()
            worker.wait(timeout=60)
    done = size * blocks
    return {impl: (cpu / done, wall / done) for impl, (cpu, wall) in totals.items()}


def import_time_us(python: str, module: str, env: dict[str, str]) -> float:
    """Cumulative import time of ``module`` in microseconds, from ``-X importtime``."""
    *_, output = run_process([python, "-X", "importtime", "-c", f"import {module}"], env)
    for line in output.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[2].rstrip() == f" {module}":
            return float(parts[1])
    msg = f"no importtime line for {module}:\n{output}"
    raise RuntimeError(msg)


# --- measuring and reporting ------------------------------------------------


class Figures:
    """Samples per (figure, implementation), in the order they were taken."""

    def __init__(self) -> None:
        self.samples: dict[tuple[str, str], list[float]] = {}

    def add(self, figure: str, impl: str, value: float) -> None:
        self.samples.setdefault((figure, impl), []).append(value)

    def median(self, figure: str, impl: str) -> float:
        return statistics.median(self.samples[figure, impl])

    def round_ratios(self, figure: str) -> list[float]:
        """Each round's lightsail_images / boto3 ratio for ``figure``."""
        pairs = zip(
            self.samples[figure, "lightsail_images"], self.samples[figure, "boto3"], strict=True
        )
        return [a / b for a, b in pairs]


def programs(path: str, url: str, warmup: int) -> tuple[dict[str, str], dict[str, str]]:
    """The cold and warm programs of each library for one credential path."""
    values = {
        "region": REGION,
        "url": url,
        "key": KEY_ID,
        "secret": SECRET,
        "service": SERVICE,
        "label": LABEL,
        "digest": DIGEST,
    }
    cold, warm = {}, {}
    for impl, arguments in zip(IMPLS, PATHS[path], strict=True):
        client = MAKE_CLIENT[impl].format(arguments=arguments.format(**values), **values)
        cold[impl] = COLD.format(client=client)
        warm[impl] = WARM.format(client=client, warmup=warmup)
    return cold, warm


def measure(args: argparse.Namespace, url: str, env: dict[str, str]) -> Figures:
    python = args.python
    figures = Figures()
    setups = {
        path: (path_environment(path, env), *programs(path, url, args.warmup))
        for path in args.paths
    }
    # One unmeasured run of each first: fills the page cache and the bytecode cache.
    for path_env, cold, _ in setups.values():
        for impl in IMPLS:
            run_process([python, "-c", cold[impl]], path_env)
    run_process([python, "-c", DEPENDENCIES], env)
    for number in range(1, args.rounds + 1):
        progress = []
        for path, (path_env, cold, warm) in setups.items():
            for impl in IMPLS:
                wall, cpu, rss, _ = run_process([python, "-c", cold[impl]], path_env)
                figures.add(f"cold wall|{path}", impl, wall)
                figures.add(f"cold CPU|{path}", impl, cpu)
                figures.add(f"peak RSS|{path}", impl, rss)
            per_call = warm_per_call(python, warm, path_env, args.blocks, args.calls)
            for impl in IMPLS:
                figures.add(f"warm CPU/call|{path}", impl, per_call[impl][0])
                figures.add(f"warm wall/call|{path}", impl, per_call[impl][1])
            progress.append(
                f"{path} cold {figures.round_ratios(f'cold wall|{path}')[-1]:.2f}x, "
                f"warm {figures.round_ratios(f'warm CPU/call|{path}')[-1]:.2f}x"
            )
        for impl in IMPLS:
            figures.add("import", impl, import_time_us(python, impl, env) / 1e6)
        for floor, code in (("python", "pass"), ("dependencies", DEPENDENCIES)):
            wall, _, rss, _ = run_process([python, "-c", code], env)
            figures.add("floor wall", floor, wall)
            figures.add("floor RSS", floor, rss)
        print(
            f"round {number}/{args.rounds}: " + "; ".join(progress),
            file=sys.stderr,
            flush=True,
        )
    return figures


# figure, unit, scale from seconds/MiB
ROWS: list[tuple[str, str, float]] = [
    ("cold wall", "ms", 1e3),
    ("cold CPU", "ms", 1e3),
    ("peak RSS", "MiB", 1.0),
    ("warm CPU/call", "us", 1e6),
    ("warm wall/call", "us", 1e6),
]


def report(
    figures: Figures,
    args: argparse.Namespace,
    loaded: dict[str, list[str]],
    load: tuple[tuple[float, ...], tuple[float, ...]],
) -> str:
    """The table: medians, their ratio, the per-round ratios' range, the target."""
    header = (
        f"{'figure':<15}{'unit':<5}{'lightsail_images':>17}{'boto3':>9}{'ratio':>8}"
        f"  {'per-round':<13}{'target':<8}"
    )
    setup = (
        f"{args.rounds} rounds, A B alternating; {args.calls} warm calls per round in "
        f"{args.blocks} turns, after {args.warmup} unmeasured; {os.cpu_count()} CPUs; "
        f"{args.python}"
    )
    lines = [
        setup,
        "load average (1, 5, 15 min) at the start "
        + ", ".join(f"{value:.2f}" for value in load[0])
        + "; at the end "
        + ", ".join(f"{value:.2f}" for value in load[1]),
        "medians; ratio = lightsail_images / boto3; per-round = range of the rounds' own ratios",
    ]

    def row(figure: str, label: str, unit: str, scale: float, target: float | None) -> str:
        a = figures.median(figure, "lightsail_images")
        b = figures.median(figure, "boto3")
        ratio = a / b
        rounds = figures.round_ratios(figure)
        verdict = ""
        if target is not None:
            verdict = f"<= {target:.2f} {'met' if ratio <= target else 'NOT met'}"
        return (
            f"{label:<15}{unit:<5}{a * scale:>17.1f}{b * scale:>9.1f}{ratio:>8.3f}"
            f"  {min(rounds):.2f}-{max(rounds):.2f}    {verdict}"
        )

    for path in args.paths:
        lines += ["", f"credentials: {path}", header]
        for figure, unit, scale in ROWS:
            target = TARGETS[path].get(figure)
            lines.append(row(f"{figure}|{path}", figure, unit, scale, target))
    lines += ["", header, row("import", "import", "ms", 1e3, None)]
    boto3_wall = figures.median(f"cold wall|{args.paths[0]}", "boto3")
    boto3_rss = figures.median(f"peak RSS|{args.paths[0]}", "boto3")
    lines += ["", f"floors (medians; ratio to boto3's cold process, {args.paths[0]} path):"]
    for floor, what in (
        ("python", "bare interpreter (python -c pass)"),
        ("dependencies", "import requests, botocore.auth, attrs, cattrs"),
    ):
        wall = figures.median("floor wall", floor)
        rss = figures.median("floor RSS", floor)
        lines.append(
            f"  {what:<46} {wall * 1e3:6.1f} ms ({wall / boto3_wall:.3f})"
            f"  {rss:5.1f} MiB ({rss / boto3_rss:.3f})"
        )
    lines.append(
        f"  (a process below the launcher's {max(FLOORS):.1f} MiB at fork reads as that; launch.py)"
    )
    lines.append("")
    for what, modules in loaded.items():
        heavy = [name for name in HEAVY if name in modules]
        lines.append(
            f"{what}: {len(modules)} modules; of {', '.join(HEAVY)}: "
            + (", ".join(heavy) if heavy else "none")
        )
    return "\n".join(lines)


def loaded_modules(
    python: str, url: str, env: dict[str, str], paths: list[str]
) -> dict[str, list[str]]:
    """The modules lightsail_images has loaded after import, and after one call per path."""
    show = "\nimport sys\nprint(*sorted(sys.modules), sep='\\n')\n"
    loaded = {
        "import lightsail_images": run_process(
            [python, "-c", "import lightsail_images" + show], env
        )[3].split()
    }
    for path in paths:
        cold, _ = programs(path, url, 0)
        path_env = path_environment(path, env)
        output = run_process([python, "-c", cold["lightsail_images"] + show], path_env)[3]
        loaded[f"one call, {path} credentials"] = output.split()
    return loaded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="A B pairs per figure")
    parser.add_argument("--calls", type=int, default=3000, help="measured warm calls per round")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured warm calls first")
    parser.add_argument("--blocks", type=int, default=10, help="turns per warm round")
    parser.add_argument(
        "--python", default=sys.executable, help="an interpreter with both libraries installed"
    )
    parser.add_argument(
        "--paths",
        type=lambda text: text.split(","),
        default=list(PATHS),
        help=f"credential paths to measure, comma-separated (default: {','.join(PATHS)})",
    )
    parser.add_argument("--json", type=Path, help="also write every sample to this file")
    args = parser.parse_args(argv)
    if unknown := set(args.paths) - set(PATHS):
        parser.error(f"unknown --paths {sorted(unknown)}; choose from {', '.join(PATHS)}")

    server = subprocess.Popen(
        [sys.executable, __file__, "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = f"http://127.0.0.1:{int(server.stdout.readline())}"
        with tempfile.TemporaryDirectory() as home:
            env = clean_environment(Path(home))
            load_at_start = os.getloadavg()
            figures = measure(args, url, env)
            load = (load_at_start, os.getloadavg())
            loaded = loaded_modules(args.python, url, env, args.paths)
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=10)
    print(report(figures, args, loaded, load))
    if args.json:
        samples = {f"{figure}|{impl}": v for (figure, impl), v in figures.samples.items()}
        args.json.write_text(json.dumps(samples, indent=1))
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve()
        sys.exit(0)
    sys.exit(main())
