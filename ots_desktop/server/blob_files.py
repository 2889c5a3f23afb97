"""Large envelopes of the SQLite store as files: one private file per share in the relay's data folder.

A streamed upload is written to ``<id>.<random>.part`` (created exclusively, 0600, in a
0700 folder) as it arrives and fsynced; the store's writer then renames it to ``<id>`` and
records it in the same step as the share, so a share exists exactly when its file does.
A failed, refused or broken upload unlinks its part file at once (and its renamed file, when
the share's record fails after the rename), and opening the store removes part files and files
no share names (a relay killed mid-upload leaves nothing
behind once it starts again). A claim that ends a share unlinks its file while the reveal
still holds it open: the bytes are streamed from the open file and vanish with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from ots_desktop.core import private_files
from ots_desktop.server.link_model import PIECE

PART = ".part"


class FileUpload:
    """An upload into a part file (:class:`~ots_desktop.server.link_model.BlobUpload`)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    async def write(self, data: bytes) -> None:
        assert self._fd is not None, "the upload was completed or discarded"
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]

    async def complete(self) -> None:
        assert self._fd is not None, "the upload was completed or discarded"
        try:
            await asyncio.to_thread(os.fsync, self._fd)
        finally:
            self._close()

    async def discard(self) -> None:
        self._close()
        BlobFiles.discard(self.path)

    def _close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


class FileBlob:
    """A claimed envelope file, opened by the claim (:class:`~ots_desktop.server.link_model.BlobReader`)."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file

    async def read(self) -> bytes:
        return await asyncio.to_thread(self._file.read, PIECE)

    async def close(self) -> None:
        self._file.close()


class BlobFiles:
    """The folder of large envelopes next to a SQLite store."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)

    def path(self, share_id: str) -> Path:
        """Where a stored share's envelope lives (``share_id`` is checked base64url: no path characters)."""
        return self.folder / share_id

    def new_part(self, share_id: str) -> FileUpload:
        """A fresh, exclusive, private part file for an upload."""
        path = self.folder / f"{share_id}.{secrets.token_hex(8)}{PART}"
        return FileUpload(path, private_files.open_private(path, exclusive=True))

    def commit(self, part: Path, share_id: str) -> Path:
        """Rename a complete part file to the share's name and make the rename durable."""
        final = self.path(share_id)
        os.replace(part, final)
        self.sync_folder()
        return final

    def sync_folder(self) -> None:
        """fsync the folder, so that renames and unlinks in it survive a crash."""
        private_files.sync_folder(self.folder)

    @staticmethod
    def discard(path: Path | str) -> None:
        """Unlink a file if it is there."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

    def sweep(self, known: Iterable[str]) -> int:
        """Remove part files and files no share names; the number removed."""
        keep = set(known)
        removed = 0
        for entry in os.scandir(self.folder):
            if entry.name.endswith(PART) or entry.name not in keep:
                self.discard(entry.path)
                removed += 1
        if removed:
            self.sync_folder()
        return removed
