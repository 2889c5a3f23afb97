"""Wormhole shares in progress, so that one which died with its process still gets an ending in the audit log.

A share is on record (``share_created``) before anything is sent, and its ending
(delivered, failed, cancelled) is recorded by the process that runs it. When that process
is killed, crashes or loses power, no ending is ever written. So each running share leaves a
marker file naming its process; the next start of the app (or of an ``ots`` command) finds
markers whose process is gone and records ``share_failed`` with reason ``interrupted``.

What a marker says is not trusted: an attacker who can write ``OTS_HOME`` could plant one.
Only a share id that the audit log holds as created, with no ending yet, is closed, and
every field of the new entry comes from the log's own ``share_created`` entry.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ots_desktop.core import private_files
from ots_desktop.core.audit.events import AuditEvent, Channel, EventType, Outcome, Reason
from ots_desktop.core.audit.log import AuditLog

FOLDER = "in-flight"
_SHARE_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
# Entries that end a share: after one of these nothing is left to close.
_ENDINGS = {EventType.SHARE_DELIVERED, EventType.SHARE_FAILED, EventType.SHARE_REVEALED, EventType.SHARE_EXPIRED,
            EventType.SHARE_REVOKED, EventType.ALERT}
_COPIED = ("channel", "label", "recipient", "kind", "size_bytes", "fingerprint")


def _process_start(pid: int) -> str | None:
    """When ``pid`` started (clock ticks since boot, from /proc), to tell it from a later process with its pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]  # field 22; the name in parentheses may hold spaces


def _alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process holds the pid: not ours, but we cannot tell; leave it
    except OSError:
        return False
    return started is None or _process_start(pid) == started


class InFlight:
    """The markers of one installation (a 0700 folder next to its audit log)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def of(cls, log: AuditLog) -> InFlight:
        """The markers beside ``log``'s file."""
        return cls(log.store.path.parent / FOLDER)

    def _marker(self, share_id: str) -> Path:
        if not _SHARE_ID.match(share_id):
            raise ValueError("not a share id")
        return self.folder / share_id

    def begin(self, share_id: str) -> None:
        """This process now runs ``share_id``."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        pid = os.getpid()
        body = json.dumps({"pid": pid, "started": _process_start(pid)}).encode()
        private_files.write_bytes(self._marker(share_id), body, sync=False)

    def end(self, share_id: str) -> None:
        """``share_id`` has ended here (its ending is on record, or it never started)."""
        with contextlib.suppress(OSError, ValueError):
            self._marker(share_id).unlink()

    @contextlib.contextmanager
    def running(self, share_id: str) -> Iterator[None]:
        """Marks ``share_id`` as running for the length of the block (an OSError here never stops a share)."""
        with contextlib.suppress(OSError):
            self.begin(share_id)
        try:
            yield
        finally:
            self.end(share_id)

    def orphans(self) -> list[str]:
        """Share ids whose process is gone."""
        found = []
        try:
            names = sorted(p.name for p in self.folder.iterdir())
        except OSError:
            return []
        for name in names:
            if not _SHARE_ID.match(name):
                continue
            try:
                marker = json.loads((self.folder / name).read_bytes())
                pid, started = int(marker["pid"]), marker.get("started")
            except (OSError, ValueError, KeyError, TypeError):
                found.append(name)  # unreadable: its process cannot be told; the log decides below
                continue
            if not _alive(pid, started if isinstance(started, str) else None):
                found.append(name)
        return found


def _created_and_open(log: AuditLog, share_id: str) -> dict[str, Any] | None:
    """The ``share_created`` entry of ``share_id`` if the log holds it and no ending after it."""
    rows = [e for e in log.entries(text=share_id) if e.get("share_id") == share_id]
    created = [e for e in rows if e.get("event_type") == EventType.SHARE_CREATED]
    ended = [e for e in rows if e.get("event_type") in _ENDINGS]
    if len(created) != 1 or ended or created[0].get("channel") != Channel.WORMHOLE:
        return None
    return created[0]


def close_interrupted(log: AuditLog, inflight: InFlight | None = None) -> list[str]:
    """Record ``share_failed`` (``interrupted``) for each share whose process died; their ids.

    Appends, so the caller must hold a usable log (its ``require_usable`` passed).
    """
    markers = inflight or InFlight.of(log)
    closed = []
    for share_id in markers.orphans():
        created = _created_and_open(log, share_id)
        if created is not None:
            values = {k: created[k] for k in _COPIED if created.get(k) is not None}
            values["channel"] = Channel(values["channel"])
            log.append(AuditEvent(EventType.SHARE_FAILED, outcome=Outcome.FAILED, reason=Reason.INTERRUPTED,
                                  share_id=share_id, **values))
            closed.append(share_id)
        markers.end(share_id)
    return closed
