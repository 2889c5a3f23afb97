"""Verify a log file on any machine, with only the file and the public key."""

from __future__ import annotations

import json
from pathlib import Path

from ots_desktop.core.audit.checkpoint import Checkpoint
from ots_desktop.core.audit.export import check_manifest, manifest_path, read_jsonl_export
from ots_desktop.core.audit.store import AuditStore, is_sqlite_file
from ots_desktop.core.audit.verify import VerifyReport, verify_rows
from ots_desktop.core.errors import AuditError, InputError


def read_public_key(path: Path) -> tuple[bytes, str | None]:
    """The Ed25519 public key (and log id, when known) from ``ots audit pubkey --out`` or a hex file."""
    try:
        text = path.read_text("utf-8").strip()
    except OSError as exc:
        raise InputError(f"cannot read the public key file {path}: {exc.strerror}") from None
    log_id: str | None = None
    if text.startswith("{"):
        try:
            doc = json.loads(text)
            text = str(doc["public_key"])
            log_id = str(doc["log_id"]) if doc.get("log_id") else None
        except (ValueError, KeyError, TypeError):
            raise InputError(f"{path} is not an ots public key file") from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise InputError(f"{path} does not hold a hex Ed25519 public key") from None
    if len(key) != 32:
        raise InputError(f"{path} does not hold a 32-byte Ed25519 public key")
    return key, log_id


def verify_file(log_path: Path, verify_key: bytes, *, log_id: str | None = None,
                anchor: Checkpoint | None = None) -> VerifyReport:
    """Verify an audit database or a JSONL export against ``verify_key``.

    For an export with a manifest beside it, the manifest's signature and digest are
    checked as well; a CSV export is checked through its manifest only.
    """
    if not log_path.exists():
        raise InputError(f"{log_path} does not exist")
    if is_sqlite_file(log_path):
        store = AuditStore(log_path, read_only=True)
        try:
            stored_id = store.meta().get("log_id")
            return verify_rows(store.rows(), store.checkpoints(), verify_key,
                               log_id=log_id or stored_id, anchor=anchor)
        finally:
            store.close()
    has_manifest = manifest_path(log_path).exists()
    if has_manifest:
        problem = check_manifest(log_path, verify_key)
        if problem is not None:
            return VerifyReport(ok=False, entries=0, checkpoints=0, head="", key_id="",
                                first_bad_seq=1, problem=problem)
    if log_path.suffix.lower() == ".csv":
        if not has_manifest:
            raise InputError("a CSV export can only be verified with its .manifest.json beside it")
        manifest = json.loads(manifest_path(log_path).read_text("utf-8"))
        return VerifyReport(ok=True, entries=int(manifest["entries"]), checkpoints=1,
                            head=str(manifest["head"]), key_id=str(manifest["key_id"]))
    header, rows, cps = read_jsonl_export(log_path)
    if not header:
        raise AuditError(f"{log_path} is neither an audit database nor a JSONL export")
    return verify_rows(rows, cps, verify_key, log_id=log_id or header.get("log_id"), anchor=anchor)
