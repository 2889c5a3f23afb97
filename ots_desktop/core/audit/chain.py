"""Canonical encoding and the SHA-256 hash chain of the audit log.

Each entry's hash covers the previous entry's hash and the entry's canonical JSON
body, which itself holds the sequence number. Editing, dropping, inserting or
reordering an entry therefore breaks the chain at that entry.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS = "0" * 64
_DOMAIN = b"ots-desktop audit entry v1\n"


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, ASCII only: the one encoding that is hashed and signed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def entry_hash(prev_hash: str, body: str) -> str:
    """The chain hash of an entry whose canonical body is ``body``."""
    digest = hashlib.sha256(_DOMAIN)
    digest.update(prev_hash.encode("ascii"))
    digest.update(b"\n")
    digest.update(body.encode("ascii"))
    return digest.hexdigest()
