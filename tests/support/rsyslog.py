"""A real ``rsyslogd`` (Debian package rsyslog, rsyslog-gnutls) as a log collector for tests.

It listens on loopback with ``imtcp``: plain TCP (RFC 6587 octet counting), or TLS through
the ``gtls`` stream driver with a certificate from a throwaway CA (``tests.support.tls``).
Port 0 lets rsyslog pick a free port and write it to a file; a given port (to bring a
collector back where it was) is polled until it accepts. Every message is written as
received (``%rawmsg%``) to ``raw.log``, and rsyslog's own reading of its header and
structured data to ``parsed.log`` (one JSON object a line). Stopped by PID.
"""

from __future__ import annotations

import json
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import Service, wait_until
from tests.support.tls import ThrowawayPKI

READY_TIMEOUT_S = 20.0

_CONFIG = """
global(workDirectory="{work}"{tls_global})
module(load="imtcp"{tls_module} MaxSessions="200")
input(type="imtcp" address="127.0.0.1" port="{port}"{port_file})
template(name="raw" type="string" string="%rawmsg%\\n")
template(name="parsed" type="list") {{
  constant(value="{{")
  property(name="pri" format="jsonf") constant(value=",")
  property(name="timereported" dateFormat="rfc3339" format="jsonf") constant(value=",")
  property(name="hostname" format="jsonf") constant(value=",")
  property(name="app-name" format="jsonf") constant(value=",")
  property(name="procid" format="jsonf") constant(value=",")
  property(name="msgid" format="jsonf") constant(value=",")
  property(name="structured-data" format="jsonf") constant(value=",")
  property(name="msg" format="jsonf" droplastlf="on")
  constant(value="}}\\n")
}}
action(type="omfile" file="{raw}" template="raw")
action(type="omfile" file="{parsed}" template="parsed")
"""


def rsyslogd() -> str:
    """The rsyslogd binary, or skip when the package is not installed (.ci/system-deps.sh installs it)."""
    found = shutil.which("rsyslogd") or ("/usr/sbin/rsyslogd" if Path("/usr/sbin/rsyslogd").exists() else None)
    if found is None:
        pytest.skip("rsyslogd is not installed (Debian package rsyslog; see .ci/system-deps.sh)")
    return found


@dataclass
class Rsyslog:
    """A running rsyslogd and the files it writes."""

    service: Service
    root: Path
    port: int
    tls: bool

    @property
    def raw_log(self) -> Path:
        return self.root / "raw.log"

    @property
    def parsed_log(self) -> Path:
        return self.root / "parsed.log"

    @property
    def url(self) -> str:
        return f"{'tls' if self.tls else 'tcp'}://127.0.0.1:{self.port}"

    def raw_messages(self) -> list[bytes]:
        """Every message received so far, as sent (without framing)."""
        if not self.raw_log.exists():
            return []
        return [line for line in self.raw_log.read_bytes().split(b"\n") if line]

    def parsed(self) -> list[dict[str, Any]]:
        """rsyslog's own reading of every message so far."""
        if not self.parsed_log.exists():
            return []
        return [json.loads(line) for line in self.parsed_log.read_text("utf-8").splitlines() if line.strip()]

    def stop(self) -> None:
        """SIGTERM its PID (SIGKILL if it lingers)."""
        self.service.stop()


def _accepting(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def start_rsyslog(root: Path, *, pki: ThrowawayPKI | None = None, port: int = 0, name: str = "rsyslogd") -> Rsyslog:
    """Start rsyslogd in ``root`` (TLS when ``pki`` is given) on ``port`` (0: any free one)."""
    binary = rsyslogd()
    root.mkdir(parents=True, exist_ok=True)
    work = root / "work"
    work.mkdir(exist_ok=True)
    port_file = root / "port"
    port_file.unlink(missing_ok=True)
    tls_global = tls_module = ""
    if pki is not None:
        tls_global = (f' DefaultNetstreamDriverCAFile="{pki.ca_cert}" DefaultNetstreamDriverCertFile='
                      f'"{pki.server_cert}" DefaultNetstreamDriverKeyFile="{pki.server_key}"')
        tls_module = ' StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon"'
    config = root / "rsyslog.conf"
    config.write_text(_CONFIG.format(work=work, tls_global=tls_global, tls_module=tls_module, port=port,
                                     port_file=f' listenPortFileName="{port_file}"' if port == 0 else "",
                                     raw=root / "raw.log", parsed=root / "parsed.log"), encoding="utf-8")
    service = Service(name, [binary, "-n", "-f", str(config), "-i", str(root / "rsyslogd.pid")], log_dir=root)
    try:
        if port == 0:
            wait_until(lambda: (port_file.exists() and port_file.read_text().strip().isdigit()) or not service.alive(),
                       timeout=READY_TIMEOUT_S, what="rsyslogd to listen")
            if not service.alive():
                raise RuntimeError(f"rsyslogd exited: {service.log_text()}")
            port = int(port_file.read_text().strip())
        else:
            wait_until(lambda: _accepting(port) or not service.alive(), timeout=READY_TIMEOUT_S,
                       what=f"rsyslogd on port {port}")
            if not service.alive():
                raise RuntimeError(f"rsyslogd exited: {service.log_text()}")
    except BaseException:
        service.stop()
        raise
    return Rsyslog(service, root, port, pki is not None)


def free_port() -> int:
    """A TCP port on loopback that was free a moment ago (bound to 0, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
