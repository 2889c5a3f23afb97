"""What 1 GiB costs in the work a large link cannot skip, on this machine: the floor under bench_link_large.

``python -m tests.benchmarks.link_large_floor`` times, in one thread and in the pieces the
streamed envelope uses (1 MiB), best of three: AES-256-GCM sealing and opening
(:class:`~ots_desktop.core.chunks.ChunkCipher`), the audit fingerprint (keyed BLAKE3, which
the sender must finish before anything is sent and the receiver before the file is saved;
HMAC-SHA256, what older entries carry, beside it; the second reading's change check feeds
the same hash), the page-cache reading and writing of the file, and the sender's whole first
reading as :mod:`ots_desktop.channels.source_print` does it (reading on one thread while
hashing on another).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ots_desktop.channels.source_print import read_and_feed
from ots_desktop.core.audit.fingerprints import FingerprintKey
from ots_desktop.core.chunks import KIND_DATA, ChunkCipher
from ots_desktop.core.ids import new_fragment_key
from ots_desktop.core.kdf import derive_keys
from ots_desktop.core.secret import SecretBuffer

PIECE = 1024 * 1024


def _best(work: Callable[[], None], trials: int = 3) -> float:
    times = []
    for _ in range(trials):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def floor(size: int = 1 << 30) -> dict[str, float]:
    """Seconds for ``size`` bytes of each step."""
    count = size // PIECE
    plain, sealed, back = bytearray(os.urandom(PIECE)), bytearray(PIECE + 16), bytearray(PIECE)
    with new_fragment_key() as key:
        cipher = ChunkCipher(derive_keys(key, b"\x01" * 16, None, 0), b"\x02" * 44, b"\x03" * 16)
        try:
            cipher.seal_into(1, KIND_DATA, memoryview(plain), memoryview(sealed))
            one = bytes(sealed)

            def seal() -> None:
                for n in range(count):
                    cipher.seal_into(n + 1, KIND_DATA, memoryview(plain), memoryview(sealed))

            def open_() -> None:
                for _ in range(count):
                    cipher.open_into(1, KIND_DATA, memoryview(one), memoryview(back))

            def fingerprint() -> None:
                with FingerprintKey(SecretBuffer(os.urandom(32))) as key:
                    hasher = key.hasher()
                    for _ in range(count):
                        hasher.update(plain)

            def legacy_fingerprint() -> None:
                mac = hmac.new(os.urandom(32), digestmod=hashlib.sha256)
                for _ in range(count):
                    mac.update(plain)

            figures = {"AES-256-GCM seal": _best(seal), "AES-256-GCM open": _best(open_),
                       "BLAKE3 fingerprint": _best(fingerprint),
                       "HMAC-SHA256 (the fingerprint of older entries)": _best(legacy_fingerprint)}
        finally:
            cipher.close()
    with tempfile.TemporaryDirectory(prefix="ots-floor-") as tmp:
        path = Path(tmp) / "file"

        def write() -> None:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                for _ in range(count):
                    os.write(fd, plain)
            finally:
                os.close(fd)

        def read() -> None:
            with path.open("rb", buffering=0) as stream:
                while stream.readinto(back):
                    pass

        def first_reading() -> None:
            with FingerprintKey(SecretBuffer(os.urandom(32))) as key:
                read_and_feed(lambda: path.open("rb"), key.hasher())

        figures["page-cache write"] = _best(write)
        figures["page-cache read"] = _best(read)
        figures["the sender's first reading (page-cache read and BLAKE3 on two threads)"] = _best(first_reading)
    return figures


if __name__ == "__main__":
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    for name, seconds in floor(mib * 1024 * 1024).items():
        print(f"{name}: {seconds:.2f} s for {mib} MiB")
