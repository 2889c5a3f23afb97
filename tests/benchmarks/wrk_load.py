"""Driving a server with wrk (a C load generator) and relay_pairs.lua: share pools, runs, CPU per process.

A pool is a file of sealed shares made here in Python (one a line: id, create body, reveal
body); the Lua script turns each into a create and, once the server answered 201, a reveal
with that share's auth token and link proof. CPU time is read from /proc/PID/stat of each
server process before and after a run, and from wrk's own rusage when it exits.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.relay import make_share

SCRIPT = Path(__file__).with_name("relay_pairs.lua")
WRK_MISSING = "wrk is not installed: `make system-deps` (Debian package wrk) installs it"
# Shares per pool worker call: large enough that process start-up does not matter.
CHUNK = 2_000


def wrk_path() -> str:
    """The wrk binary; raises with the way to install it when it is missing."""
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError(WRK_MISSING)
    return found


def _lines(first: int, count: int) -> list[str]:
    lines = []
    for n in range(first, first + count):
        share = make_share(b"benchmark secret %d" % n)
        create = json.dumps(share.create_body(), separators=(",", ":"))
        reveal = json.dumps(share.reveal_body(), separators=(",", ":"))
        lines.append(f"{share.id}\t{create}\t{reveal}\n")
    return lines


def write_pools(paths: Sequence[Path], size: int, workers: int | None = None) -> None:
    """Write ``size`` fresh shares to each of ``paths``, sealing them on every core."""
    total = size * len(paths)
    chunks = [(first, min(CHUNK, total - first)) for first in range(0, total, CHUNK)]
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        made = [line for block in pool.map(_lines, *zip(*chunks, strict=True)) for line in block]
    for index, path in enumerate(paths):
        path.write_text("".join(made[index * size:(index + 1) * size]), encoding="utf-8")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


@dataclass(frozen=True)
class WrkRun:
    """One timed run: pairs per second, per-request latency as wrk measured it, CPU of each process."""

    pairs_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    pairs: int
    seconds: float
    cores: Mapping[str, float] = field(default_factory=dict)  # CPU seconds per wall second, by process name


def run_wrk(url: str, pool: Path, work_dir: Path, *, seconds: int, connections: int, threads: int = 1,
            wrap: bool = False, watch: Mapping[str, int] | None = None) -> WrkRun:
    """Run create+reveal pairs against ``url`` for ``seconds``; ``watch`` names the server PIDs to time.

    Raises if any request was refused, a socket failed, or (without ``wrap``) the pool ran out.
    """
    stats = work_dir / "wrk-stats.json"
    stats.unlink(missing_ok=True)
    env = {**os.environ, "OTS_BENCH_POOL": str(pool), "OTS_BENCH_STATS": str(stats),
           "OTS_BENCH_THREADS": str(threads), "OTS_BENCH_WRAP": "1" if wrap else "0"}
    argv = [wrk_path(), "-t", str(threads), "-c", str(connections), "-d", f"{max(1, seconds)}s",
            "--timeout", "30s", "-s", str(SCRIPT), url]
    pids = dict(watch or {})
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    output = proc.stdout.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    after = {name: cpu_seconds(pid) for name, pid in pids.items()}
    proc.stdout.close()
    if proc.returncode != 0 or not stats.exists():
        raise RuntimeError(f"wrk failed ({proc.returncode}) against {url}:\n{output}")
    found = json.loads(stats.read_text(encoding="utf-8"))
    if found["refused"] or found["socket_errors"] or found["timeouts"]:
        raise RuntimeError(f"{url}: {found['refused']} refused requests (first: {found['first_refusal']}), "
                           f"{found['socket_errors']} socket errors, {found['timeouts']} timeouts")
    if found["exhausted"]:
        raise RuntimeError(f"{url}: the pool of {pool} ran out before the run ended; make it larger")
    wall = found["duration_us"] / 1e6
    cores = {name: (after[name] - before[name]) / wall for name in pids}
    cores["wrk"] = (usage.ru_utime + usage.ru_stime) / wall
    return WrkRun(pairs_per_s=found["revealed"] / wall, p50_ms=found["p50_us"] / 1000,
                  p99_ms=found["p99_us"] / 1000, max_ms=found["max_us"] / 1000, pairs=found["revealed"],
                  seconds=wall, cores=cores)

