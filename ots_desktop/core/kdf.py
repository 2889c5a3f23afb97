"""Key derivation for the link envelope: fragment key (+ passphrase) to encryption key and auth token,
and fragment key alone to the link proof.

The envelope keys come from the fragment key, and from a passphrase too when the sender
set one, through PBKDF2-HMAC-SHA256 and HKDF-SHA256 only, so that a browser can repeat
every step with WebCrypto.

Passphrases enter as the UTF-8 bytes of the NFC-normalised text. Normalising is the
caller's job (:func:`passphrase_from_text` does it) because one passphrase typed on two
keyboards can arrive in two Unicode forms; the browser must apply
``String.prototype.normalize("NFC")`` the same way.

Derived secrets are written straight into wipeable buffers (``derive_into``) so they
never exist as immutable ``bytes``. PBKDF2 is ``cryptography``'s rather than
:func:`hashlib.pbkdf2_hmac` for that reason; both compute the same function.
"""

from __future__ import annotations

import hashlib
import unicodedata
from types import TracebackType

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from ots_desktop.core.errors import EnvelopeError, InputError
from ots_desktop.core.ids import FRAGMENT_KEY_LEN, BytesLike
from ots_desktop.core.secret import SecretBuffer

SALT_LEN = 16
KEY_LEN = 32

PBKDF2_MIN_ITERATIONS = 600_000
PBKDF2_DEFAULT_ITERATIONS = 600_000
# A cap keeps a hostile header from pinning the CPU for minutes before the GCM tag can
# reject it; 10 million is about 20 times the default cost.
PBKDF2_MAX_ITERATIONS = 10_000_000

ENC_KEY_INFO = b"ots-desktop/v1 envelope key"
AUTH_TOKEN_INFO = b"ots-desktop/v1 auth token"
LINK_PROOF_INFO = b"ots-desktop/v1 link proof"


def passphrase_from_text(text: str) -> SecretBuffer:
    """Return the NFC-normalised UTF-8 bytes of a passphrase, the form :func:`derive_keys` takes.

    The ``str`` passed in (and the transient ``bytes`` made here) cannot be wiped; call
    this as late as possible and drop the ``str`` right after.
    """
    try:
        return SecretBuffer(unicodedata.normalize("NFC", text).encode("utf-8"))
    except UnicodeEncodeError:
        raise InputError("the passphrase contains characters that cannot be encoded") from None


def check_iterations(iterations: int) -> None:
    """Refuse a PBKDF2 iteration count outside the accepted range with :class:`EnvelopeError`."""
    if (
        isinstance(iterations, bool)
        or not isinstance(iterations, int)
        or not PBKDF2_MIN_ITERATIONS <= iterations <= PBKDF2_MAX_ITERATIONS
    ):
        raise EnvelopeError(
            f"passphrase iterations must be between {PBKDF2_MIN_ITERATIONS} and {PBKDF2_MAX_ITERATIONS}"
            f" (got {iterations!r})"
        )


class DerivedKeys:
    """The two keys of one envelope: the AES-256-GCM key and the relay auth token."""

    __slots__ = ("auth_token", "enc_key")

    def __init__(self, enc_key: SecretBuffer, auth_token: SecretBuffer) -> None:
        self.enc_key = enc_key
        self.auth_token = auth_token

    def close(self) -> None:
        """Wipe both keys. Safe to call twice."""
        self.enc_key.close()
        self.auth_token.close()

    def __enter__(self) -> DerivedKeys:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return "<DerivedKeys [redacted]>"


def derive_keys(
    fragment_key: SecretBuffer,
    salt: BytesLike,
    passphrase: SecretBuffer | None = None,
    iterations: int = PBKDF2_DEFAULT_ITERATIONS,
) -> DerivedKeys:
    """Derive the envelope key and the auth token.

    ``ikm`` is the fragment key, or the fragment key followed by
    PBKDF2-HMAC-SHA256(passphrase, salt, iterations, 32 bytes) when a passphrase is
    given. Then ``enc_key = HKDF-SHA256(ikm, salt, ENC_KEY_INFO, 32)`` and
    ``auth_token = HKDF-SHA256(ikm, salt, AUTH_TOKEN_INFO, 32)``. ``iterations`` is
    only used, and only checked, when a passphrase is given.
    """
    if not isinstance(fragment_key, SecretBuffer) or len(fragment_key) != FRAGMENT_KEY_LEN:
        raise InputError(f"the fragment key must be {FRAGMENT_KEY_LEN} bytes")
    if len(salt) != SALT_LEN:
        raise InputError(f"the salt must be {SALT_LEN} bytes")
    salt_bytes = bytes(salt)
    if passphrase is not None:
        check_iterations(iterations)
    enc_key = SecretBuffer.allocate(KEY_LEN)
    auth_token = SecretBuffer.allocate(KEY_LEN)
    ikm_len = FRAGMENT_KEY_LEN if passphrase is None else FRAGMENT_KEY_LEN + KEY_LEN
    try:
        with SecretBuffer.allocate(ikm_len) as ikm:
            ikm_view = ikm.writable()
            ikm_view[:FRAGMENT_KEY_LEN] = fragment_key.view()
            if passphrase is not None:
                pbkdf2 = PBKDF2HMAC(hashes.SHA256(), KEY_LEN, salt_bytes, iterations)
                pbkdf2.derive_into(passphrase.view(), ikm_view[FRAGMENT_KEY_LEN:])
            HKDF(hashes.SHA256(), KEY_LEN, salt_bytes, ENC_KEY_INFO).derive_into(ikm_view, enc_key.writable())
            HKDF(hashes.SHA256(), KEY_LEN, salt_bytes, AUTH_TOKEN_INFO).derive_into(ikm_view, auth_token.writable())
    except BaseException:
        enc_key.close()
        auth_token.close()
        raise
    return DerivedKeys(enc_key, auth_token)


def derive_link_proof(fragment_key: SecretBuffer, salt: BytesLike) -> SecretBuffer:
    """The link proof: ``HKDF-SHA256(fragment_key, salt, LINK_PROOF_INFO, 32)``.

    It shows the relay that a client holds the link's key, and nothing more: it comes from
    the key alone, never from the passphrase, so the relay can refuse a client without the
    key before any passphrase attempt is counted. The relay keeps only its SHA-256
    (:func:`auth_token_hash` computes that too). Cheap: no PBKDF2.
    """
    if not isinstance(fragment_key, SecretBuffer) or len(fragment_key) != FRAGMENT_KEY_LEN:
        raise InputError(f"the fragment key must be {FRAGMENT_KEY_LEN} bytes")
    if len(salt) != SALT_LEN:
        raise InputError(f"the salt must be {SALT_LEN} bytes")
    proof = SecretBuffer.allocate(KEY_LEN)
    try:
        HKDF(hashes.SHA256(), KEY_LEN, bytes(salt), LINK_PROOF_INFO).derive_into(fragment_key.view(), proof.writable())
    except BaseException:
        proof.close()
        raise
    return proof


def auth_token_hash(token: SecretBuffer | BytesLike) -> str:
    """Return the lowercase hex SHA-256 of an auth token: the only form the relay stores.

    The relay compares a presented token's hash with this value before it releases the
    ciphertext. With a passphrase, someone holding the link but not the passphrase
    therefore cannot fetch the ciphertext to guess offline: each guess is a request the
    relay can count and limit. Without a passphrase the token only proves the link.
    """
    raw = token.view() if isinstance(token, SecretBuffer) else token
    return hashlib.sha256(raw).hexdigest()
