"""Exports of the audit log (CSV or JSONL) with a signed manifest, and reading them back.

The JSONL export carries everything needed to verify the chain elsewhere: a header
line with the public key, one line per entry (its fields, previous hash and hash)
and one line per checkpoint. The manifest beside any export names the file's
SHA-256, the entry range and the head, and is signed with the log's key.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from ots_desktop.core.audit.chain import canonical_json
from ots_desktop.core.audit.checkpoint import Checkpoint, key_id_of
from ots_desktop.core.audit.events import FIELDS
from ots_desktop.core.audit.log import AuditLog, utc_now
from ots_desktop.core.audit.store import Row
from ots_desktop.core.errors import AuditError, InputError

FORMATS = ("csv", "jsonl")
_MANIFEST_DOMAIN = b"ots-desktop audit export manifest v1\n"


def manifest_path(export: Path) -> Path:
    """Where the manifest of ``export`` lives."""
    return export.with_name(export.name + ".manifest.json")


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _jsonl(log: AuditLog, rows: list[Row], cps: list[Checkpoint]) -> str:
    lines = [canonical_json({"type": "log", "format": "ots-audit-export", "version": 1, "log_id": log.log_id,
                             "key_id": log.key_id, "public_key": log.public_key.hex()})]
    for seq, body, prev, digest in rows:
        lines.append(canonical_json({"type": "entry", "seq": seq, "entry": json.loads(body),
                                     "prev_hash": prev, "entry_hash": digest}))
    for cp in cps:
        lines.append(canonical_json({"type": "checkpoint", "checkpoint": json.loads(cp.to_json())}))
    return "\n".join(lines) + "\n"


def _csv(rows: list[Row]) -> str:
    out = io.StringIO()
    columns = [*FIELDS, "prev_hash", "entry_hash"]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for _seq, body, prev, digest in rows:
        entry = json.loads(body)
        writer.writerow([*(_csv_cell(entry.get(name)) for name in FIELDS), prev, digest])
    return out.getvalue()


def _csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # Spreadsheet apps run cells that start with these as formulas.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


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
        "format": "ots-audit-export-manifest", "version": 1, "file": out.name, "export_format": fmt,
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "entries": len(rows),
        "first_seq": rows[0][0] if rows else 0, "last_seq": rows[-1][0] if rows else 0,
        "head": rows[-1][3] if rows else "", "log_id": log.log_id, "key_id": log.key_id,
        "public_key": log.public_key.hex(), "verified_intact": report.ok, "exported_at": utc_now(),
        "checkpoint": json.loads(cps[-1].to_json()) if cps else None,
    }
    manifest["signature"] = log.sign(_MANIFEST_DOMAIN + canonical_json(manifest).encode("ascii"))
    try:
        _write_private(manifest_path(out), json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    except OSError as exc:
        raise AuditError(f"cannot write the manifest {manifest_path(out)}: {exc.strerror}") from None
    return manifest


def check_manifest(export: Path, verify_key: bytes) -> str | None:
    """Why the manifest beside ``export`` fails, or None when it is signed and matches the file."""
    path = manifest_path(export)
    try:
        manifest = json.loads(path.read_text("utf-8"))
        signature = bytes.fromhex(manifest.pop("signature"))
    except (OSError, ValueError, KeyError, AttributeError):
        return f"the manifest {path.name} is missing or unreadable"
    try:
        VerifyKey(verify_key).verify(_MANIFEST_DOMAIN + canonical_json(manifest).encode("ascii"), signature)
    except (BadSignatureError, ValueError):
        return f"the manifest {path.name} is not signed by key {key_id_of(verify_key)}"
    if hashlib.sha256(export.read_bytes()).hexdigest() != manifest.get("sha256"):
        return f"{export.name} does not match the SHA-256 in its signed manifest"
    return None


def read_jsonl_export(path: Path) -> tuple[dict[str, Any], Iterator[Row], list[Checkpoint]]:
    """The header, entry rows and checkpoints of a JSONL export, for :func:`verify_rows`."""
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
                    cps.append(Checkpoint.from_json(canonical_json(item["checkpoint"])))
                else:
                    raise ValueError(f"line {number} has an unknown type")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise AuditError(f"cannot read the export {path}: {exc}") from None
    return header, iter(rows), cps
