"""What the link relay stores and the interface every store implements.

A store holds, per share: the envelope (ciphertext only), the SHA-256 of the auth token
the recipient must present, the SHA-256 of the link proof that shows a client holds the
link's key (empty for shares made before link proofs), the SHA-256 of the sender's status
token, the envelope's 44-byte header (public: salt and iterations), and the policy and
history of the share.
Nothing in it can decrypt the secret: the fragment key never reaches the relay.

Every state change is atomic in the store (claim first, then serve): a reveal either
consumes a view and gets the envelope, or changes nothing but a failure counter.
Times are POSIX seconds, passed in by the caller so that tests can move the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol
from urllib.parse import urlsplit

from ots_desktop.core.policy import (
    LINK_DEFAULT_EXPIRY_S,
    LINK_DEFAULT_VIEWS,
    LINK_MAX_CIDRS,
    LINK_MAX_COUNTRIES,
    LINK_MAX_EXPIRY_S,
    LINK_MAX_VIEWS,
    LINK_MIN_EXPIRY_S,
    LINK_MIN_VIEWS,
)

# Policy limits (the API refuses anything outside them with a 400).
MIN_EXPIRY_S = LINK_MIN_EXPIRY_S
MAX_EXPIRY_S = LINK_MAX_EXPIRY_S
DEFAULT_EXPIRY_S = LINK_DEFAULT_EXPIRY_S
MIN_VIEWS = LINK_MIN_VIEWS
MAX_VIEWS = LINK_MAX_VIEWS
DEFAULT_VIEWS = LINK_DEFAULT_VIEWS
MAX_FAILED_ATTEMPTS = 5
MAX_CIDRS = LINK_MAX_CIDRS
MAX_COUNTRIES = LINK_MAX_COUNTRIES
DEFAULT_MAX_SIZE = 10 * 1024 * 1024
# How long a finished share's record (never its envelope) stays for `ots link status`.
TOMBSTONE_S = 7 * 24 * 3600


class SecretState(StrEnum):
    """Where a share is in its life. Only ``pending`` still holds an envelope."""

    PENDING = "pending"
    REVEALED = "revealed"
    EXPIRED = "expired"
    REVOKED = "revoked"
    BURNED = "burned"


@dataclass(frozen=True)
class NewSecret:
    """A share as the API hands it to :meth:`LinkStore.create`."""

    id: str
    envelope: bytes
    header: bytes
    needs_passphrase: bool
    auth_hash: str
    status_hash: str
    created_at: float
    expires_at: float
    max_views: int
    allow_cidrs: tuple[str, ...] = ()
    link_hash: str = ""  # "": made by a client that predates link proofs
    allow_countries: tuple[str, ...] = ()  # ISO 3166-1 alpha-2; checked against the relay's country database


@dataclass(frozen=True)
class RevealRecord:
    """One consumed view: when, and from which client address."""

    at: float
    ip: str


@dataclass(frozen=True)
class SecretInfo:
    """Everything about a share except its envelope. ``state`` already accounts for expiry."""

    id: str
    state: SecretState
    header: bytes
    needs_passphrase: bool
    status_hash: str
    created_at: float
    expires_at: float
    max_views: int
    views_left: int
    failed_attempts: int
    blocked_attempts: int
    allow_cidrs: tuple[str, ...]
    reveals: tuple[RevealRecord, ...] = field(default_factory=tuple)
    ended_at: float | None = None
    link_hash: str = ""
    allow_countries: tuple[str, ...] = ()
    # The envelope's size when the store keeps it in pieces, to be streamed (None: in the store's records).
    stream_size: int | None = None


class BlobReader(Protocol):
    """A large envelope claimed by a reveal, read out piece by piece and then closed (always)."""

    async def read(self) -> bytes:
        """The next piece; b"" at the end."""

    async def close(self) -> None:
        """Done with it: a store drops an ended share's envelope once its last reader closes."""


class BlobUpload(Protocol):
    """A large envelope arriving: the store keeps the pieces apart until :meth:`LinkStore.create_streamed`."""

    async def write(self, data: bytes) -> None:
        """Add the next bytes."""

    async def complete(self) -> None:
        """Everything is written: make it durable (a file is fsynced, buffered pieces are sent)."""

    async def discard(self) -> None:
        """Give the upload up and remove what it stored (safe to call twice)."""


# A large envelope moves through the relay this many bytes at a time: a reveal reads it so, Redis stores it so.
PIECE = 1 << 20


class StoreFailure(Exception):
    """The store could not do what was asked (unreachable, refusing, out of room); the relay answers 503."""


class RevealOutcome(StrEnum):
    """What :meth:`LinkStore.reveal` did."""

    REVEALED = "revealed"  # a view was consumed; ``envelope`` is set
    WRONG_TOKEN = "wrong_token"  # noqa: S105 - failed_attempts went up; still pending
    BURNED = "burned"  # this wrong token was the last allowed one: the envelope is gone
    GONE = "gone"  # not pending (``state`` says why); nothing changed
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class RevealResult:
    """The result of one reveal attempt."""

    outcome: RevealOutcome
    envelope: bytes | None = None
    views_left: int = 0
    attempts_left: int = 0
    state: SecretState | None = None
    # A large envelope kept in pieces: opened by the claim; the caller streams it out and closes it.
    blob: BlobReader | None = None
    blob_size: int = 0


class LinkStore(Protocol):
    """Storage behind the relay API. Implementations: SQLite (embedded) and Redis (scale-out)."""

    name: str

    async def create(self, secret: NewSecret) -> bool:
        """Store a new share durably; return False (and change nothing) if the id exists."""

    async def info(self, share_id: str, now: float, *, history: bool = True) -> SecretInfo | None:
        """The share's record without its envelope, or None if unknown (or its tombstone is gone).

        With ``history`` False, ``reveals`` may be left empty (a store that keeps it apart can skip it).
        """

    async def reveal(self, share_id: str, auth_hash: str, ip: str, now: float) -> RevealResult:
        """Atomically consume one view if the share is pending, unexpired and ``auth_hash`` matches.

        A wrong hash adds one failed attempt; the MAX_FAILED_ATTEMPTS-th burns the share.
        An expired share is marked expired and its envelope dropped. The claim is durable
        before this returns, so a crash right after cannot hand the envelope out again.
        """

    async def note_blocked(self, share_id: str, now: float) -> None:
        """Count a reveal refused by the share's network allowlist or country rule. Never consumes."""

    async def new_upload(self, share_id: str) -> BlobUpload:
        """A place for a large envelope as it arrives (``share_id`` is checked base64url)."""

    async def create_streamed(self, secret: NewSecret, upload: BlobUpload, size: int) -> bool:
        """Store a new share whose ``size``-byte envelope is the completed ``upload``, in one step; False (and
        the upload discarded) if the id exists."""

    async def revoke(self, share_id: str, now: float) -> SecretState | None:
        """Revoke a pending share (drop its envelope). Return the state after the call, None if unknown."""

    async def sweep(self, now: float) -> int:
        """Drop envelopes of expired shares and tombstones older than TOMBSTONE_S; return rows touched."""

    async def stored_bytes(self) -> int:
        """The total size of the envelopes the store holds (for the storage budget)."""

    async def ping(self) -> None:
        """Raise if the store cannot be reached."""

    async def close(self) -> None:
        """Release connections and files."""


def describe_store(url: str) -> str:
    """The store URL as it may be shown: without any password."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url
