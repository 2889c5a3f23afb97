"""What the user chose for a share, checked: recipients, notes for the audit log, link terms.

Plain Python, so the checks read the same as the messages they give. Everything here
raises :class:`InputError` with a sentence that can go straight into a banner.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ots_desktop.channels.link_types import LinkPolicy
from ots_desktop.core.errors import InputError

MAX_NOTE = 200
MAX_RECIPIENTS = 20
MAX_TEXT = 1 << 20
WORMHOLE = "wormhole"
LINK = "link"
CHANNELS = (WORMHOLE, LINK)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SPLIT = re.compile(r"[,;\n]+")


def check_note(text: str, what: str) -> str | None:
    """A label or recipient for the audit log: trimmed, at most 200 characters, one line; None when empty."""
    text = text.strip()
    if not text:
        return None
    if len(text) > MAX_NOTE:
        raise InputError(f"The {what} is longer than {MAX_NOTE} characters; shorten it.")
    if _CONTROL.search(text):
        raise InputError(f"The {what} holds line breaks or control characters; keep it to one line.")
    return text


def parse_recipients(text: str) -> tuple[str, ...]:
    """Names separated by commas, semicolons or line breaks; duplicates dropped, order kept."""
    names: list[str] = []
    for part in _SPLIT.split(text):
        name = check_note(part, "recipient name")
        if name is not None and name not in names:
            names.append(name)
    if len(names) > MAX_RECIPIENTS:
        raise InputError(f"At most {MAX_RECIPIENTS} recipients per share.")
    return tuple(names)


def parse_networks(text: str) -> tuple[str, ...]:
    """Networks separated by commas, semicolons, spaces or line breaks (checked by :meth:`LinkPolicy.checked`)."""
    return tuple(part for part in re.split(r"[,;\s]+", text) if part)


def check_channel(via: str) -> str:
    """``wormhole`` or ``link``."""
    if via not in CHANNELS:
        raise InputError(f"Unknown way to share: {via!r} (wormhole or link).")
    return via


@dataclass(frozen=True)
class WormholeChoices:
    """A share by code: how long the code is and whether to compare words first."""

    code_length: int
    verify: bool = False
    label: str | None = None
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True)
class LinkChoices:
    """A share by link: its policy (checked) and the notes for the audit log."""

    policy: LinkPolicy
    label: str | None = None
    recipients: tuple[str, ...] = ()


def link_policy(expires_in: int, max_views: int, networks: str) -> LinkPolicy:
    """The policy, checked as the relay would; a bad network gives a message naming it."""
    return LinkPolicy(expires_in, max_views, parse_networks(networks)).checked()
