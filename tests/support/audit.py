"""Helpers for audit-log tests: open the log on the real keychain and tamper with its file."""

from __future__ import annotations

from pathlib import Path

from ots_desktop.core.audit.events import AuditEvent, Channel, EventType
from ots_desktop.core.audit.keystore import KeychainStore, scope_for
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.paths import AppPaths, app_paths
from tests.support.audit_forgery import attacker

__all__ = ["attacker", "open_log", "populate", "share_event"]


def open_log(paths: AppPaths | None = None) -> AuditLog:
    """This test's audit log, with keys in the real Secret Service."""
    paths = paths or app_paths()
    return AuditLog.open(paths, KeychainStore(scope_for(paths.data_dir)), app_version="test")


def share_event(n: int) -> AuditEvent:
    """A recognisable share event (label 'deploy token N')."""
    return AuditEvent(EventType.SHARE_CREATED, channel=Channel.LINK, label=f"deploy token {n}",
                      share_id=f"share{n:04d}", recipient=f"contractor {n}", max_views=1)


def populate(entries: int) -> Path:
    """Create a log whose entries are log_created plus ``entries - 1`` shares, one batch each."""
    with open_log() as log:
        for n in range(2, entries + 1):
            log.append(share_event(n))
        return log.store.path

