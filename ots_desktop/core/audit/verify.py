"""Verification of an audit log: pure functions over rows and checkpoints, no keychain needed.

Nothing is trusted but the root public key (given, or checked against its fingerprint)
and, on the user's machine, the keychain's anchor. A walk checks, entry by entry:

- the chain: ``seq`` numbers without gaps, each ``prev_hash`` the hash before it, each
  stored hash the hash of its body, and entry 1 chained to the genesis of this log id
  and root key;
- the structure: entry 1 is the only ``log_created``; every ``key_rotated`` certificate
  is signed by the previous epoch's key;
- the signatures: every stored checkpoint names this log, the epoch of its entry and
  that epoch's key, signs the head at its seq, and verifies.

:func:`walk` can also start from a trusted position (the keychain's anchor), which
is how every append re-checks only what was added since.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ots_desktop.core.audit.chain import entry_hash, genesis
from ots_desktop.core.audit.checkpoint import Checkpoint, key_id_of
from ots_desktop.core.audit.keys import KeyCertificate, fingerprint
from ots_desktop.core.audit.store import Row


@dataclass(frozen=True)
class VerifyReport:
    """The result of a verification. ``first_bad_seq`` names the first bad entry.

    ``unverifiable`` means the log could not be checked at all (no anchor in the
    keychain, no identity in the file): never intact, and reported apart from tampering.
    """

    ok: bool
    entries: int
    checkpoints: int
    head: str
    key_id: str
    first_bad_seq: int | None = None
    problem: str | None = None
    anchored: bool = False
    unverifiable: bool = False
    epoch: int = 0
    fingerprint: str = ""
    log_id: str = ""
    epoch_keys: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line for people."""
        if self.ok:
            anchor = ", matches the keychain checkpoint" if self.anchored else ""
            return (f"intact: {_count(self.entries, 'entry', 'entries')}, "
                    f"{_count(self.checkpoints, 'signed checkpoint', 'signed checkpoints')}, "
                    f"key epoch {self.epoch} ({self.key_id}), root {self.fingerprint}{anchor}")
        if self.unverifiable:
            return f"CANNOT BE VERIFIED: {self.problem}"
        return f"TAMPERED at entry {self.first_bad_seq}: {self.problem}"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


class VerifyFailure(Exception):
    """A check failed at ``seq``."""

    def __init__(self, seq: int, problem: str) -> None:
        super().__init__(problem)
        self.seq = seq
        self.problem = problem


@dataclass
class Position:
    """Where a walk stands: the last trusted entry, its hash, and the epoch key in force there."""

    seq: int
    head: str
    epoch: int
    key: bytes
    epoch_keys: dict[int, bytes] = field(default_factory=dict)

    @classmethod
    def start(cls, log_id: str, root: bytes) -> Position:
        """Before entry 1."""
        return cls(0, genesis(log_id, root), 0, root, {0: root})


def check_checkpoint(cp: Checkpoint, log_id: str, epoch: int, key: bytes) -> None:
    """Raise VerifyFailure unless ``cp`` is this log's, of this epoch, and signed by ``key``."""
    if cp.log_id != log_id:
        raise VerifyFailure(cp.seq, f"the checkpoint at entry {cp.seq} belongs to another log ({cp.log_id})")
    if cp.epoch != epoch or cp.key_id != key_id_of(key):
        raise VerifyFailure(cp.seq, f"the checkpoint at entry {cp.seq} names key epoch {cp.epoch} ({cp.key_id}), "
                                    f"but entry {cp.seq} is in epoch {epoch} ({key_id_of(key)})")
    if not cp.is_valid(key):
        raise VerifyFailure(cp.seq, f"the signature of the checkpoint at entry {cp.seq} does not verify")


