"""What the window needs from the rest of the app: settings, the audit log, shares and channels.

Plain Python (no Qt): the pages call these, the tests can too. The audit log opens
on a worker thread (the keychain may take a moment, or fail); until it is open, a
share waits for it, and nothing leaves the machine before it is on record.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ots_desktop.core.audit.keystore import KeyStore
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.config import Config
from ots_desktop.core.errors import AuditError
from ots_desktop.core.events import EventBus
from ots_desktop.core.paths import AppPaths
from ots_desktop.core.secret import SecretBuffer
from ots_desktop.core.shares import ShareStore
from ots_desktop.installation import Installation

if TYPE_CHECKING:
    # The channels pull in aiohttp and Twisted: loaded on first use, after the window is up.
    from ots_desktop.channels.link import LinkChannel
    from ots_desktop.channels.request_client import RequestClient
    from ots_desktop.channels.wormhole import WormholeChannel
    from ots_desktop.core.request_records import RequestRecords


#: How the app sets the relay, ending the "no link relay is set" message.
RELAY_HINT = "add one under Settings, Servers"


class Services:
    """One installation's state, shared by every page of the window.

    Built on :class:`~ots_desktop.installation.Installation`, as the ``ots`` commands are;
    ``keystore`` replaces the keystore choice (tests use it to break the keychain).
    """

    def __init__(self, paths: AppPaths | None = None, *,
                 keystore: Callable[[AppPaths], KeyStore] | None = None) -> None:
        self.install = Installation(paths, relay_hint=RELAY_HINT)
        self.bus = EventBus()
        self._keystore = keystore or self._default_keystore
        self._keyfile_passphrase: SecretBuffer | None = None
        self._audit: asyncio.Future[AuditLog] | None = None
        self._shares: ShareStore | None = None
        self._requests: RequestRecords | None = None
        self.wormhole_overrides: dict[str, float] = {}

    @property
    def paths(self) -> AppPaths:
        return self.install.paths

    @property
    def config(self) -> Config:
        return self.install.config

    @config.setter
    def config(self, config: Config) -> None:
        self.install.config = config

    # -- the audit log -------------------------------------------------------------

    def audit_future(self) -> asyncio.Future[AuditLog]:
        """The audit log, opening on a worker thread the first time it is asked for."""
        if self._audit is None or (self._audit.done() and self._audit.exception() is not None):
            loop = asyncio.get_event_loop()
            self._audit = asyncio.ensure_future(loop.run_in_executor(None, self._open_audit))
        return self._audit

    async def audit(self) -> AuditLog:
        """The open audit log; raises AuditError when the keychain refuses."""
        return await asyncio.shield(self.audit_future())

    @property
    def needs_keyfile_passphrase(self) -> bool:
        """Whether the config opted in to the passphrase key file and no passphrase was given yet.

        Never while that choice is refused: a passphrase typed then would only help whoever edited the config.
        """
        return self.config.keystore == "file" and self._keyfile_passphrase is None and self.keystore_problem() is None

    def keystore_problem(self) -> str | None:
        """Why the configured keystore is refused (the other one holds the log), or None."""
        return self.install.keystore_problem()

    def set_keyfile_passphrase(self, passphrase: SecretBuffer) -> None:
        """The key file's passphrase (kept until close; the key file needs it to open)."""
        if self._keyfile_passphrase is not None:
            self._keyfile_passphrase.close()
        self._keyfile_passphrase = passphrase

    def _given_passphrase(self) -> SecretBuffer:
        if self._keyfile_passphrase is None:
            raise AuditError("the audit keys are in a passphrase-protected key file (keystore = \"file\") and no "
                             "passphrase was given")
        # A copy: the key file wipes what it is handed, and the app keeps its own until close.
        return SecretBuffer(bytearray(self._keyfile_passphrase.view()), wipe_source=True)

    def _default_keystore(self, paths: AppPaths) -> KeyStore:
        return self.install.keystore(self._given_passphrase)

    def _open_audit(self) -> AuditLog:
        return self.install.open_audit_log(self._keystore(self.paths), usable=False)

    def audit_if_open(self) -> AuditLog | None:
        """The audit log if it opened already (for quick, synchronous reads)."""
        if self._audit is not None and self._audit.done() and self._audit.exception() is None:
            return self._audit.result()
        return None

    # -- channels ------------------------------------------------------------------

    def shares(self) -> ShareStore:
        """The local file of links this installation made (status tokens, never keys)."""
        if self._shares is None:
            self._shares = self.install.open_shares()
        return self._shares

    def requests(self) -> RequestRecords:
        """The local file of secret requests made here (the one ``ots request`` uses; no keys)."""
        if self._requests is None:
            from ots_desktop.core.request_records import RequestRecords

            self._requests = RequestRecords.open(self.paths.data_dir / "requests.sqlite3")
        return self._requests

    def request_client(self, base_url: str | None = None) -> RequestClient:
        """A client for the request endpoints of ``base_url`` (default: the configured relay)."""
        from ots_desktop.channels.request_client import RequestClient

        return RequestClient(base_url or self.relay_url(), ca_file=self.ca_file(),
                             create_token=self.install.relay_token)

    def wormhole(self, *, code_length: int | None = None, mailbox_url: str | None = None) -> WormholeChannel:
        """A wormhole channel on the configured mailbox (or ``mailbox_url``) and transit relay."""
        from ots_desktop.channels.wormhole import WormholeChannel

        settings = self.install.wormhole_settings(code_length=code_length, mailbox_url=mailbox_url,
                                                  **self.wormhole_overrides)
        return WormholeChannel(settings, self.audit_future(), self.bus)

    def link(self) -> LinkChannel:
        """A link channel that trusts the configured CA bundle for https relays."""
        from ots_desktop.channels.link import LinkChannel

        return LinkChannel(self.audit_future(), self.bus, self.shares(), client=self.install.relay_clients())

    def relay_url(self) -> str:
        """The configured link relay, checked (https, or http on loopback only)."""
        return self.install.relay_url()

    def ca_file(self) -> Path | None:
        """The CA bundle for https relays (None: the system's CAs)."""
        return self.install.ca_file()

    # -- settings ------------------------------------------------------------------

    def save_config(self, config: Config) -> None:
        """Validate, write and apply new settings."""
        self.install.save_config(config)

    def close(self) -> None:
        """Close the audit log and the shares file."""
        if self._shares is not None:
            self._shares.close()
            self._shares = None
        if self._requests is not None:
            self._requests.close()
            self._requests = None
        log = self.audit_if_open()
        if log is not None:
            with contextlib.suppress(Exception):
                log.close()
        self._audit = None
        if self._keyfile_passphrase is not None:
            self._keyfile_passphrase.close()
            self._keyfile_passphrase = None
