"""A real X server (Xvfb) and a tray host (trayer) for the desktop tests.

Xvfb picks a free display itself (``-displayfd``), so runs never collide; both
processes are stopped by PID.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import Service, wait_until

READY_TIMEOUT_S = 20.0


@dataclass
class XSession:
    """Xvfb and the tray host running on it."""

    display: str
    xvfb: Service
    tray: Service | None

    def stop(self) -> None:
        """Stop the tray host, then the X server."""
        if self.tray is not None:
            self.tray.stop()
        self.xvfb.stop()


def _read_display(proc: subprocess.Popen[bytes], read_fd: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            raise RuntimeError("Xvfb did not report a display number")
        ready, _, _ = select.select([read_fd], [], [], left)
        if ready:
            chunk = os.read(read_fd, 64)
            if not chunk:
                raise RuntimeError("Xvfb closed its display pipe")
            data += chunk
    return ":" + data.decode("ascii").strip()


def _tray_ready(display: str) -> bool:
    """trayer's panel window (class "trayer") exists once it has taken the tray selection."""
    tree = subprocess.run(["xwininfo", "-root", "-tree"], env=dict(os.environ, DISPLAY=display),
                          capture_output=True, text=True, check=False)
    return '("panel" "trayer")' in tree.stdout


def start_x(log_dir: Path, *, with_tray: bool = True, screen: str = "1280x900") -> XSession:
    """Start Xvfb on a free display with a ``screen`` (WIDTHxHEIGHT) screen, and trayer on it; raise if either
    is missing or fails."""
    for tool in ("Xvfb", "trayer", "xdpyinfo", "xwininfo"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed: run `make setup` (it installs xvfb, trayer, x11-utils)")
    read_fd, write_fd = os.pipe()
    argv = ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{screen}x24", "-nolisten", "tcp", "-noreset"]
    xvfb = Service("xvfb", argv, log_dir=log_dir, pass_fds=(write_fd,))
    os.close(write_fd)
    try:
        display = _read_display(xvfb.proc, read_fd, READY_TIMEOUT_S)
    except BaseException:
        xvfb.stop()
        raise
    finally:
        os.close(read_fd)
    env = dict(os.environ, DISPLAY=display)
    wait_until(lambda: subprocess.run(["xdpyinfo"], env=env, capture_output=True, check=False).returncode == 0,
               timeout=READY_TIMEOUT_S, what="Xvfb to accept clients")
    tray = None
    if with_tray:
        tray = Service("trayer", ["trayer", "--edge", "top", "--align", "right", "--widthtype", "pixel",
                                  "--width", "200", "--height", "24", "--SetDockType", "true"],
                       env=env, log_dir=log_dir)
        try:
            wait_until(lambda: _tray_ready(display), timeout=READY_TIMEOUT_S, what="the trayer tray host")
        except BaseException:
            tray.stop()
            xvfb.stop()
            raise
    return XSession(display=display, xvfb=xvfb, tray=tray)
