"""The benchmark code runs (small sizes) so `make bench` cannot rot unnoticed."""

from __future__ import annotations

import pytest

from tests.benchmarks import bench_audit_verify
from tests.benchmarks.harness import render


@pytest.mark.usefixtures("keychain")
def test_audit_verify_benchmark_runs_small() -> None:
    walk, command = bench_audit_verify.run(entries=1_500)
    for result in (walk, command):
        assert result.value > 0 and result.peer_value > 0 and result.ratio > 0
    page = render([walk, command], "pytest")
    assert "| audit log walk (`AuditLog.verify`), 1,500 entries, 2 key epochs" in page
    assert "| `ots audit verify` command" in page
    assert "libsodium Ed25519 verify" in page


def test_link_relay_benchmark_runs_small() -> None:
    from tests.benchmarks import bench_link_relay

    results = bench_link_relay.run(pairs=150, trials=1, clients=20)
    assert len(results) == 4
    assert all(r.value > 0 and r.peer_value > 0 and r.ratio > 0 for r in results)
    page = render(results, "pytest")
    assert "| link relay create+reveal, SQLite, 1 process (20 clients, 150 pairs, median of 1)" in page
    assert "the kernel gave them" in page


def test_relay_wrk_benchmark_runs_small() -> None:
    from tests.benchmarks import bench_relay_wrk

    results = bench_relay_wrk.run(seconds=1, trials=1, connections=10)
    assert len(results) == 4
    assert all(r.value > 0 and r.peer_value > 0 and r.ratio > 0 for r in results)
    page = render(results, "pytest")
    assert "| link relay create+reveal under wrk, SQLite, 1 process (wrk, 10 connections, 1 s runs" in page
    assert "relay-0" in page and "relay-1" in page and "redis-server" in page


def test_relay_profile_summarizes_raw_stacks() -> None:
    from tests.benchmarks.relay_profile import summarize

    text = summarize("main (a.py:1);handler (b.py:7);dumps (json.py:3) 3\nmain (a.py:1);handler (b.py:9) 1\n")
    assert "4 samples" in text
    assert " 75.0%  dumps (json.py)" in text and "100.0%  handler (b.py)" in text


@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_link_large_benchmark_runs_small(store: str) -> None:
    from tests.benchmarks import bench_link_large

    [result] = bench_link_large.run(size=8 * 2**20, trials=1, store=store)
    assert result.value > 0 and result.peer_value > 0 and result.ratio > 0
    page = render([result], "pytest")
    assert f"| large file as a link, 8 MiB (send + receive, {'Redis' if store == 'redis' else 'SQLite'} relay)" in page
    assert "With an fsync of curl's download added" in page and "relay VmHWM" in page
