"""Offline verification of an audit log.

Works from the rows, the stored checkpoints and the public key alone, so an auditor
can run it on another machine. With the keychain's latest checkpoint as an anchor
it also catches a truncated or rolled-back file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ots_desktop.core.audit.chain import GENESIS, entry_hash
from ots_desktop.core.audit.checkpoint import Checkpoint, key_id_of
from ots_desktop.core.audit.store import Row


@dataclass(frozen=True)
class VerifyReport:
    """The result of a verification. ``first_bad_seq`` names the first bad entry."""

    ok: bool
    entries: int
    checkpoints: int
    head: str
    key_id: str
    first_bad_seq: int | None = None
    problem: str | None = None
    anchored: bool = False

    def summary(self) -> str:
        """One line for people."""
        if self.ok:
            anchor = ", matches the keychain checkpoint" if self.anchored else ""
            return (f"intact: {_count(self.entries, 'entry', 'entries')}, "
                    f"{_count(self.checkpoints, 'signed checkpoint', 'signed checkpoints')}, key {self.key_id}{anchor}")
        return f"TAMPERED at entry {self.first_bad_seq}: {self.problem}"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


class _Failure(Exception):
    def __init__(self, seq: int, problem: str) -> None:
        super().__init__(problem)
        self.seq = seq
        self.problem = problem


def _check_checkpoint(cp: Checkpoint, verify_key: bytes, key_id: str, log_id: str | None) -> None:
    if cp.key_id != key_id:
        raise _Failure(cp.seq, f"the checkpoint at entry {cp.seq} names key {cp.key_id}, not {key_id}")
    if log_id is not None and cp.log_id != log_id:
        raise _Failure(cp.seq, f"the checkpoint at entry {cp.seq} belongs to another log")
    if not cp.is_valid(verify_key):
        raise _Failure(cp.seq, f"the signature of the checkpoint at entry {cp.seq} does not verify")


def _walk(rows: Iterable[Row], by_seq: dict[int, Checkpoint], want_heads: set[int],
          check: Callable[[Checkpoint], None]) -> tuple[int, str, dict[int, str]]:
    head = GENESIS
    expected = 1
    heads: dict[int, str] = {}
    for seq, body, prev, stored in rows:
        if seq != expected:
            missing = expected if seq > expected else seq
            raise _Failure(missing, f"entry {missing} is missing, duplicated or out of order")
        try:
            parsed = json.loads(body)
        except ValueError:
            raise _Failure(seq, f"entry {seq} is not valid JSON: it was altered") from None
        if not isinstance(parsed, dict) or parsed.get("seq") != seq:
            raise _Failure(seq, f"entry {seq} carries another sequence number: entries were moved")
        if prev != head:
            raise _Failure(seq, f"entry {seq} does not follow entry {seq - 1}: an entry was inserted or removed")
        digest = entry_hash(head, body)
        if digest != stored:
            raise _Failure(seq, f"entry {seq} was altered: its content does not match its hash")
        head = digest
        cp = by_seq.get(seq)
        if cp is not None:
            check(cp)
            if cp.head != head:
                raise _Failure(seq, f"the chain at entry {seq} does not match the signed checkpoint")
        if seq in want_heads:
            heads[seq] = head
        expected += 1
    return expected - 1, head, heads


def verify_rows(rows: Iterable[Row], checkpoints: Iterable[Checkpoint], verify_key: bytes, *,
                log_id: str | None = None, anchor: Checkpoint | None = None) -> VerifyReport:
    """Verify a whole log. Nothing is trusted but ``verify_key`` (and ``anchor``, itself verified)."""
    key_id = key_id_of(verify_key)
    cps = sorted(checkpoints, key=lambda c: c.seq)
    by_seq = {cp.seq: cp for cp in cps}
    want = {anchor.seq} if anchor is not None else set()

    def check(cp: Checkpoint) -> None:
        _check_checkpoint(cp, verify_key, key_id, log_id)

    last = 0
    head = GENESIS
    try:
        last, head, heads = _walk(rows, by_seq, want, check)
        beyond = [cp for cp in cps if cp.seq > last]
        if beyond:
            raise _Failure(last + 1, f"the log ends at entry {last} but a signed checkpoint covers entry "
                                     f"{beyond[-1].seq}: entries were removed")
        if last and not cps:
            raise _Failure(1, "the log has no signed checkpoint")
        if cps and cps[-1].seq < last:
            raise _Failure(cps[-1].seq + 1, f"entries {cps[-1].seq + 1} to {last} are not covered by a signed "
                                            "checkpoint: they were added outside the app")
        if anchor is not None:
            check(anchor)
            if anchor.seq > last:
                raise _Failure(last + 1, f"the keychain's checkpoint is at entry {anchor.seq} but the log ends at "
                                         f"entry {last}: the log was truncated or rolled back")
            if anchor.seq and heads.get(anchor.seq) != anchor.head:
                raise _Failure(anchor.seq, f"the log differs from the keychain's checkpoint at entry {anchor.seq}: "
                                           "it was rolled back or rewritten")
    except _Failure as failure:
        return VerifyReport(ok=False, entries=last, checkpoints=len(cps), head=head, key_id=key_id,
                            first_bad_seq=failure.seq, problem=failure.problem, anchored=anchor is not None)
    return VerifyReport(ok=True, entries=last, checkpoints=len(cps), head=head, key_id=key_id,
                        anchored=anchor is not None)
