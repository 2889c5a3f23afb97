"""A link's life after it is made reaches the event bus: each reveal, each kind of attempt, and its end, once.

Real relay process (``ots server --no-wormhole``), real audit log in the real Secret
Service, the channel the CLI and the app use. The tray and notifications follow these events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from ots_desktop.channels.link import LinkChannel, LinkPolicy, ReceiveOptions
from ots_desktop.channels.link_errors import LinkFailure
from ots_desktop.channels.link_urls import parse_link
from ots_desktop.core.audit.events import Reason
from ots_desktop.core.events import ChannelEvent, EventBus, EventKind
from ots_desktop.core.secret import SecretBuffer
from ots_desktop.installation import Installation
from tests.support.relay import RelayProcess, start_relay

pytestmark = pytest.mark.usefixtures("keychain")


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RelayProcess]:
    process = start_relay(tmp_path)
    yield process
    process.service.stop()


def _secret(text: bytes) -> SecretBuffer:
    return SecretBuffer(bytearray(text), wipe_source=True)


def _summary(events: list[ChannelEvent]) -> list[tuple[str, str | None, dict[str, str]]]:
    """The sender's side only (receiving on the same bus publishes the receiver's steps too)."""
    return [(e.kind.value, e.reason.value if e.reason else None,
             {k: v for k, v in e.details.items() if k != "at"}) for e in events if e.direction == "send"]


def test_reveals_attempts_and_the_end_are_published_once(relay: RelayProcess, tmp_path: Path) -> None:
    install = Installation()
    bus = EventBus()
    seen: list[ChannelEvent] = []

    async def flow() -> None:
        log = install.open_audit_log(install.keychain())
        channel = LinkChannel(log, bus, install.open_shares(), client=install.relay_clients())
        try:
            [sent] = await channel.send_text(_secret(b"canary-lifecycle"), relay.url, LinkPolicy(max_views=1),
                                             passphrase=_secret(b"right horse"), label="db password")
            bus.subscribe(seen.append)
            with pytest.raises(LinkFailure):
                await channel.receive(parse_link(sent.link),
                                      ReceiveOptions(out_dir=tmp_path, passphrase=_secret(b"wrong horse")))
            await channel.status(sent.share_id)
            assert _summary(seen) == [("alert", "wrong_passphrase", {"count": "1"})]
            alert = next(e for e in seen if e.direction == "send")
            assert alert.label == "db password" and alert.share_id == sent.share_id
            received = await channel.receive(parse_link(sent.link),
                                             ReceiveOptions(out_dir=tmp_path, passphrase=_secret(b"right horse")))
            assert received.text is not None
            received.text.close()
            seen.clear()
            await channel.status(sent.share_id)
            await channel.status(sent.share_id)  # nothing new: nothing published again
            assert _summary(seen) == [("revealed", None, {"from": "127.0.0.1"}),
                                      ("ended", None, {"state": "revealed"})]
            assert next(e for e in seen if e.kind is EventKind.REVEALED).details["at"]

            [other] = await channel.send_text(_secret(b"canary-two"), relay.url, LinkPolicy(), label="api key")
            seen.clear()
            await channel.revoke(other.share_id)
            await channel.revoke(other.share_id)
            await channel.status(other.share_id)
            assert _summary(seen) == [("ended", "revoked", {"state": "revoked"})]
        finally:
            log.close()

    asyncio.run(flow())


def test_a_watch_publishes_what_it_reports(relay: RelayProcess, tmp_path: Path) -> None:
    install = Installation()
    bus = EventBus()
    published: list[ChannelEvent] = []
    bus.subscribe(published.append)

    async def flow() -> None:
        log = install.open_audit_log(install.keychain())
        channel = LinkChannel(log, bus, install.open_shares(), client=install.relay_clients())
        try:
            [sent] = await channel.send_text(_secret(b"canary-watch"), relay.url, LinkPolicy(max_views=1))
            published.clear()
            watching = asyncio.ensure_future(channel.watch(sent.share_id, timeout_s=60, on_update=lambda _u: None,
                                                           interval_s=0.2))
            received = await channel.receive(parse_link(sent.link), ReceiveOptions(out_dir=tmp_path))
            assert received.text is not None
            received.text.close()
            final = await asyncio.wait_for(watching, 60)
            assert final.state == "revealed"
        finally:
            log.close()

    asyncio.run(flow())
    assert [e.kind for e in published if e.direction == "send"] == [EventKind.REVEALED, EventKind.ENDED]
    assert not any(e.kind is EventKind.ALERT and e.reason is Reason.BURNED for e in published)
