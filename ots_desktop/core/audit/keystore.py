"""Where the audit log's keys and latest checkpoint live.

The default is the OS keychain through ``keyring``. It fails closed: a backend that
cannot keep a secret (``fail``, ``null``, anything below priority 1, keyrings.alt's
plaintext file) is refused with a message that says why. The only other store is a
key file wrapped with a passphrase, and only when the user opts in.

Values pass through ``str`` because that is what ``keyring`` takes; they are hex or
JSON text of key material, never a shared secret.
"""

from __future__ import annotations

import base64
import hashlib
import json
import ntpath
import os
import sys
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nacl import pwhash, secret
from nacl.exceptions import CryptoError

from ots_desktop.core import private_files
from ots_desktop.core.errors import KeychainError
from ots_desktop.core.secret import SecretBuffer

if TYPE_CHECKING:
    # keyring (with its plugin scan) loads on the first keychain call, not with the audit log.
    import keyring.backend

SERVICE = "ots-desktop"
FINGERPRINT_KEY = "audit-fingerprint-key"
_REFUSED_MODULES = ("keyring.backends.fail", "keyring.backends.null", "keyrings.alt.file")
_HOW_TO_FIX = (
    "ots-desktop keeps its audit-log keys only in a safe OS keychain (Secret Service, macOS Keychain "
    "or Windows Credential Locker). Unlock or install one, or opt in to a passphrase-protected key file "
    "with keystore = \"file\" in the config (or OTS_KEYSTORE=file)."
)


# One keychain conversation at a time in this process. Each keyring call opens a fresh D-Bus
# connection, and gnome-keyring (42 to at least 50) can abort when a new connection's first call
# is dispatched before the daemon has registered that client (GNOME gnome-keyring issues 183,
# 190, 194), which concurrent callers make likely. Two pages opening their logs at once must not
# take the user's keyring down.
KEYCHAIN_CALLS = threading.RLock()


class KeyStore(ABC):
    """A small name -> text store for key material."""

    description: str = ""

    @abstractmethod
    def get(self, name: str) -> str | None:
        """The value stored under ``name``, or None."""

    @abstractmethod
    def set(self, name: str, value: str) -> None:
        """Store ``value`` under ``name``; raises KeychainError on failure."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Remove ``name`` (nothing happens when it is absent); raises KeychainError on failure."""


def _qualname(backend: object) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__name__}"


def backend_problem(backend: keyring.backend.KeyringBackend) -> str | None:
    """Why ``backend`` must not hold audit keys, or None when it is acceptable."""
    name = _qualname(backend)
    if name.startswith(_REFUSED_MODULES):
        return f"the keyring backend {name} does not store secrets safely"
    try:
        priority = float(backend.priority)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - a broken backend reports itself through priority
        return f"the keyring backend {name} is not usable"
    if priority < 1:
        return f"the keyring backend {name} has priority {priority:g}, below the minimum of 1"
    return None


@dataclass(frozen=True)
class KeychainStatus:
    """What the settings page shows about the keychain."""

    backend: str
    safe: bool
    problem: str | None


def _native_backend() -> keyring.backend.KeyringBackend | None:
    """The platform's own keychain, found without keyring's scan of every installed plugin.

    The scan costs a noticeable part of a CLI command's start-up. It is skipped only when
    the user has not chosen a backend (environment variable or keyringrc.cfg).
    """
    if os.environ.get("PYTHON_KEYRING_BACKEND"):
        return None
    try:
        from keyring.util import platform_

        if (platform_.config_root() / "keyringrc.cfg").exists():
            return None
        backend: keyring.backend.KeyringBackend
        if sys.platform.startswith("linux"):
            from keyring.backends import SecretService

            backend = SecretService.Keyring()  # type: ignore[no-untyped-call]
        elif sys.platform == "darwin":
            from keyring.backends import macOS

            backend = macOS.Keyring()  # type: ignore[no-untyped-call]
        elif sys.platform == "win32":
            from keyring.backends import Windows

            backend = Windows.WinVaultKeyring()  # type: ignore[no-untyped-call]
        else:
            return None
        if backend_problem(backend) is None:
            return backend
    except Exception:  # noqa: BLE001 - any doubt falls back to keyring's own detection
        return None
    return None