def _structure(seq: int, parsed: dict[str, object], prev: str, log_id: str, root: bytes, pos: Position) -> None:
    event = parsed.get("event_type")
    if seq == 1:
        if event != "log_created" or parsed.get("log_id") != log_id or parsed.get("public_key") != root.hex():
            raise VerifyFailure(1, "entry 1 does not create this log with this root key: the log was re-initialised "
                                   "or belongs to another key")
    elif event == "log_created":
        raise VerifyFailure(seq, f"entry {seq} claims to start a new log; only entry 1 may: a log was spliced in")
    if event == "key_rotated":
        epoch, public_key = parsed.get("epoch"), parsed.get("public_key")
        if not isinstance(epoch, int) or epoch != pos.epoch + 1 or not isinstance(public_key, str):
            raise VerifyFailure(seq, f"entry {seq} rotates to key epoch {epoch}, but epoch {pos.epoch} is in force")
        cert = KeyCertificate(log_id, epoch, public_key, seq, prev, str(parsed.get("signature", "")))
        if not cert.is_valid(pos.key):
            raise VerifyFailure(seq, f"the key certificate for epoch {epoch} at entry {seq} is not signed by the key "
                                     f"of epoch {pos.epoch}: the log before it was rewritten")
        try:
            pos.key = bytes.fromhex(public_key)
        except ValueError:
            raise VerifyFailure(seq, f"entry {seq} carries a malformed key") from None
        pos.epoch = epoch
        pos.epoch_keys[epoch] = pos.key


_STRUCTURAL = ('"event_type":"log_created"', '"event_type":"key_rotated"')


def _parse(seq: int, body: str) -> dict[str, object]:
    try:
        parsed = json.loads(body)
    except ValueError:
        raise VerifyFailure(seq, f"entry {seq} is not valid JSON: it was altered") from None
    if not isinstance(parsed, dict):
        raise VerifyFailure(seq, f"entry {seq} is not an object: it was altered")
    return parsed


def walk(rows: Iterable[Row], by_seq: dict[int, Checkpoint], log_id: str, root: bytes, pos: Position) -> Position:
    """Check ``rows`` (which must follow ``pos``), moving ``pos`` along; raises VerifyFailure.

    Bodies are parsed only where it matters (entry 1, log and key entries, or a body
    without its own seq): in canonical JSON a key such as ``"seq":`` cannot occur
    inside a string, and anything else in a body is covered by its hash and a signature.
    """
    for seq, body, prev, stored in rows:
        expected = pos.seq + 1
        if seq != expected:
            missing = expected if seq > expected else seq
            raise VerifyFailure(missing, f"entry {missing} is missing, duplicated or out of order")
        parsed: dict[str, object] | None = None
        if f'"seq":{seq},' not in body:
            parsed = _parse(seq, body)
            if parsed.get("seq") != seq:
                raise VerifyFailure(seq, f"entry {seq} carries another sequence number: entries were moved")
        if prev != pos.head:
            if seq == 1:
                raise VerifyFailure(1, "entry 1 does not create this log with this root key (it does not start from "
                                       "their genesis hash): the log was re-initialised or belongs to another key")
            raise VerifyFailure(seq, f"entry {seq} does not follow entry {seq - 1}: an entry was inserted or removed")
        digest = entry_hash(prev, body)
        if digest != stored:
            _parse(seq, body)
            raise VerifyFailure(seq, f"entry {seq} was altered: its content does not match its hash")
        if seq == 1 or any(marker in body for marker in _STRUCTURAL):
            _structure(seq, parsed if parsed is not None else _parse(seq, body), prev, log_id, root, pos)
        pos.seq, pos.head = seq, digest
        cp = by_seq.get(seq)
        if cp is not None:
            check_checkpoint(cp, log_id, pos.epoch, pos.key)
            if cp.head != digest:
                raise VerifyFailure(seq, f"the chain at entry {seq} does not match the signed checkpoint")
    return pos


