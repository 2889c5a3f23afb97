"""Which hosts count as this machine, and when a mailbox URL gets the plain-ws:// warning."""

from __future__ import annotations

import pytest

from ots_desktop.core.hosts import is_loopback_host, mailbox_warning


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST", "127.0.0.1", "127.8.9.10", "::1", "[::1]",
                                  "::ffff:127.0.0.1"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.1", "::ffff:10.0.0.1", "localhost.example", "", "::"])
def test_other_hosts(host: str) -> None:
    assert not is_loopback_host(host)


def test_the_warning_is_for_plain_ws_off_this_machine_only() -> None:
    text = mailbox_warning("ws://relay.magic-wormhole.io:4000/v1")
    assert text is not None and "relay.magic-wormhole.io" in text and "wss://" in text
    assert mailbox_warning("WS://relay.example:4000/v1") is not None
    for quiet in ("wss://relay.example/v1", "ws://127.0.0.1:4000/v1", "ws://[::1]:4000/v1", "ws://localhost/v1"):
        assert mailbox_warning(quiet) is None
