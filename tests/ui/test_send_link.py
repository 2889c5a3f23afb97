"""Sharing by one-time link through the Send page: the link, its live receipt, Revoke, and relay errors."""

from __future__ import annotations

import os
from pathlib import Path

from pytestqt.qtbot import QtBot

from PySide6.QtCore import Qt

from ots_desktop.channels.link_errors import LinkFailure
from ots_desktop.core.secret import SecretBuffer
from ots_desktop.ui.context import UiContext
from tests.conftest import CANARY
from tests.support.canary import find_canary
from tests.support.servers import RunningServer
from tests.ui.send_support import (
    NETWORK_MS,
    click_share,
    link_cards,
    new_page,
    notifications,
    receive_link,
    type_secret,
    wait_done,
    wait_state,
)


def _wait_links(qtbot: QtBot, page, count: int = 1):  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: len(link_cards(page)) >= count, timeout=NETWORK_MS)
    return link_cards(page)


def _share_by_link(qtbot: QtBot, ctx: UiContext, text: str):  # type: ignore[no-untyped-def]
    """A Send page that shared ``text`` as a link; returns the page and its card."""
    page = new_page(qtbot, ctx)
    page.options.set_channel("link")
    type_secret(qtbot, page, text)
    click_share(qtbot, page)
    [card] = _wait_links(qtbot, page)
    return page, card


def test_text_by_link_shows_a_receipt_when_opened(qtbot: QtBot, ctx: UiContext, peer_ctx: UiContext,
                                                  servers: RunningServer, tmp_path: Path) -> None:
    page = new_page(qtbot, ctx)
    seen = notifications(ctx)
    page.options.set_channel("link")
    type_secret(qtbot, page, CANARY.decode())
    page.options.label.setText("canary")
    with qtbot.waitSignal(page.share_started, timeout=5000) as started:
        click_share(qtbot, page)
    assert started.args == ["link"]
    assert page.secret.is_empty()
    [card] = _wait_links(qtbot, page)
    assert card.title.text() == "canary"
    assert card.link.startswith(f"{servers.link_url}/s/") and "#" in card.link
    assert card.link_field.text() == card.link and card.link_field.isReadOnly()
    assert card.qr.is_drawn() and card.revoke_button.isEnabled()
    assert card.terms_label.text().startswith("Opens once · expires ")
    qtbot.waitUntil(lambda: page.busy_label.text() == "", timeout=NETWORK_MS)

    got = receive_link(peer_ctx, card.link, tmp_path / "in")
    wait_done(qtbot, got)
    received = got.result()
    assert received.text is not None and bytes(received.text.view()) == CANARY
    received.text.close()
    qtbot.waitUntil(lambda: bool(card.receipts()), timeout=NETWORK_MS)
    assert card.receipts()[0].startswith("Revealed at ") and " from " in card.receipts()[0]
    wait_state(qtbot, card, "revealed")
    assert card.is_finished and not card.revoke_button.isEnabled()
    assert any(title == "Link opened" and level == "success" for title, _m, level in seen)
    # The plaintext was never written anywhere: not by the sender, the recipient or the relay.
    assert find_canary([tmp_path], CANARY) == []


def test_a_link_revoked_from_its_card_no_longer_opens(qtbot: QtBot, ctx: UiContext, peer_ctx: UiContext,
                                                      tmp_path: Path) -> None:
    page = new_page(qtbot, ctx)
    page.options.set_channel("link")
    type_secret(qtbot, page, "to-be-revoked")
    click_share(qtbot, page)
    [card] = _wait_links(qtbot, page)
    qtbot.mouseClick(card.revoke_button, Qt.MouseButton.LeftButton)
    wait_state(qtbot, card, "revoked")
    assert "Revoked" in card.status.text() and not card.revoke_button.isEnabled() and card.is_finished
    got = receive_link(peer_ctx, card.link, tmp_path / "in")
    wait_done(qtbot, got)
    failure = got.exception()
    assert isinstance(failure, LinkFailure) and failure.state == "revoked"
    assert "revoked by its sender" in str(failure)
    # The card's receipt (still polling when Revoke was pressed) sees the end too: one entry, not two.
    qtbot.waitUntil(lambda: card._watch is None or card._watch.done(), timeout=NETWORK_MS)
    task = ctx.tasks.start(ctx.services.audit())
    qtbot.waitUntil(task.done, timeout=NETWORK_MS)
    revoked = [e for e in task.result().entries(event_type="share_revoked") if e.get("share_id") == card.share_id]
    assert len(revoked) == 1


