"""Opening a one-time link: look (free), derive the auth token, reveal (consumes a view), decrypt, save.

Every outcome is recorded. A link that was already opened, a wrong passphrase, a
refused network and a destroyed link are alerts. The plaintext is authenticated in
full before anything is shown or written, and a received file gets a safe name in the
destination folder and never replaces anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ots_desktop.channels.link_context import LinkContext
from ots_desktop.channels.link_errors import LinkFailure, burned_now, damaged
from ots_desktop.channels.link_receive_stream import Saved, take_streamed
from ots_desktop.channels.link_reporting import LinkReporter
from ots_desktop.channels.link_urls import ParsedLink
from ots_desktop.channels.relay_client import RelayClient, Revealed
from ots_desktop.channels.relay_stream import Read, reveal_stream
from ots_desktop.channels.safe_files import check_name, create_unique, part_name, publish, unsafe
from ots_desktop.core import private_files
from ots_desktop.core.audit.events import Channel, EventType, Reason
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.envelope import Header, Opened, open_envelope, read_header
from ots_desktop.core.errors import EnvelopeError, InputError
from ots_desktop.core.events import EventKind
from ots_desktop.core.kdf import derive_keys, derive_link_proof
from ots_desktop.core.secret import SecretBuffer

TEXT_NAME = "secret.txt"  # a text saved to a folder
FILE_NAME = "secret.bin"  # a file whose sender gave no name (as the browser page names it)


@dataclass
class ReceiveOptions:
    """How the caller takes part.

    ``passphrase`` is used when the link needs one; otherwise ``ask_passphrase`` is
    called (only then). A file is saved in ``out_dir`` under the sender's (checked) name,
    or exactly at ``out_file``, which must not exist. ``text_to_file`` saves a text
    secret the same way instead of returning it.
    """

    out_dir: Path = Path()
    out_file: Path | None = None
    passphrase: SecretBuffer | None = None
    ask_passphrase: Callable[[], Awaitable[SecretBuffer | None]] | None = None
    text_to_file: bool = False
    # When set, a wrong passphrase that was asked for (not given up front) is shown through it and asked
    # for again, as long as the relay has attempts left; the link is not consumed by a wrong one.
    on_wrong_passphrase: Callable[[LinkFailure], None] | None = None


@dataclass
class LinkReceived:
    """What arrived: a text secret (the caller closes it) or the path of a saved file."""

    kind: str
    size: int
    views_left: int
    text: SecretBuffer | None = None
    path: Path | None = None
    name: str | None = None


def check_destination(options: ReceiveOptions) -> None:
    """Refuse an unusable destination before the link is consumed."""
    if options.out_file is not None:
        target = options.out_file
        if os.path.lexists(target):
            raise InputError(f"{target} already exists; ots never overwrites a file")
        if not target.parent.is_dir():
            raise InputError(f"the folder {target.parent} does not exist")
    elif not options.out_dir.is_dir():
        raise InputError(f"the folder {options.out_dir} does not exist")


async def _passphrase_for(header: Header, options: ReceiveOptions) -> SecretBuffer | None:
    if not header.needs_passphrase:
        return None
    if options.passphrase is not None:
        return options.passphrase
    if options.ask_passphrase is not None:
        given = await options.ask_passphrase()
        if given is not None and len(given):
            return given
    raise InputError("this link is protected by a passphrase and none was given: ask the sender for it, then "
                     "type it when asked (or pass it with --passphrase-fd N)")


def _folder(options: ReceiveOptions) -> Path:
    return options.out_file.parent if options.out_file is not None else options.out_dir


def _write_part(plaintext: SecretBuffer, folder: Path) -> Path:
    """Write the authenticated plaintext under a new hidden name (0600) and sync it."""
    part = create_unique(folder, part_name())
    try:
        with private_files.private_stream(part, create=False) as sink:
            view = plaintext.view()
            try:
                sink.write(view)
            finally:
                view.release()
            sink.flush()
            os.fsync(sink.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            part.unlink()
        raise
    return part


def _publish(part: Path, name: str, options: ReceiveOptions) -> Path:
    """Give the hidden file its real name, never replacing anything."""
    try:
        if options.out_file is None:
            return publish(part, _folder(options), name)
        target = options.out_file
        try:
            os.link(part, target)
        except FileExistsError:
            raise unsafe(f"{target} appeared while the secret was being received") from None
        except OSError:
            if os.path.lexists(target):
                raise unsafe(f"{target} appeared while the secret was being received") from None
            os.rename(part, target)
        return target
    finally:
        with contextlib.suppress(OSError):
            part.unlink()


async def receive_retrying(channel: LinkContext, link: ParsedLink, options: ReceiveOptions) -> LinkReceived:
    """:func:`receive`, asking again after a wrong passphrase when ``options.on_wrong_passphrase`` is set."""
    ask = options.ask_passphrase
    if ask is None or options.on_wrong_passphrase is None:
        return await receive(channel, link, options)
    asked: list[bool] = []

    async def counting() -> SecretBuffer | None:
        asked.append(True)
        return await ask()

    attempt = replace(options, ask_passphrase=counting)
    while True:
        asked.clear()
        try:
            return await receive(channel, link, attempt)
        except LinkFailure as failure:
            if failure.reason is not Reason.WRONG_PASSPHRASE or not asked or not failure.attempts_left:
                raise
            options.on_wrong_passphrase(failure)


async def receive(channel: LinkContext, link: ParsedLink, options: ReceiveOptions) -> LinkReceived:
    """Run one receive to its end. Records and publishes the outcome; raises LinkFailure or InputError."""
    check_destination(options)
    audit = await channel.audit()
    reporter = LinkReporter(audit, channel.bus, Channel.LINK, link.share_id, "receive")
    async with channel.client(link.base_url) as relay:
        with reporter.outcome(EventType.RECEIVE_FAILED, url=relay.url):
            meta = await relay.meta(link.share_id)
            reporter.expires_at = meta.expires_at
            try:
                header = read_header(meta.header)
            except EnvelopeError as exc:
                raise damaged(f"the relay's description of this secret is damaged: {exc.message}") from None
            reporter.publish(EventKind.CONNECTED)
            passphrase = await _passphrase_for(header, options)
            try:
                opened, views_left = await _reveal_and_open(relay, link, header, passphrase,
                                                            with_proof=meta.needs_link_proof,
                                                            folder=_folder(options), audit=audit)
            finally:
                if passphrase is not None and passphrase is not options.passphrase:
                    passphrase.close()  # asked for here: ours to wipe
            result = await _deliver(opened, reporter, options, views_left)
            reporter.publish(EventKind.RECEIVED, done=result.size, total=result.size)
            return result


async def _reveal_and_open(relay: RelayClient, link: ParsedLink, header: Header, passphrase: SecretBuffer | None,
                           *, with_proof: bool, folder: Path, audit: AuditLog) -> tuple[Opened | Saved, int]:
    """Derive the auth token (and the link proof when the share has one), consume one view, and decrypt
    (authenticating every chunk): a streamed answer as it arrives, a large one into a ``.part`` file."""
    keys = await asyncio.to_thread(derive_keys, link.key, header.salt, passphrase, header.iterations)
    proof = derive_link_proof(link.key, header.salt) if with_proof else None

    async def take(length: int, views_left: int, read: Read) -> tuple[Opened | Saved, int]:
        taken = await take_streamed(length, read, share_id=link.share_id_bytes, key=link.key, header=header,
                                    passphrase=passphrase, folder=folder, audit=audit)
        return taken, views_left

    try:
        revealed = await reveal_stream(relay, link.share_id, keys.auth_token, consume=take,
                                       needs_passphrase=header.needs_passphrase, link_proof=proof)
    except LinkFailure as failure:
        if failure.state == "burned":
            # It was pending a moment ago: this very try used up the last attempt.
            raise burned_now(needs_passphrase=header.needs_passphrase) from None
        raise
    finally:
        keys.close()
        if proof is not None:
            proof.close()
    if not isinstance(revealed, Revealed):
        return revealed
    try:
        opened = await asyncio.to_thread(open_envelope, revealed.envelope, share_id=link.share_id_bytes,
                                         fragment_key=link.key, passphrase=passphrase)
    except EnvelopeError as exc:
        raise damaged(f"the secret was revealed but cannot be opened: {exc.message}") from None
    return opened, revealed.views_left


async def _deliver(opened: Opened | Saved, reporter: LinkReporter, options: ReceiveOptions,
                   views_left: int) -> LinkReceived:
    """Record the receipt, then hand out the text (the caller now owns the buffer) or publish the file."""
    if isinstance(opened, Saved):
        return _deliver_saved(opened, reporter, options, views_left)
    try:
        kind = str(opened.meta.get("type"))
        size = len(opened.plaintext)
        reporter.kind, reporter.size_bytes = kind, size
        reporter.fingerprint = reporter.audit.fingerprint(opened.plaintext)
        result = LinkReceived(kind=kind, size=size, views_left=views_left)
        if kind == "text" and not options.text_to_file and options.out_file is None:
            # On record before the text is handed out.
            reporter.record(EventType.SECRET_RECEIVED)
            result.text = opened.plaintext
            return result
        result.name = check_name(opened.meta.get("name", FILE_NAME if kind == "file" else TEXT_NAME))
        part = await asyncio.to_thread(_write_part, opened.plaintext, _folder(options))
        try:
            reporter.record(EventType.SECRET_RECEIVED)
        except BaseException:
            with contextlib.suppress(OSError):
                part.unlink()
            raise
        result.path = _publish(part, result.name, options)
    except BaseException:
        opened.close()
        raise
    opened.close()
    return result


def _deliver_saved(saved: Saved, reporter: LinkReporter, options: ReceiveOptions, views_left: int) -> LinkReceived:
    """Record and publish a secret that was streamed into its ``.part`` file. A text this large (over the
    text limit, so never from an ots client) is saved as a file too: it cannot go anywhere else."""
    try:
        kind = str(saved.meta.get("type"))
        reporter.kind, reporter.size_bytes, reporter.fingerprint = kind, saved.size, saved.fingerprint
        result = LinkReceived(kind=kind, size=saved.size, views_left=views_left)
        result.name = check_name(saved.meta.get("name", FILE_NAME if kind == "file" else TEXT_NAME))
        reporter.record(EventType.SECRET_RECEIVED)
    except BaseException:
        with contextlib.suppress(OSError):
            saved.part.unlink()
        raise
    result.path = _publish(saved.part, result.name, options)
    return result
