"""Every limit the CLI, the app, the channels and the relay enforce, written once.

Each check raises :class:`~ots_desktop.core.errors.InputError` with a sentence for the
person at the keyboard; the relay turns the same sentences into 400 answers.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from ots_desktop.core.countries import MAX_COUNTRIES, check_countries
from ots_desktop.core.errors import InputError

# A text secret (larger secrets travel as files).
TEXT_MAX_BYTES = 1 << 20
TEXT_TOO_LARGE = "a text secret is limited to 1 MiB; send larger secrets as a file"

# One-time links.
LINK_MIN_EXPIRY_S = 5 * 60
LINK_MAX_EXPIRY_S = 30 * 24 * 3600
LINK_DEFAULT_EXPIRY_S = 3600
LINK_MIN_VIEWS = 1
LINK_MAX_VIEWS = 10
LINK_DEFAULT_VIEWS = 1
LINK_MAX_CIDRS = 32
LINK_MAX_COUNTRIES = MAX_COUNTRIES

# Wormhole codes: words after the nameplate.
CODE_MIN_WORDS = 2
CODE_MAX_WORDS = 8
CODE_DEFAULT_WORDS = 3

# Notes typed for the audit log (labels, recipients, reasons).
AUDIT_TEXT_MAX = 200
MAX_RECIPIENTS = 20
_SPLIT_RECIPIENTS = re.compile(r"[,;\n]+")


def check_text_size(size: int) -> None:
    """Refuse a text secret over :data:`TEXT_MAX_BYTES`."""
    if size > TEXT_MAX_BYTES:
        raise InputError(TEXT_TOO_LARGE)


def check_link_expiry(seconds: int) -> int:
    """``seconds`` when a link may live that long."""
    if not LINK_MIN_EXPIRY_S <= seconds <= LINK_MAX_EXPIRY_S:
        raise InputError("a link lives 5 minutes (5m) at the shortest and 30 days (30d) at the longest")
    return seconds


def check_link_views(views: int) -> int:
    """``views`` when a link may open that many times."""
    if isinstance(views, bool) or not LINK_MIN_VIEWS <= views <= LINK_MAX_VIEWS:
        raise InputError(f"a link opens {LINK_MIN_VIEWS} to {LINK_MAX_VIEWS} times")
    return views


def check_cidr_count(count: int) -> None:
    """Refuse more allowed networks than a link may carry."""
    if count > LINK_MAX_CIDRS:
        raise InputError(f"a link allows at most {LINK_MAX_CIDRS} networks")


def check_code_words(words: int) -> int:
    """``words`` when a wormhole code may be that long."""
    if isinstance(words, bool) or not CODE_MIN_WORDS <= words <= CODE_MAX_WORDS:
        raise InputError(f"a code has {CODE_MIN_WORDS} to {CODE_MAX_WORDS} words")
    return words


def check_audit_text(what: str, value: str) -> None:
    """Refuse a note for the audit log that is too long or holds control characters."""
    if len(value) > AUDIT_TEXT_MAX:
        raise InputError(f"the {what} is longer than {AUDIT_TEXT_MAX} characters ({len(value)}); shorten it")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise InputError(f"the {what} holds a line break or another control character; keep it to one line")


def check_note(text: str, what: str) -> str | None:
    """A label or recipient for the audit log: trimmed and checked; None when empty."""
    text = text.strip()
    if not text:
        return None
    check_audit_text(what, text)
    return text


def parse_recipients(text: str) -> tuple[str, ...]:
    """Names separated by commas, semicolons or line breaks; duplicates dropped, order kept."""
    names: list[str] = []
    for part in _SPLIT_RECIPIENTS.split(text):
        name = check_note(part, "recipient name")
        if name is not None and name not in names:
            names.append(name)
    check_recipient_count(len(names))
    return tuple(names)


def check_recipient_count(count: int) -> None:
    """Refuse more recipients (one link or code each) than one share may have."""
    if count > MAX_RECIPIENTS:
        raise InputError(f"a share has at most {MAX_RECIPIENTS} recipients")


def parse_networks(text: str) -> tuple[str, ...]:
    """Networks separated by commas, semicolons, spaces or line breaks (checked by :meth:`LinkPolicy.checked`)."""
    return tuple(part for part in re.split(r"[,;\s]+", text) if part)


@dataclass(frozen=True)
class LinkPolicy:
    """How long a link lives, how many times it opens, and from which networks and countries."""

    expires_in: int = LINK_DEFAULT_EXPIRY_S
    max_views: int = LINK_DEFAULT_VIEWS
    allow_cidrs: tuple[str, ...] = ()
    # ISO 3166-1 alpha-2 codes; the relay needs a country database to accept any.
    allow_countries: tuple[str, ...] = ()

    def checked(self) -> LinkPolicy:
        """This policy with networks and countries normalised; raises InputError for anything the relay
        would refuse."""
        check_link_expiry(self.expires_in)
        check_link_views(self.max_views)
        check_cidr_count(len(self.allow_cidrs))
        networks = []
        for text in self.allow_cidrs:
            try:
                networks.append(str(ipaddress.ip_network(text.strip(), strict=False)))
            except ValueError:
                raise InputError(f"{text!r} is not a network: use an address or a CIDR like 10.0.0.0/8") from None
        return LinkPolicy(self.expires_in, self.max_views, tuple(networks), check_countries(self.allow_countries))
