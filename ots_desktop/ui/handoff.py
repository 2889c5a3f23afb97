"""A second launch hands its files to the running app, before any window or Qt network module loads.

The running app listens with ``QLocalServer`` (``single_instance``). On POSIX its socket is
a file ``$TMPDIR/<name>`` (``/tmp`` without TMPDIR), so a plain Unix socket can reach it;
that keeps QtNetwork, hashlib and json off the path to the first paint. Elsewhere (Windows
named pipes) this says "don't know" and the caller asks ``SingleInstance.forward``. A socket
that another user owns is never used: in a shared /tmp anyone could create one under our name.
"""

from __future__ import annotations

import os
import sys
import zlib
from pathlib import Path

CONNECT_TIMEOUT_S = 1.0


def socket_name(state_dir: Path) -> str:
    """A short, stable name for this installation's socket.

    A checksum, not a cryptographic hash: the name only has to tell this user's installations
    apart, and hashlib would cost the start more than the whole hand-over.
    """
    path = str(state_dir.resolve()).encode("utf-8")
    return f"ots-desktop-{zlib.crc32(path):08x}{zlib.adler32(path):08x}"


def socket_path(name: str) -> Path:
    """Where QLocalServer puts a socket called ``name`` on POSIX (as ``QDir::tempPath`` does)."""
    return Path(os.environ.get("TMPDIR") or "/tmp") / name  # noqa: S108 (Qt's choice, checked by owner below)


def hand_over(state_dir: Path, files: list[str]) -> bool | None:
    """True if a running app took ``files`` (and will show itself); False if none runs; None off POSIX."""
    if sys.platform == "win32":
        return None
    import socket

    path = socket_path(socket_name(state_dir))
    try:
        owner = path.stat().st_uid
    except OSError:
        return False
    if owner != os.getuid():  # another user's socket under our name in a shared /tmp: never talk to it
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(CONNECT_TIMEOUT_S)
        try:
            conn.connect(str(path))
        except OSError:  # a socket file left by a crashed app: nobody answers on it
            return False
        import json

        message = json.dumps({"command": "show", "files": files}).encode("utf-8") + b"\n"
        try:
            conn.sendall(message)
        except OSError:
            return False
    return True
