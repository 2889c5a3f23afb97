"""Which address a request came from, behind reverse proxies the operator trusts.

A proxy appends the address it got the request from to ``X-Forwarded-For`` (or adds a ``for=``
element to the standard ``Forwarded`` header); whatever stands to the left of that was written by
the client and proves nothing. So the chain is walked from the right: past the TCP peer and every
entry that is itself a trusted proxy, the first address that is not one is the client. The header
read is the one the operator's proxies write (``--proxy-header``): a header they pass through
untouched is entirely the client's.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
HEADERS = ("x-forwarded-for", "forwarded")
UNKNOWN = "unknown"
_FOR = re.compile(r'(?:^|;)\s*for\s*=\s*("?)([^";,]*)\1', re.IGNORECASE)


@functools.lru_cache(maxsize=4096)  # a pure function of a short string, asked for on every request
def parse_address(text: str) -> Address | None:
    """An address as proxies write it (``203.0.113.7``, ``203.0.113.7:443``, ``[2001:db8::1]:8080``), or None."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def chain(header: str, value: str) -> list[str]:
    """The hops a ``header`` of kind ``x-forwarded-for`` or ``forwarded`` lists, left to right."""
    if header == "forwarded":
        hops = []
        for element in value.split(","):
            found = _FOR.search(element)
            hops.append(found.group(2) if found else "")
        return hops
    return [hop.strip() for hop in value.split(",")]


def client_address(peer: str | None, header_value: str | None, header: str, trusted: Sequence[Network]) -> str:
    """The client's address: the TCP ``peer``, or, when it is a trusted proxy, the rightmost untrusted hop.

    A chain of trusted proxies only (or none at all) leaves the leftmost trusted address; a hop that
    is not an address is not trusted, and comes back as ``unknown``.
    """
    def is_trusted(address: Address | None) -> bool:
        return address is not None and any(address in network for network in trusted)

    peer_address = parse_address(peer or "")
    if not trusted or not is_trusted(peer_address) or not header_value:
        return _peer_text(peer or "")
    last = str(peer_address)
    for hop in reversed(chain(header, header_value)):
        address = parse_address(hop)
        if not is_trusted(address):
            return str(address) if address is not None else UNKNOWN
        last = str(address)
    return last


@functools.lru_cache(maxsize=4096)
def _peer_text(peer: str) -> str:
    """The TCP peer as the relay records it (the canonical address text)."""
    address = parse_address(peer)
    return str(address) if address is not None else (peer or UNKNOWN)
