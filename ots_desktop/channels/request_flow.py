"""Secret requests end to end, on either side: make one, answer one, follow it, open the answer, revoke it.

The requester's private key waits in the keychain (the same key store as the audit log's
keys) from the moment the request is made until it ends: it is erased once the answer is
opened, or when the request is revoked or seen expired. Every step goes into the audit log
of the side that took it; an answer's fingerprint is the same HMAC ``ots audit lookup``
uses. The answer page's browser side is ``server/static/answer.js``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ots_desktop.channels import link_errors as errors
from ots_desktop.channels.link import new_link_id
from ots_desktop.channels.link_urls import _split, check_share_id
from ots_desktop.channels.request_client import OpenedAnswer, RequestClient, RequestMeta, RequestStatus, request_gone
from ots_desktop.core.audit.events import AuditEvent, Channel, EventType, Outcome, Reason
from ots_desktop.core.audit.keystore import KeyStore
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.envelope import Opened
from ots_desktop.core.errors import EnvelopeError, InputError, OtsError
from ots_desktop.core.ids import b64u_decode, b64u_encode
from ots_desktop.core.policy import AUDIT_TEXT_MAX
from ots_desktop.core.request_box import RequestLink, new_request_keys, open_answer, parse_fragment, seal_answer
from ots_desktop.core.request_records import RequestRecord, RequestRecords
from ots_desktop.core.secret import SecretBuffer
from ots_desktop.core.times import utc_now_ms

KEY_ENTRY = "request-key-{}"
_SHAPE = "a request link looks like https://HOST/r/ID#KEY"
_ENDED_EVENTS = {"expired": EventType.REQUEST_EXPIRED, "revoked": EventType.REQUEST_REVOKED}


def _note(text: str | None) -> str | None:
    return text[:AUDIT_TEXT_MAX] if text else None


@dataclass(frozen=True)
class MadeRequest:
    """A registered request. ``link`` holds the fragment: print it, never log it."""

    request_id: str
    link: str
    expires_at: str
    relay_url: str


def parse_request_link(text: str) -> tuple[str, str, RequestLink]:
    """``(relay base URL, request id, link material)``; InputError saying what is wrong otherwise."""
    parts = _split(text, "request link")
    prefix, marker, request_id = parts.path.rpartition("/r/")
    if not marker or parts.query or "//" in prefix:
        raise InputError(f"this is not an ots request link; {_SHAPE}")
    try:
        check_share_id(request_id)
    except InputError as exc:
        raise InputError(f"the request link's id (after /r/) is damaged: {exc.message}") from None
    if not parts.fragment:
        raise InputError("the request link has no key: the part after '#' is missing. Copy the whole link.")
    return f"{parts.scheme}://{parts.netloc}{prefix}", request_id, parse_fragment(parts.fragment)


async def make_request(client: RequestClient, log: AuditLog, keystore: KeyStore, records: RequestRecords, *,
                       label: str, recipient: str | None, expires_in: int, allow_cidrs: tuple[str, ...] = (),
                       allow_countries: tuple[str, ...] = ()) -> MadeRequest:
    """Make a key pair, keep the private key in the keychain, register the request, record and audit it."""
    log.require_usable()
    raw_id = new_link_id()  # never starts with '-', so that it never reads as an option
    request_id = b64u_encode(raw_id)
    entry = KEY_ENTRY.format(request_id)
    private, link = new_request_keys()
    try:
        label_box = link.seal_label(raw_id, label)  # the relay keeps it sealed: only link holders read it
        with private, link.proof(raw_id) as proof:
            # keyring takes text: the base64url form is the one copy that cannot be wiped.
            keystore.set(entry, b64u_encode(private))
            try:
                created = await client.register(request_id, proof_hash=_sha256(proof), key_hash=link.key_hash(),
                                                label_box=label_box, expires_in=expires_in, allow_cidrs=allow_cidrs,
                                                allow_countries=allow_countries)
            except BaseException:
                keystore.delete(entry)
                raise
        record = RequestRecord(request_id, client.base_url, created.status_token, utc_now_ms(), created.expires_at,
                               recipient, label or None)
        try:
            records.add(record)
            log.append(AuditEvent(EventType.REQUEST_CREATED, channel=Channel.LINK, share_id=request_id,
                                  label=_note(label), recipient=recipient, expires_at=created.expires_at))
        except BaseException:
            with contextlib.suppress(Exception):
                await client.revoke_request(request_id, created.status_token)
            keystore.delete(entry)
            raise
        return MadeRequest(request_id, f"{client.base_url}/r/{request_id}#{link.fragment()}", created.expires_at,
                           client.base_url)
    finally:
        link.close()


def _sha256(buffer: SecretBuffer) -> str:
    return hashlib.sha256(buffer.view()).hexdigest()


async def answer_request(client: RequestClient, log: AuditLog, request_id: str, link: RequestLink,
                         secret: SecretBuffer, meta: Mapping[str, object]) -> RequestMeta:
    """Seal ``secret`` to the request's key and post it; audit it (with its fingerprint) in this log."""
    log.require_usable()
    kind = str(meta.get("type", "text"))
    fingerprint = log.fingerprint(secret)
    info: RequestMeta | None = None
    try:
        try:
            info = await client.request_meta(request_id)
            info = replace(info, label=link.open_label(b64u_decode(request_id), info.label_box))
        except errors.LinkFailure as exc:
            if exc.reason is not Reason.SECOND_ANSWER:
                raise
            # Post it anyway: the relay refuses it and counts the attempt, so the requester is alerted.
        raw_id = b64u_decode(request_id)
        sealed = seal_answer(secret, request_id=raw_id, public_key=link.public_key, meta=meta)
        with link.proof(raw_id) as proof:
            await client.answer(request_id, proof, sealed)
    except errors.LinkFailure as exc:
        log.append(AuditEvent(EventType.REQUEST_ANSWERED, Outcome.ALERT if exc.reason is Reason.SECOND_ANSWER
                              else Outcome.FAILED, exc.reason, Channel.LINK, share_id=request_id,
                              label=_note(info.label if info else None), fingerprint=fingerprint, kind=kind))
        raise
    if info is None:  # the relay took an answer it had refused to describe: not an ots relay
        raise errors.bad_answer(client.url, "it took an answer for a request it called answered")
    log.append(AuditEvent(EventType.REQUEST_ANSWERED, channel=Channel.LINK, share_id=request_id,
                          label=_note(info.label), fingerprint=fingerprint, kind=kind, size_bytes=len(secret),
                          expires_at=info.expires_at))
    return info


