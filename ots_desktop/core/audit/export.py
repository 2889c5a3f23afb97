"""Exports of the audit log (CSV or JSONL) with a signed manifest, and reading them back.

Both formats carry every entry with its previous hash and hash, so either one can be
walked again elsewhere: the JSONL export holds the entries and checkpoints as lines, the
CSV export holds one row per entry (cells escaped for spreadsheets, reversibly) and its
checkpoints sit in the manifest. The manifest names the file's SHA-256, the entry range,
the head, the root key and whether the log verified when it was exported, and is signed
with the current epoch's key, which the entries' key certificates tie to the root.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

from ots_desktop.core import private_files
from ots_desktop.core.audit.chain import canonical_json
from ots_desktop.core.audit.checkpoint import Checkpoint, signature_ok
from ots_desktop.core.audit.events import FIELDS
from ots_desktop.core.audit.keys import fingerprint
from ots_desktop.core.audit.lifecycle import utc_now
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.audit.store import Row
from ots_desktop.core.audit.verify import VerifyReport
from ots_desktop.core.errors import AuditError, AuditUnverifiableError, InputError

FORMATS = ("csv", "jsonl")
_MANIFEST_DOMAIN = b"ots-desktop audit export manifest v2\n"
_CSV_COLUMNS = [*FIELDS, "prev_hash", "entry_hash"]
# Spreadsheet apps run cells that start with these as formulas; a quote in front disarms them.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def manifest_path(export: Path) -> Path:
    """Where the manifest of ``export`` lives."""
    return export.with_name(export.name + ".manifest.json")


def _write_private(path: Path, text: str) -> None:
    private_files.write_text(path, text)


def _jsonl(log: AuditLog, rows: list[Row], cps: list[Checkpoint]) -> str:
    lines = [canonical_json({"type": "log", "format": "ots-audit-export", "version": 2, "log_id": log.log_id,
                             "root_public_key": log.public_key.hex()})]
    for seq, body, prev, digest in rows:
        lines.append(canonical_json({"type": "entry", "seq": seq, "entry": json.loads(body),
                                     "prev_hash": prev, "entry_hash": digest}))
    for cp in cps:
        lines.append(canonical_json({"type": "checkpoint", "checkpoint": json.loads(cp.to_json())}))
    return "\n".join(lines) + "\n"


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv(rows: list[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_CSV_COLUMNS)
    for _seq, body, prev, digest in rows:
        entry = json.loads(body)
        writer.writerow([*(_csv_cell(entry.get(name)) for name in FIELDS), prev, digest])
    return out.getvalue()


def export_log(log: AuditLog, fmt: str, out: Path) -> dict[str, Any]:
    """Write the export and its signed manifest; returns the manifest."""
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}; use csv or jsonl")
    report = log.verify()
    rows = list(log.store.rows())
    cps = log.store.checkpoints()
    text = _jsonl(log, rows, cps) if fmt == "jsonl" else _csv(rows)
    try:
        _write_private(out, text)
    except OSError as exc:
        raise AuditError(f"cannot write the export {out}: {exc.strerror}") from None
    manifest: dict[str, Any] = {
        "format": "ots-audit-export-manifest", "version": 2, "file": out.name, "export_format": fmt,
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "entries": len(rows),
        "first_seq": rows[0][0] if rows else 0, "last_seq": rows[-1][0] if rows else 0,
        "head": rows[-1][3] if rows else "", "log_id": log.log_id, "root_public_key": log.public_key.hex(),
        "fingerprint": fingerprint(log.public_key), "verified_intact": report.ok, "problem": report.problem,
        "exported_at": utc_now(), "checkpoints": [json.loads(cp.to_json()) for cp in cps],
    }
    manifest["epoch"], manifest["key_id"] = log.current_key()
    manifest["signature"] = log.sign(_MANIFEST_DOMAIN + canonical_json(manifest).encode("ascii"))[2]
    try:
        _write_private(manifest_path(out), json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    except OSError as exc:
        raise AuditError(f"cannot write the manifest {manifest_path(out)}: {exc.strerror}") from None
    return manifest


def read_manifest(export: Path) -> dict[str, Any]:
    """The manifest beside ``export``; raises AuditUnverifiableError when it is missing or unreadable."""
    path = manifest_path(export)
    try:
        manifest = json.loads(path.read_text("utf-8"))
        if not isinstance(manifest, dict) or manifest.get("format") != "ots-audit-export-manifest":
            raise ValueError("not a manifest")
    except (OSError, ValueError) as exc:
        raise AuditUnverifiableError(f"the manifest {path.name} is missing or unreadable ({exc}): an export is "
                                     "verified with its signed manifest beside it") from None
    return manifest


def manifest_problem(export: Path, manifest: dict[str, Any], report: VerifyReport) -> str | None:
    """Why the signed manifest does not vouch for ``export`` as walked in ``report``, or None."""
    body = dict(manifest)
    signature = str(body.pop("signature", ""))
    epoch = body.get("epoch")
    if not isinstance(epoch, int) or epoch != report.epoch or epoch >= len(report.epoch_keys):
        return f"the manifest is signed in key epoch {epoch}, not by the log's newest key (epoch {report.epoch})"
    key = bytes.fromhex(report.epoch_keys[epoch])
    if not signature_ok(key, _MANIFEST_DOMAIN + canonical_json(body).encode("ascii"), signature):
        return f"the manifest {manifest_path(export).name} is not signed by the log's key of epoch {epoch}"
    if hashlib.sha256(export.read_bytes()).hexdigest() != body.get("sha256"):
        return f"{export.name} does not match the SHA-256 in its signed manifest"
    if (body.get("log_id"), body.get("last_seq"), body.get("head")) != (report.log_id, report.entries, report.head):
        return "the signed manifest names another log, entry range or head than the file holds"
    if body.get("verified_intact") is not True:
        return f"the log already failed verification when it was exported: {body.get('problem')}"
    return None


def read_jsonl_export(path: Path) -> tuple[dict[str, Any], list[Row], list[Checkpoint]]:
    """The header, entry rows and checkpoints of a JSONL export."""
    header: dict[str, Any] = {}
    rows: list[Row] = []
    cps: list[Checkpoint] = []
    try:
        with path.open("r", encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                item = json.loads(line)
                kind = item.get("type")
                if kind == "log":
                    header = item
                elif kind == "entry":
                    rows.append((int(item["seq"]), canonical_json(item["entry"]),
                                 str(item["prev_hash"]), str(item["entry_hash"])))
                elif kind == "checkpoint":
                    cps.append(Checkpoint.from_dict(item["checkpoint"]))
                else:
                    raise ValueError(f"line {number} has an unknown type")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise AuditError(f"cannot read the export {path}: {exc}") from None
    return header, rows, cps


def _csv_value(name: str, cell: str) -> Any:
    if FIELDS[name] == (int,):
        return int(cell)
    return cell[1:] if cell.startswith("'") else cell


def read_csv_export(path: Path, manifest: dict[str, Any]) -> tuple[list[Row], list[Checkpoint]]:
    """The entry rows of a CSV export (bodies rebuilt exactly) and the manifest's checkpoints."""
    rows: list[Row] = []
    try:
        with path.open("r", encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            if next(reader, None) != _CSV_COLUMNS:
                raise ValueError("the header row is not an ots audit export's")
            for line in reader:
                if len(line) != len(_CSV_COLUMNS):
                    raise ValueError(f"row {reader.line_num} has {len(line)} cells")
                cells = dict(zip(_CSV_COLUMNS, line, strict=True))
                entry = {name: _csv_value(name, cells[name]) for name in FIELDS if cells[name] != ""}
                rows.append((int(entry.get("seq", 0)), canonical_json(entry), cells["prev_hash"],
                             cells["entry_hash"]))
        cps = [Checkpoint.from_dict(item) for item in manifest.get("checkpoints") or []]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AuditError(f"cannot read the export {path}: {exc}") from None
    return rows, cps
