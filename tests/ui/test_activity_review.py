"""Verify, export and "Was this secret shared?" on the Activity page, against the real audit log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from ots_desktop.core.audit.events import AuditEvent, Channel, EventType
from ots_desktop.core.audit.export import manifest_path
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.audit.offline import TrustRoot, read_trust, verify_file
from ots_desktop.core.audit.review import ExportResult
from ots_desktop.core.secret import SecretBuffer
from ots_desktop.ui.activity.export import CSV_FILTER, JSONL_FILTER, target_of
from ots_desktop.ui.activity.page import ActivityPage
from ots_desktop.ui.context import UiContext
from tests.conftest import CANARY, Home
from tests.support.audit import attacker, open_log, share_event
from tests.support.canary import find_canary
from tests.support.secret_service import SecretServiceSession
from tests.ui.conftest import make_context

WAIT_MS = 20_000


@pytest.fixture
def offline_ctx(ui_loop: asyncio.AbstractEventLoop, keychain: SecretServiceSession, isolated_home: Home,
                monkeypatch: pytest.MonkeyPatch, qtbot: QtBot) -> Iterator[UiContext]:
    """An installation with no server at all: reviewing the log needs none."""
    context = make_context(isolated_home.ots_home, None, monkeypatch)
    yield context
    context.tasks.cancel_all()
    qtbot.waitUntil(lambda: not context.tasks.busy, timeout=10_000)
    context.events.close()
    context.services.close()


@pytest.fixture
def log(offline_ctx: UiContext, qtbot: QtBot) -> AuditLog:
    """The page's own log, with log_created and five shares (seq 1-6)."""
    task = offline_ctx.tasks.start(offline_ctx.services.audit())
    qtbot.waitUntil(task.done, timeout=WAIT_MS)
    audit: AuditLog = task.result()
    for n in range(2, 7):
        audit.append(share_event(n))
    return audit


@pytest.fixture
def page(offline_ctx: UiContext, qtbot: QtBot) -> ActivityPage:
    widget = ActivityPage(offline_ctx)
    qtbot.addWidget(widget)
    return widget


def finish(qtbot: QtBot, task: asyncio.Task[Any]) -> None:
    qtbot.waitUntil(task.done, timeout=WAIT_MS)


def last_entry(log: AuditLog) -> dict[str, Any]:
    return log.entries(newest_first=True, limit=1)[0]


# -- verify ------------------------------------------------------------------------------------


def test_verify_on_an_intact_log_says_so_and_is_recorded(page: ActivityPage, log: AuditLog, qtbot: QtBot) -> None:
    with qtbot.waitSignal(page.verified, timeout=WAIT_MS) as done:
        page.verify_button.click()
    report = done.args[0]
    assert report.ok and report.entries == 6
    assert page.banner.level == "success"
    assert page.banner.text().startswith(f"Audit log intact: 6 entries, {report.checkpoints} signed checkpoint")
    assert "matches the checkpoint kept in the keychain" in page.banner.text()
    recorded = last_entry(log)
    assert (recorded["seq"], recorded["event_type"], recorded["reason"], recorded["outcome"]) == \
        (7, "audit_reviewed", "verify_intact", "ok")
    qtbot.waitUntil(lambda: page.model.rowCount() == 7, timeout=WAIT_MS)  # the table shows the review too
    assert page.verify_button.isEnabled()


def test_verify_on_a_tampered_log_names_the_first_bad_entry(page: ActivityPage, log: AuditLog,
                                                            qtbot: QtBot) -> None:
    with attacker(log.store.path) as db:
        db.execute("UPDATE entries SET body = replace(body, 'contractor 3', 'contractor 9') WHERE seq = 3")
    with qtbot.waitSignal(page.verified, timeout=WAIT_MS) as done:
        page.verify()
    assert not done.args[0].ok and done.args[0].first_bad_seq == 3
    text = page.banner.text()
    assert page.banner.level == "error"
    assert "tampered with. First bad entry: 3." in text, text
    assert "Entry 3 was altered" in text, text
    assert "Traceback" not in text
    # Nothing is signed on top of a tampered log, this check included, and the page says so.
    assert "could not be recorded" in text and "Sharing and receiving stay off" in text
    assert last_entry(log)["seq"] == 6


def test_a_broken_checkpoint_is_reported_in_the_banner_not_as_a_crash(page: ActivityPage, log: AuditLog,
                                                                      qtbot: QtBot) -> None:
    with attacker(log.store.path) as db:
        db.execute("UPDATE checkpoints SET body = 'not json' WHERE seq = (SELECT max(seq) FROM checkpoints)")
    finish(qtbot, page.verify())
    assert page.banner.level == "error"
    assert "is unreadable" in page.banner.text(), page.banner.text()


# -- export ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_writes_the_file_and_a_signed_manifest(page: ActivityPage, log: AuditLog, tmp_path: Path,
                                                      qtbot: QtBot, fmt: str) -> None:
    out = tmp_path / f"audit-export.{fmt}"
    with qtbot.waitSignal(page.exported, timeout=WAIT_MS) as done:
        page.export_to(out)
    result: ExportResult = done.args[0]
    assert result.path == out and result.manifest == manifest_path(out)
    assert out.is_file() and manifest_path(out).is_file()
    manifest = json.loads(manifest_path(out).read_text("utf-8"))
    assert manifest["export_format"] == fmt and manifest["entries"] == 7 and manifest["verified_intact"]
    assert str(out) in page.banner.text() and str(manifest_path(out)) in page.banner.text()
    assert page.banner.level == "success"
    exported = log.entries(event_type="audit_exported")
    assert len(exported) == 1 and exported[0]["kind"] == fmt and exported[0]["seq"] == 7
    report = verify_file(out, TrustRoot(public_key=log.public_key, log_id=log.log_id))
    assert report.ok and report.entries == 7
    pubkey = tmp_path / "pubkey.json"
    pubkey.write_text(log.public_key_record().to_json(), encoding="utf-8")
    assert verify_file(out, read_trust(str(pubkey))).ok
    assert verify_file(out, read_trust(log.fingerprint_text)).ok
    if fmt == "csv":
        header = out.read_text("utf-8").splitlines()[0].split(",")
        assert header[:3] == ["seq", "ts_utc", "event_type"]


