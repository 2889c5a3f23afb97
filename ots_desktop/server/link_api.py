"""The link relay's HTTP API on aiohttp: handlers, error shaping, limits and metrics.

The contract is ``docs/link-api.md`` and the OpenAPI document from
:mod:`ots_desktop.server.openapi`. Handlers never log a body, a token or an id; the
access log line is the route template, the status and the time taken.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ots_desktop.core.ids import b64u_encode
from ots_desktop.core.times import rfc3339_from_timestamp as iso
from ots_desktop.server.client_address import client_address
from ots_desktop.server.create_body import split_create_body
from ots_desktop.server.create_tokens import CreateTokens
from ots_desktop.server.geoip import CountryDatabase
from ots_desktop.server.link_model import LinkStore, RevealOutcome, SecretInfo, SecretState, StoreFailure
from ots_desktop.server.link_policy import (
    API_HEADERS,
    ApiError,
    address_allowed,
    check_id,
    new_status_token,
    parse_create,
    parse_reveal,
    status_hash_from_header,
)
from ots_desktop.server.metrics import RelayMetrics
from ots_desktop.server.openapi import build_openapi
from ots_desktop.server.quotas import StorageBudget, UploadGate
from ots_desktop.server.ratelimit import Limiter, Rate, RateLimiter, limiter_for
from ots_desktop.server.request_body import CLIENT_GONE_STATUS, ClientGone, read_body
from ots_desktop.server.reveal_page import reveal_page_response, static_asset
from ots_desktop.server.stream_api import StreamApi

_log = logging.getLogger("ots_desktop.server.access")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
JSON_BODY_SLACK = 4096
RELAY_KEY: web.AppKey[LinkRelay] = web.AppKey("relay")


@dataclass
class RelaySettings:
    """How one relay process behaves."""

    public_url: str
    max_size: int
    create_rate: Rate = field(default_factory=lambda: Rate(120, 120))
    reveal_rate: Rate = field(default_factory=lambda: Rate(60, 60))
    # The forwarding header is read only from a TCP peer inside one of these networks (the proxies you run),
    # from the right: see server/client_address.py. ``proxy_header`` is the one those proxies write.
    trust_proxy: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    proxy_header: str = "x-forwarded-for"
    # A connection gets this long to deliver a whole request head (from opening, or from its previous
    # answer); a body gets ``body_timeout`` plus what its length needs at request_body.MIN_BODY_RATE.
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    # Quotas (server/quotas.py): the envelopes stored in all (None: no limit), the request bytes one address
    # may have on their way (None: four largest creates) and this process may hold at once (None: two, at
    # least 32 MiB); create tokens (server/create_tokens.py; None: anyone may create).
    storage_budget: int | None = None
    in_flight_per_address: int | None = None
    upload_memory: int | None = None
    create_tokens: CreateTokens | None = None
    # The country database (--geoip-db): without one, links with a country rule are refused at create.
    countries: CountryDatabase | None = None
    security_events: Any = None  # server.security_events.SecurityEvents (ots server --syslog)
    clock: Callable[[], float] = time.time

    @property
    def max_body(self) -> int:
        """The largest create request: the envelope base64url-encoded in JSON, with room for the other fields."""
        return self.max_size * 4 // 3 + JSON_BODY_SLACK


# One compact encoder for every answer (json.dumps with separators would build a new one per call).
_dumps = json.JSONEncoder(separators=(",", ":")).encode


def _json(data: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(data, status=status, headers=headers, dumps=_dumps)


def _gone(state: SecretState) -> ApiError:
    text = {SecretState.REVEALED: "this secret was already opened and is gone",
            SecretState.EXPIRED: "this secret expired before it was opened",
            SecretState.REVOKED: "the sender revoked this secret",
            SecretState.BURNED: "this secret was destroyed after too many wrong passphrases"}  # fmt: skip
    return ApiError(410, "gone", text.get(state, "this secret is gone"), state=state.value)


# ApiError fields that travel as headers, not in the JSON body.
STORE_RETRY_AFTER = "5"  # seconds: a store that failed is usually back (or its relay restarted) within that
_HEADER_FIELDS = {"retry_after": "Retry-After", "www_authenticate": "WWW-Authenticate"}
_NOT_FOUND = ApiError(404, "not_found", "no such secret: the link is wrong, or the secret ended long ago")


class LinkRelay:
    """The handlers, bound to one store and one set of settings."""

    def __init__(self, store: LinkStore, settings: RelaySettings) -> None:
        self.store = store
        self.settings = settings
        self.metrics = RelayMetrics()
        self.create_limit = limiter_for(store, settings.create_rate, "create")
        self.reveal_limit = limiter_for(store, settings.reveal_rate, "reveal")
        self.budget = StorageBudget(settings.storage_budget, store.stored_bytes)
        self.uploads = UploadGate(settings.in_flight_per_address or 4 * settings.max_body,
                                  settings.upload_memory or max(2 * settings.max_body, 32 << 20),
                                  wait=settings.body_timeout)
        self._openapi: bytes | None = None
        self.stream = StreamApi(self)

    def client_ip(self, request: web.Request) -> str:
        """The TCP peer, or behind trusted proxies the rightmost address in their header that is not one of them."""
        header = self.settings.proxy_header
        return client_address(request.remote, request.headers.get(header), header, self.settings.trust_proxy)[:64]

    async def _limit(self, limiter: Limiter, endpoint: str, request: web.Request) -> None:
        if not limiter.rate.per_minute:  # this limit is off
            return
        wait = await limiter.take(self.client_ip(request))
        if wait:
            self.metrics.rate_limited.labels(endpoint).inc()
            raise ApiError(429, "rate_limited", "too many requests from your address; try again shortly",
                           retry_after=RateLimiter.retry_after(wait))

    def _too_large(self) -> ApiError:
        return ApiError(413, "too_large", f"the request is larger than this relay accepts (secrets up to "
                        f"{self.settings.max_size} bytes)", max_size=self.settings.max_size)

    async def _body(self, request: web.Request, limit: int = JSON_BODY_SLACK) -> object:
        if request.content_type != "application/json":
            raise ApiError(415, "unsupported_media_type", "send the request body as application/json")
        raw = await read_body(request, limit=limit, timeout=self.settings.body_timeout, too_large=self._too_large)
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise ApiError(400, "bad_request", "the request body is not valid JSON (or nested too deeply)") from None

    async def create(self, request: web.Request) -> web.Response:
        """POST /api/v1/secrets."""
        await self._limit(self.create_limit, "create", request)
        if self.settings.create_tokens is not None:
            self.settings.create_tokens.check(request.headers.get("Authorization"))
        if request.content_type != "application/json":
            raise ApiError(415, "unsupported_media_type", "send the request body as application/json")
        size = request.content_length if request.content_length is not None else self.settings.max_body
        if size > self.settings.max_body:
            raise self._too_large()
        await self.budget.check(size * 3 // 4)
        async with self.uploads.hold(self.client_ip(request), size):
            # One buffer, its envelope decoded in place; the JSON text is gone before the store is asked.
            raw = await read_body(request, limit=self.settings.max_body, timeout=self.settings.body_timeout,
                                  too_large=self._too_large)
            body = split_create_body(raw)
            del raw
            parsed = parse_create(body, self.settings.max_size)
            del body
            if parsed.allow_countries and self.settings.countries is None:
                raise ApiError(400, "country_rules_unavailable", "this relay has no country database, so it "
                               "cannot limit a link to countries (its operator can add one with --geoip-db)")
            await self.budget.check(len(parsed.envelope))
            token, status_hash = new_status_token()
            secret = parsed.to_secret(status_hash, self.settings.clock())
            del parsed
            if not await self.store.create(secret):
                raise ApiError(409, "exists", "a secret with this id already exists")
            self.budget.added(len(secret.envelope))
        self.metrics.created.inc()
        return _json({"id": secret.id, "status_token": token, "expires_at": iso(secret.expires_at)}, 201)

    async def _pending(self, share_id: str) -> SecretInfo:
        info = await self.store.info(check_id(share_id), self.settings.clock(), history=False)
        if info is None:
            raise _NOT_FOUND
        if info.state is not SecretState.PENDING:
            raise _gone(info.state)
        return info

    async def meta(self, request: web.Request) -> web.Response:
        """GET /api/v1/secrets/{id}: never consumes."""
        info = await self._pending(request.match_info["id"])
        return _json({"id": info.id, "state": info.state.value, "needs_passphrase": info.needs_passphrase,
                      "expires_at": iso(info.expires_at), "views_left": info.views_left,
                      "header": b64u_encode(info.header), "needs_link_proof": bool(info.link_hash)})

    def _check_link_proof(self, info: SecretInfo, presented: str | None) -> None:
        """Refuse, counting no attempt, a client that does not show it holds the link's key.

        Only the sender's client and whoever has the whole link can derive the link proof,
        so an id alone (from a proxy log, an export, a browser history) can never spend the
        passphrase attempts. Shares made before link proofs have no hash: the auth token
        alone decides for them, as it always did.
        """
        if not info.link_hash:
            return
        if presented is None:
            self.metrics.revealed("wrong_link")
            raise ApiError(400, "link_proof_required", "this secret needs the link proof that clients derive "
                           "from the key in the link (update the client); nothing was counted")
        if not hmac.compare_digest(info.link_hash.encode(), presented.encode()):
            self.metrics.revealed("wrong_link")
            raise ApiError(401, "wrong_link", "the link proof does not match: the key in the link is missing or "
                           "wrong; nothing was counted or used up")

    async def reveal(self, request: web.Request) -> web.StreamResponse:
        """POST /api/v1/secrets/{id}/reveal: checks the link proof, claims one view, then serves the envelope."""
        share_id = check_id(request.match_info["id"])
        await self._limit(self.reveal_limit, "reveal", request)
        asked = parse_reveal(await self._body(request))
        now = self.settings.clock()
        info = await self._pending(share_id)
        self._check_link_proof(info, asked.link_hash)
        self.stream.check_reveal(request, info)
        ip = self.client_ip(request)
        if not address_allowed(ip, info.allow_cidrs):
            await self.store.note_blocked(share_id, now)
            self.metrics.revealed("blocked")
            raise ApiError(403, "forbidden_network", "your network address is not allowed to open this secret")
        if info.allow_countries and not self._from_allowed_country(ip, info.allow_countries):
            await self.store.note_blocked(share_id, now)
            self.metrics.revealed("blocked")
            raise ApiError(403, "forbidden_country", "your network address is not from an allowed country: the "
                           "sender limited this secret to certain countries")
        result = await self.store.reveal(share_id, asked.auth_hash, ip, now)
        self.metrics.revealed(result.outcome.value)
        if result.outcome is RevealOutcome.BURNED:
            self._security(request, "burned")
        if result.blob is not None:
            return await self.stream.answer(request, result.blob, result.blob_size, result.views_left)
        if result.outcome is RevealOutcome.REVEALED and result.envelope is not None:
            return _json({"envelope": b64u_encode(result.envelope), "views_left": result.views_left})
        if result.outcome is RevealOutcome.WRONG_TOKEN:
            what = "wrong passphrase" if info.needs_passphrase else "wrong key: the link is incomplete or mangled"
            raise ApiError(401, "wrong_auth", f"{what}; {result.attempts_left} attempts left before the secret "
                           "is destroyed", attempts_left=result.attempts_left)
        if result.outcome is RevealOutcome.NOT_FOUND:
            raise _NOT_FOUND
        raise _gone(result.state or SecretState.BURNED)

    def _from_allowed_country(self, ip: str, countries: tuple[str, ...]) -> bool:
        """Whether ``ip`` is in one of ``countries``; an address without a country never is (fail closed)."""
        if self.settings.countries is None:  # made while the relay had a database, which is gone now
            _log.warning("a link has a country rule but this relay has no country database (--geoip-db)")
            raise ApiError(503, "country_rules_unavailable", "this relay cannot check the countries this secret "
                           "is limited to right now; nothing was used up, try again later")
        return self.settings.countries.country(ip) in countries

    async def _owned(self, request: web.Request) -> SecretInfo:
        share_id = check_id(request.match_info["id"])
        presented = status_hash_from_header(request.headers.get("Authorization"))
        info = await self.store.info(share_id, self.settings.clock())
        if info is None:
            raise _NOT_FOUND
        if not hmac.compare_digest(info.status_hash.encode(), presented.encode()):
            raise ApiError(403, "wrong_status_token", "this status token does not belong to this secret")
        return info

    async def status(self, request: web.Request) -> web.Response:
        """GET /api/v1/secrets/{id}/status with the status token."""
        info = await self._owned(request)
        return _json({
            "id": info.id, "state": info.state.value, "created_at": iso(info.created_at),
            "expires_at": iso(info.expires_at), "ended_at": iso(info.ended_at), "max_views": info.max_views,
            "views_left": info.views_left, "failed_attempts": info.failed_attempts,
            "blocked_attempts": info.blocked_attempts, "needs_passphrase": info.needs_passphrase,
            "reveals": [{"at": iso(r.at), "from": r.ip} for r in info.reveals],
        })  # fmt: skip

    async def revoke(self, request: web.Request) -> web.Response:
        """DELETE /api/v1/secrets/{id} with the status token."""
        info = await self._owned(request)
        state = await self.store.revoke(info.id, self.settings.clock())
        if state is None:
            raise _NOT_FOUND
        if state is not SecretState.REVOKED or info.state is not SecretState.PENDING:
            raise _gone(state)
        self._security(request, "revoked")
        return _json({"id": info.id, "state": state.value})

    def _security(self, request: web.Request, code: str) -> None:
        """Tell the relay's security events (``--syslog``) about ``code``, with the share's keyed hash."""
        if self.settings.security_events is not None:
            self.settings.security_events.observe(code, request.match_info.get("id"), self.client_ip(request))

    async def health(self, request: web.Request) -> web.Response:
        """GET /healthz: 200 when the store answers, else 503; ``country_rules`` says whether links may name
        countries (the relay has a country database)."""
        countries = self.settings.countries is not None
        try:
            await self.store.ping()
        except Exception as exc:  # noqa: BLE001 - any store failure means unhealthy
            self.metrics.store_up.set(0)
            _log.warning("health check: the %s store does not answer: %s", self.store.name, type(exc).__name__)
            return _json({"status": "unavailable", "store": self.store.name, "country_rules": countries}, 503)
        self.metrics.store_up.set(1)
        return _json({"status": "ok", "store": self.store.name, "country_rules": countries,
                      "streaming": self.stream.enabled})

    async def metrics_page(self, request: web.Request) -> web.Response:
        """GET /metrics."""
        return web.Response(body=self.metrics.render(), headers={"Content-Type": self.metrics.content_type})

    async def openapi_doc(self, request: web.Request) -> web.Response:
        """GET /api/v1/openapi.json."""
        if self._openapi is None:  # built on first use: the public URL is known only once listening
            self._openapi = json.dumps(build_openapi(self.settings.max_size, self.settings.public_url)).encode()
        return web.Response(body=self._openapi, content_type="application/json")

    async def page(self, request: web.Request) -> web.Response:
        """GET /s/{id}: the reveal page. Never consumes, never even looks the share up."""
        check_id(request.match_info["id"])
        return reveal_page_response()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Shape every error as JSON, count and time requests, and log without ids or bodies."""
        started = time.perf_counter()
        route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
        try:
            response = await handler(request)
        except ApiError as exc:
            self._security(request, exc.code)
            headers = {name: exc.extra.pop(key) for key, name in _HEADER_FIELDS.items() if key in exc.extra}
            response = _json(exc.body(), exc.status, headers)
        except web.HTTPRequestEntityTooLarge:
            response = _json(self._too_large().body(), 413)
        except ClientGone:
            # The client hung up before its request was in: nobody to answer, nothing wrong here.
            response = web.Response(status=CLIENT_GONE_STATUS)
        except StoreFailure as exc:  # Redis stopped, a full disk: the operator's to fix, the client's to retry
            _log.warning("the store failed on %s %s: %s", request.method, route, exc)
            response = _json({"error": "the relay cannot use its store right now; try again shortly",
                              "code": "store_unavailable"}, 503, {"Retry-After": STORE_RETRY_AFTER})
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            response = _json({"error": exc.reason, "code": exc.reason.lower().replace(" ", "_")}, exc.status)
        except Exception:  # noqa: BLE001 - a last resort: the client gets a JSON 500, the log the trace
            _log.exception("internal error on %s %s", request.method, route)
            response = _json({"error": "internal error", "code": "internal"}, 500)
        if not response.prepared and (route.startswith("/api/") if route != "unmatched"
                                      else request.path.startswith("/api/")):
            # Answers a handler streams itself (server/stream_api.py) carry these from their start.
            answer_headers = response.headers
            for name, value in API_HEADERS.items():
                answer_headers.setdefault(name, value)
        elapsed = time.perf_counter() - started
        self.metrics.answered(route, request.method, response.status, elapsed)
        if response.status == CLIENT_GONE_STATUS:
            _log.info("%s %s: the client closed the connection before its request was read (%.1fms)",
                      request.method, route, elapsed * 1000)
        else:
            _log.info("%s %s %d %.1fms", request.method, route, response.status, elapsed * 1000)
        if response.status == 408:
            # A body too slow to wait for: answer, then close instead of reading the rest of it.
            await _answer_and_close(request, response)
        return response


