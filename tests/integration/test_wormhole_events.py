"""The channel API in-process on one event loop: the event stream a GUI would follow.

Both sides run on the same asyncio loop with Twisted's reactor installed on it, against
a real `ots server`, the way the desktop app runs them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ots_desktop.channels.failures import ChannelFailure
from ots_desktop.channels.wormhole import ReceiveHooks, SendHooks, WormholeChannel, WormholeSettings
from ots_desktop.core.audit.events import Reason
from ots_desktop.core.events import ChannelEvent, EventBus, EventKind
from ots_desktop.core.paths import app_paths
from ots_desktop.core.secret import SecretBuffer
from tests.support.audit import open_log
from tests.support.servers import RunningServer

pytestmark = pytest.mark.usefixtures("keychain")


@pytest.fixture
def loop(twisted_loop: asyncio.AbstractEventLoop) -> asyncio.AbstractEventLoop:
    """The process's one loop (see conftest: the reactor installs once per process)."""
    return twisted_loop


def _run(loop: asyncio.AbstractEventLoop, coro: object, timeout: float = 30) -> object:
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]


def _kinds(events: list[ChannelEvent], direction: str) -> list[str]:
    return [str(e.kind) for e in events if e.direction == direction and e.kind is not EventKind.PROGRESS]


def test_text_share_publishes_each_step_in_order(loop: asyncio.AbstractEventLoop,
                                                wormhole_server: RunningServer, tmp_path: Path) -> None:
    settings = WormholeSettings(wormhole_server.mailbox_url, wormhole_server.transit_helper, peer_timeout_s=20)
    events: list[ChannelEvent] = []
    bus = EventBus()
    bus.subscribe(events.append)
    secret = SecretBuffer(b"db-password-\xc3\xa9-\"quoted\"\\")
    backing = secret._buf
    shares: list[tuple[str, int]] = []

    async def both() -> bytes:
        with open_log() as alice, open_log(app_paths({"OTS_HOME": str(tmp_path / "bob")})) as bob:
            code: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            hooks = SendHooks(on_code=code.set_result, on_share=lambda share_id: shares.append((share_id, len(events))))
            sending = asyncio.ensure_future(WormholeChannel(settings, alice, bus).send_text(
                secret, hooks, label="db", recipient="sam"))
            received = await WormholeChannel(settings, bob, bus).receive(await code, ReceiveHooks(out_dir=tmp_path))
            await sending
            assert received.text is not None
            with received.text as text:
                return bytes(text.view())

    assert _run(loop, both()) == b"db-password-\xc3\xa9-\"quoted\"\\"
    assert backing == bytearray(len(backing))  # the sender's buffer was wiped
    assert _kinds(events, "send") == ["created", "waiting", "connected", "delivered"]
    assert _kinds(events, "receive") == ["waiting", "connected", "received"]
    assert all(e.label == "db" for e in events if e.direction == "send")
    # The share id reaches the caller through its hooks before the first event, and every event carries it.
    [(share_id, events_before)] = shares
    assert events_before == 0 and {e.share_id for e in events if e.direction == "send"} == {share_id}


def test_wrong_code_is_an_alert_on_both_sides(loop: asyncio.AbstractEventLoop,
                                             wormhole_server: RunningServer, tmp_path: Path) -> None:
    settings = WormholeSettings(wormhole_server.mailbox_url, wormhole_server.transit_helper, peer_timeout_s=20)
    events: list[ChannelEvent] = []
    bus = EventBus()
    bus.subscribe(events.append)

    async def both() -> tuple[BaseException | None, BaseException | None]:
        with open_log() as alice, open_log(app_paths({"OTS_HOME": str(tmp_path / "eve")})) as eve:
            code: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            sending = asyncio.ensure_future(WormholeChannel(settings, alice, bus).send_text(
                SecretBuffer(b"s3cret"), SendHooks(on_code=code.set_result)))
            nameplate = (await code).split("-")[0]
            receiving = WormholeChannel(settings, eve, bus).receive(f"{nameplate}-wrong-guess",
                                                                     ReceiveHooks(out_dir=tmp_path))
            results = await asyncio.gather(sending, receiving, return_exceptions=True)
            return results[0], results[1]  # type: ignore[return-value]

    send_error, receive_error = _run(loop, both())  # type: ignore[misc]
    for error in (send_error, receive_error):
        assert isinstance(error, ChannelFailure) and error.reason is Reason.WRONG_CODE
    alerts = [e for e in events if e.kind is EventKind.ALERT]
    assert {e.direction for e in alerts} == {"send", "receive"}
    assert all(e.reason is Reason.WRONG_CODE for e in alerts)


def test_subscriber_errors_do_not_break_a_transfer(loop: asyncio.AbstractEventLoop,
                                                  wormhole_server: RunningServer, tmp_path: Path) -> None:
    settings = WormholeSettings(wormhole_server.mailbox_url, wormhole_server.transit_helper, peer_timeout_s=20)
    bus = EventBus()

    def broken(event: ChannelEvent) -> None:
        raise RuntimeError("a buggy view")

    bus.subscribe(broken)

    async def both() -> int:
        with open_log() as alice, open_log(app_paths({"OTS_HOME": str(tmp_path / "bob")})) as bob:
            code: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            sending = asyncio.ensure_future(WormholeChannel(settings, alice, bus).send_text(
                SecretBuffer(b"x"), SendHooks(on_code=code.set_result)))
            received = await WormholeChannel(settings, bob, bus).receive(await code, ReceiveHooks(out_dir=tmp_path))
            await sending
            return received.size

    assert _run(loop, both()) == 1


def test_code_entry_completes_nameplates_then_words(loop: asyncio.AbstractEventLoop,
                                                   wormhole_server: RunningServer, tmp_path: Path) -> None:
    settings = WormholeSettings(wormhole_server.mailbox_url, wormhole_server.transit_helper, peer_timeout_s=20)
    bus = EventBus()

    async def both() -> tuple[list[str], list[str], bytes]:
        with open_log() as alice, open_log(app_paths({"OTS_HOME": str(tmp_path / "bob")})) as bob:
            code: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            sending = asyncio.ensure_future(WormholeChannel(settings, alice, bus).send_text(
                SecretBuffer(b"typed with completion"), SendHooks(on_code=code.set_result)))
            nameplate, words = (await code).split("-", 1)
            bobs = WormholeChannel(settings, bob, bus)
            entry = await bobs.code_entry()
            # The mailbox answers the listing asynchronously: poll it with a deadline.
            deadline = asyncio.get_running_loop().time() + 10
            while f"{nameplate}-" not in entry.nameplates(nameplate[0]):
                assert asyncio.get_running_loop().time() < deadline, "nameplate never listed"
                entry.refresh()
                await asyncio.sleep(0.05)
            nameplates = entry.nameplates(nameplate[0])
            entry.choose_nameplate(nameplate)
            await entry.wordlist_ready()
            first = words.split("-")[0]
            completions = entry.words(first[:2])
            entry.choose_words(words)
            received = await bobs.receive(entry, ReceiveHooks(out_dir=tmp_path))
            await sending
            assert received.text is not None
            assert any(c.startswith(first) for c in completions), (first, completions)
            with received.text as text:
                return nameplates, completions, bytes(text.view())

    nameplates, completions, text = _run(loop, both())  # type: ignore[misc]
    assert text == b"typed with completion"
    assert all(n.endswith("-") for n in nameplates)
    assert completions and all(c[:2] == completions[0][:2] for c in completions)
