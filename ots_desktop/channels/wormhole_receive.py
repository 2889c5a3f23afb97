"""Receiving by wormhole code: a text secret into a buffer, a file or directory into a folder."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ots_desktop.channels import transit
from ots_desktop.channels.failures import ChannelFailure, transfer_failed
from ots_desktop.channels.reporting import FingerprintingHasher, ProgressGate, Reporter
from ots_desktop.channels.safe_files import check_name, create_unique, extract_zip, part_name, publish, unsafe
from ots_desktop.channels.verifier import describe_verifier
from ots_desktop.channels.wormhole_session import CANCEL_CLOSE_WAIT_S, WormholeSession
from ots_desktop.core import private_files
from ots_desktop.core.audit.events import EventType, Reason
from ots_desktop.core.events import EventKind
from ots_desktop.core.policy import TEXT_MAX_BYTES
from ots_desktop.core.secret import SecretBuffer

MAX_TEXT_BYTES = TEXT_MAX_BYTES


@dataclass
class Received:
    """What arrived: a text secret (the caller closes it) or a saved path."""

    text: SecretBuffer | None = None
    path: Path | None = None
    size: int = 0


@dataclass
class ReceiveHooks:
    """How the caller takes part."""

    out_dir: Path
    confirm: Callable[[str], Awaitable[bool]] | None = None
    progress: Callable[[int, int], None] | None = None
    no_listen: bool = False
    max_file_bytes: int | None = None
    # Asked before any byte of a file or folder is taken: (kind "file" or "folder", name, size) -> take it?
    accept: Callable[[str, str, int], Awaitable[bool]] | None = None


async def receive(session: WormholeSession, reporter: Reporter, hooks: ReceiveHooks) -> Received:
    """Wait for the sender's offer and take it. Records and publishes the outcome."""
    try:
        with reporter.outcome(EventType.RECEIVE_FAILED, url=session.settings.mailbox_url):
            try:
                return await _receive(session, reporter, hooks)
            except asyncio.CancelledError:
                # A sender waiting for an answer is told at once, and the mailbox has it (the close is
                # acknowledged after it) before the cancel is recorded, which waits on the keychain.
                session.refuse("the receiver cancelled")
                await session.close(wait_s=CANCEL_CLOSE_WAIT_S)
                raise
    finally:
        await session.close()


async def _receive(session: WormholeSession, reporter: Reporter, hooks: ReceiveHooks) -> Received:
    verifier = await session.verifier(waiting_for_peer=False)
    reporter.publish(EventKind.CONNECTED)
    if hooks.confirm is not None:
        reporter.publish(EventKind.VERIFYING, message=describe_verifier(verifier))
        try:
            # The sender's "no" (or Cancel) withdraws the question at once.
            confirmed = await session.ask_while_listening(hooks.confirm(describe_verifier(verifier)))
        except Exception:
            session.refuse("the receiver could not confirm the verification words")
            raise
        if not confirmed:
            session.refuse("the receiver did not confirm the verification words")
            raise ChannelFailure(Reason.REJECTED, "you did not confirm the verification words")
    result = await _take_offer(session, reporter, hooks)
    reporter.size_bytes = result.size
    reporter.record(EventType.SECRET_RECEIVED)
    reporter.publish(EventKind.RECEIVED, done=result.size, total=result.size)
    return result


async def _take_offer(session: WormholeSession, reporter: Reporter, hooks: ReceiveHooks) -> Received:
    """Take the sender's offer; a failure on this side is told to the sender before it is raised."""
    try:
        return await _answer_offer(session, reporter, hooks)
    except ChannelFailure as failure:
        if failure.reason is not Reason.CANCELLED:
            session.refuse(failure.reason.value.replace("_", " "))
        raise
    except Exception:
        session.refuse("the receiver failed")
        raise


async def _answer_offer(session: WormholeSession, reporter: Reporter, hooks: ReceiveHooks) -> Received:
    end: Any = None
    while True:
        message = await session.receive_json(session.settings.transfer_timeout_s, "the sender's offer")
        if "transit" in message:
            if end is None:
                end = await transit.open_end(session, sender=False, no_listen=hooks.no_listen)
            transit.add_peer_hints(end, message["transit"])
        offer = message.get("offer")
        if not isinstance(offer, dict):
            continue
        if "message" in offer:
            return _take_text(session, reporter, offer["message"])
        if end is None:
            end = await transit.open_end(session, sender=False, no_listen=hooks.no_listen)
        if isinstance(offer.get("file"), dict):
            return await _take_file(session, reporter, hooks, end, offer["file"])
        if isinstance(offer.get("directory"), dict):
            return await _take_directory(session, reporter, hooks, end, offer["directory"])
        session.send_json({"error": "unknown offer type"})
        raise transfer_failed("the sender offered something this version cannot receive")


