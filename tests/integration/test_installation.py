"""The one installation object the CLI and the app share: relay, CA file, keystore choice, audit log."""

from __future__ import annotations

from pathlib import Path

import pytest

from ots_desktop.core.audit.keystore import FileKeyStore, KeychainStore
from ots_desktop.core.config import Config, save_config
from ots_desktop.core.errors import ConfigError, InputError, KeychainError, OtsError
from ots_desktop.core.paths import app_paths
from ots_desktop.core.secret import SecretBuffer
from ots_desktop.installation import NO_RELAY, Installation


def _configured(**values: object) -> Installation:
    save_config(app_paths().ensure().config_file, Config(**values).validate())  # type: ignore[arg-type]
    return Installation(relay_hint="set it here")


def test_no_relay_names_the_setting_and_how_this_front_end_sets_it() -> None:
    with pytest.raises(ConfigError) as caught:
        Installation(relay_hint="add one under Settings, Servers").relay_url()
    assert caught.value.message == f"{NO_RELAY}: add one under Settings, Servers"
    assert caught.value.field == "relay_url"


def test_the_option_beats_the_setting_and_both_are_checked() -> None:
    install = _configured(relay_url="https://relay.example/")
    assert install.relay_url() == "https://relay.example"
    assert install.relay_url("http://127.0.0.1:4080/") == "http://127.0.0.1:4080"
    with pytest.raises(OtsError, match="https"):
        install.relay_url("http://relay.example")


def test_a_missing_ca_file_is_refused_with_its_path(tmp_path: Path) -> None:
    install = _configured(ca_file=str(tmp_path / "absent.pem"))
    with pytest.raises(InputError, match=r"absent\.pem does not exist"):
        install.ca_file()
    damaged = tmp_path / "ca.pem"
    damaged.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    assert install.ca_file(damaged) == damaged  # the option beats the setting
    with pytest.raises(InputError, match="cannot be used"):
        install.relay_clients(damaged)("https://relay.example")


def _never() -> SecretBuffer:
    raise AssertionError("the passphrase was asked for")


@pytest.mark.keychain
def test_the_keychain_is_used_without_asking_for_a_passphrase(keychain: object) -> None:
    install = Installation()
    store = install.keystore(_never)
    assert isinstance(store, KeychainStore)
    with install.open_audit_log(store) as log:
        assert log.verify().ok


@pytest.mark.keychain
def test_the_key_file_asks_once_and_uses_what_was_typed(keychain: object) -> None:
    install = _configured(keystore="file")
    asked: list[int] = []

    def passphrase() -> SecretBuffer:
        asked.append(1)
        return SecretBuffer(bytearray(b"correct horse battery"), wipe_source=True)

    store = install.keystore(passphrase)
    assert isinstance(store, FileKeyStore) and asked == [1]
    with install.open_audit_log(store) as log:
        assert log.verify().ok
    assert install.paths.keyfile.exists()
    with pytest.raises(KeychainError):
        install.open_audit_log(install.keystore(lambda: SecretBuffer(bytearray(b"wrong"), wipe_source=True)))


@pytest.mark.keychain
def test_a_config_switch_to_the_key_file_is_refused_before_any_passphrase_is_asked(keychain: object) -> None:
    install = Installation()
    with install.open_audit_log(install.keystore(_never)):
        pass
    switched = _configured(keystore="file")
    assert switched.keystore_problem() is not None
    with pytest.raises(OtsError) as caught:
        switched.keystore(_never)
    assert caught.value.message == switched.keystore_problem()
    assert not switched.paths.keyfile.exists()


def test_wormhole_settings_take_the_config_and_explicit_overrides_only() -> None:
    install = _configured(mailbox_url="ws://127.0.0.1:4000/v1", code_length=3)
    settings = install.wormhole_settings(code_length=None, transit_helper="tcp:127.0.0.1:4001")
    assert (settings.mailbox_url, settings.code_length, settings.transit_helper) == (
        "ws://127.0.0.1:4000/v1", 3, "tcp:127.0.0.1:4001")