def choose_backend() -> keyring.backend.KeyringBackend:
    """The safest keyring backend, or KeychainError saying why there is none (one keychain call at a time)."""
    with KEYCHAIN_CALLS:
        return _choose_backend()


def _choose_backend() -> keyring.backend.KeyringBackend:
    """The safest keyring backend, or KeychainError saying why there is none.

    The chainer backend is unwrapped: chaining would let a write fall through to a
    plaintext file when the real keychain is locked.
    """
    native = _native_backend()
    if native is not None:
        return native
    import keyring

    candidates: list[keyring.backend.KeyringBackend]
    try:
        current = keyring.get_keyring()
        if _qualname(current) == "keyring.backends.chainer.ChainerBackend":
            candidates = list(current.backends)  # type: ignore[attr-defined]
        else:
            candidates = [current]
    except Exception as exc:  # noqa: BLE001 - keyring raises bare RuntimeErrors when a backend vanishes
        raise KeychainError(f"cannot use the OS keychain: {exc}. {_HOW_TO_FIX}") from None
    problems = []
    for backend in candidates:
        problem = backend_problem(backend)
        if problem is None:
            return backend
        problems.append(problem)
    reason = "; ".join(problems) if problems else "no keyring backend is available"
    raise KeychainError(f"cannot use the OS keychain: {reason}. {_HOW_TO_FIX}")


def keychain_status() -> KeychainStatus:
    """The backend that would be used, and whether it is safe."""
    try:
        backend = choose_backend()
    except KeychainError as exc:
        try:
            import keyring

            name = _qualname(keyring.get_keyring())
        except Exception:  # noqa: BLE001
            name = "none"
        return KeychainStatus(backend=name, safe=False, problem=exc.message)
    return KeychainStatus(backend=_qualname(backend), safe=True, problem=None)


def scope_for(data_dir: Path, platform: str = sys.platform) -> str:
    """A keychain account suffix unique to one data directory.

    macOS reaches some folders by two paths (``/tmp`` is ``/private/tmp``) and Windows ignores case
    (``C:\\Users`` is ``c:\\users``), so there the path is resolved, and on Windows case-folded, before it is
    hashed: one data directory, one set of keychain entries. Linux keeps the path as given.
    """
    path = str(data_dir.absolute())
    if platform == "darwin":
        path = str(data_dir.resolve())
    elif platform == "win32":
        path = ntpath.normcase(ntpath.abspath(str(data_dir.resolve())))
    return hashlib.sha256(path.encode("utf-8")).hexdigest()[:20]




def refused(action: str, exc: Exception) -> KeychainError:
    """The keychain's refusal of ``action`` (read, write or delete) as ots reports it (exit code 4).

    keyring's backends raise ``KeyringError``, except the Windows one, whose Credential Manager calls
    raise ``pywintypes.error`` (the Windows error number, the call and its message).
    """
    detail = str(exc)
    winerror, funcname = getattr(exc, "winerror", None), getattr(exc, "funcname", None)
    if winerror is not None:
        detail = f"{funcname or 'Credential Manager'} failed with Windows error {winerror}: {exc.args[-1]}"
    return KeychainError(f"the OS keychain refused a {action}: {type(exc).__name__}: {detail}. {_HOW_TO_FIX}")


def local_only(backend: keyring.backend.KeyringBackend) -> keyring.backend.KeyringBackend:
    """``backend``, set to keep entries on this machine where it would otherwise let them roam.

    Windows' Credential Manager stores with "enterprise" persistence by default: the entry follows a
    roaming profile to other machines, while the audit log it unlocks stays here. ots' keys stay local.
    """
    if _qualname(backend) == "keyring.backends.Windows.WinVaultKeyring":
        backend.persist = "local machine"  # type: ignore[attr-defined]
    return backend


