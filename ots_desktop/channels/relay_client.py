"""A client for the link relay's HTTP API v1 (docs/link-api.md), on aiohttp.

Every way a request can fail becomes a :class:`~ots_desktop.channels.link_errors.LinkFailure`
(or an :class:`~ots_desktop.core.errors.InputError` for a bad URL): connection refused,
an unknown host or no answer in time say "the link relay is unreachable at URL". The
messages never hold a status token, an auth token, a fragment key or anything the relay
sent beyond its machine-readable fields. Answers are checked field by field.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp

from ots_desktop.channels import link_errors as errors
from ots_desktop.channels.link_errors import LinkFailure
from ots_desktop.channels.link_urls import check_share_id, display_url, relay_base, require_secure
from ots_desktop.channels.relay_answers import Answer, Json, parse_answer, retry_after_of
from ots_desktop.core.audit.events import Reason
from ots_desktop.core.errors import InputError
from ots_desktop.core.ids import b64u_encode
from ots_desktop.core.secret import SecretBuffer
from ots_desktop.core.tls_trust import verifying_context

API = "/api/v1/secrets"
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0
MAX_ANSWER_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Created:
    """A share parked on the relay. ``status_token`` is shown only here: store it, never print it."""

    share_id: str
    status_token: str
    expires_at: str

    def __repr__(self) -> str:
        return f"Created(share_id={self.share_id!r}, status_token=[redacted], expires_at={self.expires_at!r})"


@dataclass(frozen=True)
class ShareMeta:
    """What anyone holding the id may see without consuming a view."""

    share_id: str
    needs_passphrase: bool
    expires_at: str
    views_left: int
    header: bytes
    needs_link_proof: bool = False  # False from relays and shares that predate link proofs


@dataclass(frozen=True)
class Revealed:
    """One consumed view: the envelope (ciphertext) and the views still left."""

    envelope: bytes
    views_left: int


@dataclass(frozen=True)
class RevealRecord:
    """When a view was consumed and from which client address."""

    at: str
    remote_addr: str


@dataclass(frozen=True)
class ShareStatus:
    """The sender's view of a share."""

    share_id: str
    state: str
    created_at: str
    expires_at: str
    ended_at: str | None
    max_views: int
    views_left: int
    failed_attempts: int
    blocked_attempts: int
    needs_passphrase: bool
    reveals: tuple[RevealRecord, ...]