def build_app(store: LinkStore, settings: RelaySettings) -> web.Application:
    """The aiohttp application of the relay (the caller owns the store's lifetime)."""
    relay = LinkRelay(store, settings)
    app = web.Application(middlewares=[relay.middleware], client_max_size=settings.max_body)
    # The busiest routes first: a path is matched against the routes under its prefix in this order.
    app.router.add_post("/api/v1/secrets/{id}/reveal", relay.reveal)
    app.router.add_post("/api/v1/secrets", relay.create)
    app.router.add_put("/api/v1/secrets/{id}", relay.stream.create, expect_handler=relay.stream.expect)
    app.router.add_get("/api/v1/secrets/{id}", relay.meta)
    app.router.add_delete("/api/v1/secrets/{id}", relay.revoke)
    app.router.add_get("/api/v1/secrets/{id}/status", relay.status)
    app.router.add_get("/api/v1/openapi.json", relay.openapi_doc)
    app.router.add_get("/healthz", relay.health)
    app.router.add_get("/metrics", relay.metrics_page)
    app.router.add_get("/s/{id}", relay.page)
    app.router.add_get("/static/{name}", static_asset)
    app[RELAY_KEY] = relay
    return app


async def _answer_and_close(request: web.Request, response: web.StreamResponse) -> None:
    response.force_close()
    try:
        await response.prepare(request)
        await response.write_eof()
    except ConnectionError:
        return
    request.protocol.force_close()
