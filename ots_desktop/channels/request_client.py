"""The relay's secret-request endpoints from the client side: register, look, answer, open, status, revoke.

Every answer is checked field by field; every refusal becomes a :class:`LinkFailure` with a
sentence for people and a reason for the audit log. Nothing here logs a token, a proof or a body.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ots_desktop.channels import link_errors as errors
from ots_desktop.channels.link_errors import LinkFailure
from ots_desktop.channels.link_urls import check_share_id
from ots_desktop.channels.relay_answers import Answer, Json
from ots_desktop.channels.relay_client import Created, RelayClient
from ots_desktop.core.audit.events import Reason
from ots_desktop.core.errors import ExitCode
from ots_desktop.core.ids import b64u_encode
from ots_desktop.core.secret import SecretBuffer

REQUESTS = "/api/v1/requests"
_GONE = {"opened": "this request was answered and the answer has already been collected",
         "expired": "this request has expired: nothing can be sent to it any more",
         "revoked": "the requester withdrew this request: nothing can be sent to it any more"}  # fmt: skip
_GONE_REASONS = {"opened": Reason.ALREADY_CONSUMED, "expired": Reason.EXPIRED, "revoked": Reason.REVOKED}


@dataclass(frozen=True)
class RequestMeta:
    """What anyone holding the id may see. ``label_box`` is the sealed label; ``label`` is filled in
    by whoever holds the link (:meth:`~ots_desktop.core.request_box.RequestLink.open_label`)."""

    request_id: str
    label_box: str
    expires_at: str
    max_size: int
    label: str = ""


@dataclass(frozen=True)
class RequestStatus:
    """The requester's view of a request."""

    request_id: str
    state: str
    created_at: str
    expires_at: str
    answered_at: str | None
    answered_from: str | None
    ended_at: str | None
    refused_answers: int
    blocked_attempts: int


@dataclass(frozen=True)
class OpenedAnswer:
    """The answer, handed out once (the relay has deleted it)."""

    answer: bytes
    answered_at: str | None
    answered_from: str | None


def request_gone(request_id: str, state: str) -> LinkFailure:
    """The request has ended."""
    message = _GONE.get(state, f"the request {request_id} has ended (state {state!r})")
    return LinkFailure(_GONE_REASONS.get(state, Reason.ERROR), message, exit_code=ExitCode.NOT_FOUND, state=state)


def already_answered() -> LinkFailure:
    """A second answer: refused by the relay (and reported to the requester)."""
    return LinkFailure(Reason.SECOND_ANSWER, "this request was already answered; it takes one answer only, so "
                       "yours was not accepted (the requester is told that a second answer was tried)",
                       exit_code=ExitCode.NOT_FOUND, state="answered")


