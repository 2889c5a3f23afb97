"""One installation of ots: its folders, settings, keystore, audit log, shares file and relay clients.

The composition root that the ``ots`` commands and the desktop app share, so both build
the same things the same way and say the same things when they cannot. Qt-free and
loop-free: the front ends decide when (and on which thread) to call it, and how to ask
for the key file's passphrase.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ots_desktop import __version__
from ots_desktop.core.audit.keystore import FileKeyStore, KeychainStore, KeyStore, scope_for
from ots_desktop.core.audit.keystore_choice import check_keystore_choice
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.config import Config, load_config, save_config, settings_from_environment
from ots_desktop.core.errors import ConfigError, InputError, OtsError
from ots_desktop.core.inflight import close_interrupted
from ots_desktop.core.paths import AppPaths, app_paths
from ots_desktop.core.secret import SecretBuffer
from ots_desktop.core.shares import ShareStore

if TYPE_CHECKING:
    from ots_desktop.channels.relay_client import RelayClient
    from ots_desktop.channels.wormhole import WormholeSettings

#: Asked only when the config keeps the audit keys in the passphrase key file.
PassphraseSource = Callable[[], SecretBuffer]
RelayClients = Callable[[str], "RelayClient"]
NO_RELAY = "no link relay is set"
RELAY_TOKEN_VARIABLE = "OTS_RELAY_TOKEN"  # noqa: S105 - a variable's name
RELAY_TOKEN_ENTRY = "relay_token"  # noqa: S105 - a keychain entry's name
AUDIT_HTTP_TOKEN_ENTRY = "audit_http_token"  # noqa: S105 - a keychain entry's name


class Installation:
    """This user's ots: where its files are and what its config says.

    ``relay_hint`` ends the "no relay" message with how this front end sets one.
    """

    def __init__(self, paths: AppPaths | None = None, *, relay_hint: str = "set relay_url in config.toml") -> None:
        self.paths = (paths or app_paths()).ensure()
        self.config = load_config(self.paths.config_file)
        self._relay_hint = relay_hint
        self.forwarder: Any = None  # forwarding.Forwarder of the open audit log, when a collector is set
        self._forwarded: AuditLog | None = None

    # -- settings ----------------------------------------------------------------------

    def save_config(self, config: Config) -> None:
        """Validate, write and apply new settings.

        A setting an ``OTS_*`` variable overrides keeps what the file had: a value from the environment
        (a CI secret's relay, a temporary mailbox) never ends up in config.toml.
        """
        config.validate()
        from_env = settings_from_environment()
        if from_env:
            on_file = load_config(self.paths.config_file, environ={})
            to_write = replace(config, **{name: getattr(on_file, name) for name in from_env})
        else:
            to_write = config
        save_config(self.paths.config_file, to_write.validate())
        before, self.config = self.config, config
        if self._forwarded is not None and _forwarding(before) != _forwarding(config):
            self._restart_forwarding(self._forwarded)

    # -- keys and the audit log --------------------------------------------------------

    def keychain(self) -> KeyStore:
        """This installation's entries in the OS keychain."""
        return KeychainStore(scope_for(self.paths.data_dir))

    def keystore_problem(self) -> str | None:
        """Why the configured keystore is refused (the other one holds the log), or None."""
        try:
            check_keystore_choice(self.paths, self.config.keystore, self.keychain)
        except OtsError as exc:
            return exc.message
        return None

    def keystore(self, passphrase: PassphraseSource) -> KeyStore:
        """The keychain, or the passphrase key file when the config opts in (and the keychain holds no log).

        ``passphrase`` is called only for the key file, and only once the choice is allowed: a
        passphrase typed for a refused choice would only help whoever edited the config.
        """
        check_keystore_choice(self.paths, self.config.keystore, self.keychain)
        if self.config.keystore != "file":
            return self.keychain()
        with passphrase() as secret:
            return FileKeyStore(self.paths.keyfile, secret)

    def open_audit_log(self, keystore: KeyStore, *, usable: bool = True, check: bool = True) -> AuditLog:
        """Open the audit log (the caller closes it).

        With ``usable`` (everything that shares, receives or appends for its own sake), a log
        that does not verify is refused here, before anything starts. A verified log first gets an
        ``interrupted`` ending for each share whose process died (:mod:`ots_desktop.core.inflight`).
        """
        log = AuditLog.open(self.paths, keystore, app_version=__version__, check=check)
        try:
            if usable:
                log.require_usable()
            if check and log.problem is None:
                close_interrupted(log)  # shares whose process died get their ending now
                if self.config.audit_syslog or self.config.audit_http:
                    self._restart_forwarding(log)
        except OtsError:
            log.close()
            raise
        return log

    def _restart_forwarding(self, log: AuditLog) -> None:
        """Forward ``log``'s appends to the configured collectors (off the appending thread)."""
        from ots_desktop.forwarding.setup import start_forwarding

        if self.forwarder is not None:
            if self.forwarder in log.listeners:
                log.listeners.remove(self.forwarder)
            self.forwarder.close()
        self.forwarder = start_forwarding(self.config, self.paths, log, self.audit_http_token)
        self._forwarded = log

    def audit_http_token(self) -> bytearray | None:
        """The HTTP event collector's token from the keychain (``ots audit forward token``), or None."""
        try:
            text = self.keychain().get(AUDIT_HTTP_TOKEN_ENTRY)
        except OtsError:
            return None
        token = bytearray(text.strip().encode()) if text else None
        del text
        return token or None

    def open_shares(self) -> ShareStore:
        """The local file of links this installation made (status tokens, never keys)."""
        return ShareStore.open(self.paths.shares_db)

    # -- the wormhole ------------------------------------------------------------------

    def wormhole_settings(self, **overrides: Any) -> WormholeSettings:
        """The mailbox, transit relay and timeouts from the config, with ``overrides`` (None keeps the setting)."""
        from ots_desktop.channels.wormhole import WormholeSettings

        return WormholeSettings.from_config(self.config, **overrides)

    # -- the link relay ----------------------------------------------------------------

    def relay_url(self, override: str | None = None) -> str:
        """``override`` (a command-line option), else the ``relay_url`` setting; checked and normalised.

        https, or http on loopback only.
        """
        from ots_desktop.channels.link_urls import relay_base, require_secure

        url = (override or self.config.relay_url or "").strip()
        if not url:
            raise ConfigError(f"{NO_RELAY}: {self._relay_hint}", field="relay_url")
        return require_secure(relay_base(url))

    def ca_file(self, override: Path | None = None) -> Path | None:
        """``override``, else the ``ca_file`` setting (None: the system's CAs); it must be a readable file."""
        path = override if override is not None else (
            Path(self.config.ca_file).expanduser() if self.config.ca_file else None)
        if path is not None and not path.is_file():
            raise InputError(f"the CA file {path} does not exist or is not a file")
        return path

    def relay_token(self) -> str | None:
        """The create token for a closed relay: ``OTS_RELAY_TOKEN``, else this installation's keychain entry."""
        token = os.environ.get(RELAY_TOKEN_VARIABLE, "").strip()
        if token:
            return token
        try:
            return (self.keychain().get(RELAY_TOKEN_ENTRY) or "").strip() or None
        except OtsError:  # no usable keychain: no token, and the relay says whether it wants one
            return None

    def relay_clients(self, ca_override: Path | None = None) -> RelayClients:
        """A relay client factory verifying https relays against the CA file (None: the system's CAs)."""
        from ots_desktop.channels.relay_client import RelayClient

        ca_file = self.ca_file(ca_override)

        def make(base_url: str) -> RelayClient:
            return RelayClient(base_url, ca_file=ca_file, create_token=self.relay_token)

        return make


def _forwarding(config: Config) -> tuple[object, ...]:
    return (config.audit_syslog, config.audit_syslog_ca_file, config.audit_http, config.audit_http_format,
            config.audit_http_ca_file, config.audit_forward_plaintext, config.audit_forward_retry_max_s)
