"""Receiving files safely: names, destinations that never overwrite, and zip extraction.

A sender chooses the file name and, for a directory, every path inside the zip. None
of them is trusted: a name with a separator, ``..``, a drive, a control character or an
absolute path is refused, and a zip member that would land outside the destination
(or is a link, or lies about its size) stops the extraction. Files are created 0600
with O_EXCL, so nothing that exists is ever overwritten or followed.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
import unicodedata
import zipfile
import zlib
from pathlib import Path, PurePosixPath, PureWindowsPath

from ots_desktop.channels.failures import ChannelFailure
from ots_desktop.core import private_files
from ots_desktop.core.audit.events import Reason

MAX_NAME = 255
# Windows device names, whatever follows the first dot ("nul.txt" is the device too); the digits include
# the superscripts 1-3, which Windows also reads as device numbers.
_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$",
             *(f"{port}{n}" for port in ("COM", "LPT") for n in "0123456789\u00b9\u00b2\u00b3")}
_WINDOWS_FORBIDDEN = '<>"|?*'


def unsafe(what: str) -> ChannelFailure:
    """A refusal because of an unsafe name; nothing was written."""
    return ChannelFailure(Reason.UNSAFE_PATH, f"refused: {what}; nothing was saved")


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a file name on every system ots runs on, or None when it can."""
    if not name:
        return "it is empty"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME:
        return f"it is longer than {MAX_NAME} bytes"
    if name in (".", ".."):
        return "it names a folder, not a file"
    for sep, what in (("/", "a slash"), ("\\", "a backslash")):
        if sep in name:
            return f"it holds {what}, so it is a path, not a name"
    if ":" in name:
        return "it holds a colon, which Windows does not allow in names (and reads as a drive or a stream)"
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        return "it holds control or invisible formatting characters"
    if name.endswith((" ", ".")):
        return "it ends with a dot or a space, which Windows drops"
    forbidden = sorted({ch for ch in name if ch in _WINDOWS_FORBIDDEN})
    if forbidden:
        return f"it holds {' '.join(forbidden)}, which Windows does not allow in names"
    device = name.split(".", maxsplit=1)[0].rstrip(" ")
    if device.upper() in _RESERVED:
        return f"{device} is a device name reserved on Windows"
    return None


def check_name(name: object) -> str:
    """Return ``name`` if it is a plain file name, else raise an UNSAFE_PATH failure saying which and why."""
    if not isinstance(name, str) or not name:
        raise unsafe("the sender gave no file name")
    problem = name_problem(name)
    if problem is not None:
        raise unsafe(f"the sender's file name {name!r} cannot be used: {problem}")
    return name


def numbered(name: str, n: int) -> str:
    """``name`` for n == 1, else ``stem (n).suffix``, shortened to fit the 255-byte limit."""
    if n == 1:
        return name
    stem, dot, suffix = name.partition(".") if not name.startswith(".") else (name, "", "")
    tail = f" ({n}){dot}{suffix}"
    room = MAX_NAME - len(tail.encode("utf-8"))
    if room < 1:
        # The suffix alone is huge: number the whole name instead, shortened.
        stem, tail = name, f" ({n})"
        room = MAX_NAME - len(tail)
    stem = stem.encode("utf-8")[:room].decode("utf-8", "ignore")
    return stem + tail


def part_name() -> str:
    """A short hidden name for bytes still arriving; it never collides with the real name."""
    return f".ots-{secrets.token_hex(6)}.part"


def publish(part: Path, folder: Path, name: str) -> Path:
    """Give a finished file its real name (or ``name (2)``...) without replacing anything."""
    for n in range(1, 1000):
        candidate = folder / numbered(name, n)
        try:
            os.link(part, candidate)
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno not in _NO_HARD_LINKS:
                raise unsafe(f"cannot save {name!r} in {folder}: {exc.strerror}") from None
            # No hard links on this filesystem: a checked rename is the best left.
            if candidate.exists():
                continue
            os.rename(part, candidate)
            return candidate
        part.unlink()
        return candidate
    raise unsafe(f"too many files named {name!r} already exist in {folder}")