class RequestClient(RelayClient):
    """A relay client that also speaks the request endpoints."""

    def _ended(self, status: int, answer: Answer, request_id: str) -> None:
        if status == 404:
            raise LinkFailure(Reason.ERROR, f"the link relay at {self.url} does not know the request {request_id}: "
                              "the link is mistyped, or it ended more than 7 days ago", exit_code=ExitCode.NOT_FOUND)
        if status == 410:
            raise request_gone(request_id, str(answer.body.get("state", "")))
        if status == 409 and answer.code() == "already_answered":
            raise already_answered()

    def _owner(self, status: int, answer: Answer, headers: dict[str, str], request_id: str, what: str) -> None:
        if status in (401, 403):
            raise errors.unauthorized(self.url, request_id)
        self._ended(status, answer, request_id)
        self._common(status, answer, headers, request_id, what)

    async def register(self, request_id: str, *, proof_hash: str, key_hash: str, label_box: str, expires_in: int,
                       allow_cidrs: Sequence[str] = (), allow_countries: Sequence[str] = ()) -> Created:
        """Register a request; returns the id, the status token and the relay's expiry time."""
        check_share_id(request_id)
        body: Json = {"id": request_id, "proof_hash": proof_hash, "key_hash": key_hash, "expires_in": expires_in}
        if label_box:
            body["label_box"] = label_box
        if allow_cidrs:
            body["allow_cidrs"] = list(allow_cidrs)
        if allow_countries:
            body["allow_countries"] = list(allow_countries)
        status, answer, headers = await self._call("POST", REQUESTS, body=body, bearer=self.create_token())
        return self.check_created(status, answer, headers, request_id)

    async def request_meta(self, request_id: str) -> RequestMeta:
        """The sealed label and the expiry the answerer sees; changes nothing."""
        check_share_id(request_id)
        status, answer, headers = await self._call("GET", f"{REQUESTS}/{request_id}")
        self._ended(status, answer, request_id)
        self._common(status, answer, headers, request_id, "the look-up")
        if status != 200:
            raise errors.server_error(self.url, status)
        label_box = answer.get("label_box", str, optional=True) or ""
        return RequestMeta(request_id, label_box, answer.get("expires_at", str), answer.count("max_size"))

    async def answer(self, request_id: str, proof: SecretBuffer, sealed: bytes) -> None:
        """Post the one answer, with the request proof."""
        check_share_id(request_id)
        body: Json = {"request_proof": b64u_encode(proof), "answer": b64u_encode(sealed)}
        status, answer, headers = await self._call("POST", f"{REQUESTS}/{request_id}/answer", body=body)
        del body
        self._ended(status, answer, request_id)
        if status == 401 or answer.code() == "request_proof_required":
            raise errors.wrong_link(self.url)
        if status == 403:
            raise LinkFailure(Reason.BLOCKED_NETWORK, f"the link relay at {self.url} refuses answers from your "
                              "network address: the requester limited this request to certain networks or "
                              "countries. Nothing was sent; the requester can see this attempt.")
        if status == 413:
            max_size = answer.body.get("max_size")
            raise errors.too_large(self.url, max_size if isinstance(max_size, int) else None)
        if status == 400 and answer.code() == "bad_answer":
            raise errors.damaged(str(answer.body.get("error", "the relay refused the answer"))[:300])
        self._common(status, answer, headers, request_id, "the answer")
        if status != 201:
            raise errors.server_error(self.url, status)

    async def request_status(self, request_id: str, status_token: str) -> RequestStatus:
        """The requester's view: state, when and from where it was answered, refused and blocked attempts."""
        check_share_id(request_id)
        status, answer, headers = await self._call("GET", f"{REQUESTS}/{request_id}/status", bearer=status_token)
        if status in (401, 403):
            raise errors.unauthorized(self.url, request_id)
        self._common(status, answer, headers, request_id, "the status request")
        if status != 200:
            raise errors.server_error(self.url, status)
        return RequestStatus(
            request_id=request_id, state=answer.get("state", str),
            created_at=answer.get("created_at", str), expires_at=answer.get("expires_at", str),
            answered_at=answer.get("answered_at", str, optional=True),
            answered_from=answer.get("answered_from", str, optional=True),
            ended_at=answer.get("ended_at", str, optional=True), refused_answers=answer.count("refused_answers"),
            blocked_attempts=answer.count("blocked_attempts"))  # fmt: skip

    async def open_answer(self, request_id: str, status_token: str) -> OpenedAnswer | None:
        """The answer, once (None while nobody has answered)."""
        check_share_id(request_id)
        status, answer, headers = await self._call("POST", f"{REQUESTS}/{request_id}/open", bearer=status_token)
        if status == 409 and answer.code() == "not_answered":
            return None
        self._owner(status, answer, dict(headers), request_id, "the answer's collection")
        if status != 200:
            raise errors.server_error(self.url, status)
        return OpenedAnswer(answer.b64u("answer"), answer.get("answered_at", str, optional=True),
                            answer.get("answered_from", str, optional=True))

    async def revoke_request(self, request_id: str, status_token: str) -> tuple[str, bool]:
        """Withdraw a request. Returns ``(state, revoked_now)``."""
        check_share_id(request_id)
        status, answer, headers = await self._call("DELETE", f"{REQUESTS}/{request_id}", bearer=status_token)
        if status in (401, 403):
            raise errors.unauthorized(self.url, request_id)
        if status == 410:
            return answer.get("state", str), False
        self._common(status, answer, headers, request_id, "the revocation")
        if status != 200:
            raise errors.server_error(self.url, status)
        return answer.get("state", str), True
