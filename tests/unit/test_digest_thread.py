"""The digest thread that feeds the audit fingerprint of large files beside the rest of their work."""

from __future__ import annotations

import hashlib
import hmac
import os
import threading

import pytest

from ots_desktop.channels.digest_thread import SLOTS, DigestThread

MIB = 1024 * 1024


def test_the_hash_gets_every_piece_in_order() -> None:
    pieces = [os.urandom(size) for size in (MIB, MIB, 17, 0, 3 * MIB, 5)]
    mac = hmac.new(b"k" * 32, digestmod=hashlib.sha256)
    buffer = bytearray(3 * MIB)
    with DigestThread(mac) as digest:
        for piece in pieces:
            # The caller reuses its buffer at once: the thread hashes its own copy.
            buffer[: len(piece)] = piece
            assert digest.write(memoryview(buffer)[: len(piece)]) == len(piece)
            buffer[: len(piece)] = bytes(len(piece))
        digest.finish()
    assert mac.digest() == hmac.new(b"k" * 32, b"".join(pieces), hashlib.sha256).digest()


def test_close_wipes_the_buffers_and_refuses_more() -> None:
    digest = DigestThread(hashlib.sha256())
    digest.write(b"canary-digest-thread" * 1000)
    digest.finish()
    slots = list(digest._slots)
    digest.close()
    digest.close()  # twice is fine
    assert all(not any(slot) for slot in slots)
    with pytest.raises(ValueError, match="closed"):
        digest.write(b"more")


class _Gate:
    """A hash that waits for the test before taking each piece, and can fail."""

    def __init__(self) -> None:
        self.entered = threading.Semaphore(0)
        self.go = threading.Semaphore(0)
        self.taken: list[bytes] = []
        self.fail = False

    def update(self, data: memoryview, /) -> None:
        self.entered.release()
        assert self.go.acquire(timeout=30)
        if self.fail:
            raise OSError(28, "No space left on device")
        self.taken.append(bytes(data))


def test_memory_is_bounded_a_slow_hash_holds_the_writer_back() -> None:
    gate = _Gate()
    digest = DigestThread(gate)
    try:
        for n in range(SLOTS):
            digest.write(bytes([n]))  # every buffer now waits for the hash
        assert gate.entered.acquire(timeout=30)  # the hash holds the first piece's buffer
        assert digest._free.empty()  # so the next write has no buffer and must wait
        blocked = threading.Thread(target=digest.write, args=(b"late",))
        blocked.start()
        for _ in range(SLOTS + 1):
            gate.go.release()
        blocked.join(30)
        assert not blocked.is_alive()
        digest.finish()
    finally:
        digest.close()
    assert gate.taken == [bytes([n]) for n in range(SLOTS)] + [b"late"]


def test_a_failing_hash_is_raised_to_the_writer() -> None:
    gate = _Gate()
    gate.fail = True
    digest = DigestThread(gate)
    try:
        digest.write(b"first")
        gate.go.release()
        assert gate.entered.acquire(timeout=30)
        with pytest.raises(OSError, match="No space"):
            digest.finish()
        with pytest.raises(ValueError, match="closed"):
            digest.write(b"after")
    finally:
        digest.close()
