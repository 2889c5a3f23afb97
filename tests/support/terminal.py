"""Running ``ots`` on a real pseudo-terminal, answering its prompts as a person at the keyboard would."""

from __future__ import annotations

import os
import pty
import select
import signal
import sys
import time
from collections.abc import Mapping, Sequence

OTS = [sys.executable, "-m", "ots_desktop.cli"]


class Terminal:
    """One ``ots`` process (or ``program``) whose controlling terminal is a pty; :meth:`expect` waits for text."""

    def __init__(self, *args: str, env: Mapping[str, str] | None = None, program: Sequence[str] = OTS) -> None:
        full = dict(os.environ)
        full.update(env or {})
        pid, fd = pty.fork()
        if pid == 0:  # the child: the pty is its stdin, stdout, stderr and /dev/tty
            try:
                os.execvpe(program[0], [*program, *args], full)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.output = b""
        self._seen = 0  # expect() looks only after its previous match
        self.returncode: int | None = None

    def _read(self, deadline: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            return False
        try:
            chunk = os.read(self.fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            chunk = b""
        if not chunk:
            return False
        self.output += chunk
        return True

    def expect(self, text: str, timeout: float = 30) -> None:
        """Wait until ``text`` is printed after the previous match; AssertionError with the screen otherwise."""
        deadline = time.monotonic() + timeout
        wanted = text.encode()
        while (at := self.output.find(wanted, self._seen)) < 0:
            if not self._read(deadline) and time.monotonic() >= deadline:
                raise AssertionError(f"{text!r} did not appear; the terminal shows:\n{self.text}")
        self._seen = at + len(wanted)

    def type(self, line: str) -> None:
        """Type ``line`` and press Enter."""
        os.write(self.fd, line.encode() + b"\r")

    def interrupt(self) -> None:
        """Press Ctrl+C (the terminal sends SIGINT to the process, as for a person)."""
        os.write(self.fd, b"\x03")

    def wait(self, timeout: float = 30) -> int:
        """Read to the end and return the exit code; the process is killed after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._read(min(deadline, time.monotonic() + 0.2))
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                while self._read(time.monotonic() + 0.2):
                    pass
                os.close(self.fd)
                self.returncode = os.waitstatus_to_exitcode(status)
                return self.returncode
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        os.close(self.fd)
        raise AssertionError(f"ots did not finish in {timeout} s; the terminal shows:\n{self.text}")

    @property
    def text(self) -> str:
        """Everything printed so far."""
        return self.output.decode("utf-8", "replace")
