"""Where a relay process spends its time under wrk's create+reveal load: py-spy's samples, summed.

``python -m tests.benchmarks.relay_profile [--store sqlite|redis] [--seconds 10] [--gil]`` starts one
relay (on SQLite, or on a redis-server of its own), drives it with wrk as bench_relay_wrk does, and
samples it meanwhile with py-spy (in the ``test`` extra). It prints the functions with the largest
share of samples, by their own time and including what they call. ``--gil`` counts only samples in
which a thread held the GIL, which is the time that keeps the event loop from the next request.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

from tests.benchmarks.bench_relay_wrk import POOL_RATE
from tests.benchmarks.wrk_load import run_wrk, write_pools
from tests.support.redis_server import start_redis
from tests.support.relay import relays

RATE_HZ = 200
_LINE = re.compile(r":\d+\)$")


# Parts of the relay's work, for the summary: the first rule a sample's stack meets names its part.
PARTS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    # (part, frames one of which the stack must hold, frames it must hold too (empty: none))
    ("writer thread: WAL checkpoint and truncate", ("Writer._scrub",), ("Thread._bootstrap",)),
    ("writer thread: COMMIT (the WAL fsync)", ("Writer._commit",), ("Thread._bootstrap",)),
    ("writer thread: other (its queue, sweeps)", ("Thread._bootstrap",), ()),
    ("loop: SQL of creates and reveals (BEGIN, statements)", ("LoopBatches._flush",), ()),
    ("loop: Redis client (redis-py)", ("redis/",), ()),
    ("loop: waiting in select", ("EpollSelector.select",), ()),
    ("loop: request log line", ("Logger.info", "Logger._log"), ()),
    ("loop: metrics", ("RelayMetrics",), ()),
    ("loop: share lookup before a reveal", ("LinkRelay._pending",), ()),
    ("loop: create handler (body, JSON, envelope checks, status token, answer)", ("LinkRelay.create",), ()),
    ("loop: reveal handler (body, JSON, checks, answer)", ("LinkRelay.reveal",), ()),
    ("loop: relay middleware (errors, headers, timing)", ("LinkRelay.middleware",), ()),
    ("loop: socket reads and writes", ("_SelectorSocketTransport.write", "_SelectorSocketTransport._read_ready"), ()),
    ("loop: aiohttp (HTTP parsing, routing, answers)", ("aiohttp/",), ()),
    ("loop: asyncio and the rest (tasks, callbacks, wake-ups)", ("",), ()),
)


def _part(frames: list[str]) -> str:
    for name, any_of, also in PARTS:
        if (any(frame.startswith(want) or f"({want}" in frame for frame in frames for want in any_of)
                and all(any(frame.startswith(want) for frame in frames) for want in also)):
            return name
    return PARTS[-1][0]


def parts(raw: str) -> str:
    """py-spy's raw stacks summed by PARTS, in % of samples."""
    counted: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if stack:
            counted[_part(stack.split(";"))] += int(count_text)
            total += int(count_text)
    return "\n".join(["by part:", *(f"  {100 * counted[name] / max(total, 1):5.1f}%  {name}"
                                    for name, _, _ in PARTS if counted[name])])


def summarize(raw: str, top: int = 25) -> str:
    """py-spy's raw (collapsed) stacks as two rankings: own time and inclusive time, in % of samples."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = [_LINE.sub(")", frame) for frame in stack.split(";")]
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return "no samples"

    def ranking(counter: Counter[str]) -> list[str]:
        return [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in counter.most_common(top)]

    return "\n".join([f"{total} samples", parts(raw), "own time:", *ranking(own), "including callees:",
                      *ranking(inclusive)])


def profile(store: str, seconds: int, *, gil: bool, connections: int = 100) -> str:
    """Run the load for ``seconds`` against one relay under py-spy; return the summary."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise RuntimeError("py-spy is not installed: pip install -e '.[test]' (make setup)")
    with tempfile.TemporaryDirectory(prefix="ots-relay-profile-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        pool = root / "pool.tsv"
        write_pools([pool], POOL_RATE * seconds)
        url = "sqlite"
        if store == "redis":
            (root / "redis").mkdir()
            redis = start_redis(root / "redis")
            stack.callback(redis.stop)
            url = redis.url
        (relay,) = stack.enter_context(relays(root / "relay", store=url))
        out = root / "profile.txt"
        argv = [spy, "record", "--pid", str(relay.pid), "--format", "raw", "--output", str(out), "--rate",
                str(RATE_HZ), "--duration", str(seconds), "--nonblocking", *(["--gil"] if gil else [])]
        sampler = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            load = run_wrk(relay.url, pool, root, seconds=seconds, connections=connections,
                           watch={"relay": relay.pid})
            _, errors = sampler.communicate(timeout=seconds + 30)
        finally:
            if sampler.poll() is None:
                sampler.kill()
                sampler.wait()
        if sampler.returncode != 0 or not out.exists():
            raise RuntimeError(f"py-spy failed ({sampler.returncode}): {errors.decode('utf-8', 'replace')}")
        head = (f"relay on {store}, wrk {connections} connections, {seconds} s: {load.pairs_per_s:,.0f} pairs/s "
                f"(slowed by sampling), relay {load.cores['relay']:.2f} cores; samples "
                f"{'holding the GIL' if gil else 'of every busy thread'} at {RATE_HZ} Hz")
        return head + "\n" + summarize(out.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=("sqlite", "redis"), default="sqlite")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--gil", action="store_true", help="only samples in which a thread held the GIL")
    args = parser.parse_args(argv)
    print(profile(args.store, args.seconds, gil=args.gil))
    return 0


if __name__ == "__main__":
    sys.exit(main())
