"""Keychain selection and storage against a real Secret Service (gnome-keyring on D-Bus)."""

from __future__ import annotations

from pathlib import Path

import keyring
import keyring.backend
import keyring.backends.fail
import keyring.backends.null
import pytest
from keyrings.alt.file import PlaintextKeyring

from ots_desktop.core.audit.keystore import (
    FileKeyStore,
    KeychainStore,
    backend_problem,
    choose_backend,
    keychain_status,
    scope_for,
)
from ots_desktop.core.errors import KeychainError
from ots_desktop.core.secret import SecretBuffer
from tests.support.secret_service import SecretServiceSession


class LowPriorityKeyring(keyring.backend.KeyringBackend):
    """A backend that claims to work but ranks itself below 1 (test-only stand-in)."""

    priority = 0.9  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise AssertionError("must never be written to")

    def delete_password(self, service: str, username: str) -> None:
        pass


def test_real_secret_service_is_chosen(keychain: SecretServiceSession) -> None:
    backend = choose_backend()
    assert type(backend).__module__ == "keyring.backends.SecretService"
    status = keychain_status()
    assert status.safe and status.problem is None


def test_chainer_is_unwrapped_so_plaintext_is_never_a_fallback(keychain: SecretServiceSession) -> None:
    # keyrings.alt is installed, so keyring offers a chainer over Secret Service and a plaintext file.
    assert type(keyring.get_keyring()).__name__ == "ChainerBackend"
    names = {type(b).__name__ for b in keyring.get_keyring().backends}  # type: ignore[attr-defined]
    assert "PlaintextKeyring" in names
    assert type(choose_backend()).__module__ == "keyring.backends.SecretService"


def test_store_round_trip_is_scoped_per_data_dir(keychain: SecretServiceSession, tmp_path: Path) -> None:
    a = KeychainStore(scope_for(tmp_path / "a"))
    b = KeychainStore(scope_for(tmp_path / "b"))
    a.set("audit-signing-seed", "aa" * 32)
    assert a.get("audit-signing-seed") == "aa" * 32
    assert b.get("audit-signing-seed") is None
    assert "SecretService" in a.description


@pytest.mark.parametrize(
    ("backend", "expected"),
    [
        (keyring.backends.fail.Keyring(), "does not store secrets safely"),
        (keyring.backends.null.Keyring(), "does not store secrets safely"),
        (PlaintextKeyring(), "does not store secrets safely"),
        (LowPriorityKeyring(), "priority 0.9, below the minimum of 1"),
    ],
)
def test_unsafe_backends_are_refused_with_a_reason(backend: keyring.backend.KeyringBackend, expected: str) -> None:
    assert expected in (backend_problem(backend) or "")
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        with pytest.raises(KeychainError, match="cannot use the OS keychain") as info:
            KeychainStore("scope")
        assert expected in info.value.message
        assert 'keystore = "file"' in info.value.message
        assert not keychain_status().safe
    finally:
        keyring.set_keyring(previous)


def test_file_keystore_round_trip_and_wrong_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    with SecretBuffer(b"correct horse") as pw:
        store = FileKeyStore(path, pw)
        store.set("audit-signing-seed", "bb" * 32)
    assert path.stat().st_mode & 0o077 == 0
    assert "bb" * 32 not in path.read_text()
    with SecretBuffer(b"correct horse") as pw:
        assert FileKeyStore(path, pw).get("audit-signing-seed") == "bb" * 32
    with SecretBuffer(b"wrong horse") as pw, pytest.raises(KeychainError, match=r"passphrase .* is wrong"):
        FileKeyStore(path, pw)


def test_file_keystore_refuses_empty_passphrase_and_garbage(tmp_path: Path) -> None:
    with SecretBuffer(b"") as pw, pytest.raises(KeychainError, match="empty"):
        FileKeyStore(tmp_path / "k.json", pw)
    bad = tmp_path / "bad.json"
    bad.write_text("not json")
    with SecretBuffer(b"pw") as pw, pytest.raises(KeychainError, match="cannot read the key file"):
        FileKeyStore(bad, pw)
