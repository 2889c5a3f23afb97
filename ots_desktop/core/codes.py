"""Wormhole codes as people give them: read aloud, typed with spaces, or scanned from a QR code.

The code itself is ``NAMEPLATE-word-word...``. A code read aloud arrives with spaces; a
QR code holds ``wormhole-transfer:CODE``. Both are turned into the plain form here, and
anything that still is not a code is refused as bad input before it reaches the
mailbox, where a malformed code would be indistinguishable from a wrong one.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, quote, unquote, urlsplit

from ots_desktop.core.errors import InputError

URI_SCHEME = "wormhole-transfer:"
PUBLIC_MAILBOX_URL = "ws://relay.magic-wormhole.io:4000/v1"  # the magic-wormhole project's public mailbox
# Words are not checked against a list: other clients accept custom codes with other words.
_SHAPE = re.compile(r"[0-9]+(?:-[^\s-]+)+")


def code_uri(code: str, mailbox_url: str | None = None) -> str:
    """The URI a QR code carries for ``code`` (what wormhole apps scan).

    A mailbox other than the public one goes in the ``rendezvous`` parameter (percent-encoded), as
    the wormhole-transfer URI scheme has it, so that a scanning app finds the sender's mailbox.
    """
    uri = f"{URI_SCHEME}{quote(code.strip(), safe='-')}"
    if mailbox_url and mailbox_url.strip() != PUBLIC_MAILBOX_URL:
        uri += f"?rendezvous={quote(mailbox_url.strip(), safe='')}"
    return uri


def normalise_code(text: str) -> str:
    """A code as typed, spoken or scanned, in plain form (``7 crossover clockwork`` -> ``7-crossover-clockwork``)."""
    text = text.strip()
    if text.lower().startswith(URI_SCHEME):
        text = unquote(text[len(URI_SCHEME):].split("?", 1)[0])
    return re.sub(r"\s*-\s*|\s+", "-", text.strip())


def rendezvous_of(text: str) -> str | None:
    """The mailbox a scanned ``wormhole-transfer:`` URI names in its ``rendezvous`` parameter, if any.

    The public mailbox counts as none. Anything but a ws:// or wss:// URL with a host is refused: a
    QR code is untrusted input, and the code is meaningless on any other mailbox anyway.
    """
    text = text.strip()
    if not text.lower().startswith(URI_SCHEME) or "?" not in text:
        return None
    values = parse_qs(text.split("?", 1)[1]).get("rendezvous", [])
    if not values:
        return None
    url = values[0].strip()
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname or any(c.isspace() for c in url):
        raise InputError("the scanned code names a mailbox that is not a ws:// or wss:// address")
    return None if url == PUBLIC_MAILBOX_URL else url


NOT_A_CODE = "that is not a wormhole code: a code is a number and words, like 7-crossover-clockwork"
INCOMPLETE = "the code is incomplete: type the words after the number too, like 7-crossover-clockwork"


def check_code(text: str) -> str:
    """The plain form of a code; InputError when it cannot be one (nothing is sent to the mailbox)."""
    code = normalise_code(text)
    if _SHAPE.fullmatch(code):
        return code
    raise InputError(INCOMPLETE if re.fullmatch(r"[0-9]+-?", code) else NOT_A_CODE)


def code_and_mailbox(text: str) -> tuple[str, str | None]:
    """:func:`check_code` and :func:`rendezvous_of` together: the code, and the mailbox a scanned one names."""
    return check_code(text), rendezvous_of(text)
