"""The link channel: park an encrypted secret on a relay and hand out a one-time link.

Sending seals the secret into an envelope (:mod:`ots_desktop.core.envelope`) under a
fresh share id and fragment key, records the share in the audit log (before anything
leaves this machine: fail closed), parks the envelope on the relay and keeps the
relay's status token in the local shares file. Several recipients get one distinct
link each: their own id, key and audit entry, so each can be revealed, watched and
revoked on its own. The key exists only in the link, which is handed to the caller.

Receiving, status, revocation and watching live in :mod:`link_receive` and
:mod:`link_status`; :class:`LinkChannel` is the one entry point for all of them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import mimetypes
import stat
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from ots_desktop.channels import link_errors, link_receive, link_status
from ots_desktop.channels.link_errors import LinkFailure, StreamingUnsupported
from ots_desktop.channels.link_receive import LinkReceived, ReceiveOptions
from ots_desktop.channels.link_reporting import LinkReporter
from ots_desktop.channels.link_send_stream import upload_sealed
from ots_desktop.channels.link_status import WatchUpdate
from ots_desktop.channels.link_types import LinkPolicy, SentLink
from ots_desktop.channels.link_urls import ParsedLink, make_link, relay_base
from ots_desktop.channels.payloads import bundle_of, check_text
from ots_desktop.channels.relay_client import RelayClient, ShareStatus
from ots_desktop.channels.relay_stream import STREAM_FROM
from ots_desktop.channels.source_print import MAX_FILE_BYTES, SourcePrint, fingerprint_source
from ots_desktop.core.audit.events import Channel, EventType, Outcome, Reason
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.envelope import read_header, seal, seal_stream, sealed_size
from ots_desktop.core.errors import InputError
from ots_desktop.core.events import EventBus, EventKind
from ots_desktop.core.ids import b64u_encode, new_fragment_key, new_share_id
from ots_desktop.core.kdf import PBKDF2_DEFAULT_ITERATIONS, auth_token_hash, derive_keys, derive_link_proof
from ots_desktop.core.secret import SecretBuffer
from ots_desktop.core.shares import ShareRecord, SharesError, ShareStore
from ots_desktop.core.times import rfc3339

# The largest envelope sent as JSON to a relay that takes no streamed uploads (older clients read at most
# 64 MiB of JSON back).
JSON_FALLBACK_MAX = 48 * 1024 * 1024

__all__ = ["LinkChannel", "LinkPolicy", "LinkReceived", "ReceiveOptions", "SentLink", "WatchUpdate"]



@dataclass
class _Payload:
    """What to seal: text in a wipeable buffer, or a file read (and fingerprinted) as a stream."""

    kind: str
    size: int
    text: SecretBuffer | None = None
    path: Path | None = None
    fingerprint: str | None = None
    # A streamed file's first reading, which each upload's reading must match (perhaps started already).
    source: SourcePrint | None = None
    first_reading: concurrent.futures.Future[SourcePrint] | None = None
    # Several files and folders as one zip: a fresh ZipStream for each seal, and the zip's name.
    bundle: Callable[[], Any] | None = None
    name: str = ""

    def meta(self) -> dict[str, object]:
        if self.path is None and self.bundle is None:
            return {"type": "text", "size": self.size}
        name = self.path.name if self.path is not None else self.name
        meta: dict[str, object] = {"type": "file", "name": name, "size": self.size}
        mime = mimetypes.guess_type(name)[0]
        if mime:
            meta["mime"] = mime
        return meta


class _FingerprintingReader:
    """Feeds the audit fingerprint with every byte ``seal_stream`` reads from a file."""

    def __init__(self, stream: BinaryIO, audit: AuditLog) -> None:
        self._stream = stream
        self._mac = audit.fingerprint_mac()
        self.count = 0

    def readinto(self, buffer: memoryview) -> int:
        n = self._stream.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            self._mac.update(memoryview(buffer)[:n])
            self.count += n
        return int(n or 0)

    def fingerprint(self) -> str:
        return AuditLog.fingerprint_of(self._mac)


def _open_source(payload: _Payload) -> BinaryIO:
    if payload.bundle is not None:
        from iterableio import open_iterable

        stream: BinaryIO = open_iterable(payload.bundle(), "rb")
        return stream
    assert payload.path is not None
    return payload.path.open("rb")


def new_link_id() -> bytes:
    """A fresh share id whose text form does not start with '-', so that it never reads as an option.

    That drops one value in 64 of a 128-bit space: no loss that matters.
    """
    while True:
        raw = new_share_id()
        if not b64u_encode(raw).startswith("-"):
            return raw


def _file_payload(path: Path) -> _Payload:
    try:
        info = path.stat()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{path} is a folder: a link carries one file. Zip it first, or send it with --via wormhole")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path} is not a regular file")
    if info.st_size > MAX_FILE_BYTES:
        raise InputError(f"{path} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB: send it with --via wormhole")
    return _Payload("file", info.st_size, path=path)


class LinkChannel:
    """Send, receive, inspect and revoke one-time links, with audit and events.

    ``audit`` may be a future (the CLI may open the log on a worker thread). ``shares``
    is the local shares file; only the sender's operations use it.
    """

    def __init__(self, audit: AuditLog | Awaitable[AuditLog], bus: EventBus, shares: ShareStore | None = None,
                 *, client: Callable[[str], RelayClient] = RelayClient) -> None:
        self._audit = audit
        self.bus = bus
        self._shares = shares
        self._client = client

    async def audit(self) -> AuditLog:
        """The audit log, once it is open; refused (AuditError) while it does not verify."""
        if not isinstance(self._audit, AuditLog):
            self._audit = await self._audit
        self._audit.require_usable()
        return self._audit

    def shares(self) -> ShareStore:
        """The local shares file (the sender's operations need it)."""
        if self._shares is None:
            raise SharesError("this operation needs the local shares file, which was not opened")
        return self._shares

    # -- sending ------------------------------------------------------------------

    async def send_text(self, secret: SecretBuffer, relay_url: str, policy: LinkPolicy, *,
                        recipients: Sequence[str | None] = (None,), passphrase: SecretBuffer | None = None,
                        label: str | None = None, on_link: Callable[[SentLink], None] | None = None,
                        ) -> list[SentLink]:
        """Make one link per recipient for a UTF-8 text secret. The buffer is wiped when this returns."""
        try:
            check_text(secret)
            payload = _Payload("text", len(secret), text=secret)
            return await self._send(payload, relay_url, policy, recipients, passphrase, label, on_link)
        finally:
            secret.close()

    async def send_file(self, path: Path, relay_url: str, policy: LinkPolicy, *,
                        recipients: Sequence[str | None] = (None,), passphrase: SecretBuffer | None = None,
                        label: str | None = None, on_link: Callable[[SentLink], None] | None = None,
                        first_reading: concurrent.futures.Future[SourcePrint] | None = None) -> list[SentLink]:
        """Make one link per recipient for a file (streamed through the cipher, never held as plaintext).

        ``first_reading``: the file's first reading, already started on this audit log
        (:func:`~ots_desktop.channels.source_print.start_print`), used if the file is streamed."""
        payload = _file_payload(path)
        payload.first_reading = first_reading
        return await self._send(payload, relay_url, policy, recipients, passphrase, label, on_link)

    async def send_bundle(self, paths: Sequence[Path], name: str, relay_url: str, policy: LinkPolicy, *,
                          recipients: Sequence[str | None] = (None,), passphrase: SecretBuffer | None = None,
                          label: str | None = None, on_link: Callable[[SentLink], None] | None = None,
                          ) -> list[SentLink]:
        """One link per recipient for several files and folders as one zip called ``name`` (streamed, never
        written to disk)."""
        items = list(paths)
        size = len(bundle_of(items))  # also refuses what cannot go (links, devices, unsafe names) up front
        if size > MAX_FILE_BYTES:
            raise InputError(f"the files come to more than {MAX_FILE_BYTES // (1024 * 1024)} MiB as a zip: send "
                             "them with --via wormhole")
        payload = _Payload("file", size, bundle=lambda: bundle_of(items), name=name)
        return await self._send(payload, relay_url, policy, recipients, passphrase, label, on_link)

    async def _send(self, payload: _Payload, relay_url: str, policy: LinkPolicy,
                    recipients: Sequence[str | None], passphrase: SecretBuffer | None, label: str | None,
                    on_link: Callable[[SentLink], None] | None) -> list[SentLink]:
        base = relay_base(relay_url)
        policy = policy.checked()
        if not recipients:
            recipients = (None,)
        if passphrase is not None and not len(passphrase):
            raise InputError("the passphrase is empty")
        audit = await self.audit()
        sent: list[SentLink] = []
        async with self._client(base) as relay:
            if policy.allow_countries and await relay.country_rules() is False:
                raise link_errors.no_country_rules(relay.url)  # before anything is recorded or parked
            for recipient in recipients:
                link = await self._send_one(audit, relay, payload, policy, recipient, passphrase, label)
                sent.append(link)
                if on_link is not None:
                    on_link(link)
        return sent

    def _seal(self, payload: _Payload, share_id: bytes, key: SecretBuffer, passphrase: SecretBuffer | None,
              audit: AuditLog) -> tuple[bytes, str, str]:
        """The envelope and the hex SHA-256 of its auth token and of its link proof (runs on a worker
        thread: PBKDF2 is slow)."""
        if payload.text is not None:
            envelope = seal(payload.text, share_id=share_id, fragment_key=key, meta=payload.meta(),
                            passphrase=passphrase)
            if payload.fingerprint is None:
                payload.fingerprint = audit.fingerprint(payload.text)
        else:
            out = io.BytesIO()
            try:
                with _open_source(payload) as stream:
                    reader = _FingerprintingReader(stream, audit)
                    seal_stream(reader, out, share_id=share_id, fragment_key=key,  # type: ignore[arg-type]
                                meta=payload.meta(), passphrase=passphrase)
            except OSError as exc:
                raise InputError(f"cannot read {exc.filename or payload.path}: {exc.strerror}") from None
            if payload.fingerprint is None:
                payload.fingerprint, payload.size = reader.fingerprint(), reader.count
            envelope = out.getvalue()
        header = read_header(envelope)
        with derive_keys(key, header.salt, passphrase if header.needs_passphrase else None,
                         header.iterations) as keys, derive_link_proof(key, header.salt) as proof:
            return envelope, auth_token_hash(keys.auth_token), auth_token_hash(proof)

    async def _send_one(self, audit: AuditLog, relay: RelayClient, payload: _Payload, policy: LinkPolicy,
                        recipient: str | None, passphrase: SecretBuffer | None, label: str | None) -> SentLink:
        raw_id = new_link_id()
        share_id = b64u_encode(raw_id)
        with new_fragment_key() as key:
            streamed = payload.text is None and sealed_size(payload.size, payload.meta()) > STREAM_FROM
            envelope, auth_hash, link_hash = b"", "", ""
            if streamed:
                if payload.source is None:
                    if payload.first_reading is not None:
                        payload.source = await asyncio.wrap_future(payload.first_reading)
                    else:
                        payload.source = await asyncio.to_thread(fingerprint_source, lambda: _open_source(payload),
                                                                 audit)
                    payload.fingerprint, payload.size = payload.source.fingerprint, payload.source.size
            else:
                envelope, auth_hash, link_hash = await asyncio.to_thread(self._seal, payload, raw_id, key,
                                                                         passphrase, audit)
            expires_at = rfc3339(datetime.now(UTC) + timedelta(seconds=policy.expires_in))
            reporter = LinkReporter(audit, self.bus, Channel.LINK, share_id, "send", label=label, recipient=recipient,
                                    kind=payload.kind, size_bytes=payload.size, fingerprint=payload.fingerprint,
                                    expires_at=expires_at, max_views=policy.max_views)
            # On record before anything leaves this machine; an AuditError stops the share here.
            reporter.record(EventType.SHARE_CREATED)
            reporter.publish(EventKind.CREATED)
            fields: dict[str, Any] = {"expires_in": policy.expires_in, "max_views": policy.max_views,
                      "allow_cidrs": policy.allow_cidrs, "allow_countries": policy.allow_countries}
            with reporter.outcome(EventType.SHARE_FAILED, url=relay.url):
                if streamed:
                    assert payload.source is not None
                    try:
                        if not await relay.streaming():  # asked first: no upload doomed to a refusal
                            raise link_errors.no_streaming(relay.url)
                        created = await upload_sealed(
                            relay, share_id=share_id, raw_id=raw_id, key=key, passphrase=passphrase,
                            iterations=PBKDF2_DEFAULT_ITERATIONS, meta=payload.meta(),
                            open_source=lambda: _open_source(payload), source=payload.source, policy=fields)
                    except StreamingUnsupported:
                        # A relay that predates streaming: what fits in one JSON request still goes that way.
                        if sealed_size(payload.size, payload.meta()) > JSON_FALLBACK_MAX:
                            raise
                        streamed = False
                        envelope, auth_hash, link_hash = await asyncio.to_thread(self._seal, payload, raw_id, key,
                                                                                 passphrase, audit)
                if not streamed:
                    created = await relay.create(share_id, envelope, auth_hash, link_hash=link_hash, **fields)
            del envelope
            record = ShareRecord(share_id=share_id, relay_url=relay.base_url, status_token=created.status_token,
                                 created_at=rfc3339(datetime.now(UTC)), expires_at=created.expires_at,
                                 max_views=policy.max_views, kind=payload.kind, recipient=recipient, label=label)
            try:
                self.shares().add(record)
            except SharesError:
                # Without its status token nobody could revoke the share: take it back now.
                await _take_back(relay, share_id, created.status_token)
                reporter.record(EventType.SHARE_FAILED, outcome=Outcome.FAILED, reason=Reason.ERROR)
                raise
            reporter.publish(EventKind.WAITING)
            return SentLink(share_id=share_id, link=make_link(relay.base_url, share_id, key),
                            expires_at=created.expires_at, max_views=policy.max_views,
                            needs_passphrase=passphrase is not None, recipient=recipient)

    # -- receiving and the sender's view -------------------------------------------------

    async def receive(self, link: ParsedLink, options: ReceiveOptions) -> LinkReceived:
        """Open a link: look, derive the auth token (with the passphrase if one is needed), reveal, decrypt.

        A wrong passphrase is asked for again when ``options.on_wrong_passphrase`` is set.
        """
        return await link_receive.receive_retrying(self, link, options)

    async def status(self, share_id: str) -> tuple[ShareRecord, ShareStatus]:
        """The relay's view of one of our shares; records anything new in the audit log."""
        return await link_status.status(self, share_id)

    async def revoke(self, share_id: str) -> tuple[ShareRecord, str, bool]:
        """Revoke one of our shares: ``(record, state, revoked_now)``."""
        return await link_status.revoke(self, share_id)

    async def watch(self, share_id: str, *, timeout_s: float, on_update: Callable[[WatchUpdate], None],
                    interval_s: float = 1.0) -> ShareStatus:
        """Poll the status until the share ends; report and record each new reveal and attempt."""
        return await link_status.watch(self, share_id, timeout_s=timeout_s, on_update=on_update,
                                       interval_s=interval_s)

    def client(self, base_url: str) -> RelayClient:
        """A relay client (tests may substitute one)."""
        return self._client(base_url)


async def _take_back(relay: RelayClient, share_id: str, status_token: str) -> None:
    try:
        await relay.revoke(share_id, status_token)
    except LinkFailure:
        pass
