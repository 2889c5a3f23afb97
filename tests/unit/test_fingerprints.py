"""Secret fingerprints: fixed answers, since a change would stop every lookup of existing entries."""

from __future__ import annotations

import hashlib
import hmac

from ots_desktop.core.audit.fingerprints import FingerprintKey, text_of
from ots_desktop.core.secret import SecretBuffer

KEY = bytes(range(32))


def test_the_blake3_fingerprint_has_a_fixed_answer_for_a_fixed_key() -> None:
    # The value the first release with BLAKE3 fingerprints gave; any change to the key derivation breaks lookups.
    key = FingerprintKey(SecretBuffer(KEY))
    try:
        assert key.of(b"abc") == "blake3:690405a64fb76dfab607c99890a7d861"
    finally:
        key.close()


def test_the_legacy_fingerprint_is_hmac_sha256_under_the_key_itself() -> None:
    key = FingerprintKey(SecretBuffer(KEY))
    try:
        assert key.legacy_of(b"abc") == "hmac-sha256:" + hmac.new(KEY, b"abc", hashlib.sha256).hexdigest()[:32]
        assert key.candidates(b"abc") == [key.of(b"abc"), key.legacy_of(b"abc")]
    finally:
        key.close()


def test_feeding_in_pieces_gives_the_fingerprint_of_the_whole() -> None:
    key = FingerprintKey(SecretBuffer(KEY))
    try:
        data = bytes(range(256)) * 9000
        hasher = key.hasher()
        for start in range(0, len(data), 65_537):
            hasher.update(memoryview(data)[start:start + 65_537])
        assert text_of(hasher) == key.of(data)
        assert key.of(data) != key.of(data[:-1])
    finally:
        key.close()


def test_different_installation_keys_give_unrelated_fingerprints() -> None:
    one, two = FingerprintKey(SecretBuffer(KEY)), FingerprintKey(SecretBuffer(bytes(32)))
    try:
        assert one.of(b"same") != two.of(b"same")
    finally:
        one.close()
        two.close()


def test_close_wipes_both_keys() -> None:
    installation = SecretBuffer(KEY)
    key = FingerprintKey(installation)
    key.of(b"derives the BLAKE3 key")
    derived = key._derived  # the wipe is the point
    assert derived is not None
    key.close()
    assert installation.closed and derived.closed


def test_a_key_never_used_closes_too() -> None:
    installation = SecretBuffer(KEY)
    FingerprintKey(installation).close()
    assert installation.closed
