"""A real ``ots server`` (mailbox + transit relay) as a child process, for tests."""

from __future__ import annotations

import json
import os
import select
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.processes import Service

READY_TIMEOUT_S = 30.0


@dataclass
class RunningServer:
    """A started ``ots server`` and what its ready line said."""

    mailbox_url: str
    transit_helper: str
    mailbox_port: int
    transit_port: int
    data_dir: Path
    service: Service
    ready: dict[str, Any]
    link_url: str | None = None

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.service.pid

    def stop(self) -> None:
        """SIGTERM exactly this PID (SIGKILL if it lingers)."""
        self.service.stop()


def server_argv(data_dir: Path, *extra: str) -> list[str]:
    """The command line of a test server on OS-assigned ports."""
    ports = [] if "--no-wormhole" in extra else ["--port", "0", "--transit-port", "0"]
    return [sys.executable, "-m", "ots_desktop.cli", "server", *ports, "--link-port", "0",
            "--data-dir", str(data_dir), "--json", *extra]


class LineReader:
    """Reads a service's stdout line by line, each read bounded by a deadline."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self._buffer = b""

    def next_line(self, *, timeout: float) -> bytes:
        """The next line (without its newline); raises with the service's stderr if it dies or stalls."""
        service = self.service
        stdout = service.proc.stdout
        assert stdout is not None
        fd = stdout.fileno()
        deadline = time.monotonic() + timeout
        # Raw reads on the descriptor: a buffered readline could sit on bytes select() no longer sees.
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{service.name} printed no line within {timeout:.0f} s; "
                                   f"stderr:\n{service.log_text()}")
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                service.proc.wait(timeout=5)
                raise RuntimeError(f"{service.name} exited ({service.proc.returncode}) before printing a line; "
                                   f"stderr:\n{service.log_text()}")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line


def start_ots_server(tmp_dir: Path, *extra: str, timeout: float = READY_TIMEOUT_S) -> RunningServer:
    """Start ``ots server --json`` on free ports with its data in ``tmp_dir/server`` and wait until it is ready."""
    data_dir = tmp_dir / "server"
    service = Service("ots-server", server_argv(data_dir, *extra), env=dict(os.environ), log_dir=tmp_dir)
    try:
        line = LineReader(service).next_line(timeout=timeout)
        ready = json.loads(line)
        if ready.get("event") != "ready":
            raise RuntimeError(f"unexpected first line from ots server: {line!r}; stderr:\n{service.log_text()}")
    except BaseException:
        service.stop()
        raise
    return RunningServer(mailbox_url=ready["mailbox_url"] or "", transit_helper=ready["transit_helper"] or "",
                         mailbox_port=int(ready["mailbox_port"] or 0), transit_port=int(ready["transit_port"] or 0),
                         data_dir=Path(ready["data_dir"]), service=service, ready=ready, link_url=ready["link_url"])
