"""Secret fingerprints in audit entries: keyed BLAKE3, and the keyed SHA-256 of older entries.

A fingerprint lets ``ots audit lookup`` answer "was this secret ever shared?" without the
log holding the secret. It is 128 bits of a keyed hash of the secret, under the
installation's fingerprint key (kept in the keychain, apart from the signing keys), so the
log file alone cannot be used to test guesses.

Entries written from now on carry ``blake3:`` fingerprints: BLAKE3 in keyed mode, under a
key derived from the installation's key with BLAKE3's key-derivation mode. Feeding a 1 GiB
file to it costs about a quarter of HMAC-SHA256 on the same core, and a large file is fed
once as it is sent and once as it is received. Entries written before carry
``hmac-sha256:`` fingerprints (HMAC-SHA256 under the installation's key itself); a lookup
computes both, so those entries keep matching.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Protocol

from ots_desktop.core.secret import SecretBuffer

PREFIX = "blake3:"
LEGACY_PREFIX = "hmac-sha256:"
HEX_DIGITS = 32  # 128 bits
# BLAKE3's derive_key context: fixed for good, since changing it changes every fingerprint.
_KEY_CONTEXT = "ots-desktop 2026-12-07 secret fingerprint key for audit lookups"

__all__ = ["LEGACY_PREFIX", "PREFIX", "FingerprintKey", "Hasher", "text_of"]


class Hasher(Protocol):
    """A keyed hash fed piece by piece (what :meth:`FingerprintKey.hasher` returns)."""

    def update(self, data: bytes | bytearray | memoryview, /) -> object: ...

    def hexdigest(self) -> str: ...

    def digest(self) -> bytes: ...

    def copy(self) -> Hasher: ...


def text_of(hasher: Hasher) -> str:
    """The fingerprint text of a fed :meth:`FingerprintKey.hasher`."""
    return PREFIX + hasher.hexdigest()[:HEX_DIGITS]


class FingerprintKey:
    """The installation's fingerprint key and the BLAKE3 key derived from it; ``close`` wipes both.

    blake3 is loaded and the key derived on first use, not when the audit log opens: most
    starts of the app and the CLI never fingerprint anything.
    """

    def __init__(self, key: SecretBuffer) -> None:
        self._key = key
        self._derived: SecretBuffer | None = None

    def hasher(self) -> Hasher:
        """A new keyed BLAKE3 hash, for secrets fed chunk by chunk (files); finish with :func:`text_of`."""
        from blake3 import blake3

        if self._derived is None:
            self._derived = SecretBuffer(blake3(self._key.view(), derive_key_context=_KEY_CONTEXT).digest())
        return blake3(key=self._derived.view())

    def of(self, data: bytes | bytearray | memoryview) -> str:
        """The fingerprint new entries carry for ``data``."""
        hasher = self.hasher()
        hasher.update(data)
        return text_of(hasher)

    def legacy_of(self, data: bytes | bytearray | memoryview) -> str:
        """The fingerprint entries written before BLAKE3 carry for ``data`` (HMAC-SHA256)."""
        mac = hmac.new(bytes(self._key.view()), data, hashlib.sha256).hexdigest()
        return LEGACY_PREFIX + mac[:HEX_DIGITS]

    def candidates(self, data: bytes | bytearray | memoryview) -> list[str]:
        """Every fingerprint an entry for ``data`` may carry, newest scheme first."""
        return [self.of(data), self.legacy_of(data)]

    def close(self) -> None:
        if self._derived is not None:
            self._derived.close()
        self._key.close()

    def __enter__(self) -> FingerprintKey:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
