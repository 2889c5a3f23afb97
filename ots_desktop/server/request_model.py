"""What the relay keeps of a secret request, and the interface both request stores implement.

Per request: the SHA-256 of the request proof (derived from the link's fragment, which the
relay never sees), the SHA-256 of the request's public key, the SHA-256 of the requester's
status token, the label sealed for link holders (``label_box``, opaque: the relay cannot
read it), the policy (expiry, networks, countries),
the counters, and once answered the answer (ciphertext only) until the requester fetches
it. Nothing here can decrypt an answer: the private key never leaves the requester.

Every change is atomic in the store: exactly one answer is accepted, and the answer is
handed out once (claim first, then serve) and deleted in the same step.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from ots_desktop.core.request_box import MAX_LABEL_BOX_LEN
from ots_desktop.server.link_model import TOMBSTONE_S

__all__ = ["MAX_LABEL_BOX_LEN", "TOMBSTONE_S", "AnswerOutcome", "NewRequest", "RequestInfo", "RequestState",
           "RequestStore"]


class RequestState(StrEnum):
    """Where a request is in its life. Only ``answered`` holds an answer."""

    PENDING = "pending"
    ANSWERED = "answered"
    OPENED = "opened"
    EXPIRED = "expired"
    REVOKED = "revoked"


LIVE = (RequestState.PENDING, RequestState.ANSWERED)


@dataclass(frozen=True)
class NewRequest:
    """A request as the API hands it to :meth:`RequestStore.create`."""

    id: str
    label_box: str
    proof_hash: str
    key_hash: str
    status_hash: str
    created_at: float
    expires_at: float
    allow_cidrs: tuple[str, ...] = ()
    allow_countries: tuple[str, ...] = ()


@dataclass(frozen=True)
class RequestInfo:
    """A request as stored, without the answer, with its state as of ``now``."""

    id: str
    state: RequestState
    label_box: str
    proof_hash: str
    key_hash: str
    status_hash: str
    created_at: float
    expires_at: float
    allow_cidrs: tuple[str, ...]
    allow_countries: tuple[str, ...]
    answered_at: float | None = None
    answered_from: str | None = None
    ended_at: float | None = None
    refused_answers: int = 0
    blocked_attempts: int = 0


def state_at(state: str, expires_at: float, now: float) -> RequestState:
    """A stored state as of ``now``: a live request past its expiry is expired."""
    current = RequestState(state)
    return RequestState.EXPIRED if current in LIVE and now >= expires_at else current


class AnswerOutcome(StrEnum):
    """What :meth:`RequestStore.answer` and :meth:`RequestStore.open` did."""

    DONE = "done"  # the answer was stored, or handed out and deleted
    ALREADY_ANSWERED = "already_answered"  # answer: a second answer, refused and counted
    NOT_ANSWERED = "not_answered"  # open: nothing to hand out yet
    GONE = "gone"  # expired, revoked or opened
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class StoreResult:
    """An outcome, the state the request was found in, and for a successful open the answer."""

    outcome: AnswerOutcome
    state: RequestState | None = None
    answer: bytes | None = None
    answered_at: float | None = None
    answered_from: str | None = None


class RequestStore(Protocol):
    """Storage of secret requests; every method is atomic."""

    name: str

    async def create(self, request: NewRequest) -> bool:
        """Store a new request; False if the id is taken."""

    async def info(self, request_id: str, now: float) -> RequestInfo | None:
        """The request (None if unknown or forgotten). Changes nothing."""

    async def answer(self, request_id: str, answer: bytes, ip: str, now: float) -> StoreResult:
        """Keep ``answer`` if the request is pending; count a second answer as refused."""

    async def open(self, request_id: str, now: float) -> StoreResult:
        """Hand out the answer once and delete it: the request becomes ``opened``."""

    async def note_blocked(self, request_id: str, now: float) -> None:
        """Count an answer refused for its network or country."""

    async def revoke(self, request_id: str, now: float) -> RequestState | None:
        """End a live request (deleting any answer); return the state after, None if unknown."""

    async def stored_bytes(self) -> int:
        """The total size of the answers held (counted in the relay's storage budget)."""

    async def sweep(self, now: float) -> int:
        """Expire live requests past their expiry (deleting answers), forget old ended ones."""

    async def close(self) -> None:
        """Release the store."""