def _record(records: RequestRecords, request_id: str) -> RequestRecord:
    record = records.get(check_share_id(request_id))
    if record is None:
        raise InputError(f"no request {request_id} was made with this installation (see `ots request list`)")
    return record


def note_status(log: AuditLog, keystore: KeyStore, records: RequestRecords, record: RequestRecord,
                status: RequestStatus, notify: Callable[[str, RequestStatus], None] | None = None) -> RequestRecord:
    """Audit (once each) an answer, a second answer attempt, a refused network, an expiry or a revocation."""
    events: list[tuple[str, AuditEvent]] = []
    base: dict[str, Any] = {"channel": Channel.LINK, "share_id": record.request_id, "label": _note(record.label)}
    if status.state in ("answered", "opened") and not record.answered_logged:
        events.append(("answered", AuditEvent(EventType.REQUEST_ANSWERED, remote_addr=status.answered_from, **base)))
    if status.refused_answers > record.seen_refused:
        events.append(("second_answer", AuditEvent(EventType.ALERT, Outcome.ALERT, Reason.SECOND_ANSWER, **base)))
    if status.blocked_attempts > record.seen_blocked:
        events.append(("blocked", AuditEvent(EventType.ALERT, Outcome.ALERT, Reason.BLOCKED_NETWORK, **base)))
    ended = _ENDED_EVENTS.get(status.state)
    if ended is not None and record.seen_state != status.state:
        events.append(("ended", AuditEvent(ended, reason=Reason(status.state), **base)))
    with log.batch():
        for _, event in events:
            log.append(event)
    if ended is not None:
        keystore.delete(KEY_ENTRY.format(record.request_id))
    updated = record.seen(seen_state=status.state if record.seen_state != "opened" else "opened",
                          seen_refused=max(record.seen_refused, status.refused_answers),
                          seen_blocked=max(record.seen_blocked, status.blocked_attempts),
                          answered_logged=record.answered_logged or status.state in ("answered", "opened"))
    records.update(updated)
    for what, _ in events:
        if notify is not None:
            notify(what, status)
    return updated


