"""Audit forwarding: what it adds to a share, and whether one collector keeps up with 1,000 entries a second.

A share's cost to the audit log is its appends (``share_created`` before anything leaves the
machine, ``share_delivered`` at the end). One log, in a temporary OTS_HOME with its keys in the
OS keychain, appends those two entries per trial, in turn with no forwarder, with a forwarder to
a real rsyslogd over TLS (up), and with one to a port where nothing listens (down); the medians
are compared in the same run. Then 1,000 entries a second (batches of 100 every 100 ms) go to
the rsyslogd for ``seconds``, sampling the backlog (spooled plus not yet spooled) after each
batch: it must stay flat, and drain once the load stops.
"""

from __future__ import annotations

import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ots_desktop.core.audit.events import AuditEvent, Channel, EventType
from ots_desktop.core.audit.forward_spool import ForwardSpool
from ots_desktop.core.audit.forward_targets import parse_syslog_url
from ots_desktop.core.audit.keystore import KeychainStore, scope_for
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.paths import app_paths
from ots_desktop.forwarding.forwarder import Forwarder
from ots_desktop.forwarding.syslog_sender import SyslogSender
from tests.benchmarks.harness import BenchResult
from tests.support.rsyslog import free_port, start_rsyslog
from tests.support.tls import make_pki

GOAL_ADDED_S = 0.005
RATE = 1000
BATCH = 100


def _share(n: int, event: EventType) -> AuditEvent:
    return AuditEvent(event, channel=Channel.LINK, label=f"bench secret {n}", share_id=f"{n:022d}",
                      fingerprint="blake3:" + f"{n:032x}", recipient="bench", max_views=1)


def _forwarder(root: Path, name: str, log: AuditLog, url: str, ca: Path) -> Forwarder:
    sender = SyslogSender(parse_syslog_url(url), hostname=socket.gethostname(), ca_file=ca)
    forwarder = Forwarder(root / f"{name}-spool.sqlite3", log.store.path, [sender], retry_max_s=60)
    forwarder.attach(log)
    log.listeners.remove(forwarder)
    return forwarder


def _backlog(spool: ForwardSpool, log: AuditLog) -> int:
    head = log.store.head()
    mark = spool.marks("syslog", log.log_id)[0]
    return spool.backlog("syslog") + ((head[0] if head else 0) - mark)


def run(trials: int = 200, seconds: float = 10.0) -> list[BenchResult]:
    """Shares with forwarding off, up and down, interleaved; then the sustained rate."""
    if shutil.which("rsyslogd") is None and not Path("/usr/sbin/rsyslogd").exists():
        print("bench_audit_forward: rsyslogd is not installed (see .ci/system-deps.sh); skipped", file=sys.stderr)
        return []
    with tempfile.TemporaryDirectory(prefix="ots-bench-forward-") as tmp:
        root = Path(tmp)
        pki = make_pki(root / "pki")
        collector = start_rsyslog(root / "rsyslog", pki=pki)
        paths = app_paths({"OTS_HOME": str(root / "home")})
        log = AuditLog.open(paths, KeychainStore(scope_for(paths.data_dir)), app_version="bench")
        try:
            up = _forwarder(root, "up", log, collector.url, pki.ca_cert)
            down = _forwarder(root, "down", log, f"tls://127.0.0.1:{free_port()}", pki.ca_cert)
            times: dict[str, list[float]] = {"off": [], "up": [], "down": []}
            for n in range(trials):
                mode = ("off", "up", "down")[n % 3]
                log.listeners[:] = {"off": [], "up": [up], "down": [down]}[mode]
                started = time.perf_counter()
                log.append(_share(n, EventType.SHARE_CREATED))
                log.append(_share(n, EventType.SHARE_DELIVERED))
                times[mode].append(time.perf_counter() - started)
                if mode == "up":
                    up.flush(10)  # delivered before the next trial, not timed
            log.listeners[:] = [up]
            sustained = _sustained(root, log, up, seconds)
            down.close()
            up.close()
        finally:
            log.close()
            collector.stop()
    off, on, dead = (statistics.median(times[m]) for m in ("off", "up", "down"))
    rate, peak, final, drain = sustained
    return [
        BenchResult(
            name="a share's audit appends (share_created + share_delivered), forwarding to rsyslogd over TLS "
                 f"(median of {len(times['up'])})",
            value=on * 1000, unit="ms", peer="forwarding off, same run", peer_value=off * 1000, peer_unit="ms",
            ratio=on / off, ratio_meaning=f"on / off; added {1000 * (on - off):.2f} ms",
            goal="adds < 5 ms", met=on - off < GOAL_ADDED_S,
            notes=f"Collector down (nothing listening), same run: {dead * 1000:.2f} ms, "
                  f"{1000 * (dead - off):+.2f} ms against off. Medians of {len(times['off'])} trials per mode, "
                  "interleaved; each append is an fsynced SQLite commit and a keychain write.",
        ),
        BenchResult(
            name=f"sustained forwarding to one rsyslogd over TLS ({RATE:,} entries/s offered for {seconds:g} s, "
                 f"batches of {BATCH})",
            value=rate, unit="entries/s", peer="largest backlog while loaded", peer_value=peak,
            peer_unit="entries", ratio=peak / BATCH, ratio_meaning="largest backlog in batches (flat: no growth)",
            goal=f"{RATE:,} entries/s without a growing backlog",
            met=rate >= RATE * 0.95 and final <= 2 * BATCH,
            notes=f"Backlog after the last batch: {final} entries, drained {drain * 1000:.0f} ms later.",
        ),
    ]


def _sustained(root: Path, log: AuditLog, forwarder: Forwarder, seconds: float) -> tuple[float, int, int, float]:
    spool = ForwardSpool(forwarder.spool_path)
    samples: list[int] = []
    n, started = 0, time.perf_counter()
    try:
        while time.perf_counter() - started < seconds:
            due = started + (n // BATCH + 1) * BATCH / RATE
            with log.batch():
                for _ in range(BATCH):
                    log.append(_share(n, EventType.SHARE_CREATED))
                    n += 1
            samples.append(_backlog(spool, log))
            time.sleep(max(0.0, due - time.perf_counter()))
        elapsed = time.perf_counter() - started
        final = _backlog(spool, log)
        stopped = time.perf_counter()
        while _backlog(spool, log) and time.perf_counter() - stopped < 60:
            time.sleep(0.01)
        drain = time.perf_counter() - stopped
    finally:
        spool.close()
    return n / elapsed, max(samples[len(samples) // 10:] or [0]), final, drain


if __name__ == "__main__":
    from tests.benchmarks.harness import render

    print(render(run(), "python -m tests.benchmarks.bench_audit_forward"))
