"""Compare lightsail_images with boto3's ``lightsail`` client on one loopback server.

Run from anywhere, with an interpreter that has both libraries installed::

    python benchmarks/bench.py                      # 7 rounds, 3000 warm calls
    python benchmarks/bench.py --rounds 11 --calls 5000
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

Both clients get explicit keys, region and endpoint, and the same environment:
no ``AWS_*`` variables, an empty ``HOME`` with no config, credentials or
``.netrc`` files, the instance metadata service disabled, no proxies, and
bytecode cached for both (``PYTHONPYCACHEPREFIX``), as for installed packages.
So neither walks the credential chain or the network.

The figures (docs/performance.md says more):

cold wall
    Wall time of a whole process: interpreter start, import, client creation,
    one call, exit.  Measured by the parent from spawn to reap.
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
import time
from pathlib import Path

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
        "client = lightsail_images.Client({region!r}, endpoint_url={url!r}, "
        "aws_access_key_id={key!r}, aws_secret_access_key={secret!r})\n"
        "def call():\n"
        "    return client.register_container_image("
        "service_name={service!r}, label={label!r}, digest={digest!r})\n"
    ),
    "boto3": (
        "import boto3\n"
        "client = boto3.client('lightsail', region_name={region!r}, endpoint_url={url!r}, "
        "aws_access_key_id={key!r}, aws_secret_access_key={secret!r})\n"
        "def call():\n"
        "    return client.register_container_image("
        "serviceName={service!r}, label={label!r}, digest={digest!r})\n"
    ),
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
HEAVY = ("boto3", "botocore.session", "botocore.client", "botocore.endpoint", "botocore.docs")


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


def run_process(argv: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """Run a process to its end; return wall s, CPU s, peak RSS MiB and its output.

    Output goes to temporary files, so the parent can reap the child itself
    with ``os.wait4`` and get that one child's resource usage.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=err, cwd=env["HOME"])
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        msg = f"{argv!r} failed with exit code {proc.returncode}:\n{stderr}"
        raise RuntimeError(msg)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stdout + stderr


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
        pairs = zip(
            self.samples[figure, "lightsail_images"], self.samples[figure, "boto3"], strict=True
        )
        return [a / b for a, b in pairs]


def measure(args: argparse.Namespace, url: str, env: dict[str, str]) -> Figures:
    values = {
        "region": REGION,
        "url": url,
        "key": KEY_ID,
        "secret": SECRET,
        "service": SERVICE,
        "label": LABEL,
        "digest": DIGEST,
    }
    cold = {impl: COLD.format(client=MAKE_CLIENT[impl].format(**values)) for impl in IMPLS}
    warm = {
        impl: WARM.format(client=MAKE_CLIENT[impl].format(**values), warmup=args.warmup)
        for impl in IMPLS
    }
    python = args.python
    figures = Figures()
    # One unmeasured run of each first: fills the page cache and the bytecode cache.
    for impl in IMPLS:
        run_process([python, "-c", cold[impl]], env)
    run_process([python, "-c", DEPENDENCIES], env)
    for number in range(1, args.rounds + 1):
        for impl in IMPLS:
            wall, cpu, rss, _ = run_process([python, "-c", cold[impl]], env)
            figures.add("cold wall", impl, wall)
            figures.add("cold CPU", impl, cpu)
            figures.add("peak RSS", impl, rss)
        for impl in IMPLS:
            figures.add("import", impl, import_time_us(python, impl, env) / 1e6)
        per_call = warm_per_call(python, warm, env, args.blocks, args.calls)
        for impl in IMPLS:
            figures.add("warm CPU/call", impl, per_call[impl][0])
            figures.add("warm wall/call", impl, per_call[impl][1])
        for floor, code in (("python", "pass"), ("dependencies", DEPENDENCIES)):
            wall, _, rss, _ = run_process([python, "-c", code], env)
            figures.add("floor wall", floor, wall)
            figures.add("floor RSS", floor, rss)
        print(
            f"round {number}/{args.rounds}: "
            + ", ".join(
                f"{impl} cold {figures.samples['cold wall', impl][-1] * 1e3:.0f} ms, "
                f"warm {figures.samples['warm CPU/call', impl][-1] * 1e6:.0f} us/call"
                for impl in IMPLS
            ),
            file=sys.stderr,
            flush=True,
        )
    return figures


# figure, unit, scale from seconds/MiB, target ratio (None: for information)
ROWS: list[tuple[str, str, float, float | None]] = [
    ("cold wall", "ms", 1e3, 0.65),
    ("cold CPU", "ms", 1e3, None),
    ("peak RSS", "MiB", 1.0, 0.75),
    ("warm CPU/call", "us", 1e6, 0.60),
    ("warm wall/call", "us", 1e6, None),
    ("import", "ms", 1e3, None),
]


def report(figures: Figures, args: argparse.Namespace, loaded: list[str]) -> str:
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
        "medians; ratio = lightsail_images / boto3; per-round = range of the rounds' own ratios",
        "",
        header,
    ]
    for figure, unit, scale, target in ROWS:
        a = figures.median(figure, "lightsail_images")
        b = figures.median(figure, "boto3")
        ratio = a / b
        rounds = figures.round_ratios(figure)
        verdict = ""
        if target is not None:
            verdict = f"<= {target:.2f} {'met' if ratio <= target else 'NOT met'}"
        lines.append(
            f"{figure:<15}{unit:<5}{a * scale:>17.1f}{b * scale:>9.1f}{ratio:>8.3f}"
            f"  {min(rounds):.2f}-{max(rounds):.2f}    {verdict}"
        )
    boto3_wall = figures.median("cold wall", "boto3")
    boto3_rss = figures.median("peak RSS", "boto3")
    lines += ["", "floors (medians; ratio to boto3's cold process):"]
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
    heavy = [name for name in HEAVY if name in loaded]
    lines += [
        "",
        f"import lightsail_images loads {len(loaded)} modules; of {', '.join(HEAVY)}: "
        + (", ".join(heavy) if heavy else "none"),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="A B pairs per figure")
    parser.add_argument("--calls", type=int, default=3000, help="measured warm calls per round")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured warm calls first")
    parser.add_argument("--blocks", type=int, default=10, help="turns per warm round")
    parser.add_argument(
        "--python", default=sys.executable, help="an interpreter with both libraries installed"
    )
    parser.add_argument("--json", type=Path, help="also write every sample to this file")
    args = parser.parse_args(argv)

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
            figures = measure(args, url, env)
            *_, output = run_process(
                [
                    args.python,
                    "-c",
                    "import sys, lightsail_images; print(*sorted(sys.modules), sep='\\n')",
                ],
                env,
            )
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=10)
    print(report(figures, args, output.split()))
    if args.json:
        samples = {f"{figure}|{impl}": v for (figure, impl), v in figures.samples.items()}
        args.json.write_text(json.dumps(samples, indent=1))
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve()
        sys.exit(0)
    sys.exit(main())
