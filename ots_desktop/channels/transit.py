"""Moving file bytes over Magic Wormhole's transit (file-transfer protocol v1).

The wormhole carries the offer and the connection hints; the bytes go over a direct
TCP connection or the transit relay, encrypted with a key derived from the wormhole.
The receiver ends with a record ``{"ack": "ok", "sha256": ...}`` that the sender
checks against what it sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable
from typing import Any, BinaryIO, Protocol

from ots_desktop.channels.failures import ChannelFailure, timed_out, transfer_failed
from ots_desktop.channels.wormhole_session import WormholeSession
from ots_desktop.core.audit.events import Reason
from ots_desktop.runtime import to_future, within

Progress = Callable[[int, int], None]
READ_SIZE = 256 * 1024  # bytes read, hashed and counted per turn of the event loop
RECORD_SIZE = 16 * 1024  # bytes per transit record, as the stock clients send them


class _BulkSender:
    """A pull producer for the transit pipe: each turn reads ``READ_SIZE`` bytes and writes them
    as ``RECORD_SIZE`` records.

    Twisted's FileSender writes one 16 KiB record per turn of the loop; on the app's Qt loop each
    turn costs more than on the CLI's, which held the app to three quarters of the CLI's speed.
    Sixteen records per turn keep the records every client expects and cut the turns sixteenfold.
    """

    def __init__(self, source: BinaryIO, consumer: Any, on_chunk: Callable[[bytes], None]) -> None:
        from twisted.internet.defer import Deferred

        self.source: BinaryIO | None = source
        self.consumer = consumer
        self.on_chunk = on_chunk
        self.done: Any = Deferred()

    def begin(self) -> Any:
        """Start sending; the Deferred fires when the source is exhausted (or fails if the pipe stops us)."""
        self.consumer.registerProducer(self, False)
        return self.done

    def resumeProducing(self) -> None:  # Twisted's IPullProducer
        if self.source is None:
            return
        chunk = self.source.read(READ_SIZE)
        if not chunk:
            self.source = None
            self.consumer.unregisterProducer()
            self.done.callback(None)
            return
        self.on_chunk(chunk)
        view = memoryview(chunk)
        for offset in range(0, len(chunk), RECORD_SIZE):
            self.consumer.write(bytes(view[offset:offset + RECORD_SIZE]))

    def stopProducing(self) -> None:  # Twisted's IPullProducer
        if self.source is not None:
            self.source = None
            self.done.errback(ConnectionError("the transit connection stopped the transfer"))


def _new_end(session: WormholeSession, *, sender: bool, no_listen: bool) -> Any:
    from twisted.internet import reactor
    from wormhole.transit import TransitReceiver, TransitSender

    cls = TransitSender if sender else TransitReceiver
    helper = session.settings.transit_helper or None
    no_listen = no_listen or not session.settings.direct_connections
    end = cls(helper, no_listen=no_listen, reactor=reactor)
    end.set_transit_key(session.transit_key(cls.TRANSIT_KEY_LENGTH))
    return end


async def open_end(session: WormholeSession, *, sender: bool, no_listen: bool = False) -> Any:
    """Create our transit end and tell the peer how to reach it."""
    end = _new_end(session, sender=sender, no_listen=no_listen)
    hints = await within(to_future(end.get_connection_hints()), session.settings.connect_timeout_s)
    session.send_json({"transit": {"abilities-v1": end.get_connection_abilities(), "hints-v1": hints}})
    return end


def add_peer_hints(end: Any, transit_message: object) -> None:
    """Record where the peer can be reached."""
    if isinstance(transit_message, dict):
        hints = transit_message.get("hints-v1", [])
        if isinstance(hints, list):
            end.add_connection_hints(hints)


async def _connect(end: Any, timeout_s: float) -> Any:
    try:
        return await within(to_future(end.connect()), timeout_s)
    except TimeoutError:
        raise timed_out(timeout_s, "a transit connection to the other side") from None


class _Stall:
    """Fails a transfer that makes no progress for ``limit_s`` seconds."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.last = time.monotonic()

    def touch(self) -> None:
        self.last = time.monotonic()

    async def watch(self, future: asyncio.Future[Any]) -> Any:
        while True:
            done, _ = await asyncio.wait({future}, timeout=self.limit_s / 4)
            if done:
                return future.result()
            if time.monotonic() - self.last > self.limit_s:
                future.cancel()
                raise timed_out(self.limit_s, "the transfer to make progress")