def _connect_detail(exc: aiohttp.ClientConnectorError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return "its TLS certificate is not trusted"
    if isinstance(exc, aiohttp.ClientSSLError):
        return "the TLS handshake failed (is it https on an http port, or the reverse?)"
    os_error = exc.os_error
    if isinstance(os_error, socket.gaierror):
        return f"the host name {exc.host!r} cannot be resolved"
    if isinstance(os_error, ConnectionRefusedError) or "refused" in str(os_error).lower():
        return "the connection was refused (is the server running, and is the port right?)"
    return os_error.strerror or type(os_error).__name__


def transport_failure(url: str, exc: TimeoutError | aiohttp.ClientError) -> LinkFailure:
    """What a failed connection, a timeout or a broken-off answer means, for people."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return errors.unreachable(url, _connect_detail(exc))
    if isinstance(exc, TimeoutError):
        return errors.unreachable(url, "it did not answer in time")
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)):
        return errors.broken(url, type(exc).__name__)
    if isinstance(exc, aiohttp.ClientOSError):
        return errors.unreachable(url, exc.strerror or type(exc).__name__)
    return errors.unreachable(url, type(exc).__name__)


def tls_context(ca_file: str | Path | None = None) -> ssl.SSLContext:
    """How https relays are verified: against ``ca_file`` when given, else the system's trust store (TLS 1.2+)."""
    try:
        return verifying_context(ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise InputError(f"the CA file {ca_file} cannot be used: "
                         f"{getattr(exc, 'strerror', None) or 'not a PEM certificate bundle'}") from None


class RelayClient:
    """One relay. Use as ``async with RelayClient(url) as relay:``; it owns its HTTP session."""

    def __init__(self, base_url: str, *, connect_timeout_s: float = CONNECT_TIMEOUT_S,
                 read_timeout_s: float = READ_TIMEOUT_S, session: aiohttp.ClientSession | None = None,
                 ca_file: str | Path | None = None, create_token: Callable[[], str | None] | None = None) -> None:
        self.base_url = require_secure(relay_base(base_url))
        # Asked only when a link is created: the token a closed relay wants (never logged, never in a message).
        self._create_token = create_token
        self._ssl = tls_context(ca_file)
        self.url = display_url(self.base_url)
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout_s, sock_read=read_timeout_s)
        self._connect_timeout_s = connect_timeout_s
        self._read_timeout_s = read_timeout_s
        self._session = session
        self._owns_session = session is None

    async def __aenter__(self) -> RelayClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session (if this client made it)."""
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout, raise_for_status=False,
                                                  headers={"Accept": "application/json"},
                                                  connector=aiohttp.TCPConnector(ssl=self._ssl))
            self._owns_session = True
        return self._session

    async def _call(self, method: str, path: str, *, body: Json | None = None, bearer: str | None = None,
                    data: Any = None, headers: Mapping[str, str] | None = None, plain_refusal: bool = False,
                    ) -> tuple[int, Answer, Mapping[str, str]]:
        """One request; ``data`` and ``headers`` send a body other than JSON (a streamed envelope).

        With ``plain_refusal``, a 4xx without a JSON body comes back as an empty answer instead of
        failing: a relay that predates an endpoint may refuse it in its web server's own words.
        """
        headers = dict(headers or {})
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body, separators=(",", ":")).encode("ascii")
        try:
            async with self._http().request(method, self.base_url + path, data=data, headers=headers,
                                            allow_redirects=False, expect100=data is not None and body is None,
                                            ) as response:
                status, answer_headers = response.status, dict(response.headers)
                chunks, size = [], 0
                async for chunk in response.content.iter_chunked(1 << 16):
                    size += len(chunk)
                    if size > MAX_ANSWER_BYTES:
                        raise errors.bad_answer(self.url, "the answer is too large")
                    chunks.append(chunk)
                raw = b"".join(chunks)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise transport_failure(self.url, exc) from None
        if plain_refusal and 400 <= status < 500 and not raw.lstrip().startswith(b"{"):
            return status, Answer(self.url, {}), answer_headers
        return status, parse_answer(self.url, status, raw), answer_headers

    def _common(self, status: int, answer: Answer, headers: Mapping[str, str], share_id: str, what: str) -> None:
        """Raise for the statuses every endpoint shares; return for those the caller handles."""
        if status == 404:
            raise errors.not_found(self.url, share_id)
        if status == 410:
            raise errors.gone(share_id, str(answer.body.get("state", "")))
        if status == 429:
            raise errors.rate_limited(self.url, retry_after_of(headers))
        if status >= 500:
            raise errors.server_error(self.url, status)
        if status in (400, 415):
            raise errors.refused(self.url, what, answer.code())

    async def create(self, share_id: str, envelope: bytes, auth_hash: str, *, expires_in: int, max_views: int,
                     allow_cidrs: Sequence[str] = (), link_hash: str | None = None,
                     allow_countries: Sequence[str] = ()) -> Created:
        """Park an envelope; returns the id, the status token and the relay's expiry time.

        ``link_hash`` (the SHA-256 of the link proof) makes the relay refuse, without counting,
        every reveal that does not prove it holds the link's key.
        """
        check_share_id(share_id)
        body: Json = {"id": share_id, "envelope": b64u_encode(envelope), "auth_hash": auth_hash,
                      "expires_in": expires_in, "max_views": max_views}
        if link_hash is not None:
            body["link_hash"] = link_hash
        if allow_cidrs:
            body["allow_cidrs"] = list(allow_cidrs)
        if allow_countries:
            body["allow_countries"] = list(allow_countries)
        token = self._create_token() if self._create_token is not None else None
        status, answer, headers = await self._call("POST", API, body=body, bearer=token)
        del token
        return self.check_created(status, answer, headers, share_id)

    def create_token(self) -> str | None:
        """The create token a closed relay wants, if this installation has one (never logged)."""
        return self._create_token() if self._create_token is not None else None

    def check_created(self, status: int, answer: Answer, headers: Mapping[str, str], share_id: str) -> Created:
        """The relay's answer to a create, JSON or streamed: the share, or the failure it means."""
        if status == 401:
            raise errors.create_token_refused(self.url, answer.code())
        if status == 507:
            raise errors.storage_full(self.url, retry_after_of(headers))
        if status == 413:
            max_size = answer.body.get("max_size")
            raise errors.too_large(self.url, max_size if isinstance(max_size, int) else None)
        if status == 409:
            raise errors.refused(self.url, "the new share: its id is already taken (try again)", answer.code())
        if status == 400 and answer.code() == "country_rules_unavailable":
            raise errors.no_country_rules(self.url)
        self._common(status, answer, headers, share_id, "the new share")
        if status != 201:
            raise errors.server_error(self.url, status)
        if answer.get("id", str) != share_id:
            raise errors.bad_answer(self.url, "it answered for another share id")
        token = answer.get("status_token", str)
        if not token or len(token) > 200 or not token.replace("-", "").replace("_", "").isalnum():
            raise errors.bad_answer(self.url, "the status token is malformed")
        return Created(share_id, token, answer.get("expires_at", str))

    async def country_rules(self) -> bool | None:
        """Whether the relay can limit links to countries, as its ``/healthz`` says; None when it does not say
        (a relay that predates country rules, or a proxy that keeps ``/healthz`` to itself)."""
        return await self._health_flag("country_rules")

    async def streaming(self) -> bool:
        """Whether the relay says (in ``/healthz``) that it takes envelopes as a streamed upload."""
        return await self._health_flag("streaming") is True

    async def _health_flag(self, name: str) -> bool | None:
        try:
            status, answer, _headers = await self._call("GET", "/healthz")
        except LinkFailure as exc:
            if exc.reason is not Reason.ERROR:  # unreachable or broken off: the create would fail the same way
                raise
            return None
        value = answer.body.get(name) if status in (200, 503) else None
        return value if isinstance(value, bool) else None

    async def meta(self, share_id: str) -> ShareMeta:
        """Look at a share without consuming it: whether it needs a passphrase, and its header."""
        check_share_id(share_id)
        status, answer, headers = await self._call("GET", f"{API}/{share_id}")
        self._common(status, answer, headers, share_id, "the request for the share")
        if status != 200:
            raise errors.server_error(self.url, status)
        state = answer.get("state", str)
        if state != "pending":
            raise errors.gone(share_id, state)
        return ShareMeta(share_id, answer.get("needs_passphrase", bool), answer.get("expires_at", str),
                         answer.count("views_left"), answer.b64u("header"),
                         bool(answer.get("needs_link_proof", bool, optional=True)))

    async def reveal(self, share_id: str, auth_token: SecretBuffer, *, needs_passphrase: bool,
                     link_proof: SecretBuffer | None = None) -> Revealed:
        """Consume one view. A wrong token raises WRONG_PASSPHRASE (with the attempts left) or BURNED.

        ``link_proof`` goes along when the share's metadata asked for it; a relay that does
        not accept it answers DAMAGED, and counts nothing.
        """
        check_share_id(share_id)
        body = {"auth_token": b64u_encode(auth_token)}
        if link_proof is not None:
            body["link_proof"] = b64u_encode(link_proof)
        status, answer, headers = await self._call("POST", f"{API}/{share_id}/reveal", body=body)
        self.check_reveal(status, answer, headers, share_id, needs_passphrase=needs_passphrase)
        return Revealed(answer.b64u("envelope"), answer.count("views_left"))

    def check_reveal(self, status: int, answer: Answer, headers: Mapping[str, str], share_id: str, *,
                     needs_passphrase: bool) -> None:
        """Raise the failure a reveal answer other than 200 means."""
        if status == 401 and answer.code() == "wrong_link":
            raise errors.wrong_link(self.url)
        if status == 401:
            left = answer.body.get("attempts_left")
            if isinstance(left, bool) or not isinstance(left, int) or left < 0:
                raise errors.bad_answer(self.url, "field 'attempts_left' is missing or invalid")
            raise errors.wrong_auth(left, needs_passphrase=needs_passphrase)
        if status == 403:
            raise errors.blocked_country(self.url) if answer.code() == "forbidden_country" else errors.blocked(self.url)
        self._common(status, answer, headers, share_id, "the reveal")
        if status != 200:
            raise errors.server_error(self.url, status)

    async def status(self, share_id: str, status_token: str) -> ShareStatus:
        """The sender's view: state, views, attempts, and who revealed it when."""
        check_share_id(share_id)
        status, answer, headers = await self._call("GET", f"{API}/{share_id}/status", bearer=status_token)
        if status in (401, 403):
            raise errors.unauthorized(self.url, share_id)
        self._common(status, answer, headers, share_id, "the status request")
        if status != 200:
            raise errors.server_error(self.url, status)
        reveals = []
        for item in answer.get("reveals", list):
            entry = Answer(self.url, item)
            reveals.append(RevealRecord(entry.get("at", str), entry.get("from", str)))
        return ShareStatus(
            share_id=share_id, state=answer.get("state", str), created_at=answer.get("created_at", str),
            expires_at=answer.get("expires_at", str), ended_at=answer.get("ended_at", str, optional=True),
            max_views=answer.count("max_views"), views_left=answer.count("views_left"),
            failed_attempts=answer.count("failed_attempts"), blocked_attempts=answer.count("blocked_attempts"),
            needs_passphrase=answer.get("needs_passphrase", bool), reveals=tuple(reveals),
        )  # fmt: skip

    async def revoke(self, share_id: str, status_token: str) -> tuple[str, bool]:
        """Revoke a pending share. Returns ``(state, revoked_now)``; an ended share keeps its state."""
        check_share_id(share_id)
        status, answer, headers = await self._call("DELETE", f"{API}/{share_id}", bearer=status_token)
        if status in (401, 403):
            raise errors.unauthorized(self.url, share_id)
        if status == 410:
            return answer.get("state", str), False
        self._common(status, answer, headers, share_id, "the revocation")
        if status != 200:
            raise errors.server_error(self.url, status)
        return answer.get("state", str), True


__all__ = ["Created", "LinkFailure", "RelayClient", "RevealRecord", "Revealed", "ShareMeta", "ShareStatus"]
