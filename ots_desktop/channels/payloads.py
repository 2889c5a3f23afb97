"""What can be sent by wormhole: a text secret, a file, or a directory (as a zip stream)."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ots_desktop.channels.safe_files import name_problem
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
    from zipstream.ng import ZipStream

    zs = ZipStream(sized=True)
    for item in _folder_items(folder):
        zs.add_path(str(item), arcname=os.path.relpath(item, folder), recurse=False)
    return zs


def bundle_of(paths: list[Path]) -> Any:
    """One zip (a sized ZipStream, read once) of several files and folders, each under its own name.

    Two items with one name get ``name (2)``; folders keep their inner layout, with the same
    refusals as a folder sent alone (links, devices, unsafe names).
    """
    from zipstream.ng import ZipStream

    zs = ZipStream(sized=True)
    taken: set[str] = set()
    for path in paths:
        name = _free_name(path.name, taken)
        if path.is_dir() and not path.is_symlink():
            zs.add_path(str(path), arcname=name, recurse=False)
            for item in _folder_items(path):
                zs.add_path(str(item), arcname=f"{name}/{os.path.relpath(item, path)}", recurse=False)
        elif path.is_file() and not path.is_symlink():
            zs.add_path(str(path), arcname=name, recurse=False)
        else:
            raise InputError(f"{path} is neither a regular file nor a folder")
    return zs


def _free_name(name: str, taken: set[str]) -> str:
    stem, dot, ext = name.rpartition(".") if "." in name.lstrip(".") else (name, "", "")
    candidate, n = name, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{stem} ({n}){dot}{ext}"
    taken.add(candidate.lower())
    return candidate


def _folder_items(folder: Path) -> list[Path]:
    """Every directory and regular file in ``folder``; anything else is refused, naming it.

    Symbolic links are never followed or sent: one pointing outside the folder would send
    what the person did not choose, and a broken one has nothing to send. Sockets, pipes
    and devices have no content to send either.
    """
    items: list[Path] = []
    refused: list[str] = []
    for root, dirnames, filenames in os.walk(folder, followlinks=False, onerror=_raise_unreadable):
        here = Path(root)
        if here != folder:
            items.append(here)
        for name in [*dirnames, *filenames]:
            path = here / name
            problem = name_problem(name)
            if problem is not None:
                refused.append(f"{path.relative_to(folder)} ({problem})")
            elif path.is_symlink():
                refused.append(f"{path.relative_to(folder)} (a symbolic link)")
            elif name in filenames:
                if stat.S_ISREG(path.lstat().st_mode):
                    items.append(path)
                else:
                    refused.append(f"{path.relative_to(folder)} (not a regular file)")
        dirnames[:] = [name for name in dirnames if not (here / name).is_symlink()]
    if refused:
        shown = ", ".join(refused[:5]) + (f" and {len(refused) - 5} more" if len(refused) > 5 else "")
        raise InputError(f"the folder {folder.name} holds what cannot be sent: {shown}. Rename what the receiver could "
                         "not save, remove symbolic links (they are never followed) and special files, then share "
                         "the folder again")
    return items


def _raise_unreadable(exc: OSError) -> None:
    raise InputError(f"cannot read {exc.filename}: {exc.strerror}")


def file_source(path: Path) -> FileSource:
    """Describe ``path`` for sending; refuses what cannot be sent with a clear message."""
    try:
        info = path.stat()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    name = path.resolve().name
    problem = name_problem(name)
    if problem is not None:
        raise InputError(f"the name {name!r} cannot be saved by every receiver: {problem}. Rename it (or a copy of "
                         "it) and share it again")
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
