"""Large test files that are cheap to make and never repeat a block, and their sha256."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

BLOCK = 4 * 1024 * 1024


def make_big_file(path: Path, size: int) -> str:
    """``size`` bytes (a multiple of 4 MiB) at ``path``: one random block, each copy numbered. Their sha256."""
    digest = hashlib.sha256()
    block = os.urandom(BLOCK)
    with path.open("wb") as out:
        for index in range(size // BLOCK):
            chunk = index.to_bytes(8, "big") + block[8:]
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    """The sha256 of a file, read in 8 MiB pieces."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(8 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
