"""Checking a log against the signed checkpoints a collector received (``ots audit verify --checkpoints``).

Forwarding sends every checkpoint to the organisation's collector as it is signed, so the
collector holds anchors the laptop cannot take back. Given the log (or an export) that
verified on its own, each collected checkpoint of that log must:

- be signed by the key of its epoch, which the log's key certificates reach (else the log was
  rolled back or truncated to before that epoch, or the collected copy is not genuine);
- name an entry the log still has (else entries were removed after it was forwarded); for a copy
  or an export, which ends where it was taken, later checkpoints are counted (``beyond``) instead:
  the auditor asks for a newer export that reaches them;
- sign the very hash the log has at that entry (else the log was rewritten after it was forwarded).

The collected file may be what rsyslog wrote (the checkpoint's JSON is the message), the
HTTP collector's JSON events, or bare checkpoint JSON, one a line; other lines are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ots_desktop.core.audit.checkpoint import Checkpoint
from ots_desktop.core.audit.export import read_csv_export, read_jsonl_export, read_manifest
from ots_desktop.core.audit.store import AuditStore, Row, is_sqlite_file
from ots_desktop.core.audit.verify import VerifyReport
from ots_desktop.core.errors import InputError

_CHECKPOINT_KEYS = frozenset({"log_id", "seq", "head", "ts_utc", "key_id", "epoch", "signature"})
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class CrossCheck:
    """The result: how many collected checkpoints of this log matched, and the first problem."""

    checked: int
    other_logs: int
    latest_seq: int
    problem: str | None = None
    first_bad_seq: int | None = None
    beyond: int = 0

    @property
    def ok(self) -> bool:
        return self.problem is None


def _checkpoint_in(value: object) -> Checkpoint | None:
    if isinstance(value, dict):
        if _CHECKPOINT_KEYS <= value.keys():
            try:
                return Checkpoint.from_dict(value)
            except ValueError:
                return None
        for key in ("event", "checkpoint"):
            found = _checkpoint_in(value.get(key))
            if found is not None:
                return found
    return None


def read_collected(path: Path) -> list[Checkpoint]:
    """Every checkpoint found in a collector's file, in file order."""
    try:
        lines = path.read_text("utf-8", "replace").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read the collector's checkpoints {path}: {exc.strerror}") from None
    found = []
    for line in lines:
        start = line.find("{")
        while start != -1:
            try:
                value, end = _DECODER.raw_decode(line, start)
            except ValueError:
                start = line.find("{", start + 1)
                continue
            if not line[end:].strip():
                checkpoint = _checkpoint_in(value)
                if checkpoint is not None:
                    found.append(checkpoint)
                break
            start = line.find("{", start + 1)
    return found


def rows_of(path: Path) -> list[Row]:
    """The entries of an audit database or an export (as ``ots audit verify --log`` reads them)."""
    if is_sqlite_file(path):
        store = AuditStore(path, read_only=True)
        try:
            return list(store.rows())
        finally:
            store.close()
    manifest = read_manifest(path)
    if path.suffix.lower() == ".csv" or manifest.get("export_format") == "csv":
        return read_csv_export(path, manifest)[0]
    return read_jsonl_export(path)[1]


def cross_check(rows: Iterable[Row], report: VerifyReport, collected: list[Checkpoint], *,
                snapshot: bool = False) -> CrossCheck:
    """Compare a log that verified (``report``) with the checkpoints a collector received.

    ``snapshot``: the log is a copy or an export, taken at some point; checkpoints after its end
    are counted, not refused.
    """
    mine = [cp for cp in collected if cp.log_id == report.log_id]
    beyond = [cp for cp in mine if cp.seq > report.entries] if snapshot else []
    mine = [cp for cp in mine if cp not in beyond]
    others = len(collected) - len(mine)
    if not mine and beyond:
        return CrossCheck(0, others, 0, f"all {len(beyond)} checkpoints of this log the collector holds are after "
                          f"this copy's last entry ({report.entries}): it was taken before they were forwarded, or "
                          "cut; ask for a newer export", report.entries + 1, len(beyond))
    if not mine:
        return CrossCheck(0, others, 0, f"none of the {len(collected)} checkpoints from the collector belong to log "
                                        f"{report.log_id}: wrong file, or nothing of this log was forwarded")
    keys = [bytes.fromhex(k) for k in report.epoch_keys]
    for cp in sorted(mine, key=lambda c: c.seq):
        if cp.epoch >= len(keys):
            return CrossCheck(0, others, cp.seq, f"the collector holds a checkpoint at entry {cp.seq} signed in key "
                              f"epoch {cp.epoch}, which this log does not reach: it was rolled back or truncated",
                              cp.seq)
        if not cp.is_valid(keys[cp.epoch]):
            return CrossCheck(0, others, cp.seq, f"the collector's checkpoint at entry {cp.seq} is not signed by this "
                              "log's key: the collected copy is not genuine", cp.seq)
        if cp.seq > report.entries:
            return CrossCheck(0, others, cp.seq, f"the collector holds a signed checkpoint at entry {cp.seq} but the "
                              f"log ends at entry {report.entries}: entries were removed after they were forwarded",
                              report.entries + 1)
    wanted = {cp.seq: cp for cp in mine}
    for seq, _body, _prev, digest in rows:
        signed = wanted.get(seq)
        if signed is not None and signed.head != digest:
            return CrossCheck(0, others, seq, f"the log differs at entry {seq} from the checkpoint the collector "
                              f"received ({signed.ts_utc}): it was rewritten after it was forwarded", seq)
    return CrossCheck(len(mine), others, max(wanted), beyond=len(beyond))
