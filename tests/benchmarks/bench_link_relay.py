"""The link relay under load: create+reveal pairs from 100 concurrent clients.

Every server is a real process: a relay on SQLite, a relay on Redis, two relays on one
Redis sharing one port (``--reuse-port``: the kernel spreads the connections), and the peer,
a bare aiohttp application whose two handlers read the request and return a fixed body of
about the same size as the relay's answers. All relays run as in production (request log
at info on stderr) but without rate limits.

The load generator is this process: ``clients`` coroutines on one asyncio loop with aiohttp
keep-alive connections, each repeating "create a share, then reveal it" over pre-sealed
shares until they run out. It is a separate process from the servers, but on a 2-core
machine it competes with them (and with redis-server) for the cores. Latency is measured
per request in the client, so it includes the client's own scheduling delay. Trials rotate
through the scenarios; each figure is the median over trials.

``python -m tests.benchmarks.bench_link_relay --bare-server`` runs the peer server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

from tests.benchmarks.harness import BenchResult
from tests.support.redis_server import start_redis
from tests.support.relay import API, Share, launch, make_share, relays, run_async

CLIENTS = 100
GOAL_VS_BARE = 0.5
GOAL_P99_MS = 50.0
GOAL_SCALE_OUT = 1.6
JSON_HEADERS = {"Content-Type": "application/json"}
# The bare peer answers with bodies the size of the relay's (a create's 201, a short secret's 200).
BARE_CREATED = json.dumps({"id": "A" * 22, "status_token": "B" * 43, "expires_at": "2026-11-28T04:00:00Z"}).encode()
BARE_REVEALED = json.dumps({"envelope": "C" * 200, "views_left": 0}).encode()


@dataclass(frozen=True)
class Load:
    """One timed run: pairs per second, per-request latencies, and the CPU each side used per second."""

    pairs_per_s: float
    p50_ms: float
    p99_ms: float
    server_cores: float = 0.0  # CPU seconds of the server processes (and redis-server) per wall second
    client_cores: float = 0.0  # the same for this process, the load generator


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of ``pids`` so far (Linux /proc; 0 elsewhere)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of the whole line)
    return total / os.sysconf("SC_CLK_TCK")


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _drive(url: str, work: Iterator[tuple[Share, bytes, bytes]], clients: int) -> list[float]:
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=clients, limit_per_host=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def client() -> None:
            for share, create, reveal in work:  # one shared iterator: each share is taken once
                for path, body, expected in ((API, create, 201), (f"{API}/{share.id}/reveal", reveal, 200)):
                    started = time.perf_counter()
                    async with session.post(url + path, data=body, headers=JSON_HEADERS) as response:
                        await response.read()
                        if response.status != expected:
                            raise RuntimeError(f"{url}{path} answered {response.status}, not {expected}")
                    latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(client() for _ in range(clients)))
    return latencies


def _bodies(count: int) -> list[tuple[Share, bytes, bytes]]:
    shares = [make_share(b"benchmark secret %d" % n) for n in range(count)]
    return [(s, json.dumps(s.create_body()).encode(), json.dumps(s.reveal_body()).encode()) for s in shares]


def measure(url: str, pairs: int, clients: int = CLIENTS, server_pids: list[int] | None = None) -> Load:
    """Warm the connections up, then time ``pairs`` create+reveal pairs from ``clients`` clients."""
    run_async(_drive(url, iter(_bodies(clients)), clients))
    work = _bodies(pairs)
    server_cpu, client_cpu = _cpu_seconds(server_pids or []), time.process_time()
    started = time.perf_counter()
    latencies = run_async(_drive(url, iter(work), clients))
    elapsed = time.perf_counter() - started
    server_cpu = _cpu_seconds(server_pids or []) - server_cpu
    client_cpu = time.process_time() - client_cpu
    return Load(pairs / elapsed, _percentile(latencies, 0.5) * 1000, _percentile(latencies, 0.99) * 1000,
                server_cpu / elapsed, client_cpu / elapsed)


def _median(loads: list[Load]) -> Load:
    def med(field: str) -> float:
        return float(statistics.median(getattr(x, field) for x in loads))

    return Load(*(med(f) for f in ("pairs_per_s", "p50_ms", "p99_ms", "server_cores", "client_cores")))


def run(pairs: int = 5000, trials: int = 3, clients: int = CLIENTS) -> list[BenchResult]:
    """Start every server once, rotate the scenarios ``trials`` times, and compare medians."""
    with tempfile.TemporaryDirectory(prefix="ots-bench-relay-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        bare, bare_ready = launch(root, "bare-aiohttp", [sys.executable, "-m", "tests.benchmarks.bench_link_relay",
                                                         "--bare-server"])
        stack.callback(bare.stop)
        (root / "redis").mkdir()
        redis = start_redis(root / "redis")
        stack.callback(redis.stop)
        (sqlite_relay,) = stack.enter_context(relays(root / "sqlite"))
        (solo,) = stack.enter_context(relays(root / "redis-1", store=redis.url))
        pair = stack.enter_context(relays(root / "redis-2", 2, store=redis.url, share_port=True))
        targets = {"bare": (str(bare_ready["link_url"]), [bare.pid]),
                   "sqlite": (sqlite_relay.url, [sqlite_relay.pid]),
                   "redis-1": (solo.url, [solo.pid, redis.pid]),
                   "redis-2": (pair[0].url, [pair[0].pid, pair[1].pid, redis.pid])}
        loads: dict[str, list[Load]] = {name: [] for name in targets}
        for _ in range(trials):
            for name, (url, pids) in targets.items():
                loads[name].append(measure(url, pairs, clients, pids))
        split = [p.log_text().count("POST /api/v1/secrets/{id}/reveal 200") for p in pair]
        if min(split) == 0:
            raise RuntimeError(f"the kernel sent every connection to one of the two relays: {split}")
    return _results({name: _median(runs) for name, runs in loads.items()}, pairs, trials, clients, split)


def _results(m: dict[str, Load], pairs: int, trials: int, clients: int, split: list[int]) -> list[BenchResult]:
    bare, sqlite, solo, pair = m["bare"], m["sqlite"], m["redis-1"], m["redis-2"]
    runs = f"{clients} clients, {pairs:,} pairs, median of {trials}"

    def detail(load: Load) -> str:
        return (f"p50 {load.p50_ms:.1f} ms, p99 {load.p99_ms:.1f} ms per request; CPU: servers "
                f"{load.server_cores:.2f} cores, load generator {load.client_cores:.2f} cores")

    notes = (f"{runs}. Bare aiohttp: {detail(bare)}. SQLite: {detail(sqlite)}. Redis, one process: "
             f"{detail(solo)}. Redis, two processes (with redis-server): {detail(pair)}; the kernel gave them "
             f"{split[0]:,} and {split[1]:,} of the reveals. " + NOTES)
    return [
        BenchResult(
            name=f"link relay create+reveal, SQLite, 1 process ({runs})", value=sqlite.pairs_per_s,
            unit="pairs/s", peer="bare aiohttp handler, fixed body, same requests", peer_value=bare.pairs_per_s,
            peer_unit="pairs/s", ratio=sqlite.pairs_per_s / bare.pairs_per_s,
            ratio_meaning="relay / bare; higher is better", goal=f">= {GOAL_VS_BARE}x the bare handler",
            met=sqlite.pairs_per_s / bare.pairs_per_s >= GOAL_VS_BARE, notes=notes),
        BenchResult(
            name=f"link relay p99 latency per request, SQLite, 1 process ({clients} clients)",
            value=sqlite.p99_ms, unit="ms", peer="bare aiohttp handler p99", peer_value=bare.p99_ms, peer_unit="ms",
            ratio=sqlite.p99_ms / bare.p99_ms, ratio_meaning="relay / bare; lower is better",
            goal=f"p99 < {GOAL_P99_MS:g} ms", met=sqlite.p99_ms < GOAL_P99_MS),
        BenchResult(
            name=f"link relay create+reveal, Redis, 1 process ({runs})", value=solo.pairs_per_s, unit="pairs/s",
            peer="bare aiohttp handler, fixed body, same requests", peer_value=bare.pairs_per_s, peer_unit="pairs/s",
            ratio=solo.pairs_per_s / bare.pairs_per_s, ratio_meaning="relay / bare; higher is better"),
        BenchResult(
            name=f"link relay create+reveal, Redis, 2 processes on one port ({runs})", value=pair.pairs_per_s,
            unit="pairs/s", peer="the same on 1 process", peer_value=solo.pairs_per_s, peer_unit="pairs/s",
            ratio=pair.pairs_per_s / solo.pairs_per_s, ratio_meaning="2 processes / 1; higher is better",
            goal=f">= {GOAL_SCALE_OUT}x one process (two cores)",
            met=pair.pairs_per_s / solo.pairs_per_s >= GOAL_SCALE_OUT),
    ]


NOTES = ("One pair is two requests: the create (the SQLite store fsyncs its WAL before the 201; "
         "group commit shares one fsync among the creates and reveals queued meanwhile) and the reveal "
         "(claimed durably before the envelope is sent). The load generator is one Python process on the same "
         "machine: with 2 cores, it, redis-server and the relay processes share them, so neither the bare "
         "handler nor two relay processes get a core to themselves.")


# ---------------------------------------------------------------- the bare peer (a process of its own)


async def _created(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=BARE_CREATED, status=201, content_type="application/json")


async def _revealed(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=BARE_REVEALED, content_type="application/json")


async def _serve_bare() -> None:
    app = web.Application()
    app.router.add_post(API, _created)
    app.router.add_post(API + "/{id}/reveal", _revealed)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = int(runner.addresses[0][1])
    print(json.dumps({"event": "ready", "link_url": f"http://127.0.0.1:{port}", "link_port": port}), flush=True)
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Link relay benchmark (or, with --bare-server, its peer).")
    parser.add_argument("--bare-server", action="store_true", help="serve the bare aiohttp peer until SIGTERM")
    parser.add_argument("--pairs", type=int, default=5000)
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args(argv)
    if args.bare_server:
        asyncio.run(_serve_bare())  # until SIGTERM, whose default action ends the process
        return 0
    from tests.benchmarks.harness import render

    print(render(run(args.pairs, args.trials), f"python -m tests.benchmarks.bench_link_relay --pairs {args.pairs} "
                                                f"--trials {args.trials}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
