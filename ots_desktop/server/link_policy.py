"""Checking what clients send to the link relay: ids, create requests, tokens, networks.

Every refusal is an :class:`ApiError` carrying the HTTP status, a machine code and a
sentence for people. Nothing here echoes a token or a body back.
"""

from __future__ import annotations

import binascii
import hashlib
import ipaddress
import re
import secrets
from dataclasses import dataclass
from typing import Any

from ots_desktop.core.countries import check_countries
from ots_desktop.core.envelope import HEADER_LEN, check_layout
from ots_desktop.core.errors import EnvelopeError, InputError
from ots_desktop.core.ids import b64u_decode, b64u_encode
from ots_desktop.server.link_model import (
    DEFAULT_EXPIRY_S,
    DEFAULT_VIEWS,
    MAX_CIDRS,
    MAX_COUNTRIES,
    MAX_EXPIRY_S,
    MAX_VIEWS,
    MIN_EXPIRY_S,
    MIN_VIEWS,
    NewSecret,
)

ID_PATTERN = "^[A-Za-z0-9_-]{22}$"
TOKEN_PATTERN = "^[A-Za-z0-9_-]{43}$"  # noqa: S105 - a regex, not a token
HASH_PATTERN = "^[0-9a-f]{64}$"
_ID = re.compile(ID_PATTERN)
_TOKEN = re.compile(TOKEN_PATTERN)
_HASH = re.compile(HASH_PATTERN)
_B64U = re.compile("^[A-Za-z0-9_-]*$")
CREATE_FIELDS = frozenset({"id", "envelope", "auth_hash", "link_hash", "expires_in", "max_views", "allow_cidrs",
                           "allow_countries"})
REVEAL_FIELDS = frozenset({"auth_token", "link_proof"})
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# What the API answers carry (a reveal carries the envelope; a status carries who opened it when):
# never stored by a browser or a proxy cache, and never named in a Referer. The relay's middleware
# adds them to every answer under /api/; a handler that streams its answer adds them itself.
API_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}


class ApiError(Exception):
    """A request the relay refuses: HTTP status, machine code, message and extra JSON fields."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON error body."""
        return {"error": self.message, "code": self.code, **self.extra}


def bad_request(message: str) -> ApiError:
    """A 400 with ``code: bad_request``."""
    return ApiError(400, "bad_request", message)


def check_id(share_id: str) -> str:
    """A share id is 22 base64url characters (16 bytes)."""
    try:
        canonical = _ID.fullmatch(share_id) is not None and len(b64u_decode(share_id)) == 16
    except InputError:
        canonical = False
    if not canonical:
        raise bad_request("a share id is 22 base64url characters (16 bytes)")
    return share_id


def _integer(body: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise bad_request(f"{name} must be an integer from {low} to {high}")
    return value


def parse_networks(values: object) -> tuple[str, ...]:
    """Normalise an allowlist: at most MAX_CIDRS IPv4/IPv6 networks (host bits allowed)."""
    if values is None:
        return ()
    if not isinstance(values, list) or len(values) > MAX_CIDRS:
        raise bad_request(f"allow_cidrs must be a list of at most {MAX_CIDRS} networks")
    networks: list[str] = []
    for value in values:
        if not isinstance(value, str) or len(value) > 64:
            raise bad_request("allow_cidrs holds networks such as 10.0.0.0/8 or 2001:db8::/32")
        try:
            networks.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError:
            raise bad_request(f"not a network: {value[:64]!r}") from None
    return tuple(networks)


def parse_countries(values: object) -> tuple[str, ...]:
    """Normalise a country rule: at most MAX_COUNTRIES ISO 3166-1 alpha-2 codes, upper-cased."""
    if values is None:
        return ()
    if not isinstance(values, list) or len(values) > MAX_COUNTRIES:
        raise bad_request(f"allow_countries must be a list of at most {MAX_COUNTRIES} country codes")
    if not all(isinstance(value, str) for value in values):
        raise bad_request("allow_countries holds ISO 3166-1 alpha-2 codes such as DE or FR")
    try:
        return check_countries(values)
    except InputError as exc:
        raise bad_request(exc.message) from None


def address_allowed(ip: str, networks: tuple[str, ...]) -> bool:
    """Whether a client address falls in the allowlist (an empty list allows everyone)."""
    if not networks:
        return True
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in ipaddress.ip_network(net) for net in networks)