def _take_text(session: WormholeSession, reporter: Reporter, text: object) -> Received:
    if not isinstance(text, str):
        raise transfer_failed("the sender's text offer is malformed")
    try:
        raw = bytearray(text.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate in the JSON string: no text any client could show
        raise transfer_failed("the sender's text is not valid Unicode; nothing was received") from None
    secret = SecretBuffer(raw, wipe_source=True)
    if len(secret) > MAX_TEXT_BYTES:
        secret.close()
        session.send_json({"error": "text too large"})
        raise ChannelFailure(Reason.TOO_LARGE, "the text is larger than 1 MiB; ask for it as a file")
    session.send_json({"answer": {"message_ack": "ok"}})
    reporter.kind = "text"
    reporter.fingerprint = reporter.audit.fingerprint(secret)
    return Received(text=secret, size=len(secret))


def _announced_size(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise transfer_failed(f"the sender's offer has no valid {what}")
    return value


async def _ask_first(session: WormholeSession, hooks: ReceiveHooks, kind: str, name: str, size: int) -> None:
    """The person decides before anything is written; a no tells the sender at once."""
    # The sender's Cancel withdraws the question at once.
    if hooks.accept is not None and not await session.ask_while_listening(hooks.accept(kind, name, size)):
        session.refuse("the receiver declined it")
        raise ChannelFailure(Reason.REJECTED, f"you declined the {kind} {name}")


def _check_room(session: WormholeSession, hooks: ReceiveHooks, size: int) -> None:
    if hooks.max_file_bytes is not None and size > hooks.max_file_bytes:
        session.send_json({"error": "transfer rejected: too large"})
        raise ChannelFailure(Reason.TOO_LARGE, f"the file is {size} bytes, over the limit of {hooks.max_file_bytes}")
    free = shutil.disk_usage(hooks.out_dir).free
    if size > free:
        session.send_json({"error": "transfer rejected: not enough disk space"})
        raise ChannelFailure(Reason.TOO_LARGE, f"not enough space in {hooks.out_dir} for {size} bytes")


async def _receive_to(session: WormholeSession, reporter: Reporter, hooks: ReceiveHooks, end: Any,
                      part: Path, size: int, finish: Callable[[], None]) -> FingerprintingHasher:
    """Receive into ``part``; ``finish`` (publish or unpack) runs before the sender is told "ok"."""
    hasher = FingerprintingHasher(reporter.audit)

    gate = ProgressGate()

    def progress(done: int, total: int) -> None:
        if not gate.due(done, total):
            return
        reporter.publish(EventKind.PROGRESS, done=done, total=total)
        if hooks.progress is not None:
            hooks.progress(done, total)

    session.send_json({"answer": {"file_ack": "ok"}})
    with private_files.private_stream(part, create=False) as sink:

        def done() -> None:
            sink.flush()
            os.fsync(sink.fileno())
            # Closed before it is renamed or unpacked: Windows refuses to unlink a file that is still open.
            sink.close()
            finish()

        await transit.receive_records(end, sink, size, stall_s=session.settings.transfer_timeout_s,
                                      progress=progress, hasher=hasher, before_ack=done)
    return hasher


async def _take_file(session: WormholeSession, reporter: Reporter, hooks: ReceiveHooks, end: Any,
                     offer: dict[str, Any]) -> Received:
    try:
        name = check_name(offer.get("filename"))
    except ChannelFailure:
        session.send_json({"error": "transfer rejected: unsafe file name"})
        raise
    size = _announced_size(offer.get("filesize"), "file size")
    _check_room(session, hooks, size)
    await _ask_first(session, hooks, "file", name, size)
    reporter.kind = "file"
    reporter.size_bytes = size
    part = create_unique(hooks.out_dir, part_name())
    final: list[Path] = []
    try:
        hasher = await _receive_to(session, reporter, hooks, end, part, size,
                                   lambda: final.append(publish(part, hooks.out_dir, name)))
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    reporter.fingerprint = hasher.fingerprint()
    return Received(path=final[0], size=size)


async def _take_directory(session: WormholeSession, reporter: Reporter, hooks: ReceiveHooks, end: Any,
                          offer: dict[str, Any]) -> Received:
    try:
        name = check_name(offer.get("dirname"))
        if not str(offer.get("mode", "")).startswith("zipfile"):
            raise unsafe("the sender used an unknown directory format")
    except ChannelFailure:
        session.send_json({"error": "transfer rejected: unsafe directory"})
        raise
    zip_size = _announced_size(offer.get("zipsize"), "zip size")
    numbytes = _announced_size(offer.get("numbytes"), "size")
    numfiles = _announced_size(offer.get("numfiles"), "file count")
    _check_room(session, hooks, zip_size + numbytes)
    await _ask_first(session, hooks, "folder", name, numbytes)
    reporter.kind = "directory"
    part = create_unique(hooks.out_dir, part_name())
    made: list[Path] = []
    written: list[int] = []

    def unpack() -> None:
        made.append(create_unique(hooks.out_dir, name, directory=True))
        # Directories in a zip count as entries too; allow for them.
        written.append(extract_zip(part, made[0], max_bytes=numbytes, max_files=2 * numfiles + 1024)[1])

    try:
        await _receive_to(session, reporter, hooks, end, part, zip_size, unpack)
    except BaseException:
        for root in made:
            shutil.rmtree(root, ignore_errors=True)
        raise
    finally:
        with contextlib.suppress(OSError):
            part.unlink()
    return Received(path=made[0], size=written[0])