async def send_records(end: Any, source: BinaryIO, size: int, *, stall_s: float,
                       progress: Progress | None) -> None:
    """Send ``size`` bytes from ``source`` and wait for the receiver's matching hash."""
    pipe = await _connect(end, stall_s)
    hasher = hashlib.sha256()
    sent = 0
    stall = _Stall(stall_s)

    def count(data: bytes) -> None:
        nonlocal sent
        hasher.update(data)
        sent += len(data)
        stall.touch()
        if progress is not None:
            progress(sent, size)

    try:
        if size:
            await stall.watch(to_future(_BulkSender(source, pipe, count).begin()))
        stall.touch()
        raw = await stall.watch(to_future(pipe.receive_record()))
    except (ChannelFailure, asyncio.CancelledError):
        raise
    except Exception:  # noqa: BLE001 - any transport error means the peer went away
        raise transfer_failed(f"the other side disconnected after {sent} of {size} bytes, before "
                              "confirming receipt") from None
    finally:
        pipe.close()
    try:
        ack = json.loads(raw)
    except ValueError:
        ack = {}
    if not isinstance(ack, dict) or ack.get("ack") != "ok":
        raise transfer_failed("the other side did not confirm receipt")
    if "sha256" in ack and ack["sha256"] != hasher.hexdigest():
        raise transfer_failed("the other side received different bytes (hash mismatch)")
    if sent != size:
        raise transfer_failed(f"the file changed while it was sent ({sent} of {size} bytes)")


class Hasher(Protocol):
    """Anything with a SHA-256 to report and an ``update``."""

    sha256: Any

    def update(self, data: bytes) -> None: ...


async def receive_records(end: Any, sink: BinaryIO, size: int, *, stall_s: float,
                          progress: Progress | None, hasher: Hasher, before_ack: Callable[[], None]) -> str:
    """Receive exactly ``size`` bytes into ``sink`` and return their SHA-256.

    ``before_ack`` runs once every byte is in (it saves or unpacks them, on a worker thread); only when it
    succeeds does the sender get ``{"ack": "ok"}``. If it raises, the sender is told
    the transfer failed, so it never reports a refused file as delivered.
    """
    pipe = await _connect(end, stall_s)
    stall = _Stall(stall_s)
    received = 0

    def count(n: int) -> None:
        nonlocal received
        received += n
        stall.touch()
        if progress is not None:
            progress(received, size)

    try:
        got = await stall.watch(to_future(pipe.writeToFile(sink, size, count, hasher.update)))
        if got != size:
            raise transfer_failed(f"the sender sent {got} bytes instead of the {size} announced")
        digest = str(hasher.sha256.hexdigest())
        try:
            # fsync, then a rename or an unzip: seconds for a large file, so on a worker thread, off the loop.
            await asyncio.to_thread(before_ack)
        except BaseException as exc:
            pipe.send_record(json.dumps({"ack": "error: the receiver refused the content"}).encode("utf-8"))
            if isinstance(exc, OSError):  # this machine could not save it: not the sender's doing
                raise ChannelFailure(Reason.TRANSFER_FAILED, f"every byte arrived but could not be saved: "
                                     f"{exc.strerror or exc}; the sender was told") from None
            raise
        pipe.send_record(json.dumps({"ack": "ok", "sha256": digest}).encode("utf-8"))
        return digest
    except (ChannelFailure, asyncio.CancelledError):
        raise
    except Exception:  # noqa: BLE001 - any transport error means the sender went away
        raise transfer_failed(f"the sender disconnected after {received} of {size} bytes") from None
    finally:
        pipe.close()
