"""Identifiers of a one-time link: the share id, the fragment key, and their base64url form.

A share is named by a random *share id* (16 bytes) and unlocked by a random *fragment
key* (32 bytes) that never reaches the relay. Both travel as base64url without padding,
because mail clients strip a trailing ``=``.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets

from ots_desktop.core.errors import InputError
from ots_desktop.core.secret import SecretBuffer

BytesLike = bytes | bytearray | memoryview

SHARE_ID_LEN = 16
FRAGMENT_KEY_LEN = 32

_B64U_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")


def new_share_id() -> bytes:
    """Return a fresh random 16-byte share id (not secret: the relay sees it)."""
    return secrets.token_bytes(SHARE_ID_LEN)


def new_fragment_key() -> SecretBuffer:
    """Return a fresh random 32-byte fragment key in a wipeable buffer."""
    # The short-lived bytes object from the CSPRNG cannot be wiped; Python offers no
    # portable way to read random bytes straight into a bytearray.
    return SecretBuffer(secrets.token_bytes(FRAGMENT_KEY_LEN))


def b64u_encode(data: SecretBuffer | BytesLike) -> str:
    """Encode bytes as base64url (RFC 4648 section 5) without ``=`` padding."""
    raw = data.view() if isinstance(data, SecretBuffer) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    """Decode unpadded base64url.

    Lenient on padding only: up to two trailing ``=`` are accepted and ignored.
    Everything else is strict: no whitespace, no ``+`` or ``/``, and the unused low bits
    of the last character must be zero, so every value has exactly one accepted
    spelling (besides the optional padding). Raises :class:`InputError`; the message
    never repeats the input, which may be a key.
    """
    if not isinstance(text, str):
        raise InputError("base64url input must be text")
    body = text.rstrip("=")
    if len(text) - len(body) > 2:
        raise InputError("not valid base64url: too many '=' padding characters")
    if not _B64U_ALPHABET.fullmatch(body):
        raise InputError("not valid base64url: only A-Z, a-z, 0-9, '-' and '_' are allowed")
    if len(body) % 4 == 1:
        raise InputError("not valid base64url: the length is impossible")
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise InputError("not valid base64url") from None
    if b64u_encode(raw) != body:
        raise InputError("not valid base64url: the last character has stray bits set")
    return raw
