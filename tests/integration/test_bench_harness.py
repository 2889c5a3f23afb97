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
