"""Large envelopes streamed both ways (docs/link-api.md, "Large envelopes").

``PUT /api/v1/secrets/{id}`` takes the envelope as ``application/octet-stream`` of an exact
``Content-Length``, with the share's policy in ``X-Ots-*`` headers. Everything that can be
refused is refused from the request head, before any body byte is read (with
``Expect: 100-continue`` the client hears so before it sends one): the id, the hashes, the
policy, the size (413), the create token (401), the rate (429), bytes in flight (429) and
the storage budget (507). The first 44 bytes are checked as an envelope header and the
length against its chunk layout, as the JSON create checks a whole envelope. The body goes
to the store as it arrives (SQLite: a private part file, server/blob_files.py, fsynced; Redis:
a list of pieces, server/redis_blobs.py) and becomes the share only once all of it is in; a
refused or broken upload leaves nothing.

A reveal that accepts ``application/octet-stream`` gets such a share's envelope as raw bytes
with ``X-Ots-Views-Left``, read from what the claim opened. A client that accepts only
JSON is refused (406) before anything is claimed. Only stores with ``streaming = True``
take these uploads (both stores here; another would answer 413).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_urldispatcher import _default_expect_handler

from ots_desktop.core.envelope import HEADER_LEN, plaintext_size, read_header
from ots_desktop.core.errors import EnvelopeError
from ots_desktop.core.times import rfc3339_from_timestamp as iso
from ots_desktop.server.link_model import (
    DEFAULT_EXPIRY_S,
    DEFAULT_VIEWS,
    MAX_EXPIRY_S,
    MAX_VIEWS,
    MIN_EXPIRY_S,
    MIN_VIEWS,
    PIECE,
    BlobReader,
    BlobUpload,
    NewSecret,
    SecretInfo,
    StoreFailure,
)
from ots_desktop.server.link_policy import (
    API_HEADERS,
    ApiError,
    bad_request,
    check_id,
    new_status_token,
    parse_countries,
    parse_networks,
)
from ots_desktop.server.request_body import ClientGone

if TYPE_CHECKING:
    from ots_desktop.server.link_api import LinkRelay

_log = logging.getLogger("ots_desktop.server.access")
STREAM_TYPE = "application/octet-stream"
VIEWS_LEFT = "X-Ots-Views-Left"
_HASH = re.compile("[0-9a-f]{64}")
_CHECKED = "ots_stream_checked"


def accepts_stream(request: web.Request) -> bool:
    """Whether the client named application/octet-stream (with a non-zero quality) in Accept."""
    for item in request.headers.get("Accept", "").split(","):
        kind, _, params = item.strip().partition(";")
        if kind.strip().lower() == STREAM_TYPE and params.replace(" ", "").lower() not in ("q=0", "q=0.0"):
            return True
    return False


def _integer(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    value = request.headers.get(name)
    if value is None:
        return default
    if not value.isascii() or not value.isdigit() or not low <= int(value) <= high:
        raise bad_request(f"{name} must be an integer from {low} to {high}")
    return int(value)


def _hash(request: web.Request, name: str, required: bool) -> str:
    value = request.headers.get(name)
    if value is None and not required:
        return ""
    if value is None or not _HASH.fullmatch(value):
        raise bad_request(f"{name} must be 64 lowercase hex characters (a SHA-256)")
    return value


def _list(request: web.Request, name: str) -> list[str] | None:
    value = request.headers.get(name)
    return None if value is None else [part.strip() for part in value.split(",") if part.strip()]


class StreamApi:
    """The streamed create and the streamed reveal answer, on a :class:`LinkRelay`."""

    def __init__(self, relay: LinkRelay) -> None:
        self.relay = relay
        self.enabled = bool(getattr(relay.store, "streaming", False))

    async def _check_head(self, request: web.Request) -> tuple[str, int]:
        """Every check that needs no body byte; the share id and the envelope's length."""
        if request.get(_CHECKED):
            return request[_CHECKED]  # type: ignore[no-any-return]
        relay, settings = self.relay, self.relay.settings
        share_id = check_id(request.match_info["id"])
        await relay._limit(relay.create_limit, "create", request)
        if settings.create_tokens is not None:
            settings.create_tokens.check(request.headers.get("Authorization"))
        if request.content_type != STREAM_TYPE:
            raise ApiError(415, "unsupported_media_type", f"send the envelope as {STREAM_TYPE}")
        size = request.content_length
        if size is None:
            raise ApiError(411, "length_required", "a streamed envelope needs its exact Content-Length")
        if not self.enabled:
            raise ApiError(413, "too_large", f"this relay's {relay.store.name} store keeps envelopes sent as "
                           f"JSON only (up to {settings.max_size} bytes)", max_size=settings.max_size)
        if size > settings.max_size:
            raise relay._too_large()
        if size <= HEADER_LEN:
            raise bad_request("envelope is not a valid ots envelope: it is too short")
        _hash(request, "X-Ots-Auth-Hash", True)
        _hash(request, "X-Ots-Link-Hash", False)
        self._policy(request)
        await relay.budget.check(size)
        request[_CHECKED] = (share_id, size)
        return share_id, size

    def _policy(self, request: web.Request) -> tuple[int, int, tuple[str, ...], tuple[str, ...]]:
        expires = _integer(request, "X-Ots-Expires-In", DEFAULT_EXPIRY_S, MIN_EXPIRY_S, MAX_EXPIRY_S)
        views = _integer(request, "X-Ots-Max-Views", DEFAULT_VIEWS, MIN_VIEWS, MAX_VIEWS)
        cidrs = parse_networks(_list(request, "X-Ots-Allow-Cidrs"))
        countries = parse_countries(_list(request, "X-Ots-Allow-Countries"))
        if countries and self.relay.settings.countries is None:
            raise ApiError(400, "country_rules_unavailable", "this relay has no country database, so it cannot "
                           "limit a link to countries (its operator can add one with --geoip-db)")
        return expires, views, cidrs, countries

    async def expect(self, request: web.Request) -> web.StreamResponse | None:
        """``Expect: 100-continue``: refuse from the head alone, or let the body come."""
        try:
            await self._check_head(request)
        except ApiError as exc:
            self.relay.metrics.answered("/api/v1/secrets/{id}", "PUT", exc.status, 0.0)
            headers = {"Retry-After": exc.extra.pop("retry_after")} if "retry_after" in exc.extra else None
            response = web.json_response(exc.body(), status=exc.status, headers=headers)
            response.force_close()  # the body the client may still send is not read
            return response
        await _default_expect_handler(request)
        return None

    async def create(self, request: web.Request) -> web.Response:
        """PUT /api/v1/secrets/{id}."""
        relay, settings = self.relay, self.relay.settings
        share_id, size = await self._check_head(request)
        expires, views, cidrs, countries = self._policy(request)
        store = relay.store
        async with relay.uploads.hold(relay.client_ip(request), size, in_memory=min(size, PIECE)):
            upload = await store.new_upload(share_id)
            try:
                header = await self._receive(request, upload, size)
                await upload.complete()
            except BaseException:
                await upload.discard()
                raise
            token, status_hash = new_status_token()
            now = settings.clock()
            secret = NewSecret(id=share_id, envelope=b"", header=header[0], needs_passphrase=header[1],
                               auth_hash=_hash(request, "X-Ots-Auth-Hash", True), status_hash=status_hash,
                               created_at=now, expires_at=now + expires, max_views=views, allow_cidrs=cidrs,
                               link_hash=_hash(request, "X-Ots-Link-Hash", False), allow_countries=countries)
            if not await store.create_streamed(secret, upload, size):
                raise ApiError(409, "exists", "a secret with this id already exists")
            relay.budget.added(size)
        relay.metrics.created.inc()
        return web.json_response({"id": share_id, "status_token": token, "expires_at": iso(secret.expires_at)},
                                 status=201)

    async def _receive(self, request: web.Request, upload: BlobUpload, size: int) -> tuple[bytes, bool]:
        """Write the body to ``upload``, checking its header first; the header and whether it needs a passphrase."""
        timeout = self.relay.settings.body_timeout
        got, head = 0, b""
        while got < size:
            try:
                async with asyncio.timeout(timeout):
                    piece = await request.content.readany()
            except TimeoutError:
                raise ApiError(408, "timeout", f"the envelope stopped arriving for {timeout:g} s") from None
            except (ConnectionError, HttpProcessingError):
                raise ClientGone from None  # the sender hung up part-way: its doing, logged quietly
            if not piece:
                raise bad_request("the envelope ended before its Content-Length")
            if len(head) < HEADER_LEN:
                head += piece[:HEADER_LEN - len(head)]
                if len(head) == HEADER_LEN:
                    try:
                        parsed = read_header(head)
                        plaintext_size(size, parsed)
                    except EnvelopeError as exc:
                        raise bad_request(f"envelope is not a valid ots envelope: {exc}") from None
            await upload.write(piece)
            got += len(piece)
        return head, parsed.needs_passphrase

    def check_reveal(self, request: web.Request, info: SecretInfo) -> None:
        """Before a claim: a share kept as a file is only served as a stream (406 if not accepted)."""
        if info.stream_size is not None and not accepts_stream(request):
            raise ApiError(406, "stream_only", f"this secret is large: ask for it with 'Accept: {STREAM_TYPE}' "
                           "(current clients and the reveal page do); nothing was used up")

    async def answer(self, request: web.Request, blob: BlobReader, size: int, views_left: int) -> web.StreamResponse:
        """Stream a claimed envelope out, then close it (the store drops it then if this was the last view)."""
        response = web.StreamResponse(headers={**API_HEADERS, "Content-Type": STREAM_TYPE,
                                               VIEWS_LEFT: str(views_left)})
        response.content_length = size
        try:
            await response.prepare(request)
            while piece := await blob.read():
                await response.write(piece)
            await response.write_eof()
        except ConnectionError:
            # The reader hung up part-way. The view was claimed before the first byte, as for any reveal.
            _log.info("a streamed reveal's client went away before the end of the envelope")
        except (StoreFailure, OSError) as exc:
            # The store failed part-way (the head is sent): the reader sees the answer break off.
            _log.warning("a streamed reveal broke off: %s", exc)
            if request.transport is not None:
                request.transport.abort()
        finally:
            await blob.close()
        return response

