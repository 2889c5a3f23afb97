"""The envelope's metadata: what the sealed secret is (text or file, name, size, type), as canonical JSON.

It travels encrypted in the envelope's first chunk (:mod:`ots_desktop.core.envelope`). Sealing
refuses metadata a receiver could not trust; opening treats anything else as damage.

The chunk's length is visible to the relay, so the JSON is padded with spaces to a fixed
bucket (:func:`pad_meta`): a text and a file, short names and long ones, all give the same
length. JSON allows trailing whitespace, so every reader, older ones included, parses the
padded text as it is, and unpadded envelopes written before padding open too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import cast

from ots_desktop.core.errors import EnvelopeError, InputError

MAX_META_LEN = 64 * 1024
# The smallest padded length: it holds a 255-byte file name (the longest most file systems
# allow) with any common type; longer metadata goes to the next power of two.
META_BUCKET = 512
Meta = dict[str, object]
_BAD_META = "the envelope is damaged: its description of the secret is invalid"
_META_FIELDS = frozenset({"type", "name", "size", "mime"})
_BAD_NAME = "the file name must be non-empty, not '.' or '..', without '/', '\\', NUL or control characters"


def meta_problem(meta: object) -> str | None:
    """What is wrong with ``meta`` (a sentence), or None."""
    if not isinstance(meta, Mapping):
        return "the metadata must be a mapping"
    name, size = meta.get("name", "x"), meta.get("size", 0)
    checks = (
        (set(meta) <= _META_FIELDS, "the metadata may only hold the fields type, name, size and mime"),
        (meta.get("type") in ("text", "file"), "the metadata type must be 'text' or 'file'"),
        (isinstance(name, str) and name not in ("", ".", "..") and name.isprintable(), _BAD_NAME),
        (isinstance(name, str) and not set(name) & {"/", "\\"}, _BAD_NAME),
        (isinstance(size, int) and not isinstance(size, bool) and size >= 0, "the size must be an integer >= 0"),
        (isinstance(meta.get("mime", ""), str), "the mime type must be a string"),
    )
    return next((message for ok, message in checks if not ok), None)


def encode_meta(meta: Mapping[str, object]) -> bytes:
    """Canonical UTF-8 JSON of ``meta``; InputError when a receiver could not trust it."""
    problem = meta_problem(meta)
    if problem:
        raise InputError(problem)
    text = json.dumps(dict(meta), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError("the metadata holds text that is not valid Unicode") from None
    if len(raw) > MAX_META_LEN:
        raise InputError(f"the metadata is larger than {MAX_META_LEN} bytes")
    return raw


def pad_meta(raw: bytes) -> bytes:
    """``raw`` followed by spaces up to META_BUCKET bytes, or the next power of two (at most MAX_META_LEN)."""
    size = META_BUCKET
    while size < len(raw):
        size *= 2
    return raw + b" " * (min(size, MAX_META_LEN) - len(raw))


def _unique_keys(pairs: list[tuple[str, object]]) -> Meta:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


def decode_meta(raw: bytearray) -> Meta:
    """The metadata in ``raw``; EnvelopeError for anything that is not what :func:`encode_meta` writes."""
    try:
        meta = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError):
        raise EnvelopeError(_BAD_META) from None
    if meta_problem(meta):
        raise EnvelopeError(_BAD_META)
    return cast(Meta, meta)
