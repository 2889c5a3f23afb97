"""Windows' rule for open files, enforced on Linux: no unlink or rename of a file that is still open.

CPython on Windows opens files without ``FILE_SHARE_DELETE``, so deleting, renaming or replacing a
file while any handle to it is open fails with WinError 32 ("being used by another process"). POSIX
allows it, so code that breaks the rule passes every test here and fails on every Windows machine.

:func:`install` wraps ``os.unlink``/``os.remove``/``os.rename``/``os.replace`` (``Path.unlink``,
``Path.rename`` and ``Path.replace`` go through them) so that they raise the same ``PermissionError``
when this process holds the file open. ``python -m tests.support.open_file_guard MODULE ARGS...`` runs
MODULE (for example ``ots_desktop.cli``) with the rule in force, for tests that start real processes.
"""

from __future__ import annotations

import errno
import os
import runpy
import sys
from collections.abc import Callable
from typing import Any

_FD_DIR = "/proc/self/fd"


def open_inodes() -> set[tuple[int, int]]:
    """(device, inode) of every regular file this process has open."""
    found: set[tuple[int, int]] = set()
    for name in os.listdir(_FD_DIR):
        try:
            info = os.stat(f"{_FD_DIR}/{name}")
        except OSError:
            continue
        if info.st_mode & 0o170000 == 0o100000:
            found.add((info.st_dev, info.st_ino))
    return found


def _identity(path: Any) -> tuple[int, int] | None:
    try:
        info = os.stat(path, follow_symlinks=False)
    except (OSError, TypeError, ValueError):
        return None
    return info.st_dev, info.st_ino


def _refuse_if_open(what: str, *paths: Any) -> None:
    held = open_inodes()
    for path in paths:
        identity = _identity(path)
        if identity is not None and identity in held:
            raise PermissionError(errno.EACCES, f"{what} of a file that is still open (Windows refuses it: "
                                  "WinError 32)", os.fspath(path))


def _wrap(name: str, original: Callable[..., Any], what: str, arity: int) -> Callable[..., Any]:
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("dir_fd") is None:
            _refuse_if_open(what, *args[:arity])
        return original(*args, **kwargs)

    guarded.__name__ = name
    guarded.__wrapped__ = original  # type: ignore[attr-defined]
    return guarded


def install() -> Callable[[], None]:
    """Enforce the rule in this process; returns a function that lifts it."""
    saved = {name: getattr(os, name) for name in ("unlink", "remove", "rename", "replace")}
    os.unlink = _wrap("unlink", saved["unlink"], "unlink", 1)
    os.remove = _wrap("remove", saved["remove"], "unlink", 1)
    os.rename = _wrap("rename", saved["rename"], "rename", 2)
    os.replace = _wrap("replace", saved["replace"], "replace", 2)

    def lift() -> None:
        for name, original in saved.items():
            setattr(os, name, original)

    return lift


def main() -> None:
    """Run ``sys.argv[1]`` as ``python -m`` would, with the rule in force."""
    if len(sys.argv) < 2:
        raise SystemExit("usage: python -m tests.support.open_file_guard MODULE [ARGS...]")
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    install()
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
