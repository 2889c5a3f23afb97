"""The Settings page: saving through Config.validate, refused values, server warnings, the keychain's state."""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import Iterator
from dataclasses import fields

import keyring.core
import pytest
from pytestqt.qtbot import QtBot

from PySide6.QtCore import Qt

from ots_desktop.core.audit.keystore import KEYCHAIN_CALLS, KeychainStatus
from ots_desktop.core.config import Config, load_config
from ots_desktop.ui.context import UiContext
from ots_desktop.ui.settings_page import SettingsPage
from tests.conftest import Home
from tests.support.secret_service import SecretServiceSession
from tests.ui.conftest import make_context

WAIT_MS = 20_000


@pytest.fixture
def offline_ctx(ui_loop: asyncio.AbstractEventLoop, isolated_home: Home, monkeypatch: pytest.MonkeyPatch,
                qtbot: QtBot) -> Iterator[UiContext]:
    """An installation with no server: settings are edited offline."""
    context = make_context(isolated_home.ots_home, None, monkeypatch)
    yield context
    context.tasks.cancel_all()
    qtbot.waitUntil(lambda: not context.tasks.busy, timeout=10_000)
    context.events.close()
    context.services.close()


@pytest.fixture
def page(offline_ctx: UiContext, qtbot: QtBot) -> SettingsPage:
    widget = SettingsPage(offline_ctx)
    qtbot.addWidget(widget)
    return widget


def fill(page: SettingsPage, *, mailbox: str = "wss://mailbox.example.com/v1", transit: str = "tcp:127.0.0.1:4001",
         relay: str = "https://ots.example.com", ca_file: str = "", code_words: int = 4, expiry: str = "4h",
         views: int = 2, clear_after: int = 45) -> None:
    page.mailbox_field.setText(mailbox)
    page.transit_field.setText(transit)
    page.relay_field.setText(relay)
    page.ca_field.setText(ca_file)
    page.code_length_spin.setValue(code_words)
    page.expiry_field.setText(expiry)
    page.max_views_spin.setValue(views)
    page.clipboard_spin.setValue(clear_after)


def show_active(page: SettingsPage, qtbot: QtBot) -> None:
    page.show()
    qtbot.waitExposed(page)
    page.activateWindow()
    qtbot.waitUntil(page.isActiveWindow, timeout=10_000)


def test_the_fields_start_from_the_current_settings(page: SettingsPage) -> None:
    assert page.mailbox_field.text() == Config().mailbox_url
    assert page.expiry_field.text() == "1h"
    assert page.code_length_spin.value() == 3 and page.max_views_spin.value() == 1
    assert page.clipboard_spin.value() == 30
    page.clipboard_spin.setValue(0)
    assert page.clipboard_spin.text() == "Never"


def test_save_writes_only_the_settings_and_applies_them(page: SettingsPage, offline_ctx: UiContext,
                                                        tmp_path, qtbot: QtBot) -> None:
    ca = tmp_path / "team-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    fill(page, ca_file=str(ca))
    show_active(page, qtbot)
    with qtbot.waitSignal(page.saved, timeout=5000) as done:
        qtbot.keyClick(page.expiry_field, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    config: Config = done.args[0]
    expected = Config(mailbox_url="wss://mailbox.example.com/v1", transit_helper="tcp:127.0.0.1:4001",
                      relay_url="https://ots.example.com", ca_file=str(ca), code_length=4, link_expiry_s=4 * 3600,
                      link_max_views=2, clipboard_clear_s=45)
    assert config == expected
    path = offline_ctx.services.paths.config_file
    table = tomllib.loads(path.read_text("utf-8"))
    assert set(table) <= {f.name for f in fields(Config)}
    assert table == {"mailbox_url": "wss://mailbox.example.com/v1", "transit_helper": "tcp:127.0.0.1:4001",
                     "relay_url": "https://ots.example.com", "ca_file": str(ca), "code_length": 4,
                     "link_expiry_s": 14400, "link_max_views": 2, "clipboard_clear_s": 45}
    assert load_config(path, {}) == expected
    assert offline_ctx.services.config == expected
    assert offline_ctx.clipboard.timeout_s == 45
    assert page.banner.level == "success" and str(path) in page.banner.text()


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"expiry": "2m"}, "expiry_field", "The link expiry must be between 5 minutes and 30 days."),
    ({"expiry": "soon"}, "expiry_field", "Link expiry: 'soon' is not a duration"),
    ({"expiry": "45d"}, "expiry_field", "The link expiry must be between 5 minutes and 30 days."),
    ({"mailbox": "https://mailbox.example.com/v1"}, "mailbox_field", "must start with wss:// (or ws://)"),
    ({"transit": ""}, "transit_field", "The transit relay is empty"),
    ({"transit": "tcp:host :4001"}, "transit_field", "The transit relay must not contain spaces."),
    ({"relay": "ftp://ots.example.com"}, "relay_field", "must start with https://"),
    ({"ca_file": "/nonexistent/ca.pem"}, "ca_field", "The CA file /nonexistent/ca.pem does not exist"),
])
def test_invalid_values_are_refused_and_nothing_is_saved(page: SettingsPage, offline_ctx: UiContext,
                                                         qtbot: QtBot, change: dict[str, str], field: str,
                                                         words: str) -> None:
    before = offline_ctx.services.config
    fill(page, **change)  # type: ignore[arg-type]
    show_active(page, qtbot)
    page.save_button.setFocus()
    with qtbot.assertNotEmitted(page.saved):
        assert page.save() is False
    assert page.banner.level == "error"
    assert page.banner.text().startswith("Not saved. ")
    assert words in page.banner.text(), page.banner.text()
    assert not offline_ctx.services.paths.config_file.exists()
    assert offline_ctx.services.config == before
    assert offline_ctx.clipboard.timeout_s == before.clipboard_clear_s
    qtbot.waitUntil(getattr(page, field).hasFocus, timeout=5000)


