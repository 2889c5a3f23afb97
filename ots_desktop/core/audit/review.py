"""Reviews of the audit log, each one recorded in the log itself: the one flow `ots audit` and the app share.

A lookup and an export are recorded before they happen; a verification after it ran
(only when intact: nothing is signed on top of a log that does not verify). On a log
that does not verify nothing can be recorded, and the review still happens (that is
when it is needed most), with the failure to record reported beside it.
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
from ots_desktop.core.secret import SecretBuffer, without_final_newline


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
    sha256: str = ""
    intact: bool = True
    not_recorded: str | None = None


@dataclass(frozen=True)
class LookupResult:
    """The entries whose fingerprint matches a candidate secret, oldest first."""

    entries: list[dict[str, Any]]
    not_recorded: str | None = None


def record_review(log: AuditLog, reason: Reason, outcome: Outcome = Outcome.OK) -> str | None:
    """Append one ``audit_reviewed`` entry; returns why it could not be recorded, or None."""
    return _record(log, AuditEvent(EventType.AUDIT_REVIEWED, outcome=outcome, reason=reason))


def _record(log: AuditLog, event: AuditEvent) -> str | None:
    try:
        log.append(event)
    except AuditError as exc:
        if log.problem is None:
            raise  # the log verifies but cannot be written: a review must not go unrecorded then
        return exc.message
    return None


def verify_log(log: AuditLog) -> VerifyResult:
    """Walk the whole log, then record the check when it passed."""
    report = log.verify()
    if not report.ok:
        return VerifyResult(report, "nothing is recorded in a log that does not verify")
    return VerifyResult(report, record_review(log, Reason.VERIFY_INTACT))


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
    # A log that does not verify can still be exported for investigation; its manifest says so.
    not_recorded = _record(log, AuditEvent(EventType.AUDIT_EXPORTED, reason=Reason.EXPORT, kind=fmt))
    manifest = export_log(log, fmt, path)
    return ExportResult(path=path, manifest=manifest_path(path), entries=int(manifest["entries"]),
                        sha256=str(manifest["sha256"]), intact=bool(manifest["verified_intact"]),
                        not_recorded=not_recorded)


def lookup_secret(log: AuditLog, secret: SecretBuffer) -> LookupResult:
    """Record the lookup, then the entries whose fingerprint matches ``secret``.

    A candidate that ends in one newline is also tried without it: ``echo secret | ots
    audit lookup`` and a pasted line add one the original did not have.
    """
    if not len(secret):
        raise InputError("paste the secret to look up first")
    not_recorded = record_review(log, Reason.LOOKUP)
    matches = {row["seq"]: row for row in log.lookup(secret)}
    view = secret.view()
    try:
        with without_final_newline(SecretBuffer(view)) as trimmed:
            if 0 < len(trimmed) < len(secret):
                matches.update({row["seq"]: row for row in log.lookup(trimmed)})
    finally:
        view.release()
    return LookupResult([matches[k] for k in sorted(matches)], not_recorded)
