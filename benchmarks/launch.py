"""Run one measured process and get its own wall time, CPU time and peak RSS.

Shared by ``bench.py`` and ``bench_push.py``.  A bare launcher interpreter
(``-I -S``: no site, nothing imported) forks, execs the measured command and
reaps it with ``wait4``, so the figures are that one process's.

Why not spawn the command from the benchmark itself: CPython spawns with
``vfork``, and at ``exec`` Linux records the *spawning* process's peak RSS as
the child's ``ru_maxrss`` (the old memory map was the parent's), and that
survives the ``exec``.  A benchmark that has grown (bench_push reads whole
files to build its images; bench.py keeps its samples and its server's
pipes) then printed its own peak for every process smaller than itself.  A
fork from the launcher gives the child a copy of the launcher's few MiB
instead: its peak RSS is its own, or that small floor (``floor_mib``, which
the benchmarks print) if the child stays below it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

LAUNCHER = """
import json, os, sys, time
result, argv = sys.argv[1], sys.argv[2:]
with open("/proc/self/status") as status:
    floor = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(result, "w") as out:
    json.dump({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_kib": usage.ru_maxrss,
               "floor_kib": floor, "code": os.waitstatus_to_exitcode(status)}, out)
"""


# The launcher's pages at each fork, in MiB: a process smaller than that
# reads as that; the benchmarks print the largest.
FLOORS: list[float] = []


class Measured(NamedTuple):
    """One process's figures: wall s (fork to reap), CPU s, peak RSS MiB, and its output."""

    wall: float
    cpu: float
    rss_mib: float
    floor_mib: float
    output: str


def run_measured(argv: list[str], env: dict[str, str]) -> Measured:
    """Run ``argv`` to its end under the launcher, in ``env["HOME"]``; raise if it fails."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory() as scratch,
    ):
        result = Path(scratch) / "result.json"
        launcher = [sys.executable, "-I", "-S", "-c", LAUNCHER, str(result), *argv]
        subprocess.run(launcher, env=env, stdout=out, stderr=err, cwd=env["HOME"], check=False)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
        figures = json.loads(result.read_text()) if result.exists() else {"code": -1}
    if figures["code"] != 0:
        msg = f"{argv!r} failed with exit code {figures['code']}:\n{stderr}"
        raise RuntimeError(msg)
    FLOORS.append(figures["floor_kib"] / 1024)
    return Measured(
        wall=figures["wall"],
        cpu=figures["cpu"],
        rss_mib=figures["rss_kib"] / 1024,
        floor_mib=figures["floor_kib"] / 1024,
        output=stdout + stderr,
    )


def run_process(argv: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """Run ``argv`` under the launcher: wall s, CPU s, peak RSS MiB and its output."""
    measured = run_measured(argv, env)
    return measured.wall, measured.cpu, measured.rss_mib, measured.output
