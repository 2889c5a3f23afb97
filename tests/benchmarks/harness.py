"""A tiny benchmark harness: timing helpers, results, and the Markdown report."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

NOTES = Path(__file__).with_name("notes.md")


@dataclass(frozen=True)
class BenchResult:
    """One figure and the peer it is compared with, measured in the same run."""

    name: str
    value: float
    unit: str
    peer: str
    peer_value: float
    peer_unit: str
    ratio: float
    ratio_meaning: str
    goal: str = ""
    met: bool | None = None
    notes: str = ""


def best_of(repeats: int, func: Callable[[], object]) -> tuple[float, float]:
    """(min, median) wall time in seconds of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def machine_line() -> str:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        mem = f", {pages / 2**30:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        pass
    return (f"{cpu}, {os.cpu_count()} cores{mem}; {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}")


def _num(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def render(results: Sequence[BenchResult], command: str) -> str:
    """The Markdown page for docs/benchmarks.md."""
    lines = [
        "# Benchmarks",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `{command}` on: {machine_line()}.",
        "",
        "This machine is shared and noisy, so each figure is compared with a peer measured in the same run;",
        "the ratio is the number to watch across runs.",
        "",
        "| benchmark | result | peer (same run) | ratio | goal |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        goal = ""
        if r.goal:
            goal = f"{r.goal}: {'met' if r.met else 'NOT met'}"
        lines.append(f"| {r.name} | {r.value:,.3f} {r.unit} | {r.peer}: {_num(r.peer_value)} {r.peer_unit} | "
                     f"{r.ratio:,.2f} ({r.ratio_meaning}) | {goal} |")
    for r in results:
        if r.notes:
            lines += ["", f"**{r.name}.** {r.notes}"]
    # What does not change from run to run: how to read the figures (kept in tests/benchmarks/notes.md).
    lines += ["", NOTES.read_text(encoding="utf-8").rstrip()]
    return "\n".join(lines) + "\n"
