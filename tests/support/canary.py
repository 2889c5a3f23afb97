"""Scanning files for a canary secret in every encoding it could leak in."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from pathlib import Path


def encodings(canary: bytes) -> dict[str, bytes]:
    """The forms a leaked secret could take on disk."""
    forms = {
        "raw": canary,
        "hex": canary.hex().encode(),
        "HEX": canary.hex().upper().encode(),
        "utf-16-le": canary.decode().encode("utf-16-le"),
        "utf-16-be": canary.decode().encode("utf-16-be"),
    }
    # Base64 of the canary depends on its alignment in the surrounding data; check all three.
    for shift in range(3):
        padded = b"\0" * shift + canary
        for name, enc in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
            text = enc(padded).rstrip(b"=")
            # Drop the characters that mix in the unknown neighbours.
            forms[f"{name}+{shift}"] = text[(shift * 4 + 2) // 3 + 1 : -2]
    return forms


def files_under(roots: Iterable[Path]) -> list[Path]:
    """Every regular file below ``roots``."""
    return [p for root in roots if root.exists() for p in root.rglob("*") if p.is_file() and not p.is_symlink()]


def find_canary(roots: Iterable[Path], canary: bytes) -> list[str]:
    """``path: encoding`` for each file that holds the canary in any form."""
    forms = encodings(canary)
    hits = []
    for path in files_under(roots):
        data = path.read_bytes()
        hits.extend(f"{path}: {name}" for name, form in forms.items() if form and form in data)
    return hits
