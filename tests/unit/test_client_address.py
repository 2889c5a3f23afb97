"""The client's address behind trusted proxies, read from the right (the relay's --trust-proxy)."""

from __future__ import annotations

import ipaddress

import pytest

from ots_desktop.server.client_address import chain, client_address, parse_address

TRUSTED = [ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8")]


@pytest.mark.parametrize(("peer", "value", "header", "client"), [
    ("127.0.0.1", "203.0.113.7", "x-forwarded-for", "203.0.113.7"),
    ("127.0.0.1", "203.0.113.7, 198.51.100.9", "x-forwarded-for", "198.51.100.9"),  # a forged left entry
    ("127.0.0.1", "203.0.113.7, 198.51.100.9, 10.1.2.3", "x-forwarded-for", "198.51.100.9"),
    ("127.0.0.1", "10.9.9.9, 10.1.2.3", "x-forwarded-for", "10.9.9.9"),  # proxies only: the leftmost
    ("127.0.0.1", "garbage, 10.1.2.3", "x-forwarded-for", "unknown"),
    ("192.0.2.1", "203.0.113.7", "x-forwarded-for", "192.0.2.1"),  # an untrusted peer's header is ignored
    ("127.0.0.1", "", "x-forwarded-for", "127.0.0.1"),
    ("127.0.0.1", 'for=203.0.113.7;proto=https, for="[2001:db8::1]:4711"', "forwarded", "2001:db8::1"),
    ("127.0.0.1", 'for=203.0.113.7, for="10.1.2.3:80";by=10.0.0.1', "forwarded", "203.0.113.7"),
    ("::ffff:127.0.0.1", "203.0.113.7", "x-forwarded-for", "203.0.113.7"),
])
def test_the_rightmost_untrusted_hop_is_the_client(peer: str, value: str, header: str, client: str) -> None:
    assert client_address(peer, value, header, TRUSTED) == client


def test_addresses_as_proxies_write_them() -> None:
    assert str(parse_address("203.0.113.7:443")) == "203.0.113.7"
    assert str(parse_address('"[2001:db8::1]:8080"')) == "2001:db8::1"
    assert parse_address("unknown") is None and parse_address("_hidden") is None
    assert chain("forwarded", 'for=a;proto=https, by=b, for="c"') == ["a", "", "c"]
    assert client_address("127.0.0.1", "203.0.113.7", "x-forwarded-for", []) == "127.0.0.1"  # trusts nobody
