"""What can be sent by wormhole: a text secret, a file, or a directory (as a zip stream)."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ots_desktop.core.errors import InputError
from ots_desktop.core.policy import check_text_size
from ots_desktop.core.secret import SecretBuffer

_ESCAPES = {0x22: b'\\"', 0x5C: b"\\\\", 0x08: b"\\b", 0x0C: b"\\f", 0x0A: b"\\n", 0x0D: b"\\r", 0x09: b"\\t"}


def text_offer(secret: SecretBuffer) -> bytearray:
    """The protocol message ``{"offer": {"message": TEXT}}`` built straight from the buffer.

    Building the JSON by hand keeps the secret out of a ``str``. The caller wipes the
    returned bytearray once it is handed to the wormhole.
    """
    view = secret.view()
    try:
        out = bytearray(b'{"offer": {"message": "')
        for byte in view:
            escaped = _ESCAPES.get(byte)
            if escaped is not None:
                out += escaped
            elif byte < 0x20:
                out += b"\\u%04x" % byte
            else:
                out.append(byte)
        out += b'"}}'
        return out
    finally:
        view.release()


def check_text(secret: SecretBuffer) -> None:
    """Refuse a text secret over the size limit, or not UTF-8: the text protocol carries JSON strings."""
    check_text_size(len(secret))
    view = secret.view()
    # A transient str is the price of validation with the standard library.
    try:
        str(view, "utf-8")
    except UnicodeDecodeError:
        raise InputError("the secret is not UTF-8 text; send it as a file instead (--file)") from None
    finally:
        view.release()


@dataclass(frozen=True)
class FileSource:
    """A regular file or a directory to send, with the offer that announces it."""

    path: Path
    offer: dict[str, Any]
    size: int
    is_directory: bool

    def open(self) -> BinaryIO:
        """A readable stream of exactly ``size`` bytes (for a directory, the zip)."""
        if not self.is_directory:
            return self.path.open("rb")
        from iterableio import open_iterable

        stream: BinaryIO = open_iterable(_zip_of(self.path), "rb")
        return stream


def _zip_of(folder: Path) -> Any:
    from zipstream.ng import ZipStream, walk

    zs = ZipStream(sized=True)
    for item in walk(str(folder), preserve_empty=True, followlinks=False):
        zs.add_path(item, arcname=os.path.relpath(item, folder), recurse=False)
    return zs


def file_source(path: Path) -> FileSource:
    """Describe ``path`` for sending; refuses what cannot be sent with a clear message."""
    try:
        info = path.stat()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    name = path.resolve().name
    if stat.S_ISDIR(info.st_mode):
        zs = _zip_of(path)
        sizes = [entry["size"] for entry in zs.info_list() if not entry["is_dir"]]
        offer = {"directory": {"mode": "zipfile/deflated", "dirname": name, "zipsize": len(zs),
                               "numbytes": sum(sizes), "numfiles": len(sizes)}}
        return FileSource(path, offer, len(zs), True)
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path} is not a regular file or a directory")
    if not os.access(path, os.R_OK):
        raise InputError(f"cannot read {path}: permission denied")
    return FileSource(path, {"file": {"filename": name, "filesize": info.st_size}}, info.st_size, False)