def check_anchor(anchor: Checkpoint, log_id: str, heads: dict[int, str], last: int,
                 epoch_keys: dict[int, bytes]) -> None:
    """Raise VerifyFailure unless the walked log reaches and matches the keychain's anchor."""
    key = epoch_keys.get(anchor.epoch)
    if anchor.log_id != log_id:
        raise VerifyFailure(1, f"the keychain's anchor belongs to log {anchor.log_id}, not to this file's log")
    if anchor.seq > last:
        raise VerifyFailure(last + 1, f"the keychain's checkpoint is at entry {anchor.seq} but the log ends at entry "
                                      f"{last}: the log was truncated or rolled back")
    if key is None:
        raise VerifyFailure(anchor.seq, f"the keychain's checkpoint is signed in key epoch {anchor.epoch}, which this "
                                        "log does not reach: it was rolled back")
    check_checkpoint(anchor, log_id, anchor.epoch, key)
    if heads.get(anchor.seq) != anchor.head:
        raise VerifyFailure(anchor.seq, f"the log differs from the keychain's checkpoint at entry {anchor.seq}: it was "
                                        "rolled back or rewritten")


def _coverage(cps: list[Checkpoint], last: int) -> None:
    beyond = [cp for cp in cps if cp.seq > last]
    if beyond:
        raise VerifyFailure(last + 1, f"the log ends at entry {last} but a signed checkpoint covers entry "
                                      f"{beyond[-1].seq}: entries were removed")
    if last and not cps:
        raise VerifyFailure(1, "the log has no signed checkpoint")
    if cps and cps[-1].seq < last:
        raise VerifyFailure(cps[-1].seq + 1, f"entries {cps[-1].seq + 1} to {last} are not covered by a signed "
                                             "checkpoint: they were added outside the app")


def verify_rows(rows: Iterable[Row], checkpoints: Iterable[Checkpoint], root: bytes, log_id: str, *,
                anchor: Checkpoint | None = None) -> VerifyReport:
    """Verify a whole log against its root key and log id (and ``anchor``, when given)."""
    cps = sorted(checkpoints, key=lambda c: c.seq)
    by_seq = {cp.seq: cp for cp in cps}
    pos = Position.start(log_id, root)
    heads: dict[int, str] = {}
    want = anchor.seq if anchor is not None else -1

    def remember(source: Iterable[Row]) -> Iterable[Row]:
        for row in source:
            if row[0] == want:
                heads[want] = row[3]
            yield row

    common: dict[str, Any] = {"checkpoints": len(cps), "fingerprint": fingerprint(root), "log_id": log_id,
                              "anchored": anchor is not None}
    try:
        walk(remember(rows), by_seq, log_id, root, pos)
        _coverage(cps, pos.seq)
        if anchor is not None:
            check_anchor(anchor, log_id, heads, pos.seq, pos.epoch_keys)
    except VerifyFailure as failure:
        return VerifyReport(ok=False, entries=pos.seq, head=pos.head, key_id=key_id_of(pos.key),
                            first_bad_seq=failure.seq, problem=failure.problem, epoch=pos.epoch, **common)
    keys = tuple(pos.epoch_keys[e].hex() for e in sorted(pos.epoch_keys))
    return VerifyReport(ok=True, entries=pos.seq, head=pos.head, key_id=key_id_of(pos.key), epoch=pos.epoch,
                        epoch_keys=keys, **common)


def unverifiable(problem: str, *, entries: int = 0, log_id: str = "") -> VerifyReport:
    """A report for a log that cannot be checked at all."""
    return VerifyReport(ok=False, entries=entries, checkpoints=0, head="", key_id="", problem=problem,
                        unverifiable=True, log_id=log_id)


def tampered(seq: int, problem: str, *, entries: int = 0, log_id: str = "") -> VerifyReport:
    """A report for a log found tampered before any walk (wrong identity, missing anchor target)."""
    return VerifyReport(ok=False, entries=entries, checkpoints=0, head="", key_id="", first_bad_seq=seq,
                        problem=problem, log_id=log_id)
