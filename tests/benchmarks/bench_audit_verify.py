"""Audit verification: the time to verify a 100,000-entry log with key evolution, against raw Ed25519 verifies.

The log is built with the real code path (batches of appends, each batch signed) in a
temporary OTS_HOME, with its keys in the OS keychain, and a new key epoch every
:data:`EPOCHS`-th of its entries (each one a certificate to walk). The peer is libsodium's own
Ed25519 verify rate, measured in the same process: the ratio says how many raw
signature checks a full verification costs. The whole ``ots audit verify`` command
(a new process: Python, the keychain over D-Bus, the walk, one signed review entry) is
timed as well.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from nacl.signing import SigningKey

from ots_desktop.core.audit.events import AuditEvent, Channel, EventType
from ots_desktop.core.audit.keystore import KeychainStore, scope_for
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.paths import app_paths
from tests.benchmarks.harness import BenchResult, best_of

GOAL_SECONDS = 1.0
BATCH = 1000
EPOCHS = 10  # key epochs in the log, whatever its size (a new one every tenth of it)


def build_log(home: Path, entries: int) -> AuditLog:
    """A log with ``entries`` entries in total, appended in signed batches."""
    paths = app_paths({"OTS_HOME": str(home)})
    log = AuditLog.open(paths, KeychainStore(scope_for(paths.data_dir)), app_version="bench")
    remaining = entries - 1  # the log_created entry
    epoch_every = max(BATCH, entries // EPOCHS)
    n = 0
    while remaining > 0:
        with log.batch():
            for _ in range(min(BATCH, remaining)):
                n += 1
                log.append(AuditEvent(EventType.SHARE_CREATED, channel=Channel.LINK, label=f"bench secret {n}",
                                      share_id=f"{n:022d}", fingerprint="blake3:" + f"{n:032x}",
                                      recipient="load test", max_views=1, expires_at="2026-12-01T00:00:00Z"))
        remaining -= min(BATCH, remaining)
        if n % epoch_every == 0 and remaining > 0:
            log.rotate()
            remaining -= 1
    return log


def command_seconds(home: Path, trials: int = 3) -> float:
    """The fastest of ``trials`` runs of the ``ots audit verify`` process on the log in ``home``."""
    env = dict(os.environ, OTS_HOME=str(home))

    def once() -> None:
        done = subprocess.run([sys.executable, "-m", "ots_desktop.cli", "audit", "verify"], env=env,
                              capture_output=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"ots audit verify failed: {done.stdout!r} {done.stderr!r}")

    fastest, _ = best_of(trials, once)
    return fastest


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
    """Build, verify in process and as a command, and compare."""
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
        command = command_seconds(Path(tmp))
    rate = ed25519_verifies_per_second()
    equivalent = fastest * rate
    shape = (f"{entries:,} entries, {report.epoch + 1} key epochs ({size / 2**20:.1f} MiB, "
             f"{report.checkpoints} checkpoints)")
    return [
        BenchResult(
            name=f"audit log walk (`AuditLog.verify`), {shape}",
            value=fastest, unit="s", peer="libsodium Ed25519 verify", peer_value=rate, peer_unit="verifies/s",
            ratio=equivalent / entries,
            ratio_meaning=f"cost per entry in raw Ed25519 verifies; the whole log costs {equivalent:,.0f}",
            goal=f"under {GOAL_SECONDS:g} s for 100,000 entries", met=fastest < GOAL_SECONDS * entries / 100_000,
        ),
        BenchResult(
            name=f"`ots audit verify` command (new process, keychain, walk, signed review entry), {shape}",
            value=command, unit="s", peer="the walk alone, same run", peer_value=fastest, peer_unit="s",
            ratio=command / fastest, ratio_meaning="process start, keychain and the review append on top of the walk",
        ),
    ]
