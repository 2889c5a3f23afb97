"""The relay's secret-request endpoints: register a request, answer it once, and let only the
requester fetch the answer (then deleted), see its status or revoke it.

They run in the link relay's application (``add_request_routes``), so the same middleware
shapes errors as JSON, counts and times requests and logs only route templates; the same
rate limits, client address rules and country database apply. Handlers never log a body,
a token or an id. The contract is docs/link-api.md and the OpenAPI document.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import re
from typing import Any

from aiohttp import web

from ots_desktop.core.errors import EnvelopeError, InputError
from ots_desktop.core.ids import b64u_decode, b64u_encode
from ots_desktop.core.request_box import check_answer
from ots_desktop.core.times import rfc3339_from_timestamp as iso
from ots_desktop.server.answer_page import answer_page_response
from ots_desktop.server.link_api import RELAY_KEY, LinkRelay
from ots_desktop.server.link_model import DEFAULT_EXPIRY_S, MAX_EXPIRY_S, MIN_EXPIRY_S
from ots_desktop.server.link_policy import (
    ApiError,
    address_allowed,
    bad_request,
    check_id,
    new_status_token,
    parse_countries,
    parse_networks,
    status_hash_from_header,
)
from ots_desktop.server.request_body import read_body
from ots_desktop.server.request_model import (
    MAX_LABEL_BOX_LEN,
    AnswerOutcome,
    NewRequest,
    RequestInfo,
    RequestState,
    RequestStore,
)

REQUEST_STORE_KEY: web.AppKey[RequestStore] = web.AppKey("request_store")
CREATE_FIELDS = frozenset({"id", "label_box", "proof_hash", "key_hash", "expires_in", "allow_cidrs", "allow_countries"})
ANSWER_FIELDS = frozenset({"request_proof", "answer"})
_HASH = re.compile("^[0-9a-f]{64}$")
_TOKEN = re.compile("^[A-Za-z0-9_-]{43}$")
_B64U = re.compile("^[A-Za-z0-9_-]+$")
_NOT_FOUND = ApiError(404, "not_found", "no such request: the link is wrong, or the request ended long ago")
_ANSWER_SHAPE = 'the answer body must be {"request_proof": "<43 base64url characters>", "answer": "<base64url>"}'


def _gone(state: RequestState) -> ApiError:
    text = {RequestState.OPENED: "this request was answered and the answer has been collected",
            RequestState.EXPIRED: "this request expired",
            RequestState.REVOKED: "the requester withdrew this request"}  # fmt: skip
    return ApiError(410, "gone", text.get(state, "this request has ended"), state=state.value)


def _already() -> ApiError:
    return ApiError(409, "already_answered", "this request was already answered; it takes one answer only, so "
                    "yours was not accepted (the requester is told that a second answer was tried)",
                    state=RequestState.ANSWERED.value)


def parse_request(body: object) -> dict[str, Any]:
    """Check a register body; the checked fields, or a 400."""
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    unknown = set(body) - CREATE_FIELDS
    if unknown:
        raise bad_request(f"unknown fields: {', '.join(sorted(str(k)[:40] for k in unknown))}")
    request_id = body.get("id")
    if not isinstance(request_id, str):
        raise bad_request("id is required: 22 base64url characters")
    check_id(request_id)
    for name in ("proof_hash", "key_hash"):
        if not isinstance(body.get(name), str) or not _HASH.fullmatch(body[name]):
            raise bad_request(f"{name} must be 64 lowercase hex characters (a SHA-256)")
    label_box = body.get("label_box", "")
    if not isinstance(label_box, str) or len(label_box) > MAX_LABEL_BOX_LEN or (
            label_box and not _B64U.fullmatch(label_box)):
        raise bad_request(f"label_box must be base64url text of at most {MAX_LABEL_BOX_LEN} characters (the label "
                          "sealed by the client; the relay never takes a label in clear)")
    expires_in = body.get("expires_in", DEFAULT_EXPIRY_S)
    if isinstance(expires_in, bool) or not isinstance(expires_in, int) or not (
            MIN_EXPIRY_S <= expires_in <= MAX_EXPIRY_S):
        raise bad_request(f"expires_in must be an integer from {MIN_EXPIRY_S} to {MAX_EXPIRY_S}")
    return {"id": request_id, "label_box": label_box, "proof_hash": body["proof_hash"], "key_hash": body["key_hash"],
            "expires_in": expires_in, "allow_cidrs": parse_networks(body.get("allow_cidrs")),
            "allow_countries": parse_countries(body.get("allow_countries"))}


def _proof_hash(body: dict[str, Any]) -> str:
    proof = body.get("request_proof")
    if not isinstance(proof, str) or not _TOKEN.fullmatch(proof):
        raise ApiError(400, "request_proof_required", "an answer needs the request proof that clients derive from the "
                       "key in the link (the part after '#'); nothing was stored or used up")
    try:
        return hashlib.sha256(b64u_decode(proof)).hexdigest()
    except (ValueError, binascii.Error, InputError):
        raise bad_request("request_proof is not valid base64url") from None


class RequestRelay:
    """The request handlers, bound to the link relay (limits, settings) and a request store."""

    def __init__(self, relay: LinkRelay, store: RequestStore) -> None:
        self.relay = relay
        self.store = store
        self.settings = relay.settings

    async def _json_body(self, request: web.Request, limit: int) -> Any:
        if request.content_type != "application/json":
            raise ApiError(415, "unsupported_media_type", "send the request body as application/json")
        raw = await read_body(request, limit=limit, timeout=self.settings.body_timeout,
                              too_large=self.relay._too_large)
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise bad_request("the request body is not valid JSON (or nested too deeply)") from None

    async def create(self, request: web.Request) -> web.Response:
        """POST /api/v1/requests."""
        await self.relay._limit(self.relay.create_limit, "create", request)
        if self.settings.create_tokens is not None:
            self.settings.create_tokens.check(request.headers.get("Authorization"))
        fields = parse_request(await self._json_body(request, 8192))
        if fields["allow_countries"] and self.settings.countries is None:
            raise ApiError(400, "country_rules_unavailable", "this relay has no country database, so it cannot "
                           "limit a request to countries (its operator can add one with --geoip-db)")
        token, status_hash = new_status_token()
        now = self.settings.clock()
        expires_in = fields.pop("expires_in")
        new = NewRequest(status_hash=status_hash, created_at=now, expires_at=now + expires_in, **fields)
        if not await self.store.create(new):
            raise ApiError(409, "exists", "a request with this id already exists")
        return web.json_response({"id": new.id, "status_token": token, "expires_at": iso(new.expires_at)}, status=201)

    async def _info(self, request_id: str) -> RequestInfo:
        info = await self.store.info(check_id(request_id), self.settings.clock())
        if info is None:
            raise _NOT_FOUND
        return info

    async def meta(self, request: web.Request) -> web.Response:
        """GET /api/v1/requests/{id}: what the answer page shows; never changes anything."""
        info = await self._info(request.match_info["id"])
        if info.state is RequestState.ANSWERED:
            raise _already()
        if info.state is not RequestState.PENDING:
            raise _gone(info.state)
        return web.json_response({"id": info.id, "state": info.state.value, "label_box": info.label_box,
                                  "expires_at": iso(info.expires_at), "max_size": self.settings.max_size})

    async def answer(self, request: web.Request) -> web.Response:
        """POST /api/v1/requests/{id}/answer: checks the proof and the network, then keeps the first answer."""
        request_id = check_id(request.match_info["id"])
        await self.relay._limit(self.relay.reveal_limit, "answer", request)
        size = request.content_length if request.content_length is not None else self.settings.max_body
        if size > self.settings.max_body:
            raise self.relay._too_large()
        # The same bounds as a link's upload: bytes on their way per address and in this process's memory.
        async with self.relay.uploads.hold(self.relay.client_ip(request), size):
            body = await self._json_body(request, self.settings.max_body)
        if not isinstance(body, dict) or not set(body) <= ANSWER_FIELDS:
            raise bad_request(_ANSWER_SHAPE)
        presented = _proof_hash(body)
        info = await self._info(request_id)
        if not hmac.compare_digest(info.proof_hash.encode(), presented.encode()):
            raise ApiError(401, "wrong_request_proof", "the request proof does not match: the key in the link is "
                           "missing or wrong; nothing was stored or used up")
        now = self.settings.clock()
        ip = self.relay.client_ip(request)
        if not address_allowed(ip, info.allow_cidrs) or (info.allow_countries and (
                self.settings.countries is None or self.settings.countries.country(ip) not in info.allow_countries)):
            await self.store.note_blocked(request_id, now)
            raise ApiError(403, "forbidden_network", "your network address is not allowed to answer this request")
        if info.state in (RequestState.ANSWERED, RequestState.OPENED):
            await self.store.answer(request_id, b"", ip, now)  # counted as a refused second answer
            raise _already()
        if info.state is not RequestState.PENDING:
            raise _gone(info.state)
        encoded = body.get("answer")
        if not isinstance(encoded, str) or not _B64U.fullmatch(encoded):
            raise bad_request("answer must be base64url text without padding")
        if len(encoded) * 3 // 4 > self.settings.max_size:
            raise self.relay._too_large()
        try:
            data = b64u_decode(encoded)
            check_answer(data, info.key_hash)
        except InputError:
            raise bad_request("answer is not valid base64url") from None
        except EnvelopeError as exc:
            raise ApiError(400, "bad_answer", f"the answer is not a valid ots answer for this request: {exc.message}; "
                           "nothing was stored or used up") from None
        await self.relay.budget.check(len(data))  # a relay whose storage is full takes no answers either
        result = await self.store.answer(request_id, data, ip, now)
        if result.outcome is AnswerOutcome.DONE:
            self.relay.budget.added(len(data))
        if result.outcome is AnswerOutcome.ALREADY_ANSWERED:
            raise _already()
        if result.outcome is AnswerOutcome.NOT_FOUND:
            raise _NOT_FOUND
        if result.outcome is AnswerOutcome.GONE:
            raise _gone(result.state or RequestState.EXPIRED)
        return web.json_response({"id": request_id, "state": RequestState.ANSWERED.value}, status=201)

    async def _owned(self, request: web.Request) -> RequestInfo:
        request_id = check_id(request.match_info["id"])
        presented = status_hash_from_header(request.headers.get("Authorization"))
        info = await self._info(request_id)
        if not hmac.compare_digest(info.status_hash.encode(), presented.encode()):
            raise ApiError(403, "wrong_status_token", "this status token does not belong to this request")
        return info

    async def status(self, request: web.Request) -> web.Response:
        """GET /api/v1/requests/{id}/status with the requester's token."""
        info = await self._owned(request)
        return web.json_response({
            "id": info.id, "state": info.state.value, "created_at": iso(info.created_at),
            "expires_at": iso(info.expires_at), "answered_at": iso(info.answered_at),
            "answered_from": info.answered_from, "ended_at": iso(info.ended_at),
            "refused_answers": info.refused_answers, "blocked_attempts": info.blocked_attempts,
        })  # fmt: skip

    async def open(self, request: web.Request) -> web.Response:
        """POST /api/v1/requests/{id}/open with the requester's token: the answer, once, then deleted."""
        info = await self._owned(request)
        result = await self.store.open(info.id, self.settings.clock())
        if result.outcome is AnswerOutcome.NOT_ANSWERED:
            raise ApiError(409, "not_answered", "nobody has answered this request yet", state="pending")
        if result.outcome is AnswerOutcome.NOT_FOUND:
            raise _NOT_FOUND
        if result.outcome is not AnswerOutcome.DONE or result.answer is None:
            raise _gone(result.state or RequestState.EXPIRED)
        return web.json_response({"id": info.id, "answer": b64u_encode(result.answer),
                                  "answered_at": iso(result.answered_at), "answered_from": result.answered_from})

    async def revoke(self, request: web.Request) -> web.Response:
        """DELETE /api/v1/requests/{id} with the requester's token."""
        info = await self._owned(request)
        state = await self.store.revoke(info.id, self.settings.clock())
        if state is None:
            raise _NOT_FOUND
        if state is not RequestState.REVOKED or info.state not in (RequestState.PENDING, RequestState.ANSWERED):
            raise _gone(state)
        return web.json_response({"id": info.id, "state": state.value})

    async def page(self, request: web.Request) -> web.Response:
        """GET /r/{id}: the answer page. Never changes anything, never even looks the request up."""
        check_id(request.match_info["id"])
        return answer_page_response()


def add_request_routes(app: web.Application, store: RequestStore) -> RequestRelay:
    """Add the request endpoints to a link relay application made by ``build_app``."""
    relay = RequestRelay(app[RELAY_KEY], store)
    app[REQUEST_STORE_KEY] = store
    relay.relay.budget.count_also(store.stored_bytes)  # answers wait in the relay's storage too
    app.router.add_post("/api/v1/requests", relay.create)
    app.router.add_get("/api/v1/requests/{id}", relay.meta)
    app.router.add_delete("/api/v1/requests/{id}", relay.revoke)
    app.router.add_post("/api/v1/requests/{id}/answer", relay.answer)
    app.router.add_post("/api/v1/requests/{id}/open", relay.open)
    app.router.add_get("/api/v1/requests/{id}/status", relay.status)
    app.router.add_get("/r/{id}", relay.page)
    return relay
