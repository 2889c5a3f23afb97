"""``ots audit``: review, verify, export and search the local audit log."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ots_desktop.cli.context import audit_log, prompt_secret
from ots_desktop.cli.output import emit_json, say, warn
from ots_desktop.cli.state import cli_state, handle_errors
from ots_desktop.core.audit.events import AuditEvent, EventType, Outcome, Reason
from ots_desktop.core.audit.export import FORMATS, export_log, manifest_path
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.audit.offline import read_public_key, verify_file
from ots_desktop.core.audit.verify import VerifyReport
from ots_desktop.core.errors import AuditError, ExitCode, InputError
from ots_desktop.core.secret import SecretBuffer, without_final_newline

MAX_LOOKUP = 10 * 1024 * 1024
_LIST_COLUMNS = ("seq", "ts_utc", "event_type", "outcome", "channel", "label", "share_id", "reason")

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of text.")


def _review(log: AuditLog, reason: Reason, outcome: Outcome = Outcome.OK) -> None:
    log.append(AuditEvent(EventType.AUDIT_REVIEWED, outcome=outcome, reason=reason))


@click.group()
def audit() -> None:
    """Review the local, signed audit log (works offline)."""


@audit.command("list")
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=50, show_default=True,
              help="Show at most this many entries, newest first.")
@click.option("--type", "event_type", type=click.Choice([e.value for e in EventType]), help="Only this event type.")
@click.option("--search", help="Only entries with this text in any field.")
@json_option
@handle_errors()
def list_entries(limit: int, event_type: str | None, search: str | None, as_json: bool) -> None:
    """List recent audit entries."""
    with audit_log(cli_state()) as log:
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
    return {"event": "verified", "intact": report.ok, "entries": report.entries, "checkpoints": report.checkpoints,
            "head": report.head, "key_id": report.key_id, "first_bad_seq": report.first_bad_seq,
            "problem": report.problem, "anchored_to_keychain": report.anchored, "source": source}


@audit.command()
@click.option("--log", "log_file", type=click.Path(path_type=Path, dir_okay=False),
              help="Verify this audit database or JSONL export instead of the local log (no keychain needed).")
@click.option("--pubkey", "pubkey_file", type=click.Path(path_type=Path, dir_okay=False),
              help="Public key file from `ots audit pubkey --out`, required with --log.")
@json_option
@handle_errors()
def verify(log_file: Path | None, pubkey_file: Path | None, as_json: bool) -> None:
    """Check the hash chain, the signatures and the keychain checkpoint.

    Exits 0 when the log is intact and 3 when it was tampered with, naming the first
    bad entry.
    """
    if log_file is not None:
        if pubkey_file is None:
            raise InputError("--log needs --pubkey: the public key of the log's signing key")
        key, log_id = read_public_key(pubkey_file)
        report = verify_file(log_file, key, log_id=log_id)
        source = str(log_file)
    else:
        if pubkey_file is not None:
            raise InputError("--pubkey is only used with --log")
        with audit_log(cli_state()) as log:
            report = log.verify()
            source = str(log.store.path)
            try:
                _review(log, Reason.VERIFY_INTACT if report.ok else Reason.VERIFY_TAMPERED,
                        Outcome.OK if report.ok else Outcome.ALERT)
            except AuditError as exc:
                warn(f"ots: note: this check could not be recorded: {exc.message}")
    if as_json:
        emit_json(_report_json(report, source))
    else:
        say("Audit log " + report.summary())
    if not report.ok:
        raise SystemExit(int(ExitCode.TAMPERED))


@audit.command()
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True, help="Export format.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True, help="File to write.")
@json_option
@handle_errors()
def export(fmt: str, out: Path, as_json: bool) -> None:
    """Export the log with a signed manifest (OUT.manifest.json) beside it."""
    with audit_log(cli_state()) as log:
        log.append(AuditEvent(EventType.AUDIT_EXPORTED, reason=Reason.EXPORT, kind=fmt))
        manifest = export_log(log, fmt, out)
    if as_json:
        emit_json({"event": "exported", "file": str(out), "manifest": str(manifest_path(out)),
                   "entries": manifest["entries"], "sha256": manifest["sha256"]})
    else:
        say(f"Exported {manifest['entries']} entries to {out}")
        say(f"Signed manifest: {manifest_path(out)}")


@audit.command()
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Write the key file here.")
@json_option
@handle_errors()
def pubkey(out: Path | None, as_json: bool) -> None:
    """Print or save the public key that verifies this log elsewhere."""
    with audit_log(cli_state()) as log:
        _review(log, Reason.PUBKEY)
        record = log.public_key_record()
    if out is not None:
        out.write_text(record.to_json(), encoding="utf-8")
    if as_json:
        emit_json({"event": "pubkey", "log_id": record.log_id, "key_id": record.key_id,
                   "public_key": record.public_key, "file": str(out) if out else None})
    elif out is not None:
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
    with _read_candidate(file) as candidate, audit_log(cli_state()) as log:
        if not len(candidate):
            raise InputError("no secret was given on stdin")
        _review(log, Reason.LOOKUP)
        matches = {row["seq"]: row for row in log.lookup(candidate)}
        # `echo secret | ots audit lookup` adds a newline the original did not have.
        view = candidate.view()
        with without_final_newline(SecretBuffer(view)) as trimmed:
            if 0 < len(trimmed) < len(candidate):
                matches.update({row["seq"]: row for row in log.lookup(trimmed)})
        view.release()
    rows = [matches[k] for k in sorted(matches)]
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