async def request_status(client: RequestClient, log: AuditLog, keystore: KeyStore, records: RequestRecords,
                         request_id: str, notify: Callable[[str, RequestStatus], None] | None = None,
                         ) -> tuple[RequestRecord, RequestStatus]:
    """The relay's view of one of our requests, with what it means audited once."""
    record = _record(records, request_id)
    status = await client.request_status(record.request_id, record.status_token)
    return note_status(log, keystore, records, record, status, notify), status


async def open_request(client: RequestClient, log: AuditLog, keystore: KeyStore, records: RequestRecords,
                       request_id: str) -> tuple[Opened, OpenedAnswer] | None:
    """Fetch the answer (once: the relay deletes it), open it with the private key, then erase the key.

    None while nobody has answered. The caller closes the returned :class:`Opened`.
    """
    log.require_usable()
    record = _record(records, request_id)
    entry = KEY_ENTRY.format(record.request_id)
    key_text = keystore.get(entry)
    if not key_text:
        raise OtsError(f"the private key of the request {record.request_id} is no longer in the keychain: the "
                       "request has ended here (opened, revoked or expired)")
    fetched = await client.open_answer(record.request_id, record.status_token)
    if fetched is None:
        return None
    base: dict[str, Any] = {"channel": Channel.LINK, "share_id": record.request_id, "label": _note(record.label),
                            "remote_addr": fetched.answered_from}
    with SecretBuffer(b64u_decode(key_text)) as private:
        del key_text
        try:
            opened = open_answer(fetched.answer, request_id=b64u_decode(record.request_id), private_key=private)
        except EnvelopeError as exc:
            log.append(AuditEvent(EventType.REQUEST_OPENED, Outcome.FAILED, Reason.DAMAGED, **base))
            keystore.delete(entry)
            records.update(record.seen(seen_state="opened", answered_logged=True))
            raise errors.damaged(exc.message) from None
    try:
        with log.batch():
            if not record.answered_logged:
                log.append(AuditEvent(EventType.REQUEST_ANSWERED, **base))
            log.append(AuditEvent(EventType.REQUEST_OPENED, fingerprint=log.fingerprint(opened.plaintext),
                                  kind=str(opened.meta.get("type", "text")), size_bytes=len(opened.plaintext), **base))
        keystore.delete(entry)
        records.update(record.seen(seen_state="opened", answered_logged=True))
    except BaseException:
        opened.close()
        raise
    return opened, fetched


async def watch_request(client: RequestClient, log: AuditLog, keystore: KeyStore, records: RequestRecords,
                        request_id: str, *, timeout_s: float, interval_s: float,
                        notify: Callable[[str, RequestStatus], None] | None = None) -> tuple[Opened, OpenedAnswer]:
    """Wait for the answer (reporting alerts as they come), then open it; fails if the request ends first."""
    deadline = time.monotonic() + timeout_s
    while True:
        _, status = await request_status(client, log, keystore, records, request_id, notify)
        if status.state == "answered":
            result = await open_request(client, log, keystore, records, request_id)
            if result is not None:
                return result
        elif status.state != "pending":
            raise request_gone(request_id, status.state)
        left = deadline - time.monotonic()
        if left <= 0:
            raise errors.timed_out(timeout_s, "an answer")
        await asyncio.sleep(min(interval_s, left))


async def revoke_request(client: RequestClient, log: AuditLog, keystore: KeyStore, records: RequestRecords,
                         request_id: str) -> tuple[str, bool]:
    """Withdraw the request on the relay, audit it, and erase the private key."""
    record = _record(records, request_id)
    state, revoked_now = await client.revoke_request(record.request_id, record.status_token)
    if revoked_now:
        log.append(AuditEvent(EventType.REQUEST_REVOKED, reason=Reason.REVOKED, channel=Channel.LINK,
                              share_id=record.request_id, label=_note(record.label)))
    keystore.delete(KEY_ENTRY.format(record.request_id))
    records.update(record.seen(seen_state=state))
    return state, revoked_now
