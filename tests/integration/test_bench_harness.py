"""The benchmark code runs (small sizes) so `make bench` cannot rot unnoticed."""

from __future__ import annotations

import pytest

from tests.benchmarks import bench_audit_verify
from tests.benchmarks.harness import render


@pytest.mark.usefixtures("keychain")
def test_audit_verify_benchmark_runs_small() -> None:
    (result,) = bench_audit_verify.run(entries=1_500)
    assert result.value > 0 and result.peer_value > 0 and result.ratio > 0
    page = render([result], "pytest")
    assert "| `ots audit verify`, 1,500 entries" in page
    assert "libsodium Ed25519 verify" in page
