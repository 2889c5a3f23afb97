"""Taking a streamed envelope as it arrives: decrypted chunk by chunk, never held whole.

A small secret (up to ``IN_MEMORY_MAX`` bytes of plaintext: every text) is decrypted into
one wipeable buffer, as a JSON reveal is. Anything larger is decrypted, chunk by chunk,
into a new hidden ``.part`` file (0600, never replacing anything) in the destination
folder, fed to the audit fingerprint on the way. That file is the only place plaintext
touches disk, and it is the saved file: it is synced, and given its real name only after
the last chunk has been authenticated (:func:`link_receive._publish`); any failure removes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from ots_desktop.channels.link_errors import damaged
from ots_desktop.channels.relay_stream import Read
from ots_desktop.channels.safe_files import create_unique, part_name
from ots_desktop.channels.stream_bridge import LoopToThread
from ots_desktop.core import private_files
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.chunks import BufferFile
from ots_desktop.core.envelope import Header, Opened, open_stream, plaintext_size
from ots_desktop.core.envelope_meta import Meta
from ots_desktop.core.errors import EnvelopeError
from ots_desktop.core.policy import TEXT_MAX_BYTES
from ots_desktop.core.secret import SecretBuffer

IN_MEMORY_MAX = max(TEXT_MAX_BYTES, 1024 * 1024)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
WRITE_BEHIND = 32 * 1024 * 1024
# Linux: DONTNEED on a written range starts its writeback without waiting (and drops the pages once clean).
_WRITE_BACK = getattr(os, "posix_fadvise", None)
_DONT_NEED = getattr(os, "POSIX_FADV_DONTNEED", 0)


@dataclass(frozen=True)
class Saved:
    """A streamed secret, authenticated in full and synced under its hidden name ``part``."""

    meta: Meta
    part: Path
    size: int
    fingerprint: str


class _FileSink:
    """Writes decrypted chunks to the ``.part`` file's descriptor and feeds the audit fingerprint (keyed
    BLAKE3, cheap enough to feed right here: about 0.13 s per GiB on one core).

    Where the system can (``posix_fadvise``), every ``WRITE_BEHIND`` bytes written are handed
    to the kernel's writeback at once, so that the disk works while the rest arrives and
    the final fsync has little left to wait for."""

    def __init__(self, fd: int, audit: AuditLog) -> None:
        self.fd = fd
        self.mac = audit.fingerprint_mac()
        self._written = self._handed = 0

    def write(self, data: memoryview) -> int:
        self.mac.update(data)
        view = data
        while view:
            view = view[os.write(self.fd, view):]
        self._written += len(data)
        if _WRITE_BACK is not None and self._written - self._handed >= WRITE_BEHIND:
            with contextlib.suppress(OSError):  # advice only: the final fsync makes the file durable
                _WRITE_BACK(self.fd, self._handed, self._written - self._handed, _DONT_NEED)
            self._handed = self._written
        return len(data)

    def fingerprint(self) -> str:
        """The audit fingerprint of everything written."""
        return AuditLog.fingerprint_of(self.mac)


def _opening_failed(exc: EnvelopeError) -> Exception:
    return damaged(f"the secret was revealed but cannot be opened: {exc.message}")


async def take_streamed(length: int, read: Read, *, share_id: bytes, key: SecretBuffer, header: Header,
                        passphrase: SecretBuffer | None, folder: Path, audit: AuditLog) -> Opened | Saved:
    """Decrypt a streamed envelope of ``length`` bytes from ``read``: into memory when small, else into a
    ``.part`` file in ``folder``."""
    try:
        total = plaintext_size(length, header)
    except EnvelopeError as exc:
        raise _opening_failed(exc) from None
    source = LoopToThread(asyncio.get_running_loop(), read)
    try:
        if total <= IN_MEMORY_MAX:
            return await _into_memory(source, total, share_id, key, passphrase)
        return await _into_file(source, total, share_id, key, passphrase, folder, audit)
    finally:
        source.close()


async def _into_memory(source: LoopToThread, total: int, share_id: bytes, key: SecretBuffer,
                       passphrase: SecretBuffer | None) -> Opened:
    plaintext = SecretBuffer.allocate(total)
    try:
        dst = cast(BinaryIO, BufferFile(plaintext.writable()))
        meta = await _opened(source, dst, share_id, key, passphrase)
    except EnvelopeError as exc:
        plaintext.close()
        raise _opening_failed(exc) from None
    except BaseException:
        plaintext.close()
        raise
    return Opened(meta, plaintext)


async def _into_file(source: LoopToThread, total: int, share_id: bytes, key: SecretBuffer,
                     passphrase: SecretBuffer | None, folder: Path, audit: AuditLog) -> Saved:
    part = await asyncio.to_thread(create_unique, folder, part_name())
    try:
        fd = private_files.open_private(part, create=False)
        try:
            sink = _FileSink(fd, audit)
            meta = await _opened(source, cast(BinaryIO, sink), share_id, key, passphrase)
            fingerprint = sink.fingerprint()
            await asyncio.to_thread(os.fsync, fd)
        finally:
            os.close(fd)
    except EnvelopeError as exc:
        _remove(part)
        raise _opening_failed(exc) from None
    except BaseException:
        _remove(part)
        raise
    return Saved(meta, part, total, fingerprint)


async def _opened(source: LoopToThread, dst: BinaryIO, share_id: bytes, key: SecretBuffer,
                  passphrase: SecretBuffer | None) -> Meta:
    """``open_stream`` on a worker thread. Cancelled, it stops the thread and waits for it: the thread
    must be done with ``dst`` before the caller closes or wipes it."""
    work = asyncio.ensure_future(asyncio.to_thread(open_stream, cast(BinaryIO, source), dst, share_id=share_id,
                                                   fragment_key=key, passphrase=passphrase))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        source.close()
        with contextlib.suppress(BaseException):
            await work
        raise


def _remove(part: Path) -> None:
    with contextlib.suppress(OSError):
        part.unlink()
