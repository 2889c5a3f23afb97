"""Which keystore holds the audit keys is not the config file's alone to say.

``config.toml`` lives under ``OTS_HOME``, which the attacker of docs/audit-log.md can
write. Were ``keystore = "file"`` enough to move the log onto a key file, that attacker
could leave the keychain's anchor behind and have the app start over on keys of their
choosing. So the choice is checked against the stores themselves: while the keychain
holds this installation's log, the key file is refused, and while a key file holds it,
the keychain is. A real switch is ``ots audit keystore``, which the current keys sign
(:func:`switch_keystore`) and the log records.
"""

from __future__ import annotations

from collections.abc import Callable

from ots_desktop.core.audit.events import AuditEvent, EventType, Reason
from ots_desktop.core.audit.keystore import FINGERPRINT_KEY, KeyStore
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.audit.state import LEGACY_NAMES, STATE
from ots_desktop.core.errors import AuditTamperedError, InputError, KeychainError
from ots_desktop.core.paths import AppPaths

_SWITCH = ("A switch of keystore is made with `ots audit keystore {target}`, which the current keys sign and the log "
           "records. If you did not change the setting, someone else did: set it back")
MOVED_NAMES = (STATE, FINGERPRINT_KEY)


def holds_log(store: KeyStore) -> bool:
    """Whether ``store`` holds an audit log's keys (current or version 1)."""
    return any(store.get(name) is not None for name in (*MOVED_NAMES, *LEGACY_NAMES))


def check_keystore_choice(paths: AppPaths, chosen: str, keychain: Callable[[], KeyStore]) -> None:
    """Refuse ``chosen`` when the other keystore holds this installation's log.

    ``keychain`` opens the OS keychain; when none is usable, the key file is the only
    place keys can be, and it is allowed.
    """
    if chosen == "file":
        try:
            store = keychain()
            found = holds_log(store)
        except KeychainError:
            return
        if found:
            raise AuditTamperedError(
                "the settings ask for the passphrase key file (keystore = \"file\"), but the OS keychain holds this "
                f"installation's audit log. {_SWITCH.format(target='file')} to keystore = \"keychain\".")
    elif paths.keyfile.exists():
        try:
            found = holds_log(keychain())
        except KeychainError:
            found = False
        if not found:
            raise AuditTamperedError(
                f"the passphrase key file {paths.keyfile} holds this installation's audit log, but the settings no "
                f"longer select it. {_SWITCH.format(target='keychain')} to keystore = \"file\".")


def switch_keystore(log: AuditLog, target: KeyStore, target_name: str, save_choice: Callable[[], None]) -> None:
    """Move the log's keys to ``target``: recorded and signed with the current keys first.

    The log must verify. The new store gets a copy, then the settings change, then the
    old store's copy is erased.
    """
    source = log.keystore
    if type(source) is type(target):
        raise InputError(f"the audit keys are already in the {target_name}")
    log.require_usable()
    report = log.verify()
    if not report.ok:
        log.require_usable()
    log.append(AuditEvent(EventType.KEYSTORE_CHANGED, reason=Reason.KEYSTORE, kind=target_name))
    for name in MOVED_NAMES:
        value = source.get(name)
        if value is not None:
            target.set(name, value)
    save_choice()
    for name in (*MOVED_NAMES, *LEGACY_NAMES):
        source.delete(name)
