"""Starting real helper servers in tests, waiting for them, and stopping them by PID."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


def wait_until(predicate: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.02) -> None:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class Service:
    """A child process owned by a fixture. ``stop`` signals exactly its PID."""

    def __init__(self, name: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None, stdin: int | None = None, log_dir: Path | None = None,
                 pass_fds: Sequence[int] = ()) -> None:
        self.name = name
        self.log_path = (log_dir / f"{name}.log") if log_dir else None
        self._log = self.log_path.open("wb") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(list(argv), env=dict(env) if env is not None else None, cwd=cwd,
                                     stdin=stdin, stdout=subprocess.PIPE, stderr=self._log, pass_fds=tuple(pass_fds))

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.proc.pid

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.proc.poll() is None

    def log_text(self) -> str:
        """What the process wrote to stderr so far."""
        return self.log_path.read_text("utf-8", "replace") if self.log_path else ""

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM the PID, then SIGKILL if it does not exit in time."""
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream:
                stream.close()
        if not isinstance(self._log, int):
            self._log.close()
