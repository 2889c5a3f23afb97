"""Posting audit entries to an HTTP event collector: Splunk HEC, or JSON lines to any endpoint.

One POST per batch on a kept-alive connection. A 2xx answer is the acknowledgement; anything
else leaves the batch in the spool. The collector's token comes from the keychain through
``token`` (bytes, read again after a 401 or 403), and goes only into the Authorization
header: ``Splunk <token>`` for HEC, ``Bearer <token>`` for JSON lines.
"""

from __future__ import annotations

import contextlib
import http.client
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from ots_desktop.core.audit.forward_format import Outgoing, http_body
from ots_desktop.core.audit.forward_targets import HttpTarget
from ots_desktop.forwarding.syslog_sender import SEND_TIMEOUT_S, SendError, client_context, describe

TokenSource = Callable[[], bytearray | None]
_CONTENT_TYPES = {"hec": "application/json", "jsonl": "application/x-ndjson"}
_SCHEMES = {"hec": b"Splunk ", "jsonl": b"Bearer "}


class HttpSender:
    """One HTTP event collector."""

    name = "http"

    def __init__(self, target: HttpTarget, *, hostname: str, token: TokenSource,
                 ca_file: Path | None = None) -> None:
        self.target = target
        self.url = target.url
        self._hostname = hostname
        self._token_source = token
        self._token: bytearray | None = None
        self._token_read = False
        self._ca_file = ca_file
        self._conn: http.client.HTTPConnection | None = None
        parts = urlsplit(target.url)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._host = parts.hostname or ""
        self._port = parts.port

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self.target.secure:
                self._conn = http.client.HTTPSConnection(self._host, self._port, timeout=SEND_TIMEOUT_S,
                                                         context=client_context(self._ca_file))
            else:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=SEND_TIMEOUT_S)
        return self._conn

    def _authorization(self) -> bytes | None:
        if not self._token_read:
            self._forget_token()
            self._token = self._token_source()
            self._token_read = True
        if not self._token:
            return None
        return _SCHEMES[self.target.format] + bytes(self._token)

    def _forget_token(self) -> None:
        if self._token is not None:
            self._token[:] = bytes(len(self._token))
        self._token = None

    def open(self) -> None:
        """Connect now (nothing is sent), so a collector that cannot be reached is known before entries wait."""
        try:
            conn = self._connection()
            if conn.sock is None:
                conn.connect()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise SendError(f"{self.url}: {describe(exc)}") from None

    def send(self, items: Sequence[Outgoing]) -> None:
        """POST ``items`` as one batch; raises SendError unless the collector answered 2xx."""
        body = http_body(items, self.target.format, self._hostname)
        try:
            conn = self._connection()
            conn.putrequest("POST", self._path, skip_accept_encoding=True)
            conn.putheader("Content-Type", _CONTENT_TYPES[self.target.format])
            conn.putheader("Content-Length", str(len(body)))
            conn.putheader("User-Agent", "ots-desktop")
            auth = self._authorization()
            if auth is not None:
                conn.putheader("Authorization", auth)
            del auth
            conn.endheaders(body)
            response = conn.getresponse()
            answer = response.read(64 * 1024)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            self.close()
            raise SendError(f"{self.url}: {describe(exc)}") from None
        if response.will_close:
            self.close()
        if 200 <= response.status < 300:
            return
        if response.status in (401, 403):
            self._token_read = False  # the token may have been replaced in the keychain meanwhile
        raise SendError(f"{self.url}: the collector answered {response.status} {response.reason}"
                        f"{_collector_text(answer)}")

    def close(self) -> None:
        """Close the connection."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()

    def forget(self) -> None:
        """Close and wipe the token held."""
        self.close()
        self._forget_token()
        self._token_read = False


def _collector_text(answer: bytes) -> str:
    """The ``text`` of a HEC error answer (``Invalid token``, ``Incorrect index``), if there is one."""
    try:
        text = json.loads(answer).get("text")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return ""
    if not isinstance(text, str):
        return ""
    return f" ({''.join(ch for ch in text[:120] if ch.isprintable())})"
