"""The worker that forwards audit entries: fed by each append, off the share's path.

The audit log tells the forwarder of each commit (:meth:`Forwarder.committed`, which only
queues the checkpoint and wakes the thread). The thread then reads the new entries from its
own read-only connection to the log, spools them beyond each destination's mark, and sends
the spool in order. A failed send leaves everything spooled and is tried again after a
backoff (1 s doubling to ``audit_forward_retry_max_s``); while a collector is down, appends
cost it nothing but the queueing. Each process's first pass (the app's start, every ``ots``
command) sends whatever an earlier one left behind.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ots_desktop.core.audit.checkpoint import Checkpoint
from ots_desktop.core.audit.forward_format import Outgoing
from ots_desktop.core.audit.forward_spool import ForwardSpool, SpooledItem
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.audit.store import AuditStore
from ots_desktop.core.errors import OtsError
from ots_desktop.forwarding.syslog_sender import SendError

BATCH = 500
READ_CHUNK = 2000
LEASE_S = 30.0
EXIT_GRACE_S = 3.0
IDLE_POLL_S = 30.0
_log = logging.getLogger(__name__)


class Sender(Protocol):
    """A destination: ``send`` delivers in order or raises SendError."""

    name: str
    url: str

    def open(self) -> None: ...

    def send(self, items: Sequence[Outgoing]) -> None: ...

    def close(self) -> None: ...


@dataclass
class Delivery:
    """What this process sent to one destination so far, and its last error."""

    dest: str
    url: str
    entries: int = 0
    checkpoints: int = 0
    first_seq: int = 0
    last_seq: int = 0
    error: str = ""
    skipped: str = ""


class Forwarder:
    """Forwards one installation's audit log to its destinations (see the module doc)."""

    def __init__(self, spool_path: Path, audit_path: Path, senders: Sequence[Sender], *,
                 retry_max_s: float = 60.0) -> None:
        self.spool_path = spool_path
        self.audit_path = audit_path
        self.senders = list(senders)
        self.retry_max_s = retry_max_s
        self.owner = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.deliveries = {s.name: Delivery(s.name, s.url) for s in self.senders}
        self._cond = threading.Condition()
        self._checkpoints: list[Checkpoint] = []
        self._log_id = ""
        self._wake = True
        self._force = True
        self._stopping = False
        self._passes = 0
        self._in_pass = False
        self._proven: set[str] = set()  # destinations this process reached
        self._thread: threading.Thread | None = None
        self._spool: ForwardSpool | None = None
        self._store: AuditStore | None = None

    # -- fed by the audit log (AuditLog.listeners) -------------------------------------------

    def committed(self, log_id: str, checkpoint: Checkpoint) -> None:
        """Queue a commit's checkpoint and wake the worker; returns at once."""
        with self._cond:
            self._log_id = log_id
            self._checkpoints.append(checkpoint)
            self._wake = True
            self._cond.notify_all()

    def closed(self) -> None:
        """The log closed: stop (see :meth:`close`)."""
        self.close()

    # -- life ------------------------------------------------------------------------------

    def attach(self, log: AuditLog) -> None:
        """Listen to ``log`` and start the worker; its first pass spools what is missing and sends the backlog."""
        self._log_id = log.log_id
        newest = log.store.checkpoints()[-1:]
        with self._cond:
            self._checkpoints.extend(newest)
        log.listeners.append(self)
        self._thread = threading.Thread(target=self._run, name="ots-audit-forwarding", daemon=True)
        self._thread.start()

    def flush(self, timeout: float) -> dict[str, Delivery]:
        """Send everything now (ignoring the backoff) and wait up to ``timeout`` s for that pass."""
        with self._cond:
            target = self._passes + (2 if self._in_pass else 1)
            self._force = self._wake = True
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._passes >= target or self._thread is None
                                or not self._thread.is_alive(), timeout)
        return self.deliveries

    def healthy(self) -> bool:
        """Whether every destination was reached by this process and none failed since."""
        return all(s.name in self._proven for s in self.senders) and not any(d.error for d in self.deliveries.values())

    def close(self) -> None:
        """Stop the worker: one last pass sends what the last appends added, unless a collector is failing.

        Waits up to EXIT_GRACE_S for it when this process reached every destination and none
        failed since, not at all otherwise: a collector that is down (or does not answer) never
        holds up the exit. What is not
        sent stays in the spool (or in the log beyond the mark) for the next start.
        """
        with self._cond:
            if self._stopping:
                return
            self._stopping = self._wake = True
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(EXIT_GRACE_S if self.healthy() else 0.05)

    # -- the worker ----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._spool = ForwardSpool(self.spool_path)
            self._store = AuditStore(self.audit_path, read_only=True)
        except OtsError as exc:
            _log.warning("audit forwarding is off for this run: %s", exc.message)
            return
        try:
            while True:
                with self._cond:
                    force, self._force, self._wake = self._force, False, False
                    stopping, self._in_pass = self._stopping, True
                self._pass(force=force)
                with self._cond:
                    self._passes += 1
                    self._in_pass = False
                    self._cond.notify_all()
                    if stopping:
                        break
                    self._cond.wait_for(lambda: self._wake, self._idle_wait())
        except Exception:  # noqa: BLE001 - the worker must never take the app down
            _log.exception("audit forwarding stopped")
        finally:
            self._finish()

    def _finish(self) -> None:
        for sender in self.senders:
            sender.close()
        if self._spool is not None:
            for sender in self.senders:
                self._spool.release_lease(sender.name, self.owner)
            self._spool.close()
        if self._store is not None:
            self._store.close()
        with self._cond:
            self._passes += 1
            self._cond.notify_all()

    def _idle_wait(self) -> float:
        assert self._spool is not None
        now, waits = time.time(), [IDLE_POLL_S]
        for sender in self.senders:
            failures, next_attempt = self._spool.failures(sender.name)
            if failures and self._spool.backlog(sender.name):
                waits.append(max(0.05, next_attempt - now))
        return min(waits)

    def _pass(self, *, force: bool) -> None:
        with self._cond:
            checkpoints, self._checkpoints = self._checkpoints, []
            log_id = self._log_id
        self._spool_new(log_id, sorted(checkpoints, key=lambda c: c.seq))
        for sender in self.senders:
            self._send_backlog(sender, force=force)

    def _spool_new(self, log_id: str, checkpoints: list[Checkpoint]) -> None:
        assert self._spool is not None and self._store is not None
        head = self._store.head()
        if head is None or not log_id:
            return
        for sender in self.senders:
            mark, _ = self._spool.marks(sender.name, log_id)
            while mark < head[0]:
                rows = list(itertools.islice(self._store.rows(mark + 1), READ_CHUNK))
                if not rows:
                    break
                self._spool.add(sender.name, log_id, rows, None)
                mark, _ = self._spool.marks(sender.name, log_id)
            for cp in checkpoints:
                if cp.log_id == log_id:
                    self._spool.add(sender.name, log_id, [], cp)

    def _send_backlog(self, sender: Sender, *, force: bool) -> None:
        spool = self._spool
        assert spool is not None
        delivery = self.deliveries[sender.name]
        failures, next_attempt = spool.failures(sender.name)
        if failures and not force and time.time() < next_attempt:
            return
        if not spool.backlog(sender.name):
            if sender.name not in self._proven:
                self._open(sender, delivery, failures)  # connected now, the next entries go out at once
            return
        if not spool.take_lease(sender.name, self.owner, LEASE_S):
            delivery.skipped = "another ots process is sending to this collector right now"
            return
        delivery.skipped = ""
        try:
            while True:
                batch = spool.pending(sender.name, BATCH)
                if not batch:
                    break
                try:
                    sender.send([b.item for b in batch])
                except SendError as exc:
                    self._failed(sender, delivery, failures, exc)
                    return
                spool.delivered(sender.name, sender.url, batch)
                _count(delivery, batch)
                self._proven.add(sender.name)
                failures = 0
                if not spool.take_lease(sender.name, self.owner, LEASE_S):
                    return
        finally:
            spool.release_lease(sender.name, self.owner)


    def _open(self, sender: Sender, delivery: Delivery, failures: int) -> None:
        assert self._spool is not None
        try:
            sender.open()
        except SendError as exc:
            self._failed(sender, delivery, failures, exc)
            return
        self._proven.add(sender.name)

    def _failed(self, sender: Sender, delivery: Delivery, failures: int, exc: SendError) -> None:
        assert self._spool is not None
        delivery.error = str(exc)
        self._proven.discard(sender.name)
        backoff = min(self.retry_max_s, 2.0 ** failures) * random.uniform(0.8, 1.0)  # noqa: S311
        self._spool.failed(sender.name, sender.url, str(exc), backoff)


def _count(delivery: Delivery, batch: Sequence[SpooledItem]) -> None:
    delivery.error = ""
    for spooled in batch:
        item = spooled.item
        if item.kind == "checkpoint":
            delivery.checkpoints += 1
            continue
        delivery.entries += 1
        delivery.first_seq = delivery.first_seq or item.seq
        delivery.last_seq = item.seq
