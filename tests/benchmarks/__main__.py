"""`python -m tests.benchmarks [--quick]`: run every benchmark and write docs/benchmarks.md."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tests.benchmarks import (
    bench_audit_forward,
    bench_audit_verify,
    bench_cold_start,
    bench_gui_transfer,
    bench_link_large,
    bench_link_relay,
    bench_relay_wrk,
    bench_wormhole_text,
)
from tests.benchmarks.harness import BenchResult, render

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes; does not rewrite the docs")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    results: list[BenchResult] = []
    results += bench_audit_verify.run(entries=2_000 if args.quick else 100_000)
    results += bench_audit_forward.run(trials=30 if args.quick else 200, seconds=2 if args.quick else 10)
    results += bench_wormhole_text.run(trials=2 if args.quick else 7)
    results += bench_link_relay.run(pairs=300 if args.quick else 5000, trials=1 if args.quick else 3)
    results += bench_relay_wrk.run(seconds=2 if args.quick else 8, trials=1 if args.quick else 3)
    results += bench_cold_start.run(trials=2 if args.quick else 7)
    for store in ("sqlite", "redis"):
        results += bench_link_large.run(size=(64 if args.quick else 1024) * 2**20, store=store)
    results += bench_gui_transfer.run(size=(32 if args.quick else 400) * 2**20, trials=1 if args.quick else 2)
    page = render(results, "make bench")
    print(page)
    if not args.quick:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(page, encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
