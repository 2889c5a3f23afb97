"""Audit verification: the time to verify a 100,000-entry log, against raw Ed25519 verifies.

The log is built with the real code path (batches of appends, each batch signed) in a
temporary OTS_HOME, with its keys in the OS keychain. The peer is libsodium's own
Ed25519 verify rate, measured in the same process: the ratio says how many raw
signature checks a full verification costs.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from nacl.signing import SigningKey

from ots_desktop.core.audit.events import AuditEvent, Channel, EventType
from ots_desktop.core.audit.keystore import KeychainStore, scope_for
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.paths import app_paths
from tests.benchmarks.harness import BenchResult, best_of

GOAL_SECONDS = 3.0
BATCH = 1000


def build_log(home: Path, entries: int) -> AuditLog:
    """A log with ``entries`` entries in total, appended in signed batches."""
    paths = app_paths({"OTS_HOME": str(home)})
    log = AuditLog.open(paths, KeychainStore(scope_for(paths.data_dir)), app_version="bench")
    remaining = entries - 1  # the log_created entry
    n = 0
    while remaining > 0:
        with log.batch():
            for _ in range(min(BATCH, remaining)):
                n += 1
                log.append(AuditEvent(EventType.SHARE_CREATED, channel=Channel.LINK, label=f"bench secret {n}",
                                      share_id=f"{n:022d}", fingerprint="hmac-sha256:" + f"{n:032x}",
                                      recipient="load test", max_views=1, expires_at="2026-12-01T00:00:00Z"))
        remaining -= min(BATCH, remaining)
    return log


def ed25519_verifies_per_second(samples: int = 3000) -> float:
    """libsodium's raw verify rate on a checkpoint-sized message."""
    key = SigningKey.generate()
    message = b"x" * 160
    signed = key.sign(message)
    verify_key = key.verify_key

    def run() -> None:
        for _ in range(samples):
            verify_key.verify(signed)

    fastest, _ = best_of(3, run)
    return samples / fastest


def run(entries: int = 100_000) -> list[BenchResult]:
    """Build, verify, and compare."""
    with tempfile.TemporaryDirectory(prefix="ots-bench-") as tmp:
        log = build_log(Path(tmp), entries)
        try:
            report = log.verify()
            if not report.ok or report.entries != entries:
                raise RuntimeError(f"benchmark log did not verify: {report.summary()}")
            fastest, _median = best_of(3, log.verify)
            size = os.path.getsize(log.store.path)
        finally:
            log.close()
    rate = ed25519_verifies_per_second()
    equivalent = fastest * rate
    return [
        BenchResult(
            name=f"`ots audit verify`, {entries:,} entries ({size / 2**20:.1f} MiB, {report.checkpoints} checkpoints)",
            value=fastest, unit="s", peer="libsodium Ed25519 verify", peer_value=rate, peer_unit="verifies/s",
            ratio=equivalent / entries,
            ratio_meaning=f"cost per entry in raw Ed25519 verifies; the whole log costs {equivalent:,.0f}",
            goal=f"under {GOAL_SECONDS:g} s for 100,000 entries", met=fastest < GOAL_SECONDS * entries / 100_000,
        )
    ]
