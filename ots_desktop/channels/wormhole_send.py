"""Sending a secret by wormhole code: text through the mailbox, files over transit."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ots_desktop.channels import transit
from ots_desktop.channels.failures import ChannelFailure, transfer_failed
from ots_desktop.channels.payloads import FileSource, text_offer
from ots_desktop.channels.reporting import FingerprintingHasher, ProgressGate, Reporter
from ots_desktop.channels.verifier import describe_verifier
from ots_desktop.channels.wormhole_session import CANCEL_CLOSE_WAIT_S, WormholeSession
from ots_desktop.core.audit.events import EventType, Reason
from ots_desktop.core.events import EventKind
from ots_desktop.core.secret import SecretBuffer, wipe

Confirm = Callable[[str], Awaitable[bool]]
Progress = Callable[[int, int], None]


@dataclass
class SendHooks:
    """How the caller takes part: show the code, confirm the verifier, watch progress."""

    on_code: Callable[[str], None]
    confirm: Confirm | None = None
    progress: Progress | None = None
    no_listen: bool = False
    # The share's id once it is on record, before any event about it: the caller matches events by it.
    on_share: Callable[[str], None] | None = None
    # While the code waits: False when the mailbox connection drops (the code stays valid and the
    # library reconnects), True when it is back.
    on_mailbox: Callable[[bool], None] | None = None


MAILBOX_CHECK_S = 1.0


async def _watch_mailbox(session: WormholeSession, report: Callable[[bool], None]) -> None:
    """Tell ``report`` each time the mailbox connection goes down or comes back, until cancelled."""
    up = True
    while True:
        await asyncio.sleep(MAILBOX_CHECK_S)
        now = session.mailbox_connected()
        if now is not None and now != up:
            up = now
            report(now)


async def send(session: WormholeSession, reporter: Reporter, payload: SecretBuffer | FileSource,
               hooks: SendHooks) -> None:
    """Run one share to the end. Records and publishes the outcome; raises ChannelFailure."""
    try:
        with reporter.outcome(EventType.SHARE_FAILED, url=session.settings.mailbox_url):
            try:
                await _share(session, reporter, payload, hooks)
            except asyncio.CancelledError:
                # Cancelled (the card's Cancel, Ctrl+C): a receiver already waiting is told at once. The close
                # is acknowledged only after that message, so the mailbox has it before the cancel is
                # recorded: that record waits on the keychain, on this thread, which may be slow to answer.
                session.stop("the sender cancelled the transfer")
                await session.close(wait_s=CANCEL_CLOSE_WAIT_S)
                raise
    finally:
        if isinstance(payload, SecretBuffer):
            payload.close()
        await session.close()


async def _share(session: WormholeSession, reporter: Reporter, payload: SecretBuffer | FileSource,
                 hooks: SendHooks) -> None:
    await session.connected()
    code = await session.allocate_code()
    hooks.on_code(code)
    reporter.publish(EventKind.WAITING)
    watch = asyncio.ensure_future(_watch_mailbox(session, hooks.on_mailbox)) if hooks.on_mailbox else None
    try:
        verifier = await session.verifier(waiting_for_peer=True)
    finally:
        if watch is not None:
            watch.cancel()
    reporter.publish(EventKind.CONNECTED)
    if hooks.confirm is not None:
        reporter.publish(EventKind.VERIFYING, message=describe_verifier(verifier))
        # A "no" on the other side withdraws the question at once.
        if not await session.ask_while_listening(hooks.confirm(describe_verifier(verifier))):
            session.send_json({"error": "the sender did not confirm the verification words"})
            raise ChannelFailure(Reason.REJECTED, "you did not confirm the verification words; nothing was "
                                 "sent")
    if isinstance(payload, SecretBuffer):
        await _send_text(session, payload)
    else:
        await _send_file(session, reporter, payload, hooks)
    reporter.record(EventType.SHARE_DELIVERED)
    reporter.publish(EventKind.DELIVERED)


async def _send_text(session: WormholeSession, secret: SecretBuffer) -> None:
    message = text_offer(secret)
    try:
        session.send_bytes(message)
    finally:
        wipe(message)
    answer = await session.receive_json(session.settings.transfer_timeout_s, "the receiver's answer")
    if answer.get("answer", {}).get("message_ack") != "ok":
        raise transfer_failed("the receiver did not acknowledge the text")


async def _send_file(session: WormholeSession, reporter: Reporter, source: FileSource, hooks: SendHooks) -> None:
    end = await transit.open_end(session, sender=True, no_listen=hooks.no_listen)
    session.send_json({"offer": source.offer})
    while True:
        message = await session.receive_json(session.settings.transfer_timeout_s, "the receiver to accept the file")
        if "transit" in message:
            transit.add_peer_hints(end, message["transit"])
        answer = message.get("answer")
        if isinstance(answer, dict):
            if answer.get("file_ack") != "ok":
                raise ChannelFailure(Reason.REJECTED, "the receiver declined the file")
            break

    gate = ProgressGate()

    def progress(done: int, total: int) -> None:
        if not gate.due(done, total):
            return
        reporter.publish(EventKind.PROGRESS, done=done, total=total)
        if hooks.progress is not None:
            hooks.progress(done, total)

    with source.open() as stream:
        await transit.send_records(end, stream, source.size, stall_s=session.settings.transfer_timeout_s,
                                   progress=progress)


def file_fingerprint(source: FileSource, reporter: Reporter) -> str | None:
    """The audit fingerprint of a regular file's content (directories have none: zips vary)."""
    if source.is_directory:
        return None
    hasher = FingerprintingHasher(reporter.audit)
    with source.open() as stream:
        while chunk := stream.read(1 << 20):
            hasher.update(chunk)
    return hasher.fingerprint()
