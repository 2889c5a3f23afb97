"""``ots audit``: review, verify, export and search the local audit log; rotate its key, reset it, move its keys."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from ots_desktop.cli.audit_admin import keystore_command, reset, rotate
from ots_desktop.cli.audit_forward import forward
from ots_desktop.cli.context import audit_log, prompt_secret
from ots_desktop.cli.output import emit_json, say, warn
from ots_desktop.cli.state import cli_state, handle_errors
from ots_desktop.core import private_files
from ots_desktop.core.audit.crosscheck import cross_check, read_collected, rows_of
from ots_desktop.core.audit.events import EventType, Reason
from ots_desktop.core.audit.export import FORMATS
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.audit.offline import read_trust, verify_file
from ots_desktop.core.audit.review import export_to, lookup_secret, record_review, verify_log
from ots_desktop.core.audit.store import Row
from ots_desktop.core.audit.verify import VerifyReport
from ots_desktop.core.errors import ExitCode, InputError
from ots_desktop.core.secret import SecretBuffer

MAX_LOOKUP = 10 * 1024 * 1024
_LIST_COLUMNS = ("seq", "ts_utc", "event_type", "outcome", "channel", "label", "share_id", "reason")

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of text.")


def _review(log: AuditLog, reason: Reason) -> None:
    """Record a review; on a log that does not verify it still happens, unrecorded, and says so."""
    _note(record_review(log, reason))


def _note(not_recorded: str | None) -> None:
    if not_recorded:
        warn(f"ots: note: this review could not be recorded: {not_recorded}")


@click.group()
def audit() -> None:
    """Review the local, signed audit log (works offline)."""


audit.add_command(reset)
audit.add_command(rotate)
audit.add_command(keystore_command)
audit.add_command(forward)


@audit.command("list")
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=50, show_default=True,
              help="Show at most this many entries, newest first.")
@click.option("--type", "event_type", type=click.Choice([e.value for e in EventType]), help="Only this event type.")
@click.option("--search", help="Only entries with this text in any field.")
@json_option
@handle_errors()
def list_entries(limit: int, event_type: str | None, search: str | None, as_json: bool) -> None:
    """List recent audit entries (also on a log that does not verify, to investigate it)."""
    with audit_log(cli_state(), usable=False) as log:
        _review(log, Reason.LIST)
        rows = log.entries(event_type=event_type, text=search, limit=limit, newest_first=True)
    if as_json:
        for row in rows:
            emit_json(row)
        return
    if not rows:
        say("No entries match.")
        return
    for row in rows:
        say("  ".join(str(row.get(col, "-")) for col in _LIST_COLUMNS))


def _report_json(report: VerifyReport, source: str) -> dict[str, Any]:
    return {"event": "verified", "intact": report.ok, "unverifiable": report.unverifiable,
            "entries": report.entries, "checkpoints": report.checkpoints, "head": report.head,
            "key_id": report.key_id, "epoch": report.epoch, "fingerprint": report.fingerprint,
            "first_bad_seq": report.first_bad_seq, "problem": report.problem,
            "anchored_to_keychain": report.anchored, "source": source}


def exit_code_of(report: VerifyReport) -> int:
    """0 intact, 3 tampered, 8 cannot be verified."""
    if report.ok:
        return int(ExitCode.OK)
    return int(ExitCode.CANNOT_VERIFY if report.unverifiable else ExitCode.TAMPERED)


@audit.command()
@click.option("--log", "log_file", type=click.Path(path_type=Path, dir_okay=False),
              help="Verify this audit database, or a JSONL or CSV export (with its manifest), instead of the local "
                   "log. Needs --pubkey; no keychain is used.")
@click.option("--pubkey", "pubkey", metavar="FINGERPRINT|FILE",
              help="The root key's fingerprint (from `ots audit pubkey`), or the key file of `ots audit pubkey --out`.")
@click.option("--checkpoints", "collected", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Also check the log against the signed checkpoints a collector received (its syslog file or "
                   "JSON events, one a line): a log rewritten, rolled back or cut after forwarding fails.")
@json_option
@handle_errors()
def verify(log_file: Path | None, pubkey: str | None, collected: Path | None, as_json: bool) -> None:
    """Check the hash chain, the key certificates, the signatures and the keychain checkpoint.

    Exits 0 when the log is intact, 3 when it was tampered with (naming the first bad
    entry) and 8 when it cannot be verified at all (no anchor in the keychain).
    """
    if log_file is not None:
        if pubkey is None:
            raise InputError("--log needs --pubkey: the root key's fingerprint or key file, obtained from the "
                             "log's owner out of band")
        if not log_file.exists():
            raise InputError(f"{log_file} does not exist")
        report = verify_file(log_file, read_trust(pubkey))
        source = str(log_file)
        if collected is not None and report.ok:
            report = _against_collector(rows_of(log_file), report, collected, snapshot=True)
    else:
        if pubkey is not None:
            raise InputError("--pubkey is only used with --log")
        with audit_log(cli_state(), usable=False, check=False) as log:
            result = verify_log(log)
            report, source = result.report, str(log.store.path)
            if collected is not None and report.ok:
                report = _against_collector(log.store.rows(), report, collected)
            if report.ok:
                _note(result.not_recorded)
    if as_json:
        emit_json(_report_json(report, source))
    else:
        say("Audit log " + report.summary())
        if not report.ok:
            warn("ots: nothing is shared or received while the log does not verify; docs/audit-log.md (Recovery) "
                 "says what to do.")
    code = exit_code_of(report)
    if code:
        raise SystemExit(code)


def _against_collector(rows: Iterable[Row], report: VerifyReport, collected: Path, *,
                       snapshot: bool = False) -> VerifyReport:
    """``report`` (intact), unless the collector's checkpoints say the log changed after they were forwarded."""
    found = cross_check(rows, report, read_collected(collected), snapshot=snapshot)
    if found.ok:
        warn(f"ots: matches the collector's {found.checked} signed checkpoints of this log (up to entry "
             f"{found.latest_seq})")
        if found.beyond:
            warn(f"ots: note: the collector holds {found.beyond} later checkpoints, after this copy's last entry: "
                 "a newer export covers them")
        return report
    return replace(report, ok=False, first_bad_seq=found.first_bad_seq, problem=found.problem)


