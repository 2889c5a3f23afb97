"""Memory of real processes, from /proc/PID/status: what a process holds now and its peak."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

POLL_S = 0.01


def status_kib(pid: int, field: str) -> int:
    """A ``kB`` field of /proc/PID/status (``VmRSS``, ``VmHWM``) in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


@dataclass(frozen=True)
class Measured:
    """A finished process: its exit code, output, peak RSS (KiB) and wall time."""

    returncode: int
    stdout: str
    stderr: str
    peak_kib: int
    seconds: float


def run_measured(argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, timeout: float,
                 stdin: bytes = b"") -> Measured:
    """Run ``argv`` to its end, reading its VmHWM until it exits (the last reading is its peak)."""
    started = time.perf_counter()
    deadline = started + timeout
    # Output goes to files (a pipe nobody reads while we poll could fill and stall the process).
    out_path, err_path = cwd / "measured.out", cwd / "measured.err"
    with out_path.open("wb") as out_file, err_path.open("wb") as err_file, subprocess.Popen(
            list(argv), stdin=subprocess.PIPE, stdout=out_file, stderr=err_file, env=dict(env), cwd=cwd,
            start_new_session=True) as proc:
        assert proc.stdin is not None
        proc.stdin.write(stdin)
        proc.stdin.close()
        peak = 0
        while proc.poll() is None:
            if time.perf_counter() > deadline:
                proc.kill()
                proc.wait()
                raise TimeoutError(f"{argv[:4]} ran longer than {timeout:g} s")
            try:
                peak = max(peak, status_kib(proc.pid, "VmHWM"))
            except (OSError, KeyError, ValueError):  # exiting between poll and read
                pass
            try:
                proc.wait(POLL_S)
            except subprocess.TimeoutExpired:
                pass
        elapsed = time.perf_counter() - started
    out, err = out_path.read_bytes(), err_path.read_bytes()
    out_path.unlink()
    err_path.unlink()
    return Measured(proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), peak, elapsed)
