"""What a link share is made of, without the relay client: the UI builds these before it loads aiohttp.

:class:`LinkPolicy` (from :mod:`ots_desktop.core.policy`) holds the options the relay
enforces; :class:`SentLink` is one link made for one recipient.
"""

from __future__ import annotations

from dataclasses import dataclass

from ots_desktop.core.policy import LinkPolicy

__all__ = ["LinkPolicy", "SentLink"]


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