@audit.command()
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True, help="Export format.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True, help="File to write.")
@json_option
@handle_errors()
def export(fmt: str, out: Path, as_json: bool) -> None:
    """Export the log with a signed manifest (OUT.manifest.json) beside it."""
    with audit_log(cli_state(), usable=False) as log:
        result = export_to(log, out, fmt)
    _note(result.not_recorded)
    if as_json:
        emit_json({"event": "exported", "file": str(out), "manifest": str(result.manifest),
                   "entries": result.entries, "sha256": result.sha256, "verified_intact": result.intact})
    else:
        say(f"Exported {result.entries} entries to {out}")
        say(f"Signed manifest: {result.manifest}")
        if not result.intact:
            warn("ots: the log did not verify; the manifest says so, and the export will not verify as intact")


@audit.command()
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Write the key file here.")
@json_option
@handle_errors()
def pubkey(out: Path | None, as_json: bool) -> None:
    """Print or save the root public key and its fingerprint, which verify this log elsewhere."""
    with audit_log(cli_state(), usable=False) as log:
        _review(log, Reason.PUBKEY)
        record = log.public_key_record()
    if out is not None:
        private_files.write_text(out, record.to_json())
    if as_json:
        emit_json({"event": "pubkey", "log_id": record.log_id, "key_id": record.key_id,
                   "public_key": record.public_key, "fingerprint": record.fingerprint,
                   "file": str(out) if out else None})
        return
    say(f"Fingerprint: {record.fingerprint}")
    say("Give it to your auditor on paper or read it aloud; `ots audit verify --log FILE --pubkey FINGERPRINT` "
        "checks an export or a copy of the log against it.")
    if out is not None:
        say(f"Public key {record.key_id} written to {out}")
    else:
        say(record.to_json().rstrip())


def _read_candidate(file: Path | None) -> SecretBuffer:
    if file is not None:
        try:
            with file.open("rb") as stream:
                return SecretBuffer.from_stream(stream, MAX_LOOKUP)
        except OSError as exc:
            raise InputError(f"cannot read {file}: {exc.strerror}") from None
    if sys.stdin.isatty():
        return prompt_secret("Secret to look up (not shown): ")
    return SecretBuffer.from_stream(sys.stdin.buffer, MAX_LOOKUP)


@audit.command()
@click.option("--file", "file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Read the candidate secret from this file instead of stdin.")
@json_option
@handle_errors()
def lookup(file: Path | None, as_json: bool) -> None:
    """Was this secret ever shared or received? Reads it from stdin, never from arguments."""
    with _read_candidate(file) as candidate:
        if not len(candidate):
            raise InputError("no secret was given on stdin")
        with audit_log(cli_state(), usable=False) as log:
            result = lookup_secret(log, candidate)
    _note(result.not_recorded)
    rows = result.entries
    if as_json:
        emit_json({"event": "lookup", "matches": len(rows)})
        for row in rows:
            emit_json(row)
    elif not rows:
        say("No event in this log involves that secret.")
    else:
        say(f"{len(rows)} event(s) involve that secret:")
        for row in rows:
            say("  ".join(str(row.get(col, "-")) for col in _LIST_COLUMNS))
