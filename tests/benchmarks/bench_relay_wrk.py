"""The link relay under wrk: create+reveal pairs from 100 connections, a C load generator.

Every server is a real process, started on an OS-given port and stopped by PID: the relay on
SQLite (one process), the relay on Redis (one process, then two processes sharing one port with
``--reuse-port`` on one redis-server: the scale-out case), and the peer, a bare aiohttp
application that parses each JSON request and answers with JSON of the relay's sizes but keeps
nothing. The relays run as in production (request log at info on stderr) without rate limits.

The load is wrk with relay_pairs.lua (see wrk_load.py): each connection creates a share from a
pool sealed here beforehand, then reveals it with its auth token and link proof; a pair counts
when the reveal answers 200 with the envelope. wrk takes a small part of one core, so unlike the
Python load generator of bench_link_relay it leaves the servers most of the machine. Each trial
runs every scenario once, in alternating order; each figure is the median over trials. The CPU
each process used (from /proc/PID/stat before and after) is reported with the figures, so that
the scale-out case can be extrapolated to a machine with a core per relay process.

``python -m tests.benchmarks.bench_relay_wrk`` runs it alone (``--quick``: a short smoke run);
``--bare-server`` runs the peer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from aiohttp import web

from tests.benchmarks.harness import BenchResult
from tests.benchmarks.wrk_load import WrkRun, run_wrk, write_pools, wrk_path
from tests.support.redis_server import start_redis
from tests.support.relay import API, launch, relays

CONNECTIONS = 100
GOAL_VS_BARE = 0.5
GOAL_P99_MS = 50.0
# The pool of each trial covers this many pairs per second of the run (about twice what one relay makes).
POOL_RATE = 6_000
SCENARIOS = ("bare", "sqlite", "redis-1", "redis-2")
RELAYS = ("relay-0", "relay-1")


def run(seconds: int = 8, trials: int = 3, connections: int = CONNECTIONS) -> list[BenchResult]:
    """Start every server once, run each scenario once per trial (alternating order), compare medians."""
    wrk_path()  # fail before sealing thousands of shares
    with tempfile.TemporaryDirectory(prefix="ots-bench-wrk-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        pools = [root / f"pool-{n}.tsv" for n in range(trials)]
        write_pools(pools, POOL_RATE * seconds)
        bare, bare_ready = launch(root, "bare-aiohttp", [sys.executable, "-m", "tests.benchmarks.bench_relay_wrk",
                                                         "--bare-server", "--reveal-chars",
                                                         str(_envelope_chars(pools[0]))])
        stack.callback(bare.stop)
        (root / "redis").mkdir()
        redis = start_redis(root / "redis")
        stack.callback(redis.stop)
        (sqlite_relay,) = stack.enter_context(relays(root / "sqlite"))
        # Each Redis scenario has its own database, so one pool serves every scenario of a trial.
        (solo,) = stack.enter_context(relays(root / "redis-1", store=redis.url.replace("db=0", "db=1")))
        pair = stack.enter_context(relays(root / "redis-2", 2, store=redis.url.replace("db=0", "db=2"),
                                          share_port=True))
        targets = {
            "bare": (str(bare_ready["link_url"]), {"bare": bare.pid}),
            "sqlite": (sqlite_relay.url, {"relay-0": sqlite_relay.pid}),
            "redis-1": (solo.url, {"relay-0": solo.pid, "redis-server": redis.pid}),
            "redis-2": (pair[0].url, {"relay-0": pair[0].pid, "relay-1": pair[1].pid, "redis-server": redis.pid}),
        }
        runs: dict[str, list[WrkRun]] = {name: [] for name in SCENARIOS}
        for trial, pool in enumerate(pools):
            order = SCENARIOS if trial % 2 == 0 else tuple(reversed(SCENARIOS))
            for name in order:
                url, watch = targets[name]
                runs[name].append(run_wrk(url, pool, root, seconds=seconds, connections=connections,
                                          wrap=name == "bare", watch=watch))
    medians = {name: _median(found) for name, found in runs.items()}
    if min(medians["redis-2"].cores[name] for name in RELAYS) < 0.05:
        raise RuntimeError(f"the kernel sent every connection to one of the two relays: {medians['redis-2'].cores}")
    return _results(medians, seconds, trials, connections)


def _envelope_chars(pool: Path) -> int:
    with pool.open(encoding="utf-8") as handle:
        create = json.loads(handle.readline().split("\t")[1])
    return len(create["envelope"])


def _median(found: list[WrkRun]) -> WrkRun:
    def med(values: list[float]) -> float:
        return float(statistics.median(values))

    names = found[0].cores
    return WrkRun(pairs_per_s=med([r.pairs_per_s for r in found]), p50_ms=med([r.p50_ms for r in found]),
                  p99_ms=med([r.p99_ms for r in found]), max_ms=med([r.max_ms for r in found]),
                  pairs=sum(r.pairs for r in found), seconds=sum(r.seconds for r in found),
                  cores={name: med([r.cores[name] for r in found]) for name in names})


def _cpu(found: WrkRun) -> str:
    return ", ".join(f"{name} {cores:.2f}" for name, cores in found.cores.items())


def per_relay_core(found: WrkRun) -> float:
    """Pairs per second if the busiest relay process had a whole core (and everything else scaled with it)."""
    return found.pairs_per_s / max(found.cores[name] for name in RELAYS if name in found.cores)


def _results(m: dict[str, WrkRun], seconds: int, trials: int, connections: int) -> list[BenchResult]:
    bare, sqlite, solo, pair = (m[name] for name in SCENARIOS)
    runs = f"wrk, {connections} connections, {seconds} s runs, median of {trials}"

    def detail(label: str, found: WrkRun) -> str:
        servers = sum(cores for name, cores in found.cores.items() if name != "wrk")
        return (f"{label}: {found.pairs_per_s:,.0f} pairs/s, p50 {found.p50_ms:.1f} ms, p99 {found.p99_ms:.1f} ms, "
                f"max {found.max_ms:.0f} ms per request; CPU cores used: {_cpu(found)} "
                f"({found.pairs_per_s / max(servers, 1e-9):,.0f} pairs per server CPU-second)")

    notes = "; ".join([detail("Bare aiohttp", bare), detail("SQLite", sqlite), detail("Redis, one process", solo),
                       detail("Redis, two processes", pair)])
    notes = (f"{runs}. {notes}. Extrapolated to a core per relay process (pairs/s divided by the busiest relay "
             f"process's cores): one process {per_relay_core(solo):,.0f}, two {per_relay_core(pair):,.0f} pairs/s. "
             + NOTES)
    scale = per_relay_core(pair) / per_relay_core(solo)
    return [
        BenchResult(
            name=f"link relay create+reveal under wrk, SQLite, 1 process ({runs})", value=sqlite.pairs_per_s,
            unit="pairs/s", peer="bare aiohttp handler (JSON in and out, no storage)", peer_value=bare.pairs_per_s,
            peer_unit="pairs/s", ratio=sqlite.pairs_per_s / bare.pairs_per_s,
            ratio_meaning="relay / bare; higher is better", goal=f">= {GOAL_VS_BARE}x the bare handler",
            met=sqlite.pairs_per_s / bare.pairs_per_s >= GOAL_VS_BARE, notes=notes),
        BenchResult(
            name=f"link relay p99 latency per request under wrk, SQLite, 1 process ({connections} connections)",
            value=sqlite.p99_ms, unit="ms", peer="bare aiohttp handler p99", peer_value=bare.p99_ms, peer_unit="ms",
            ratio=sqlite.p99_ms / bare.p99_ms, ratio_meaning="relay / bare; lower is better",
            goal=f"p99 < {GOAL_P99_MS:g} ms", met=sqlite.p99_ms < GOAL_P99_MS),
        BenchResult(
            name=f"link relay create+reveal under wrk, Redis, 1 process ({runs})", value=solo.pairs_per_s,
            unit="pairs/s", peer="bare aiohttp handler (JSON in and out, no storage)", peer_value=bare.pairs_per_s,
            peer_unit="pairs/s", ratio=solo.pairs_per_s / bare.pairs_per_s,
            ratio_meaning="relay / bare; higher is better"),
        BenchResult(
            name=f"link relay create+reveal under wrk, Redis, 2 processes on one port ({runs})",
            value=pair.pairs_per_s, unit="pairs/s", peer="the same on 1 process", peer_value=solo.pairs_per_s,
            peer_unit="pairs/s", ratio=pair.pairs_per_s / solo.pairs_per_s,
            ratio_meaning=f"2 processes / 1 on this 2-core machine; {scale:.2f} extrapolated to a core per relay "
                          "process"),
    ]


NOTES = ("A pair is a create (SQLite: on disk, WAL fsynced, before the 201) and the reveal of that share (claimed "
         "durably before the envelope is sent); latency is per request as wrk measured it. CPU cores are CPU seconds "
         "per wall second of each process (wrk from its rusage).")


# ---------------------------------------------------------------- the bare peer (a process of its own)

STATUS_TOKEN = "B" * 43
EXPIRES_AT = "2026-11-28T04:00:00Z"


def _bare_app(reveal_chars: int) -> web.Application:
    revealed = json.dumps({"envelope": "C" * reveal_chars, "views_left": 0}, separators=(",", ":")).encode()

    async def created(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        answer = {"id": body["id"], "status_token": STATUS_TOKEN, "expires_at": EXPIRES_AT}
        return web.Response(body=json.dumps(answer, separators=(",", ":")).encode(), status=201,
                            content_type="application/json")

    async def reveal(request: web.Request) -> web.Response:
        json.loads(await request.read())
        return web.Response(body=revealed, content_type="application/json")

    app = web.Application()
    app.router.add_post(API, created)
    app.router.add_post(API + "/{id}/reveal", reveal)
    return app


async def _serve_bare(reveal_chars: int) -> None:
    runner = web.AppRunner(_bare_app(reveal_chars), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = int(runner.addresses[0][1])
    print(json.dumps({"event": "ready", "link_url": f"http://127.0.0.1:{port}", "link_port": port}), flush=True)
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Link relay under wrk (or, with --bare-server, its peer).")
    parser.add_argument("--bare-server", action="store_true", help="serve the bare aiohttp peer until SIGTERM")
    parser.add_argument("--reveal-chars", type=int, default=1000, help="the bare peer's envelope length")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--quick", action="store_true", help="one short trial")
    args = parser.parse_args(argv)
    if args.bare_server:
        asyncio.run(_serve_bare(args.reveal_chars))  # until SIGTERM, whose default action ends the process
        return 0
    from tests.benchmarks.harness import render

    seconds, trials = (2, 1) if args.quick else (args.seconds, args.trials)
    command = ("python -m tests.benchmarks.bench_relay_wrk" if not args.quick else
               "python -m tests.benchmarks.bench_relay_wrk --quick")
    if not args.quick and (seconds, trials, args.connections) != (8, 3, CONNECTIONS):
        command += f" --seconds {seconds} --trials {trials} --connections {args.connections}"
    print(render(run(seconds, trials, args.connections), command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
