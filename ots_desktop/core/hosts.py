"""Recognising host names and addresses that never leave this machine."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` is this machine: ``localhost``, 127.0.0.0/8 or ::1 (brackets allowed)."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is 127.0.0.1
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


def mailbox_warning(url: str) -> str | None:
    """A warning for a plain ``ws://`` wormhole mailbox off this machine, or None.

    The wormhole's PAKE still protects the secret itself; what travels in the clear is
    the metadata: who talks to whom, when, and the nameplate of the code.
    """
    parts = urlsplit(url.strip())
    if parts.scheme.lower() != "ws" or is_loopback_host(parts.hostname or ""):
        return None
    return (f"the mailbox {parts.hostname} is reached over plain ws://: the secret stays protected by the "
            "wormhole's key exchange, but anyone on the path sees who connects, when, and the code's "
            "nameplate. Prefer a wss:// mailbox.")