def create_unique(folder: Path, name: str, *, directory: bool = False) -> Path:
    """Create ``folder/name`` (or ``name (2)``, ``name (3)``...) exclusively and return it.

    A file is created empty with mode 0600; a directory with mode 0700.
    """
    for n in range(1, 1000):
        candidate = folder / numbered(name, n)
        try:
            if directory:
                candidate.mkdir(mode=0o700)
            else:
                private_files.create_new(candidate)
        except FileExistsError:
            continue
        return candidate
    raise unsafe(f"too many files named {name!r} already exist in {folder}")


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NO_HARD_LINKS = {errno.EPERM, errno.EXDEV, errno.EMLINK, getattr(errno, "ENOTSUP", -1),
                  getattr(errno, "EOPNOTSUPP", -1)}


def private_dirs(root: Path, folder: Path) -> None:
    """Create ``folder`` and every folder between it and ``root`` with mode 0700.

    ``mkdir(parents=True)`` would give the folders in between the umask's mode (0755).
    """
    path = root
    for part in folder.relative_to(root).parts:
        path = path / part
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            if path.is_symlink() or not path.is_dir():
                raise unsafe(f"{part} exists in the folder and is not a directory") from None


def open_exclusive(path: Path) -> int:
    """Open a new file for writing (0600), failing if anything exists at ``path``."""
    return private_files.open_private(path, exclusive=True)


def _member_target(root: Path, member: zipfile.ZipInfo) -> Path | None:
    raw = member.filename
    if "\x00" in raw or "\\" in raw:
        raise unsafe(f"the zip holds a member with an unsafe name {raw!r}")
    posix = PurePosixPath(raw)
    if posix.is_absolute() or PureWindowsPath(raw).drive or PureWindowsPath(raw).root:
        raise unsafe(f"the zip holds an absolute path {raw!r}")
    parts = [p for p in posix.parts if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise unsafe(f"the zip holds a path that climbs out of the folder: {raw!r}")
    for part in parts:
        check_name(part)
    mode = member.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise unsafe(f"the zip holds a symbolic link {raw!r}")
    if not parts:
        return None
    target = root.joinpath(*parts)
    if not target.resolve().is_relative_to(root.resolve()):
        raise unsafe(f"the zip member {raw!r} would land outside the folder")
    return target


def extract_zip(archive: Path, root: Path, *, max_bytes: int, max_files: int) -> tuple[int, int]:
    """Extract ``archive`` into the new, empty folder ``root``; returns (files, bytes).

    Every member is checked before anything is written, and the declared sizes are
    held to what the sender announced. ``zipfile`` stops each member at its declared
    size (and fails its CRC check), so a zip that lies cannot write more than that.
    Any damage or trickery (bad CRC, duplicate names, a file where a folder should
    be, unsupported compression) refuses the whole zip.
    """
    try:
        return _extract(archive, root, max_bytes=max_bytes, max_files=max_files)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError,
            FileExistsError, NotADirectoryError, IsADirectoryError):
        raise unsafe("the zip is damaged or lies about its contents") from None


def _extract(archive: Path, root: Path, *, max_bytes: int, max_files: int) -> tuple[int, int]:
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        if len(members) > max_files:
            raise unsafe(f"the zip holds {len(members)} entries, more than the {max_files} the sender announced")
        plan = [(m, _member_target(root, m)) for m in members]
        declared = sum(m.file_size for m in members if not m.is_dir())
        if declared > max_bytes:
            raise unsafe("the zip unpacks to more bytes than the sender announced")
        written = 0
        files = 0
        for member, target in plan:
            if target is None:
                continue
            if member.is_dir():
                private_dirs(root, target)
                continue
            private_dirs(root, target.parent)
            fd = open_exclusive(target)
            with os.fdopen(fd, "wb") as out, zf.open(member) as src:
                while chunk := src.read(256 * 1024):
                    written += len(chunk)
                    out.write(chunk)
            files += 1
    return files, written
