"""The relay's security events, sent to syslog (``ots server --syslog URL``), off the event loop.

What is sent, as RFC 5424 with APP-NAME ``ots-server``, MSGID the event and structured data
``ots@32473`` (``event``, ``share``, ``client``, ``code``, ``dropped``):

- ``link_burned`` (the last allowed wrong passphrase destroyed a link), ``reveal_wrong_passphrase``,
  ``reveal_wrong_link`` (a reveal without the link's key), ``reveal_refused_network``,
  ``reveal_refused_country``, ``answer_wrong_proof`` (an answer to a secret request without the
  request proof only its link gives), ``answer_second_attempt`` (an answer to a request already
  answered): warning;
- ``rate_limited``, ``quota_storage_full``, ``quota_in_flight``, ``quota_busy``,
  ``create_unauthorized`` (no or a wrong create token): notice;
- ``link_revoked``: info.

A share id appears only as ``share``: 32 hex digits of HMAC-SHA256 under a key kept in the data
directory (``syslog-id-key``, 0600), so events about one link can be matched with each other
but not with a link. Never a token, a key, an envelope or a body. The handlers only queue an
event (a bounded queue: if the collector is away for long, the oldest are dropped and the next
message says how many); a thread formats and sends, retrying with backoff.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import logging
import os
import secrets
import socket
import threading
from pathlib import Path

from ots_desktop.core import private_files
from ots_desktop.core.audit.forward_format import INFO, WARNING, rfc5424
from ots_desktop.core.audit.forward_targets import SyslogTarget
from ots_desktop.core.times import utc_now_ms
from ots_desktop.forwarding.syslog_sender import SendError, SyslogSender

APP_NAME = "ots-server"
NOTICE = 5
MAX_QUEUED = 10_000
RETRY_MAX_S = 30.0
KEY_FILE = "syslog-id-key"
# ApiError codes (and two outcomes) -> (event, severity).
EVENTS = {
    "burned": ("link_burned", WARNING), "wrong_auth": ("reveal_wrong_passphrase", WARNING),
    "wrong_link": ("reveal_wrong_link", WARNING), "link_proof_required": ("reveal_wrong_link", WARNING),
    "forbidden_network": ("reveal_refused_network", WARNING),
    "forbidden_country": ("reveal_refused_country", WARNING), "rate_limited": ("rate_limited", NOTICE),
    "storage_full": ("quota_storage_full", NOTICE), "in_flight": ("quota_in_flight", NOTICE),
    "busy": ("quota_busy", NOTICE), "create_token_required": ("create_unauthorized", NOTICE),
    "wrong_create_token": ("create_unauthorized", NOTICE),
    "revoked": ("link_revoked", INFO),
    "wrong_request_proof": ("answer_wrong_proof", WARNING), "request_proof_required": ("answer_wrong_proof", WARNING),
    "already_answered": ("answer_second_attempt", WARNING),
}
_log = logging.getLogger(__name__)


def id_key(data_dir: Path) -> bytes:
    """The key that hashes share ids in events: made once per data directory, mode 0600."""
    path = data_dir / KEY_FILE
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        handle = private_files.private_stream(path, exclusive=True)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) == 32:
            return key
        raise ValueError(f"{path} is not a 32-byte key; remove it to make a new one") from None
    key = secrets.token_bytes(32)
    with handle:
        handle.write(key)
    return key


class SecurityEvents:
    """Queue security events from the handlers; a thread sends them to one syslog destination."""

    def __init__(self, target: SyslogTarget, key: bytes, *, ca_file: Path | None = None) -> None:
        self.url = target.url
        self._key = key
        self._hostname = socket.gethostname()
        self._sender = SyslogSender(target, hostname=self._hostname, ca_file=ca_file)
        self._queue: collections.deque[bytes] = collections.deque()
        self._cond = threading.Condition()
        self._dropped = 0
        self._stopping = False
        self.sent = 0
        self._thread = threading.Thread(target=self._run, name="ots-relay-syslog", daemon=True)
        self._thread.start()

    def share_hash(self, share_id: str) -> str:
        """The keyed hash a share id is shown as."""
        return hmac.new(self._key, share_id.encode(), hashlib.sha256).hexdigest()[:32]

    def observe(self, code: str, share_id: str | None, client: str) -> None:
        """Queue the event for an ApiError code or outcome, if it is a security event; returns at once."""
        found = EVENTS.get(code)
        if found is None:
            return
        event, level = found
        params: list[tuple[str, object]] = [("event", event), ("code", code), ("client", client)]
        if share_id:
            params.append(("share", self.share_hash(share_id)))
        with self._cond:
            if self._dropped:
                params.append(("dropped", self._dropped))
                self._dropped = 0
            message = rfc5424(severity_level=level, timestamp=utc_now_ms(), hostname=self._hostname,
                              app_name=APP_NAME, msgid=event, params=params, message="", procid=str(os.getpid()))
            if len(self._queue) >= MAX_QUEUED:
                self._queue.popleft()
                self._dropped += 1
            self._queue.append(message.rstrip())
            self._cond.notify_all()

    def _run(self) -> None:
        failures = 0
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._stopping,
                                    None if not failures else min(RETRY_MAX_S, 2.0 ** failures))
                if self._stopping and not self._queue:
                    break
                batch = list(self._queue)[:500]
            if not batch:
                continue
            try:
                self._sender.send_raw(batch)
            except SendError as exc:
                failures += 1
                if failures in (1, 10) or failures % 100 == 0:
                    _log.warning("security events could not be sent (%d waiting): %s", len(batch), exc)
                if self._stopping:
                    break
                continue
            failures = 0
            self.sent += len(batch)
            with self._cond:
                for sent in batch:  # the oldest may have been dropped meanwhile
                    if self._queue and self._queue[0] is sent:
                        self._queue.popleft()
        self._sender.close()

    def close(self, wait: float = 2.0) -> None:
        """Send what is queued (for up to ``wait`` seconds), then stop."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(wait)
