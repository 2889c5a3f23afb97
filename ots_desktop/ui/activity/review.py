"""Reviews of the audit log, each one recorded in the log itself, as ``ots audit`` does.

Plain functions (no Qt) that the Activity page runs on a worker thread, one at a time.
A lookup and an export are recorded before they happen; a verification after it ran.
On a log that does not verify nothing can be recorded, and the review still happens
(that is when it is needed most), with the failure to record reported beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ots_desktop.core.audit.events import AuditEvent, EventType, Outcome, Reason
from ots_desktop.core.audit.export import FORMATS, export_log, manifest_path
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.audit.verify import VerifyReport
from ots_desktop.core.errors import AuditError, InputError
from ots_desktop.core.secret import SecretBuffer


@dataclass(frozen=True)
class VerifyResult:
    """A verification and, when it could not be recorded, why."""

    report: VerifyReport
    not_recorded: str | None = None


@dataclass(frozen=True)
class ExportResult:
    """Where an export and its signed manifest went."""

    path: Path
    manifest: Path
    entries: int
    intact: bool = True
    not_recorded: str | None = None


def record_review(log: AuditLog, reason: Reason, outcome: Outcome = Outcome.OK) -> None:
    """Append one ``audit_reviewed`` entry."""
    log.append(AuditEvent(EventType.AUDIT_REVIEWED, outcome=outcome, reason=reason))


def verify_log(log: AuditLog) -> VerifyResult:
    """Walk the whole log, then record the check with its outcome."""
    report = log.verify()
    try:
        record_review(log, Reason.VERIFY_INTACT if report.ok else Reason.VERIFY_TAMPERED,
                      Outcome.OK if report.ok else Outcome.ALERT)
    except AuditError as exc:
        return VerifyResult(report, exc.message)
    return VerifyResult(report)


def export_format_for(path: Path, fmt: str | None = None) -> str:
    """The export format: ``fmt`` when given, else the file's suffix (.csv or .jsonl)."""
    chosen = (fmt or path.suffix.lstrip(".")).lower()
    if chosen not in FORMATS:
        raise InputError(f"cannot tell the export format of {path.name}: name it .csv or .jsonl")
    return chosen


def export_to(log: AuditLog, path: Path, fmt: str) -> ExportResult:
    """Record the export, then write the file and its signed manifest."""
    if path.is_dir():
        raise InputError(f"{path} is a folder; choose a file name for the export")
    if not path.parent.is_dir():
        raise InputError(f"the folder {path.parent} does not exist")
    try:
        log.append(AuditEvent(EventType.AUDIT_EXPORTED, reason=Reason.EXPORT, kind=fmt))
        not_recorded = None
    except AuditError as exc:
        # A log that does not verify can still be exported for investigation; its manifest says so.
        not_recorded = exc.message
    manifest = export_log(log, fmt, path)
    return ExportResult(path=path, manifest=manifest_path(path), entries=int(manifest["entries"]),
                        intact=bool(manifest["verified_intact"]), not_recorded=not_recorded)


def lookup_secret(log: AuditLog, secret: SecretBuffer) -> list[dict[str, Any]]:
    """Record the lookup, then the entries whose fingerprint matches ``secret``, oldest first."""
    if not len(secret):
        raise InputError("paste the secret to look up first")
    try:
        record_review(log, Reason.LOOKUP)
    except AuditError:
        if log.problem is None:
            raise
    return log.lookup(secret)
