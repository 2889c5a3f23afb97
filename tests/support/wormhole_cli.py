"""Running ``ots send`` / ``ots receive`` (and the stock ``wormhole``) as real processes, for wormhole tests.

Every process is read by background threads (stdout lines into a queue with their
arrival time, stderr into memory), so a test can wait for one JSON line with a
deadline, kill the process by its PID mid-transfer, and measure how long it took to
exit after its last line. Nothing is written to disk: a secret printed by a receiver
stays in this process's memory.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OTS = [sys.executable, "-m", "ots_desktop.cli"]
WORMHOLE = str(Path(sys.executable).parent / "wormhole")
DEFAULT_TIMEOUT_S = 60.0
# A process still running when a test gives up on it is killed; this bounds every wait.
HARD_LIMIT_S = 300.0
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Line:
    """One stdout line and when it arrived (time.monotonic)."""

    at: float
    raw: bytes

    @property
    def event(self) -> dict[str, Any] | None:
        """The line as a JSON object, or None if it is not one."""
        try:
            value = json.loads(self.raw)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None


class CliProcess:
    """A child process whose output is collected by threads; stop it with :meth:`close`."""

    def __init__(self, name: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                 stdin: bytes | None = None, base_env: Mapping[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        full = dict(os.environ if base_env is None else base_env)
        full.update(env or {})
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.argv, env=full, cwd=cwd, stdin=subprocess.PIPE if stdin is not None
                                     else subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.exited_at: float | None = None
        self._queue: queue.Queue[Line | None] = queue.Queue()
        self._lines: list[Line] = []
        self._stderr = bytearray()
        self._threads = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True),
                         threading.Thread(target=self._wait_exit, daemon=True)]
        for thread in self._threads:
            thread.start()
        if stdin is not None:
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.write(stdin)
            except BrokenPipeError:
                pass
            finally:
                try:
                    self.proc.stdin.close()
                except BrokenPipeError:
                    pass

    # -- threads
    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for raw in iter(self.proc.stdout.readline, b""):
            self._queue.put(Line(time.monotonic(), raw.rstrip(b"\r\n")))
        self._queue.put(None)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for chunk in iter(lambda: self.proc.stderr.read1(65536), b""):  # type: ignore[union-attr]
            self._stderr += chunk

    def _wait_exit(self) -> None:
        try:
            self.proc.wait(timeout=HARD_LIMIT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            self.proc.wait(timeout=30)
        self.exited_at = time.monotonic()

    # -- reading
    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.proc.pid

    @property
    def stderr(self) -> str:
        """What the process wrote to stderr so far."""
        return bytes(self._stderr).decode("utf-8", "replace")

    def describe(self) -> str:
        """For assertion messages: exit status, stdout lines and stderr."""
        out = b"\n".join(line.raw for line in self._lines).decode("utf-8", "replace")
        return f"{self.name} (rc={self.proc.returncode}) stdout:\n{out}\nstderr:\n{self.stderr}"

    def next_line(self, *, timeout: float = DEFAULT_TIMEOUT_S) -> Line:
        """The next stdout line; raises if none arrives within ``timeout`` or the process ends first."""
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"{self.name} printed no line within {timeout:g} s; {self.describe()}") from None
        if item is None:
            self._queue.put(None)  # stay at EOF for later callers
            raise EOFError(f"{self.name} ended its output; {self.describe()}")
        self._lines.append(item)
        return item

    def next_event(self, *, timeout: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
        """The next stdout line that is a JSON object."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.next_line(timeout=max(0.0, deadline - time.monotonic()))
            if line.event is not None:
                return line.event

    def wait_for_line(self, predicate: Any, *, timeout: float = DEFAULT_TIMEOUT_S) -> Line:
        """The first further stdout line whose JSON object satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.next_line(timeout=max(0.0, deadline - time.monotonic()))
            if line.event is not None and predicate(line.event):
                return line

    def wait(self, timeout: float = DEFAULT_TIMEOUT_S) -> int:
        """Wait for the exit, then drain stdout; returns the exit status. Raises on timeout."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{self.name} did not exit within {timeout:g} s; {self.describe()}") from None
        for thread in self._threads:
            thread.join(timeout=10)
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)
                break
            self._lines.append(item)
        return code

    def lines(self) -> list[Line]:
        """Every stdout line read so far (call :meth:`wait` first to have them all)."""
        return list(self._lines)

    def events(self) -> list[dict[str, Any]]:
        """Every JSON stdout line read so far."""
        return [e for e in (line.event for line in self._lines) if e is not None]

    def stdout_bytes(self) -> bytes:
        """Everything read from stdout so far, newlines restored."""
        return b"".join(line.raw + b"\n" for line in self._lines)

    def last_event(self, name: str) -> dict[str, Any]:
        """The last JSON line with ``"event": name``."""
        found = [e for e in self.events() if e.get("event") == name]
        assert found, f"no {name!r} line; {self.describe()}"
        return found[-1]

    def line_time(self, name: str) -> float:
        """When the last JSON line with ``"event": name`` arrived."""
        found = [line.at for line in self._lines if (line.event or {}).get("event") == name]
        assert found, f"no {name!r} line; {self.describe()}"
        return found[-1]

    # -- stopping
    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL exactly this PID if it still runs."""
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def close(self) -> None:
        """Kill the process if it still runs and reap it."""
        self.kill()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        for thread in self._threads:
            thread.join(timeout=5)


@dataclass
class Side:
    """One person's installation: an OTS_HOME and a download folder."""

    name: str
    ots_home: Path
    out: Path

    @property
    def env(self) -> dict[str, str]:
        """The environment that points ``ots`` at this installation."""
        return {"OTS_HOME": str(self.ots_home)}

    @property
    def audit_db(self) -> Path:
        """The audit database of this installation."""
        return self.ots_home / "data" / "audit.sqlite3"


