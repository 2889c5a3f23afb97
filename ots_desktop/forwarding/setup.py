"""Forwarding as the settings describe it: the senders, the worker, a test event and the status."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from pathlib import Path

from ots_desktop.core.audit.forward_format import test_event
from ots_desktop.core.audit.forward_spool import DESTINATIONS, SPOOL_FILE, DestinationStatus, ForwardSpool
from ots_desktop.core.audit.forward_targets import parse_http_url, parse_syslog_url
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.audit.store import AuditStore
from ots_desktop.core.config import Config
from ots_desktop.core.errors import InputError, OtsError
from ots_desktop.core.paths import AppPaths
from ots_desktop.forwarding.forwarder import Forwarder, Sender
from ots_desktop.forwarding.http_sender import HttpSender, TokenSource
from ots_desktop.forwarding.syslog_sender import SendError, SyslogSender

_log = logging.getLogger(__name__)


def forwarding_on(config: Config) -> bool:
    """Whether any destination is set."""
    return bool(config.audit_syslog or config.audit_http)


def spool_path(paths: AppPaths) -> Path:
    """The spool file of this installation."""
    return paths.data_dir / SPOOL_FILE


def _ca(path: str) -> Path | None:
    if not path:
        return None
    ca = Path(path).expanduser()
    if not ca.is_file():
        raise InputError(f"the CA file {ca} does not exist or is not a file")
    return ca


def senders_for(config: Config, token: TokenSource) -> list[Sender]:
    """A sender per configured destination (the settings are validated already)."""
    hostname = socket.gethostname()
    senders: list[Sender] = []
    if config.audit_syslog:
        target = parse_syslog_url(config.audit_syslog, plaintext=config.audit_forward_plaintext)
        senders.append(SyslogSender(target, hostname=hostname, ca_file=_ca(config.audit_syslog_ca_file)))
    if config.audit_http:
        http = parse_http_url(config.audit_http, fmt=config.audit_http_format, plaintext=config.audit_forward_plaintext)
        senders.append(HttpSender(http, hostname=hostname, token=token, ca_file=_ca(config.audit_http_ca_file)))
    return senders


def start_forwarding(config: Config, paths: AppPaths, log: AuditLog, token: TokenSource) -> Forwarder | None:
    """Attach a forwarder to ``log`` when a destination is set; None (with a warning logged) when it cannot run."""
    if not forwarding_on(config):
        return None
    try:
        forwarder = Forwarder(spool_path(paths), log.store.path, senders_for(config, token),
                              retry_max_s=config.audit_forward_retry_max_s)
        forwarder.attach(log)
    except (OtsError, OSError) as exc:
        _log.warning("audit forwarding is off for this run: %s", getattr(exc, "message", exc))
        return None
    return forwarder


def send_test_event(config: Config, paths: AppPaths, token: TokenSource) -> dict[str, str | None]:
    """Send one test event to each destination now: its URL -> None when it arrived, else why not."""
    log_id = ""
    if paths.audit_db.exists():
        store = AuditStore(paths.audit_db, read_only=True)
        try:
            log_id = store.meta().get("log_id", "")
        finally:
            store.close()
    results: dict[str, str | None] = {}
    for sender in senders_for(config, token):
        try:
            sender.send([test_event(log_id, socket.gethostname())])
            results[sender.url] = None
        except SendError as exc:
            results[sender.url] = str(exc)
        finally:
            sender.close()
    return results


@dataclass(frozen=True)
class ForwardStatus:
    """One destination's state: the spool's backlog plus the entries not spooled yet."""

    dest: str
    url: str
    spooled: DestinationStatus
    unspooled: int

    @property
    def backlog(self) -> int:
        """Items still to deliver."""
        return self.spooled.backlog + self.unspooled


def read_status(config: Config, paths: AppPaths) -> list[ForwardStatus]:
    """Each configured destination's backlog, last success and last error (and leftovers of unset ones)."""
    urls = {"syslog": config.audit_syslog, "http": config.audit_http}
    path = spool_path(paths)
    if not path.exists() and not forwarding_on(config):
        return []
    spool = ForwardSpool(path)
    log_id, head = _log_head(paths)
    try:
        out = []
        for dest in DESTINATIONS:
            spooled = spool.status(dest)
            if not urls[dest] and not spooled.backlog:
                continue
            mark = spool.marks(dest, log_id)[0] if log_id else head
            out.append(ForwardStatus(dest, urls[dest] or spooled.url, spooled,
                                     max(0, head - mark) if urls[dest] else 0))
        return out
    finally:
        spool.close()


def _log_head(paths: AppPaths) -> tuple[str, int]:
    if not paths.audit_db.exists():
        return "", 0
    try:
        store = AuditStore(paths.audit_db, read_only=True)
    except OtsError:
        return "", 0
    try:
        head = store.head()
        return store.meta().get("log_id", ""), head[0] if head else 0
    except Exception:  # noqa: BLE001 - a status line, not a verification
        return "", 0
    finally:
        store.close()
