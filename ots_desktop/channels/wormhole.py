"""The wormhole channel: share a secret by a code people can read aloud.

Speaks magic-wormhole's standard appid and file-transfer protocol v1, so the stock
``wormhole`` CLI, wormhole-william and Rymdport can receive from us and send to us.

Every share is written to the audit log before anything leaves this machine (fail
closed), every outcome after; each step is also published on the event stream. The
code itself is never recorded anywhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ots_desktop.channels import wormhole_receive, wormhole_send
from ots_desktop.channels.failures import ChannelFailure
from ots_desktop.channels.payloads import check_text, file_source
from ots_desktop.channels.reporting import Reporter
from ots_desktop.channels.wormhole_receive import Received, ReceiveHooks
from ots_desktop.channels.wormhole_send import SendHooks
from ots_desktop.channels.wormhole_session import WormholeSession, WormholeSettings
from ots_desktop.core.audit.events import Channel, EventType
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.codes import check_code
from ots_desktop.core.errors import InputError
from ots_desktop.core.events import EventBus, EventKind
from ots_desktop.core.ids import b64u_encode, new_share_id
from ots_desktop.core.inflight import InFlight
from ots_desktop.core.secret import SecretBuffer

__all__ = ["CodeEntry", "ReceiveHooks", "Received", "SendHooks", "WormholeChannel", "WormholeSettings"]


@dataclass
class CodeEntry:
    """Interactive code entry with completion: nameplates first, then PGP words.

    The GUI calls :meth:`nameplates` and :meth:`words` as the user types, then
    :meth:`choose`; :meth:`WormholeChannel.receive` does the rest.
    """

    session: WormholeSession
    helper: Any

    def refresh(self) -> None:
        """Ask the mailbox for the nameplates in use now."""
        self.helper.refresh_nameplates()

    def nameplates(self, prefix: str) -> list[str]:
        """Nameplates (the number before the first dash) that start with ``prefix``."""
        return sorted(self.helper.get_nameplate_completions(prefix))

    def choose_nameplate(self, nameplate: str) -> None:
        """Fix the nameplate; word completion becomes available."""
        self.helper.choose_nameplate(nameplate)

    async def wordlist_ready(self) -> None:
        """Wait until the word list for completion is known."""
        from ots_desktop.runtime import to_future

        await to_future(self.helper.when_wordlist_is_available())

    def words(self, prefix: str) -> list[str]:
        """Completions for the words part (after the nameplate)."""
        return sorted(self.helper.get_word_completions(prefix))

    def choose_words(self, words: str) -> None:
        """Fix the words: the code is complete."""
        self.helper.choose_words(words)


class WormholeChannel:
    """Send and receive over Magic Wormhole, with audit and events.

    ``audit`` may be a future: the CLI opens the log (keychain, SQLite) on a worker
    thread while the wormhole connects. Nothing is released before it is ready.
    """

    def __init__(self, settings: WormholeSettings, audit: AuditLog | Awaitable[AuditLog], bus: EventBus) -> None:
        self.settings = settings
        self._audit = audit
        self.bus = bus

    async def audit(self) -> AuditLog:
        """The audit log, once it is open; refused (AuditError) while it does not verify."""
        if not isinstance(self._audit, AuditLog):
            self._audit = await self._audit
        self._audit.require_usable()
        return self._audit

    async def _reporter(self, session: WormholeSession, direction: str, *, label: str | None = None,
                        recipient: str | None = None) -> Reporter:
        try:
            audit = await self.audit()
        except BaseException:
            await session.close()
            raise
        return Reporter(audit, self.bus, Channel.WORMHOLE, b64u_encode(new_share_id()), direction,
                        label=label, recipient=recipient)

    async def send_text(self, secret: SecretBuffer, hooks: SendHooks, *, label: str | None = None,
                        recipient: str | None = None) -> str:
        """Share a text secret; returns the share id. The buffer is wiped when this returns.

        Raises ChannelFailure (after recording it) or AuditError (before anything is sent).
        """
        try:
            check_text(secret)
        except InputError:
            secret.close()
            raise
        # The wormhole starts connecting now; nothing is sent before the share is on record.
        session = WormholeSession(self.settings)
        try:
            reporter = await self._reporter(session, "send", label=label, recipient=recipient)
            reporter.kind, reporter.size_bytes = "text", len(secret)
            reporter.fingerprint = reporter.audit.fingerprint(secret)
            reporter.record(EventType.SHARE_CREATED)
        except BaseException:
            secret.close()
            await session.close()
            raise
        if hooks.on_share is not None:
            hooks.on_share(reporter.share_id)
        reporter.publish(EventKind.CREATED)
        with InFlight.of(reporter.audit).running(reporter.share_id):
            await wormhole_send.send(session, reporter, secret, hooks)
        return reporter.share_id

    async def send_path(self, path: Path, hooks: SendHooks, *, label: str | None = None,
                        recipient: str | None = None) -> str:
        """Share a file, or a directory as a zip; returns the share id."""
        source = file_source(path)
        session = WormholeSession(self.settings)
        reporter = await self._reporter(session, "send", label=label, recipient=recipient)
        try:
            reporter.kind = "directory" if source.is_directory else "file"
            reporter.size_bytes = source.size
            # Reading a large file on the loop would stall it (and the window) for seconds.
            reporter.fingerprint = await asyncio.to_thread(wormhole_send.file_fingerprint, source, reporter)
            reporter.record(EventType.SHARE_CREATED)
        except BaseException:
            await session.close()
            raise
        if hooks.on_share is not None:
            hooks.on_share(reporter.share_id)
        reporter.publish(EventKind.CREATED)
        with InFlight.of(reporter.audit).running(reporter.share_id):
            await wormhole_send.send(session, reporter, source, hooks)
        return reporter.share_id

    async def receive(self, code: str | CodeEntry, hooks: ReceiveHooks) -> Received:
        """Receive with a typed code (or a finished :class:`CodeEntry`)."""
        if isinstance(code, CodeEntry):
            session = code.session
        else:
            code = check_code(code)  # InputError: a malformed code is not a guess, and is not recorded as one
            session = WormholeSession(self.settings)
            try:
                session.set_code(code.strip())
            except ChannelFailure as failure:
                reporter = await self._reporter(session, "receive")
                await session.close()
                reporter.failed(failure, EventType.RECEIVE_FAILED)
                raise
        # The key exchange runs while the audit log opens.
        reporter = await self._reporter(session, "receive")
        try:
            await session.connected()
        except BaseException as exc:
            # A cancel while connecting must close the session too, or it retries forever.
            await session.close()
            if isinstance(exc, ChannelFailure):
                reporter.failed(exc, EventType.RECEIVE_FAILED)
            raise
        reporter.publish(EventKind.WAITING)
        return await wormhole_receive.receive(session, reporter, hooks)

    async def code_entry(self) -> CodeEntry:
        """Start interactive code entry (for the GUI's completer)."""
        session = WormholeSession(self.settings)
        try:
            await session.connected()
        except BaseException:
            await session.close()
            raise
        return CodeEntry(session, session.input_code())

