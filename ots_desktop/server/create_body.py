"""Taking a create request apart with one copy of its envelope at a time.

A create body is JSON whose one large field is the envelope, base64url text. Parsed the
plain way it would exist four times over (the raw body, the body decoded to text, the
envelope's string, then its bytes). Here the envelope's text is found in the raw body and
decoded in place, a slice at a time, into the front of the same buffer; the rest of the body
(a few hundred bytes) is parsed as JSON with the envelope's value left empty. The peak is
the raw body plus the decoded envelope.

The shortcut is taken only when it must give what a JSON parser gives: the object parsed
without the envelope's text holds exactly one ``envelope`` key, and its value is the empty
string left behind, so the text cut out was that field's value and nothing else. Otherwise
(escapes in the value, a duplicate key, an ``"envelope"`` inside another string) the body is
parsed the plain way.
"""

from __future__ import annotations

import binascii
import json
import re
from typing import Any

from ots_desktop.server.link_policy import ApiError

_ENVELOPE = re.compile(rb'"envelope"\s*:\s*"([A-Za-z0-9_-]*)"')
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
# Base64 characters decoded per step: a multiple of 4, so that every step but the last is whole groups.
STEP = 1 << 20


class _DuplicateKey(ValueError):
    pass


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise _DuplicateKey
    return value


def _bad_json() -> ApiError:
    return ApiError(400, "bad_request", "the request body is not valid JSON (or nested too deeply)")


def _loads(raw: bytes | bytearray, **kwargs: Any) -> Any:
    try:
        return json.loads(raw, **kwargs)
    except _DuplicateKey:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise _bad_json() from None


def split_create_body(buffer: bytearray) -> Any:
    """The parsed body, its ``envelope`` already decoded to ``bytes`` when it could be done in place.

    ``buffer`` is overwritten. Invalid JSON, and an envelope that is not canonical base64url
    (which the caller would refuse all the same), raise a 400 :class:`ApiError`.
    """
    found = _ENVELOPE.search(buffer)
    if found is None:
        return _loads(buffer)
    start, end = found.span(1)
    try:
        rest = _loads(bytes(buffer[:start]) + bytes(buffer[end:]), object_pairs_hook=_unique)
    except _DuplicateKey:
        rest = None
    if not isinstance(rest, dict) or rest.get("envelope") != "":
        return _loads(buffer)
    rest["envelope"] = _decode_in_place(buffer, start, end)
    return rest


def _not_base64url() -> ApiError:
    return ApiError(400, "bad_request", "envelope is not valid base64url")


def _decode_in_place(buffer: bytearray, start: int, end: int) -> bytes:
    """Decode the base64url text in ``buffer[start:end]``, which must be canonical base64url."""
    if (end - start) % 4 == 1:
        raise _not_base64url()
    view = memoryview(buffer)
    try:
        written, position = start, start
        while position < end:
            stop = min(position + STEP, end)
            piece = view[position:stop].tobytes().translate(_TO_STANDARD)
            last = stop == end
            if last:
                piece += b"=" * (-len(piece) % 4)
            try:
                decoded = binascii.a2b_base64(piece, strict_mode=True)
                # Only the final group can have spare bits; they must be zero (one spelling per value).
                if last and piece and binascii.b2a_base64(binascii.a2b_base64(piece[-4:]), newline=False) != piece[-4:]:
                    raise _not_base64url()
            except binascii.Error:
                raise _not_base64url() from None
            view[written:written + len(decoded)] = decoded  # never past ``position``: 3 bytes out per 4 in
            written += len(decoded)
            position = stop
        return view[start:written].tobytes()
    finally:
        view.release()
