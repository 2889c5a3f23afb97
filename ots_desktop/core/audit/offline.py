"""Verify a log file on any machine, with only the file and the root key or its fingerprint.

The trust root is what the auditor got from the user out of band: the key file of
``ots audit pubkey --out``, the root key in hex, or the fingerprint read aloud. A
re-initialised log has another root key, so its first entry (or its fingerprint) gives it
away however consistent the rest of the file is. Exports are verified by walking their
entries again and by their signed manifest, whose ``verified_intact`` must be true.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from ots_desktop.core.audit.checkpoint import Checkpoint
from ots_desktop.core.audit.export import manifest_problem, read_csv_export, read_jsonl_export, read_manifest
from ots_desktop.core.audit.keys import fingerprint, normalize_fingerprint
from ots_desktop.core.audit.store import AuditStore, Row, is_sqlite_file
from ots_desktop.core.audit.verify import VerifyReport, tampered, verify_rows
from ots_desktop.core.errors import AuditError, AuditTamperedError, InputError


@dataclass(frozen=True)
class TrustRoot:
    """What the verifier trusts: a root key, or only its fingerprint (and the log id when known)."""

    public_key: bytes | None = None
    fingerprint: str | None = None
    log_id: str | None = None


def _parse_key_text(text: str, source: str) -> TrustRoot:
    fp = normalize_fingerprint(text)
    if fp is not None:
        return TrustRoot(fingerprint=fp)
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise InputError(f"{source} is neither a root key fingerprint nor a hex Ed25519 public key") from None
    if len(key) != 32:
        raise InputError(f"{source} does not hold a 32-byte Ed25519 public key")
    return TrustRoot(public_key=key)


def read_trust(spec: str) -> TrustRoot:
    """The trust root from ``--pubkey``: a key file, a file holding hex or a fingerprint, or the fingerprint itself."""
    path = Path(spec).expanduser()
    if not path.is_file():
        if normalize_fingerprint(spec) is None and (path.suffix or "/" in spec):
            raise InputError(f"the public key file {spec} does not exist; give the key file of `ots audit pubkey "
                             "--out`, or the root key's fingerprint")
        return _parse_key_text(spec.strip(), "--pubkey")
    try:
        text = path.read_text("utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the public key file {path}: {exc}") from None
    if not text.startswith("{"):
        return _parse_key_text(text, str(path))
    try:
        doc = json.loads(text)
        root = _parse_key_text(str(doc["public_key"]), str(path))
        return replace(root, log_id=str(doc["log_id"]) if doc.get("log_id") else None)
    except (ValueError, KeyError, TypeError):
        raise InputError(f"{path} is not an ots public key file") from None


def _root_of(rows: list[Row]) -> tuple[bytes, str] | None:
    if not rows:
        return None
    try:
        first = json.loads(rows[0][1])
        return bytes.fromhex(str(first["public_key"])), str(first["log_id"])
    except (ValueError, KeyError, TypeError):
        return None


def verify_rows_against(rows: list[Row], cps: list[Checkpoint], trust: TrustRoot) -> VerifyReport:
    """Walk ``rows`` from the trust root: the root key is given, or taken from entry 1 and matched by fingerprint."""
    found = _root_of(rows)
    if found is None:
        return tampered(1, "the log has no first entry naming its root key: it was emptied or re-initialised")
    root, log_id = found
    if trust.public_key is not None:
        root = trust.public_key
    elif trust.fingerprint is not None and fingerprint(root) != trust.fingerprint:
        return tampered(1, f"the log's root key has fingerprint {fingerprint(root)}, not {trust.fingerprint}: it was "
                           "re-initialised or belongs to another installation")
    return verify_rows(rows, cps, root, trust.log_id or log_id)


def verify_file(log_path: Path, trust: TrustRoot) -> VerifyReport:
    """Verify an audit database, or a JSONL or CSV export with its signed manifest, against ``trust``."""
    if not log_path.exists():
        raise InputError(f"{log_path} does not exist")
    if is_sqlite_file(log_path):
        store = AuditStore(log_path, read_only=True)
        try:
            try:
                cps = store.checkpoints()
            except AuditTamperedError as exc:
                return tampered(exc.seq or 1, exc.message)
            return verify_rows_against(list(store.rows()), cps, trust)
        finally:
            store.close()
    manifest = read_manifest(log_path)
    if log_path.suffix.lower() == ".csv" or manifest.get("export_format") == "csv":
        rows, cps = read_csv_export(log_path, manifest)
    else:
        header, rows, cps = read_jsonl_export(log_path)
        if not header:
            raise AuditError(f"{log_path} is neither an audit database nor an export")
    report = verify_rows_against(rows, cps, trust)
    if not report.ok:
        return report
    problem = manifest_problem(log_path, manifest, report)
    if problem is not None:
        return tampered(report.entries, problem, entries=report.entries, log_id=report.log_id)
    return report