@dataclass(frozen=True)
class CreateRequest:
    """A checked create request, before the server adds times and the status token."""

    id: str
    envelope: bytes
    header: bytes
    needs_passphrase: bool
    auth_hash: str
    expires_in: int
    max_views: int
    allow_cidrs: tuple[str, ...]
    link_hash: str = ""
    allow_countries: tuple[str, ...] = ()

    def to_secret(self, status_hash: str, now: float) -> NewSecret:
        """The record the store keeps."""
        return NewSecret(
            id=self.id, envelope=self.envelope, header=self.header, needs_passphrase=self.needs_passphrase,
            auth_hash=self.auth_hash, status_hash=status_hash, created_at=now, expires_at=now + self.expires_in,
            max_views=self.max_views, allow_cidrs=self.allow_cidrs, link_hash=self.link_hash,
            allow_countries=self.allow_countries,
        )  # fmt: skip


def parse_create(body: object, max_size: int) -> CreateRequest:
    """Check a create request body; raise :class:`ApiError` (400 or 413) if it is not acceptable."""
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    unknown = set(body) - CREATE_FIELDS
    if unknown:
        raise bad_request(f"unknown fields: {', '.join(sorted(str(k)[:40] for k in unknown))}")
    share_id = body.get("id")
    if not isinstance(share_id, str):
        raise bad_request("id is required: 22 base64url characters")
    check_id(share_id)
    auth_hash = body.get("auth_hash")
    if not isinstance(auth_hash, str) or not _HASH.fullmatch(auth_hash):
        raise bad_request("auth_hash must be 64 lowercase hex characters (SHA-256 of the auth token)")
    link_hash = body.get("link_hash", "")
    if not isinstance(link_hash, str) or not (link_hash == "" or _HASH.fullmatch(link_hash)):
        raise bad_request("link_hash must be 64 lowercase hex characters (SHA-256 of the link proof)")
    encoded = body.get("envelope")
    if isinstance(encoded, bytes):  # already decoded in place (server/create_body)
        size = len(encoded)
    elif isinstance(encoded, str) and encoded and _B64U.fullmatch(encoded):
        size = len(encoded) * 3 // 4
    else:
        raise bad_request("envelope must be base64url text without padding")
    if size > max_size:
        raise ApiError(413, "too_large", f"the secret is larger than this relay accepts ({max_size} bytes)",
                       max_size=max_size)
    try:
        envelope = encoded if isinstance(encoded, bytes) else b64u_decode(encoded)
        header = check_layout(envelope)
    except (ValueError, binascii.Error, InputError):
        raise bad_request("envelope is not valid base64url") from None
    except EnvelopeError as exc:
        raise bad_request(f"envelope is not a valid ots envelope: {exc}") from None
    return CreateRequest(
        id=share_id, envelope=envelope, header=envelope[:HEADER_LEN], needs_passphrase=header.needs_passphrase,
        auth_hash=auth_hash, expires_in=_integer(body, "expires_in", DEFAULT_EXPIRY_S, MIN_EXPIRY_S, MAX_EXPIRY_S),
        max_views=_integer(body, "max_views", DEFAULT_VIEWS, MIN_VIEWS, MAX_VIEWS),
        allow_cidrs=parse_networks(body.get("allow_cidrs")), link_hash=link_hash,
        allow_countries=parse_countries(body.get("allow_countries")),
    )  # fmt: skip


_REVEAL_SHAPE = 'the reveal body must be {"auth_token": "<43 base64url characters>", "link_proof": "<43 ...>"}'


def _token_hash(body: dict[str, Any], name: str) -> str:
    token = body[name]
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise bad_request(_REVEAL_SHAPE)
    try:
        raw = b64u_decode(token)
    except (ValueError, binascii.Error, InputError):
        raise bad_request(f"{name} is not valid base64url") from None
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True)
class RevealRequest:
    """The SHA-256 hex of the reveal request's tokens; ``link_hash`` is None when no link proof came."""

    auth_hash: str
    link_hash: str | None


def parse_reveal(body: object) -> RevealRequest:
    """Check a reveal request: an ``auth_token`` and, from clients that derive one, a ``link_proof``."""
    if not isinstance(body, dict) or "auth_token" not in body or not set(body) <= REVEAL_FIELDS:
        raise bad_request(_REVEAL_SHAPE)
    return RevealRequest(_token_hash(body, "auth_token"), _token_hash(body, "link_proof") if "link_proof" in body
                         else None)


def new_status_token() -> tuple[str, str]:
    """A fresh status token for the sender (b64u) and the hash the store keeps."""
    raw = secrets.token_bytes(32)
    return b64u_encode(raw), hashlib.sha256(raw).hexdigest()


def status_hash_from_header(authorization: str | None) -> str:
    """The hash of a ``Bearer`` status token, or a 401 :class:`ApiError`."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not _TOKEN.fullmatch(token):
        raise ApiError(401, "unauthorized", "send the share's status token as 'Authorization: Bearer <token>'")
    try:
        raw = b64u_decode(token)
    except (ValueError, binascii.Error, InputError):
        raise ApiError(401, "unauthorized", "the status token is not valid base64url") from None
    return hashlib.sha256(raw).hexdigest()
