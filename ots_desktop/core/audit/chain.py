"""Canonical encoding and the SHA-256 hash chain of the audit log.

Each entry's hash covers the previous entry's hash and the entry's canonical JSON
body, which itself holds the sequence number. Editing, dropping, inserting or
reordering an entry therefore breaks the chain at that entry.

The chain starts from a genesis hash that commits to the log's id and its root public
key, so a chain cannot be moved under another log's identity, and a log re-created
with a new key does not share a single hash with the old one.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

_DOMAIN = b"ots-desktop audit entry v2\n"
_GENESIS_DOMAIN = b"ots-desktop audit genesis v2\n"


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


def genesis(log_id: str, root_public_key: bytes) -> str:
    """The ``prev_hash`` of entry 1: binds the chain to its log id and root key."""
    digest = hashlib.sha256(_GENESIS_DOMAIN)
    digest.update(log_id.encode("ascii"))
    digest.update(b"\n")
    digest.update(root_public_key)
    return digest.hexdigest()