def test_several_recipients_get_a_link_each(qtbot: QtBot, ctx: UiContext, peer_ctx: UiContext,
                                            tmp_path: Path) -> None:
    page = new_page(qtbot, ctx)
    page.options.set_channel("link")
    type_secret(qtbot, page, "one-link-each")
    page.options.recipients.setPlainText("sam\nalex")
    page.options.views.setValue(2)
    click_share(qtbot, page)
    alex, sam = _wait_links(qtbot, page, 2)
    assert (sam.title.text(), alex.title.text()) == ("Text secret for sam", "Text secret for alex")
    assert sam.link != alex.link and sam.share_id != alex.share_id
    assert sam.terms_label.text().startswith("Opens twice")
    got = receive_link(peer_ctx, alex.link, tmp_path / "in")
    wait_done(qtbot, got)
    assert bytes(got.result().text.view()) == b"one-link-each"
    qtbot.waitUntil(lambda: bool(alex.receipts()), timeout=NETWORK_MS)
    assert alex.state == "pending" and "still opens once" in alex.status.text()
    assert sam.receipts() == []


def test_a_passphrase_protects_the_link_and_wrong_tries_show_on_the_receipt(
        qtbot: QtBot, ctx: UiContext, peer_ctx: UiContext, tmp_path: Path) -> None:
    page = new_page(qtbot, ctx)
    seen = notifications(ctx)
    page.options.set_channel("link")
    type_secret(qtbot, page, "behind-a-passphrase")
    qtbot.keyClicks(page.options.passphrase.edit, "correct horse")
    click_share(qtbot, page)
    assert page.options.passphrase.is_empty()
    [card] = _wait_links(qtbot, page)
    assert "passphrase needed" in card.terms_label.text()
    wrong = receive_link(peer_ctx, card.link, tmp_path / "in", passphrase=SecretBuffer(b"wrong horse"))
    wait_done(qtbot, wrong)
    assert isinstance(wrong.exception(), LinkFailure)
    qtbot.waitUntil(lambda: "1 wrong passphrase attempt" in card.receipts(), timeout=NETWORK_MS)
    assert any(level == "error" and "wrong passphrase" in message for _t, message, level in seen)
    right = receive_link(peer_ctx, card.link, tmp_path / "in", passphrase=SecretBuffer(b"correct horse"))
    wait_done(qtbot, right)
    assert bytes(right.result().text.view()) == b"behind-a-passphrase"
    wait_state(qtbot, card, "revealed")


def test_a_file_by_link(qtbot: QtBot, ctx: UiContext, peer_ctx: UiContext, tmp_path: Path) -> None:
    page = new_page(qtbot, ctx)
    source = tmp_path / "prod.env"
    payload = os.urandom(200_000)
    source.write_bytes(payload)
    page.options.set_channel("link")
    page.add_paths([source])
    click_share(qtbot, page)
    [card] = _wait_links(qtbot, page)
    assert card.title.text() == "prod.env" and page.queue.is_empty()
    got = receive_link(peer_ctx, card.link, tmp_path / "in")
    wait_done(qtbot, got)
    assert got.result().path.read_bytes() == payload


