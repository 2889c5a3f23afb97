"""What a link share is made of, without the relay client: the UI builds these before it loads aiohttp.

:class:`LinkPolicy` holds the options the relay enforces (and checks them the way the relay
would); :class:`SentLink` is one link made for one recipient.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ots_desktop.core.errors import InputError

MIN_EXPIRY_S = 5 * 60
MAX_EXPIRY_S = 30 * 24 * 3600
MAX_VIEWS = 10
MAX_CIDRS = 32


@dataclass(frozen=True)
class LinkPolicy:
    """How long a link lives, how many times it opens, and from which networks."""

    expires_in: int = 3600
    max_views: int = 1
    allow_cidrs: tuple[str, ...] = ()

    def checked(self) -> LinkPolicy:
        """This policy with networks normalised; raises InputError for anything the relay would refuse."""
        if not MIN_EXPIRY_S <= self.expires_in <= MAX_EXPIRY_S:
            raise InputError("a link expires after 5 minutes at the earliest and 30 days at the latest")
        if not 1 <= self.max_views <= MAX_VIEWS:
            raise InputError(f"a link opens 1 to {MAX_VIEWS} times")
        if len(self.allow_cidrs) > MAX_CIDRS:
            raise InputError(f"at most {MAX_CIDRS} allowed networks per link")
        networks = []
        for text in self.allow_cidrs:
            try:
                networks.append(str(ipaddress.ip_network(text.strip(), strict=False)))
            except ValueError:
                raise InputError(f"{text!r} is not a network: use an address or a CIDR like 10.0.0.0/8") from None
        return LinkPolicy(self.expires_in, self.max_views, tuple(networks))


@dataclass(frozen=True)
class SentLink:
    """One link made for one recipient. ``link`` holds the key: show it to the sender, never log it."""

    share_id: str
    link: str
    expires_at: str
    max_views: int
    needs_passphrase: bool
    recipient: str | None = None

    def __repr__(self) -> str:
        return (f"SentLink(share_id={self.share_id!r}, link=[redacted], expires_at={self.expires_at!r}, "
                f"max_views={self.max_views}, recipient={self.recipient!r})")
