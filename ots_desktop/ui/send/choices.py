"""What the user chose for a share, checked: recipients, notes for the audit log, link terms.

Plain Python, so the checks read the same as the messages they give. Everything here
raises :class:`InputError` with a sentence that can go straight into a banner.
"""

from __future__ import annotations

from dataclasses import dataclass

from ots_desktop.core.countries import check_countries, parse_countries
from ots_desktop.core.errors import InputError
from ots_desktop.core.policy import TEXT_MAX_BYTES, LinkPolicy, check_note, parse_networks, parse_recipients

__all__ = ["CHANNELS", "LINK", "MAX_TEXT", "WORMHOLE", "LinkChoices", "WormholeChoices", "check_channel", "check_note",
           "link_policy", "parse_recipients"]
MAX_TEXT = TEXT_MAX_BYTES
WORMHOLE = "wormhole"
LINK = "link"
CHANNELS = (WORMHOLE, LINK)


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


def link_policy(expires_in: int, max_views: int, networks: str, countries: str = "") -> LinkPolicy:
    """The policy, checked as the relay would; a bad network or country code gives a message naming it."""
    return LinkPolicy(expires_in, max_views, parse_networks(networks),
                      check_countries(parse_countries(countries))).checked()