def test_a_plain_ws_mailbox_off_this_machine_gets_a_visible_warning(page: SettingsPage, offline_ctx: UiContext,
                                                                    qtbot: QtBot) -> None:
    page.show()
    qtbot.waitExposed(page)
    fill(page, mailbox="ws://127.0.0.1:4000/v1")
    assert not page.mailbox_warning.isVisible()
    fill(page, mailbox="ws://mailbox.example.com:4000/v1")
    assert page.mailbox_warning.isVisible()
    assert "mailbox.example.com is reached over plain ws://" in page.mailbox_warning.text()
    assert page.save() is True  # a warning, not a refusal: the wormhole's key exchange still protects the secret
    assert page.banner.level == "warning"
    assert "Prefer a wss:// mailbox" in page.banner.text()
    assert offline_ctx.services.config.mailbox_url == "ws://mailbox.example.com:4000/v1"


def test_a_plain_http_relay_off_this_machine_is_refused_with_the_reason(page: SettingsPage, offline_ctx: UiContext,
                                                                        qtbot: QtBot) -> None:
    page.show()
    qtbot.waitExposed(page)
    fill(page, relay="http://ots.example.com")
    assert page.relay_note.isVisible()
    assert "refusing the plain-http relay" in page.relay_note.text().lower()
    assert page.save() is False
    assert "anyone on the path can read the key" in page.banner.text()
    assert not offline_ctx.services.paths.config_file.exists()
    fill(page, relay="http://127.0.0.1:4080")
    assert not page.relay_note.isVisible()
    assert page.save() is True
    assert offline_ctx.services.relay_url() == "http://127.0.0.1:4080"


def test_revert_puts_back_the_saved_settings(page: SettingsPage) -> None:
    fill(page, expiry="3d", code_words=6)
    page.revert_button.click()
    assert page.expiry_field.text() == "1h" and page.code_length_spin.value() == 3


# -- the keychain ----------------------------------------------------------------------------------


def test_the_keychain_in_use_is_shown_as_safe(keychain: SecretServiceSession, page: SettingsPage,
                                              qtbot: QtBot) -> None:
    with qtbot.waitSignal(page.keychain_checked, timeout=WAIT_MS) as done:
        page.show()  # the first show checks
    status: KeychainStatus = done.args[0]
    assert status.safe
    assert "SecretService" in page.backend_label.text()
    assert page.backend_label.text().endswith("safe for the audit log's keys")
    assert page.store_label.text() == "in the OS keychain"


@pytest.fixture
def unsafe_keychain(keychain: SecretServiceSession, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """keyring's 'fail' backend, as on a machine with no keychain at all."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    with KEYCHAIN_CALLS:
        keyring.core.init_backend()
    yield
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    with KEYCHAIN_CALLS:
        keyring.core.init_backend()


def test_an_unsafe_keychain_is_shown_with_the_reason(unsafe_keychain: None, page: SettingsPage,
                                                     qtbot: QtBot) -> None:
    with qtbot.waitSignal(page.keychain_checked, timeout=WAIT_MS) as done:
        page.check_keychain()
    assert not done.args[0].safe
    text = page.backend_label.text()
    assert text.startswith("keyring.backends.fail.Keyring: not safe.")
    assert "does not store secrets safely" in text


def test_the_key_file_opt_in_is_shown(offline_ctx: UiContext, qtbot: QtBot) -> None:
    offline_ctx.services.config = Config(keystore="file")
    page = SettingsPage(offline_ctx)
    qtbot.addWidget(page)
    assert str(offline_ctx.services.paths.keyfile) in page.store_label.text()
    assert "passphrase-protected key file" in page.store_label.text()
    fill(page)
    assert page.save() is True
    assert load_config(offline_ctx.services.paths.config_file, {}).keystore == "file"


def test_settings_from_the_environment_are_shown_read_only_and_never_saved(
        ui_loop: asyncio.AbstractEventLoop, isolated_home: Home, monkeypatch: pytest.MonkeyPatch,
        qtbot: QtBot) -> None:
    config_file = isolated_home.ots_home / "config" / "config.toml"
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text('relay_url = "https://on-file.example"\n', encoding="utf-8")
    monkeypatch.setenv("OTS_RELAY_URL", "https://from-ci-secret.example")
    context = make_context(isolated_home.ots_home, None, monkeypatch)
    try:
        assert context.services.config.relay_url == "https://from-ci-secret.example"
        widget = SettingsPage(context)
        qtbot.addWidget(widget)
        assert not widget.relay_field.isEnabled() and "OTS_RELAY_URL" in widget.relay_field.toolTip()
        assert widget.environment_note.isVisibleTo(widget) and "OTS_RELAY_URL" in widget.environment_note.text()
        assert widget.mailbox_field.isEnabled()
        widget.code_length_spin.setValue(5)
        assert widget.save()
        written = tomllib.loads(config_file.read_text(encoding="utf-8"))
        assert written["code_length"] == 5
        assert written["relay_url"] == "https://on-file.example"  # the file's own value, not the environment's
        assert "from-ci-secret" not in config_file.read_text(encoding="utf-8")
        assert context.services.config.relay_url == "https://from-ci-secret.example"  # still in force here
    finally:
        context.tasks.cancel_all()
        qtbot.waitUntil(lambda: not context.tasks.busy, timeout=10_000)
        context.events.close()
        context.services.close()