def test_files_and_a_folder_go_as_one_zip_by_one_link(qtbot: QtBot, ctx: UiContext, peer_ctx: UiContext,
                                                      tmp_path: Path) -> None:
    # Two files with the same name and a folder, by link: one link, whose zip holds each of them (the second
    # same-named file under "name (2)", the folder with its layout), byte for byte; nothing touched disk in clear.
    import zipfile

    one, two, folder = tmp_path / "a" / "prod.env", tmp_path / "b" / "prod.env", tmp_path / "keys"
    for path, data in ((one, b"A=1\n"), (two, b"B=2\n"), (folder / "deploy" / "id_ed25519", CANARY)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    page = new_page(qtbot, ctx)
    page.options.set_channel("link")
    page.add_paths([one, two, folder])
    assert page.bundle_box.isVisible() and page.bundle_box.isChecked()  # a folder: only as a zip
    page.options.label.setText("staging keys")
    click_share(qtbot, page)
    [card] = _wait_links(qtbot, page)
    assert card.title.text() == "staging keys (staging keys.zip)" and page.queue.is_empty()
    got = receive_link(peer_ctx, card.link, tmp_path / "in")
    wait_done(qtbot, got)
    saved = got.result().path
    assert saved.name == "staging keys.zip"
    with zipfile.ZipFile(saved) as bundle:
        assert bundle.read("prod.env") == b"A=1\n" and bundle.read("prod (2).env") == b"B=2\n"
        assert bundle.read("keys/deploy/id_ed25519") == CANARY
    assert find_canary([ctx.services.paths.data_dir, ctx.services.paths.state_dir], CANARY) == []


def test_share_text_uses_the_default_link_options(qtbot: QtBot, ctx: UiContext) -> None:
    page = new_page(qtbot, ctx)
    secret = SecretBuffer(bytearray(b"from the clipboard"))
    page.share_text(secret, "link")
    [card] = _wait_links(qtbot, page)
    assert card.title.text() == "Text secret" and card.sent.max_views == ctx.services.config.link_max_views
    qtbot.waitUntil(lambda: secret.closed, timeout=NETWORK_MS)


def test_a_stopped_relay_is_a_clear_error_and_the_secret_comes_back(qtbot: QtBot, ctx: UiContext,
                                                                    servers: RunningServer) -> None:
    servers.stop()
    page = new_page(qtbot, ctx)
    page.options.set_channel("link")
    type_secret(qtbot, page, "relay-is-down")
    click_share(qtbot, page)
    assert page.secret.is_empty()
    qtbot.waitUntil(lambda: page.banner.isVisible() and page.banner.level == "error", timeout=NETWORK_MS)
    text = page.banner.text()
    assert "The link relay is unreachable at http://127.0.0.1:" in text
    assert "Nothing was shared; the secret is back in the field." in text
    assert page.secret.edit.text() == "relay-is-down" and page.cards() == []
    assert "Traceback" not in text


def test_a_link_that_cannot_be_followed_says_so_and_can_be_closed(qtbot: QtBot, ctx: UiContext,
                                                                  servers: RunningServer) -> None:
    page, card = _share_by_link(qtbot, ctx, "followed-then-lost")
    assert not card.closable
    servers.stop()
    qtbot.waitUntil(card.follow_button.isVisible, timeout=NETWORK_MS)
    assert card.status.text().startswith("Cannot follow this link right now: The link relay is unreachable")
    assert card.closable and not card.is_finished and card.revoke_button.isEnabled()
    assert page.active_cards() == [card]
    qtbot.mouseClick(card.close_button, Qt.MouseButton.LeftButton)
    assert page.cards() == []


def test_a_tail_rewritten_under_the_running_app_stops_the_next_share(qtbot: QtBot, ctx: UiContext,
                                                                     servers: RunningServer) -> None:
    """The app holds its log open for hours: the next append re-checks the keychain's anchor."""
    from tests.support.audit_forgery import attacker, edit_body, rehash_from
    from tests.support.cli import run_ots

    page, _card = _share_by_link(qtbot, ctx, "first share")
    qtbot.waitUntil(lambda: page.busy_label.text() == "", timeout=NETWORK_MS)
    with attacker(ctx.services.paths.audit_db) as db:
        last = db.execute("SELECT max(seq) FROM entries").fetchone()[0]
        edit_body(db, last, label="never happened")
        rehash_from(db, last)
    type_secret(qtbot, page, "second share")
    click_share(qtbot, page)
    qtbot.waitUntil(lambda: "ots audit verify" in page.banner.text(), timeout=NETWORK_MS)
    assert page.banner.level == "error" and f"entry {last}" in page.banner.text()
    qtbot.waitUntil(lambda: page.busy_label.text() == "", timeout=NETWORK_MS)
    assert len(link_cards(page)) == 1  # no second link was made
    result = run_ots("audit", "verify", env={"OTS_HOME": str(ctx.services.paths.data_dir.parent)})
    assert result.returncode == 3 and f"TAMPERED at entry {last}" in result.stdout
