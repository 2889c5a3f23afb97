"""The local shares file (ids and status tokens, never a secret) and what `status` records once."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from ots_desktop.channels.link_reporting import MAX_BLOCKED_ALERTS, observe
from ots_desktop.channels.relay_client import RevealRecord, ShareStatus
from ots_desktop.core.audit.events import AuditEvent, EventType, Outcome, Reason
from ots_desktop.core.errors import InputError
from ots_desktop.core.paths import app_paths
from ots_desktop.core.shares import SCHEMA_VERSION, Seen, ShareRecord, SharesError, ShareStore

TOKEN = "sTaTuStOkEn-do-not-print_0123456789abcdefghijk"


def record(share_id: str = "A" * 21 + "A", **changes: object) -> ShareRecord:
    values: dict[str, object] = {
        "share_id": share_id, "relay_url": "https://relay.example", "status_token": TOKEN,
        "created_at": "2026-01-01T00:00:00Z", "expires_at": "2026-01-01T01:00:00Z", "max_views": 2,
        "kind": "text", "recipient": "sam", "label": "db password",
    }
    values.update(changes)
    return ShareRecord(**values)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> ShareStore:
    return ShareStore.open(tmp_path / "data" / "shares.sqlite3")


def test_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "shares.sqlite3"
    with ShareStore.open(path) as store:
        store.add(record())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_loose_permissions_are_tightened(tmp_path: Path) -> None:
    path = tmp_path / "shares.sqlite3"
    path.touch(mode=0o644)
    path.chmod(0o644)
    ShareStore.open(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_reserved_path_is_used(tmp_path: Path) -> None:
    paths = app_paths({"OTS_HOME": str(tmp_path)})
    with ShareStore.open(paths.shares_db) as store:
        assert store.path == tmp_path / "data" / "shares.sqlite3"


def test_round_trip_and_list(store: ShareStore) -> None:
    first = record("B" * 22, created_at="2026-01-01T00:00:00Z")
    second = record("C" * 22, created_at="2026-01-02T00:00:00Z", recipient=None, label=None, kind="file")
    store.add(first)
    store.add(second)
    assert store.get(first.share_id) == first
    assert store.get(second.share_id) == second
    assert store.get("D" * 22) is None
    assert [r.share_id for r in store.list()] == [second.share_id, first.share_id]
    assert [r.share_id for r in store.list(limit=1)] == [second.share_id]
    assert store.remove(first.share_id) and not store.remove(first.share_id)


def test_duplicate_id_is_refused(store: ShareStore) -> None:
    store.add(record())
    with pytest.raises(SharesError, match="already recorded"):
        store.add(record())


def test_a_record_needs_its_token(store: ShareStore) -> None:
    with pytest.raises(InputError):
        store.add(record(status_token=""))


def test_seen_marks_persist(store: ShareStore, tmp_path: Path) -> None:
    store.add(record())
    store.mark_seen(record().share_id, Seen(reveals=1, failed=2, blocked=3, state="revealed"))
    store.close()
    with ShareStore.open(tmp_path / "data" / "shares.sqlite3") as again:
        got = again.get(record().share_id)
    assert got is not None and got.seen == Seen(1, 2, 3, "revealed")


def test_token_never_in_repr_or_str() -> None:
    shown = repr(record()) + str(record()) + repr([record()])
    assert TOKEN not in shown and "[redacted]" in shown


def test_no_column_can_hold_a_secret(store: ShareStore) -> None:
    columns = {row[1] for row in store._db.execute("PRAGMA table_info(shares)")}
    assert not {name for name in columns if any(w in name for w in ("key", "secret", "plain", "envelope", "pass"))}


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "shares.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(SharesError, match="newer version"):
        ShareStore.open(path)


def test_unusable_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "shares.sqlite3"
    path.write_bytes(b"not a database at all, just some bytes" * 10)
    with pytest.raises(SharesError, match="cannot open the shares file"):
        ShareStore.open(path)


# ---------------------------------------------------------------- what status records once


def status(state: str = "pending", *, reveals: int = 0, failed: int = 0, blocked: int = 0) -> ShareStatus:
    return ShareStatus(share_id=record().share_id, state=state, created_at="c", expires_at="e", ended_at=None,
                       max_views=2, views_left=2 - reveals, failed_attempts=failed, blocked_attempts=blocked,
                       needs_passphrase=True,
                       reveals=tuple(RevealRecord(f"t{n}", f"10.0.0.{n}") for n in range(reveals)))


def kinds(events: list[AuditEvent]) -> list[tuple[str, str | None, str | None]]:
    return [(str(e.event_type), e.reason and str(e.reason), e.remote_addr) for e in events]


def test_observe_records_each_new_thing_once() -> None:
    events, seen = observe(record(), status(reveals=1, failed=2))
    assert kinds(events) == [("share_revealed", None, "10.0.0.0"), ("alert", "wrong_passphrase", None),
                             ("alert", "wrong_passphrase", None)]
    assert all(e.share_id == record().share_id and e.recipient == "sam" for e in events)
    assert events[1].outcome is Outcome.ALERT
    again, same = observe(record().with_seen(seen), status(reveals=1, failed=2))
    assert again == [] and same == seen
    later, final = observe(record().with_seen(seen), status("revealed", reveals=2, failed=2))
    assert kinds(later) == [("share_revealed", None, "10.0.0.1")]
    assert final == Seen(2, 2, 0, "revealed")


@pytest.mark.parametrize(("state", "expected"), [
    ("expired", (EventType.SHARE_EXPIRED, Reason.EXPIRED)),
    ("revoked", (EventType.SHARE_REVOKED, Reason.REVOKED)),
    ("burned", (EventType.ALERT, Reason.BURNED)),
])
def test_observe_records_the_ending_once(state: str, expected: tuple[EventType, Reason]) -> None:
    events, seen = observe(record(), status(state))
    assert [(e.event_type, e.reason) for e in events] == [expected]
    assert observe(record().with_seen(seen), status(state))[0] == []


def test_blocked_alerts_are_capped_but_counted() -> None:
    events, seen = observe(record(), status(blocked=500))
    assert len(events) == MAX_BLOCKED_ALERTS and seen.blocked == 500
    assert {e.reason for e in events} == {Reason.BLOCKED_NETWORK}
