"""keystore = "file": the app opens the audit log with the passphrase key file, never the keychain."""

from __future__ import annotations

import asyncio

import pytest
from pytestqt.qtbot import QtBot

from ots_desktop.core.config import Config
from ots_desktop.core.errors import AuditError, AuditTamperedError, KeychainError
from ots_desktop.core.paths import app_paths
from ots_desktop.core.secret import SecretBuffer
from ots_desktop.ui.services import Services
from tests.conftest import Home


def _wait(qtbot: QtBot, future: asyncio.Future[object]) -> None:
    qtbot.waitUntil(future.done, timeout=30_000)


def test_the_key_file_opens_with_its_passphrase_and_refuses_a_wrong_one(
        ui_loop: asyncio.AbstractEventLoop, qtbot: QtBot, isolated_home: Home) -> None:
    paths = app_paths()
    services = Services(paths)
    services.config = Config(keystore="file")
    assert services.needs_keyfile_passphrase
    with pytest.raises(AuditError, match="no passphrase was given"):
        services._default_keystore(services.paths)

    services.set_keyfile_passphrase(SecretBuffer(b"correct horse"))
    assert not services.needs_keyfile_passphrase
    opened = services.audit_future()
    _wait(qtbot, opened)
    assert opened.exception() is None
    assert services.paths.keyfile.exists()  # the keys went to the file, not the keychain
    services.close()

    again = Services(paths)
    again.config = Config(keystore="file")
    again.set_keyfile_passphrase(SecretBuffer(b"wrong horse"))
    refused = again.audit_future()
    _wait(qtbot, refused)
    error = refused.exception()
    assert isinstance(error, KeychainError) and "passphrase for the key file" in str(error) and "is wrong" in str(error)
    again.close()


def test_a_config_switch_to_the_key_file_is_refused_while_the_keychain_holds_the_log(
        ui_loop: asyncio.AbstractEventLoop, qtbot: QtBot, isolated_home: Home, keychain: object) -> None:
    """Someone writes keystore = "file" into config.toml: the app asks for no passphrase and makes no new keys."""
    paths = app_paths()
    first = Services(paths)
    opened = first.audit_future()
    _wait(qtbot, opened)
    assert opened.exception() is None  # a log in the keychain
    first.close()

    paths.config_file.write_text('keystore = "file"\n')
    services = Services(paths)
    assert services.config.keystore == "file"
    assert not services.needs_keyfile_passphrase  # the start-up dialog is not shown
    assert "OS keychain holds this installation's audit log" in (services.keystore_problem() or "")
    services.set_keyfile_passphrase(SecretBuffer(b"any passphrase at all"))  # as if typed anyway
    refused = services.audit_future()
    _wait(qtbot, refused)
    assert isinstance(refused.exception(), AuditTamperedError)
    assert not paths.keyfile.exists()
    services.close()