@dataclass
class Wormholes:
    """Starts ``ots`` and stock ``wormhole`` processes against one mailbox; closes them all at the end."""

    root: Path
    mailbox_url: str
    transit_helper: str
    processes: list[CliProcess] = field(default_factory=list)
    sides: dict[str, Side] = field(default_factory=dict)
    # Run ``ots`` under Windows' rule for open files (tests/support/open_file_guard.py).
    windows_open_files: bool = False

    @property
    def ots(self) -> list[str]:
        """How ``ots`` is started."""
        if self.windows_open_files:
            return [sys.executable, "-m", "tests.support.open_file_guard", "ots_desktop.cli"]
        return OTS

    def side(self, name: str) -> Side:
        """The installation called ``name`` (created on first use)."""
        if name not in self.sides:
            home = self.root / f"{name}-ots"
            out = self.root / f"{name}-out"
            home.mkdir(mode=0o700, exist_ok=True)
            out.mkdir(mode=0o700, exist_ok=True)
            self.sides[name] = Side(name, home, out)
        return self.sides[name]

    @property
    def sender(self) -> Side:
        """The default sending side."""
        return self.side("sender")

    @property
    def receiver(self) -> Side:
        """The default receiving side."""
        return self.side("receiver")

    def _server_args(self) -> list[str]:
        return ["--mailbox-url", self.mailbox_url, "--transit-helper", self.transit_helper]

    def spawn(self, name: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
              stdin: bytes | None = None, cwd: Path | None = None) -> CliProcess:
        """Start any process, closed with the others at the end of the test."""
        process = CliProcess(name, argv, env=env, stdin=stdin, cwd=cwd)
        self.processes.append(process)
        return process

    def start_send(self, secret: bytes | None = None, *, file: Path | None = None, args: Sequence[str] = (),
                   side: Side | None = None) -> SenderProcess:
        """``ots send --json`` of a text secret (on stdin) or a file; the code is read with a deadline."""
        side = side or self.sender
        argv = [*self.ots, "send", "--json", *self._server_args(), *args]
        if file is not None:
            argv += ["--file", str(file)]
        process = SenderProcess("ots-send", argv, env=side.env, stdin=secret if file is None else None)
        self.processes.append(process)
        return process

    def start_receive(self, code: str | None, *, args: Sequence[str] = (), side: Side | None = None,
                      out: Path | None = None) -> CliProcess:
        """``ots receive CODE --json --out DIR`` (with ``code=None`` the code must come some other way)."""
        side = side or self.receiver
        argv = [*self.ots, "receive", *([code] if code is not None else []), "--json", "--out", str(out or side.out),
                *self._server_args(), *args]
        return self.spawn("ots-receive", argv, env=side.env)

    def run_receive(self, code: str, *, args: Sequence[str] = (), side: Side | None = None, out: Path | None = None,
                    timeout: float = DEFAULT_TIMEOUT_S) -> CliProcess:
        """Run ``ots receive`` to its end (bounded by ``timeout``)."""
        process = self.start_receive(code, args=args, side=side, out=out)
        process.wait(timeout)
        return process

    def stock(self, *args: str, stdin: bytes | None = None) -> CliProcess:
        """The stock ``wormhole`` CLI against our mailbox (WORMHOLE_* settings of the developer dropped)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("WORMHOLE_")}
        argv = [WORMHOLE, "--relay-url", self.mailbox_url, "--transit-helper", self.transit_helper, *args]
        process = CliProcess("wormhole", argv, stdin=stdin, base_env=env)
        self.processes.append(process)
        return process

    def evil_send(self, code: str, kind: str) -> CliProcess:
        """The malicious sender of :mod:`tests.support.evil_sender` (it always exits 0 within its own timeout)."""
        argv = [sys.executable, "-m", "tests.support.evil_sender", "--relay-url", self.mailbox_url,
                "--transit-helper", self.transit_helper, "--code", code, "--kind", kind]
        return self.spawn(f"evil-sender-{kind}", argv, cwd=REPO_ROOT)

    def audit(self, side: Side) -> list[dict[str, Any]]:
        """``ots audit list --json`` of one installation."""
        full = dict(os.environ)
        full.update(side.env)
        result = subprocess.run([*OTS, "audit", "list", "--json", "--limit", "1000"], env=full, capture_output=True,
                                timeout=DEFAULT_TIMEOUT_S, check=False, stdin=subprocess.DEVNULL)
        assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
        return [json.loads(line) for line in result.stdout.decode().splitlines() if line.strip()]

    def close(self) -> None:
        """Kill whatever still runs (by PID)."""
        for process in self.processes:
            process.close()


class SenderProcess(CliProcess):
    """``ots send --json``: the first line is the code."""

    _code: str | None = None

    def read_code(self, *, timeout: float = DEFAULT_TIMEOUT_S) -> str:
        """Wait for the ``code`` line and return the code."""
        if self._code is None:
            event = self.next_event(timeout=timeout)
            assert event.get("event") == "code", f"first line is not the code: {event}; {self.describe()}"
            self._code = str(event["code"])
        return self._code

    @property
    def code(self) -> str:
        """The wormhole code (read with the default deadline on first use)."""
        return self.read_code()


def startup_time(*, repeat: int = 1) -> float:
    """Seconds ``python -m ots_desktop.cli --version`` takes here (the cost of starting an ``ots`` process)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.monotonic()
        subprocess.run([*OTS, "--version"], capture_output=True, timeout=DEFAULT_TIMEOUT_S, check=True,
                       stdin=subprocess.DEVNULL)
        best = min(best, time.monotonic() - started)
    return best


def audit_rows(rows: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    """The rows of one event type."""
    return [row for row in rows if row.get("event_type") == event_type]
