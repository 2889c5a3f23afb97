"""Continuity: the file under ``OTS_HOME`` must go on from what the keychain holds.

Checked when a log opens (its identity) and inside every append's transaction (the
entries since the keychain's anchor). The keychain's state is the reference because the
attacker of docs/audit-log.md can rewrite the file but not the keychain: a file whose
identity, anchored entry or newer entries do not follow from that state is refused,
never adopted, re-signed or started over.
"""

from __future__ import annotations

import json
from dataclasses import replace

from ots_desktop.core.audit.chain import entry_hash
from ots_desktop.core.audit.keys import public_key_of
from ots_desktop.core.audit.state import LogState
from ots_desktop.core.audit.store import AuditStore
from ots_desktop.core.audit.verify import Position, VerifyFailure, VerifyReport, tampered, verify_rows, walk
from ots_desktop.core.errors import AuditTamperedError

RECOVERY = ("Run `ots audit verify` for details; docs/audit-log.md (Recovery) says how to restore the file or start "
            "a new log with `ots audit reset`.")


def identity_problem(store: AuditStore, state: LogState) -> str | None:
    """Why the file is not the log the keychain holds, or None when its identity matches."""
    meta = store.meta()
    anchored = f"entry {state.anchor.seq}" if state.anchor else "its first entry"
    if "log_id" not in meta:
        return (f"the file has no log identity, but the keychain holds log {state.log_id} up to {anchored}: "
                "its identity was deleted or the file was replaced")
    if meta.get("log_id") != state.log_id or meta.get("root_public_key") != state.root_public_key:
        return (f"the file holds log {meta.get('log_id')}, but the keychain holds log {state.log_id} up to "
                f"{anchored}: the file was replaced or re-initialised")
    return None


def check_since_anchor(store: AuditStore, state: LogState) -> Position:
    """Check everything after the keychain's anchor; returns where the log ends. Raises VerifyFailure.

    The anchored entry is re-hashed from its stored body, every newer entry must chain on
    and carry valid key certificates, and the newest one must be covered by a checkpoint
    signed with its epoch's key. Older entries were checked when the log opened.
    """
    if store.replaced():
        raise VerifyFailure(0, f"the file {store.path} was replaced or moved while the log was open")
    anchor = state.anchor
    root = state.root
    if anchor is None:
        pos = Position.start(state.log_id, root)
        start = 1
    else:
        key = state.public_key if anchor.epoch == state.epoch else None
        if key is None:
            raise VerifyFailure(anchor.seq, f"the keychain's anchor is in key epoch {anchor.epoch}, but its key is "
                                            f"for epoch {state.epoch}")
        head = store.head()
        if head is None or head[0] < anchor.seq:
            last = head[0] if head else 0
            raise VerifyFailure(last + 1, f"the keychain's checkpoint is at entry {anchor.seq} but the log ends at "
                                          f"entry {last}: the log was truncated or rolled back")
        first = next(store.rows(anchor.seq))
        if first[3] != anchor.head or entry_hash(first[2], first[1]) != anchor.head:
            raise VerifyFailure(anchor.seq, f"the log differs from the keychain's checkpoint at entry {anchor.seq}: "
                                            "it was rolled back or rewritten")
        pos = Position(anchor.seq, anchor.head, anchor.epoch, key, {anchor.epoch: key})
        start = anchor.seq + 1
    cps = store.checkpoints(start)
    walk(store.rows(start), {cp.seq: cp for cp in cps}, state.log_id, root, pos)
    newest = cps[-1].seq if cps else (anchor.seq if anchor else 0)
    if pos.seq > newest:
        raise VerifyFailure(newest + 1, f"entries {newest + 1} to {pos.seq} are not covered by a signed checkpoint: "
                                        "they were added outside the app")
    if cps and cps[-1].seq > pos.seq:
        raise VerifyFailure(pos.seq + 1, f"the log ends at entry {pos.seq} but a signed checkpoint covers entry "
                                         f"{cps[-1].seq}: entries were removed")
    return pos


def settle_rotation(state: LogState, pos: Position) -> LogState:
    """The state that matches the epoch the log reached: finishes or drops an interrupted key rotation."""
    if pos.epoch == state.epoch:
        return replace(state, pending=None) if state.pending else state
    pending = state.pending
    if pending is not None and pos.epoch == pending.epoch and public_key_of(bytes.fromhex(pending.seed)) == pos.key:
        return replace(state, epoch=pending.epoch, seed=pending.seed, day=pending.day, pending=None)
    raise VerifyFailure(pos.seq, f"the log moved to key epoch {pos.epoch} with a key the keychain never held: "
                                 "its certificate was forged with a stolen key")


def verify_against_state(store: AuditStore, state: LogState) -> VerifyReport:
    """The whole file walked from the keychain's root key and anchor, ending on the key the keychain holds."""
    problem = identity_problem(store, state)
    if problem:
        return tampered(1, problem, log_id=state.log_id)
    if store.replaced():
        return tampered(1, f"the file {store.path} was replaced or moved while the log was open", log_id=state.log_id)
    try:
        cps = store.checkpoints()
    except AuditTamperedError as exc:
        return tampered(exc.seq or 1, exc.message, log_id=state.log_id)
    report = verify_rows(store.rows(), cps, state.root, state.log_id, anchor=state.anchor)
    if not report.ok or report.epoch_keys[-1] == state.public_key.hex():
        return report
    pending = state.pending
    if pending is not None and report.epoch == pending.epoch and \
            report.epoch_keys[-1] == public_key_of(bytes.fromhex(pending.seed)).hex():
        return report  # a rotation whose keychain write is still to come
    rows = store.bodies("json_extract(body, '$.event_type') = 'key_rotated' AND json_extract(body, '$.epoch') = ?",
                        [report.epoch])
    seq = int(json.loads(rows[0])["seq"]) if rows else report.entries
    return tampered(seq, f"the log moved to key epoch {report.epoch} at entry {seq} with a key the keychain never "
                         f"held (it holds epoch {state.epoch}): a stolen key certified it",
                    log_id=state.log_id, entries=report.entries)