def test_export_refuses_a_bad_target_with_a_readable_error(page: ActivityPage, log: AuditLog, tmp_path: Path,
                                                           qtbot: QtBot) -> None:
    finish(qtbot, page.export_to(tmp_path / "audit.txt"))
    assert page.banner.level == "error"
    assert "name it .csv or .jsonl" in page.banner.text()
    finish(qtbot, page.export_to(tmp_path / "missing-folder" / "audit.jsonl"))
    assert page.banner.level == "error"
    assert "does not exist" in page.banner.text()
    assert not (tmp_path / "audit.txt").exists() and not (tmp_path / "missing-folder").exists()
    assert log.entries(event_type="audit_exported") == []


def test_the_save_dialog_choice_becomes_a_path_and_format(tmp_path: Path) -> None:
    assert target_of(str(tmp_path / "a.CSV"), JSONL_FILTER) == (tmp_path / "a.CSV", "csv")
    assert target_of(str(tmp_path / "audit"), CSV_FILTER) == (tmp_path / "audit.csv", "csv")
    assert target_of(str(tmp_path / "audit.2025"), JSONL_FILTER) == (tmp_path / "audit.2025.jsonl", "jsonl")


# -- was this secret shared? ----------------------------------------------------------------------


def test_lookup_finds_a_shared_secret_and_clears_the_field(page: ActivityPage, log: AuditLog,
                                                           offline_ctx: UiContext, qtbot: QtBot) -> None:
    with SecretBuffer(CANARY) as shared:
        fingerprint = log.fingerprint(shared)
    log.append(AuditEvent(EventType.SHARE_CREATED, channel=Channel.WORMHOLE, label="prod DB for Sam",
                          fingerprint=fingerprint, kind="text", size_bytes=len(CANARY)))
    field = page.lookup_panel.field
    assert field.echoMode() == QLineEdit.EchoMode.Password
    hints = field.inputMethodHints()
    assert hints & Qt.InputMethodHint.ImhSensitiveData and hints & Qt.InputMethodHint.ImhNoPredictiveText
    field.setText(CANARY.decode())
    with qtbot.waitSignal(page.looked_up, timeout=WAIT_MS) as done:
        qtbot.keyClick(field, Qt.Key.Key_Return)
        assert field.text() == ""  # cleared before the lookup even starts
    assert done.args == [1]
    panel = page.lookup_panel
    assert panel.answer.text() == "Yes: 1 entry involves this secret."
    assert panel.results.rowCount() == 1 and panel.results.entry(0)["label"] == "prod DB for Sam"
    field.setText("sk_live_never_shared_anywhere")
    with qtbot.waitSignal(page.looked_up, timeout=WAIT_MS) as done:
        page.lookup_panel.button.click()
    assert done.args == [0]
    assert field.text() == ""
    assert panel.answer.text() == "No: no entry in this log involves this secret."
    assert panel.results.rowCount() == 0
    lookups = [e for e in log.entries(event_type="audit_reviewed") if e.get("reason") == "lookup"]
    assert len(lookups) == 2
    p = offline_ctx.services.paths
    assert find_canary([p.data_dir, p.config_dir, p.state_dir], CANARY) == []


def test_an_empty_lookup_is_refused_and_not_recorded(page: ActivityPage, log: AuditLog, qtbot: QtBot) -> None:
    finish(qtbot, page.lookup())
    assert page.banner.level == "error"
    assert page.banner.text() == "Paste the secret to look up first."
    assert log.entries(event_type="audit_reviewed") == []
    assert page.lookup_panel.field.isEnabled()


# -- a log rolled back to an older copy ----------------------------------------------------------


def test_a_rolled_back_log_is_flagged_and_verify_names_the_gap(page: ActivityPage, offline_ctx: UiContext,
                                                               qtbot: QtBot) -> None:
    path = offline_ctx.services.paths.audit_db
    with open_log(offline_ctx.services.paths) as older:
        for n in range(2, 5):
            older.append(share_event(n))  # seq 2-4
    backup = path.read_bytes()
    with open_log(offline_ctx.services.paths) as newer:
        newer.append(share_event(5))
        newer.append(share_event(6))  # seq 5-6: the keychain's checkpoint is now at 6
    path.write_bytes(backup)
    with qtbot.waitSignal(page.refreshed, timeout=WAIT_MS) as loaded:
        page.refresh()
    assert loaded.args == [4]
    assert page.banner.level == "warning"
    assert "does not verify" in page.banner.text() and "rolled back" in page.banner.text()
    assert "entry 6 but the log ends at entry 4" in page.banner.text(), page.banner.text()
    with qtbot.waitSignal(page.verified, timeout=WAIT_MS):
        page.verify()
    text = page.banner.text()
    assert page.banner.level == "error"
    assert "First bad entry: 5." in text and "truncated or rolled back" in text, text
    assert "This check could not be recorded in the log" in text
    assert page.model.rowCount() == 4  # nothing was appended to the rolled-back file
