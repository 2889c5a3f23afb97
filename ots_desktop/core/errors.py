"""The one error tree of ots-desktop.

Every error carries a message written for the person at the keyboard and an exit
code for the CLI. Messages never include a secret, a code, a key or a passphrase.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of the ``ots`` CLI (documented in docs/cli.md)."""

    OK = 0
    ERROR = 1
    USAGE = 2
    TAMPERED = 3
    KEYCHAIN = 4
    CONFIG = 5
    INPUT = 6
    NOT_FOUND = 7
    CANNOT_VERIFY = 8
    WRONG_CODE = 10
    PEER_NEVER_CAME = 11
    CROWDED = 12
    SERVER_UNREACHABLE = 13
    TIMEOUT = 14
    TRANSFER_FAILED = 15
    UNSAFE_PATH = 16
    REJECTED = 17
    CANCELLED = 130


class OtsError(Exception):
    """Root of every error the app reports to a user."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(OtsError):
    """The config file or an ``OTS_*`` variable holds an invalid value; ``field`` names the setting."""

    exit_code = ExitCode.CONFIG

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InputError(OtsError):
    """Input given to a command is unusable (empty, too large, malformed)."""

    exit_code = ExitCode.INPUT


class SecretTooLargeError(InputError):
    """A secret is over the size limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the secret is larger than the limit of {limit} bytes")
        self.limit = limit


class EnvelopeError(OtsError):
    """An envelope cannot be opened: damaged, wrong key, wrong passphrase or unknown format."""


class KeychainError(OtsError):
    """The OS keychain is missing, unsafe, locked or refused a read or write."""

    exit_code = ExitCode.KEYCHAIN


class AuditError(OtsError):
    """The audit log cannot be written or read. Actions that need it do not happen."""


class AuditTamperedError(AuditError):
    """The audit log failed verification (``seq``: the first bad entry, when known)."""

    exit_code = ExitCode.TAMPERED

    def __init__(self, message: str, *, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq


class AuditUnverifiableError(AuditError):
    """The audit log cannot be checked: the keychain holds no anchor for it, or the file has no identity."""

    exit_code = ExitCode.CANNOT_VERIFY
