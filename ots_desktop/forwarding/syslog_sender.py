"""Sending RFC 5424 messages to a syslog collector: TLS (RFC 5425), TCP (RFC 6587), UDP (RFC 5426), a unix socket.

Stream transports frame each message with octet counting and keep one connection open.
Syslog has no acknowledgement: a batch counts as delivered once the kernel took all of it on
a connection the collector had not closed. Before each batch the connection is checked for
an end the collector sent (it never sends data), so a collector that restarted gets a new
connection instead of a batch written into a closed one.
"""

from __future__ import annotations

import contextlib
import errno
import select
import socket
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path

from ots_desktop.core.audit.forward_format import Outgoing, octet_counted, syslog_message
from ots_desktop.core.audit.forward_targets import SyslogTarget
from ots_desktop.core.tls_trust import verifying_context

CONNECT_TIMEOUT_S = 5.0
SEND_TIMEOUT_S = 15.0


class SendError(Exception):
    """A batch did not reach the collector; the message says why (it never holds a secret)."""


def client_context(ca_file: Path | None) -> ssl.SSLContext:
    """Verifying TLS 1.2+ client context: the system's CAs, or only ``ca_file`` when given."""
    return verifying_context(ca_file)


def describe(exc: BaseException) -> str:
    """A short reason for a network failure."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"the collector's certificate was refused ({exc.verify_message})"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "the collector did not answer in time"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__


class SyslogSender:
    """One syslog destination."""

    name = "syslog"

    def __init__(self, target: SyslogTarget, *, hostname: str, ca_file: Path | None = None) -> None:
        self.target = target
        self.url = target.url
        self._hostname = hostname
        self._ca_file = ca_file
        self._sock: socket.socket | None = None

    @property
    def stream(self) -> bool:
        """Whether the transport is a byte stream (TLS or TCP)."""
        return self.target.scheme in ("tls", "tcp")

    def _connect(self) -> socket.socket:
        target = self.target
        if target.scheme == "unix":
            if sys.platform == "win32":
                raise OSError(errno.EAFNOSUPPORT, "a unix:// collector needs Unix sockets, which this system "
                              "does not offer; use udp://, tcp:// or tls://")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.settimeout(SEND_TIMEOUT_S)
            try:
                sock.connect(target.path)
            except OSError:
                sock.close()
                raise
            return sock
        if target.scheme == "udp":
            family, kind, proto, _, address = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_DGRAM)[0]
            sock = socket.socket(family, kind, proto)
            sock.settimeout(SEND_TIMEOUT_S)
            sock.connect(address)
            return sock
        sock = socket.create_connection((target.host, target.port), timeout=CONNECT_TIMEOUT_S)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if target.scheme == "tls":
                sock = client_context(self._ca_file).wrap_socket(sock, server_hostname=target.host)
            sock.settimeout(SEND_TIMEOUT_S)
        except BaseException:
            sock.close()
            raise
        return sock

    def _still_open(self, sock: socket.socket) -> bool:
        """False when the collector closed the connection (or reset it) since the last batch."""
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable:
                return True
            sock.setblocking(False)
            try:
                return bool(sock.recv(4096))
            finally:
                sock.settimeout(SEND_TIMEOUT_S)
        except ssl.SSLWantReadError:
            return True  # a TLS record that was not data (a session ticket)
        except (OSError, ValueError):
            return False

    def open(self) -> None:
        """Connect now (nothing is sent), so a collector that cannot be reached is known before entries wait."""
        self.send_raw([])

    def send(self, items: Sequence[Outgoing]) -> None:
        """Send ``items`` in order; raises SendError when they may not have arrived."""
        self.send_raw([syslog_message(item, self._hostname) for item in items])

    def send_raw(self, messages: Sequence[bytes]) -> None:
        """Send already formatted RFC 5424 messages (the relay's security events)."""
        if self._sock is not None and self.stream and not self._still_open(self._sock):
            self.close()
        try:
            if self._sock is None:
                self._sock = self._connect()
            if self.stream and messages:
                self._sock.sendall(b"".join(octet_counted(m) for m in messages))
            else:
                for message in messages:
                    self._sock.send(message)
        except (OSError, ValueError) as exc:
            self.close()
            raise SendError(f"{self.url}: {describe(exc)}") from None

    def close(self) -> None:
        """Close the connection (a TLS one with its close_notify)."""
        sock, self._sock = self._sock, None
        if sock is None:
            return
        if isinstance(sock, ssl.SSLSocket):
            with contextlib.suppress(OSError, ValueError):
                sock.settimeout(1.0)
                sock.unwrap()
        with contextlib.suppress(OSError):
            sock.close()