class KeychainStore(KeyStore):
    """Key material in the OS keychain, one entry per name and data directory."""

    def __init__(self, scope: str, backend: keyring.backend.KeyringBackend | None = None) -> None:
        self._backend = local_only(backend if backend is not None else choose_backend())
        self._scope = scope
        self.description = f"OS keychain ({_qualname(self._backend)})"

    def _account(self, name: str) -> str:
        return f"{name}:{self._scope}"

    def get(self, name: str) -> str | None:
        try:
            with KEYCHAIN_CALLS:
                return self._backend.get_password(SERVICE, self._account(name))
        except Exception as exc:  # noqa: BLE001 - KeyringError, or the Windows backend's own pywintypes.error
            raise refused("read", exc) from None

    def set(self, name: str, value: str) -> None:
        try:
            with KEYCHAIN_CALLS:
                self._backend.set_password(SERVICE, self._account(name), value)
        except Exception as exc:  # noqa: BLE001 - KeyringError, or the Windows backend's own pywintypes.error
            raise refused("write", exc) from None

    def delete(self, name: str) -> None:
        from keyring.errors import PasswordDeleteError

        try:
            with KEYCHAIN_CALLS:
                self._backend.delete_password(SERVICE, self._account(name))
        except PasswordDeleteError:
            return
        except Exception as exc:  # noqa: BLE001 - KeyringError, or the Windows backend's own pywintypes.error
            raise refused("delete", exc) from None


class FileKeyStore(KeyStore):
    """Key material in one file, sealed with a key derived from a passphrase (Argon2id).

    This is the explicit opt-in fallback for machines without a keychain. Unlike the
    keychain, the file can be copied or rolled back together with the log, which the
    docs point out.
    """

    _OPS = pwhash.argon2id.OPSLIMIT_INTERACTIVE
    _MEM = pwhash.argon2id.MEMLIMIT_INTERACTIVE

    def __init__(self, path: Path, passphrase: SecretBuffer) -> None:
        if not len(passphrase):
            raise KeychainError("the key file passphrase is empty")
        self.path = path
        self.description = f"passphrase-protected key file {path}"
        self._values: dict[str, str] = {}
        self._key: SecretBuffer
        if path.exists():
            self._load(passphrase)
        else:
            salt = os.urandom(pwhash.argon2id.SALTBYTES)
            self._salt = salt
            self._key = self._derive(passphrase, salt)

    def _derive(self, passphrase: SecretBuffer, salt: bytes) -> SecretBuffer:
        raw = pwhash.argon2id.kdf(secret.SecretBox.KEY_SIZE, bytes(passphrase.view()), salt,
                                  opslimit=self._OPS, memlimit=self._MEM)
        return SecretBuffer(raw)

    def _load(self, passphrase: SecretBuffer) -> None:
        try:
            doc: dict[str, Any] = json.loads(self.path.read_text("utf-8"))
            if doc.get("format") != "ots-keyfile" or doc.get("version") != 1:
                raise ValueError("unknown key file format")
            self._salt = base64.b64decode(doc["salt"])
            box_data = base64.b64decode(doc["box"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeychainError(f"cannot read the key file {self.path}: {exc}") from None
        self._key = self._derive(passphrase, self._salt)
        try:
            plain = secret.SecretBox(bytes(self._key.view())).decrypt(box_data)
        except CryptoError:
            raise KeychainError(f"the passphrase for the key file {self.path} is wrong") from None
        self._values = json.loads(plain)

    def get(self, name: str) -> str | None:
        return self._values.get(name)

    def set(self, name: str, value: str) -> None:
        self._values[name] = value
        self._save()

    def delete(self, name: str) -> None:
        if self._values.pop(name, None) is not None:
            self._save()

    def _save(self) -> None:
        box = secret.SecretBox(bytes(self._key.view())).encrypt(json.dumps(self._values).encode("utf-8"))
        doc = {"format": "ots-keyfile", "version": 1, "kdf": "argon2id",
               "salt": base64.b64encode(self._salt).decode(), "box": base64.b64encode(box).decode()}
        try:
            private_files.replace_text(self.path, json.dumps(doc))
        except OSError as exc:
            raise KeychainError(f"cannot write the key file {self.path}: {exc.strerror}") from None
