"""How a one-time link can fail, each way with a plain message, a reason for the audit log and an exit code.

Messages name the relay by its base URL (without any user:password part) and the
share by its id; they never hold a token, a fragment key, a passphrase or any body
the relay sent.
"""

from __future__ import annotations

from ots_desktop.channels.failures import ChannelFailure
from ots_desktop.core.audit.events import Reason
from ots_desktop.core.errors import ExitCode

# The relay's `state` of a finished share -> the reason the audit log records.
GONE_REASONS = {
    "revealed": Reason.ALREADY_CONSUMED,
    "expired": Reason.EXPIRED,
    "revoked": Reason.REVOKED,
    "burned": Reason.BURNED,
}


class LinkFailure(ChannelFailure):
    """A link operation failed. ``reason`` goes to the audit log; some reasons are alerts.

    ``state`` is the relay's state of a finished share, ``attempts_left`` the passphrase
    tries left after a wrong one, ``retry_after`` the seconds a rate-limited client waits.
    """

    def __init__(self, reason: Reason, message: str, *, exit_code: ExitCode | None = None,
                 state: str | None = None, attempts_left: int | None = None,
                 retry_after: int | None = None) -> None:
        super().__init__(reason, message)
        if exit_code is not None:
            self.exit_code = exit_code
        self.state = state
        self.attempts_left = attempts_left
        self.retry_after = retry_after


def unreachable(url: str, detail: str) -> LinkFailure:
    """Connection refused, no such host, no answer in time."""
    return LinkFailure(Reason.SERVER_UNREACHABLE, f"the link relay is unreachable at {url}: {detail}")


def broken(url: str, detail: str) -> LinkFailure:
    """The connection broke off mid-answer."""
    return LinkFailure(Reason.TRANSFER_FAILED, f"the connection to the link relay at {url} broke off: {detail}")


def bad_answer(url: str, what: str) -> LinkFailure:
    """The relay answered, but not as the API says."""
    return LinkFailure(Reason.ERROR, f"the link relay at {url} sent an answer this version cannot use ({what}); "
                       "is it an ots server?")


def not_found(url: str, share_id: str) -> LinkFailure:
    """The relay does not know the share (never existed, mistyped, or forgotten a week after it ended)."""
    return LinkFailure(Reason.ERROR, f"the link relay at {url} does not know the share {share_id}: the link is "
                       "mistyped, or it ended more than 7 days ago", exit_code=ExitCode.NOT_FOUND)


def gone(share_id: str, state: str) -> LinkFailure:
    """The share has ended: revealed, expired, revoked or burned."""
    messages = {
        "revealed": "this link was already opened: its secret was revealed and is gone from the relay. If you "
                    "did not open it yourself, someone else did: tell the sender, who should change the secret.",
        "expired": "this link has expired: the secret was never revealed and is gone from the relay; ask the "
                   "sender for a new link",
        "revoked": "this link was revoked by its sender: the secret is gone from the relay",
        "burned": "this link was destroyed after too many wrong passphrases; ask the sender to share the secret "
                  "again (and to change it if it matters)",
    }
    reason = GONE_REASONS.get(state)
    if reason is None:
        return LinkFailure(Reason.ERROR, f"the share {share_id} has ended (state {state!r})",
                           exit_code=ExitCode.NOT_FOUND, state=state)
    return LinkFailure(reason, messages[state], state=state)


def wrong_auth(attempts_left: int, *, needs_passphrase: bool) -> LinkFailure:
    """The auth token did not match: a wrong passphrase, or a damaged link."""
    tries = f"{attempts_left} attempt{'s' if attempts_left != 1 else ''} left"
    if needs_passphrase:
        message = (f"wrong passphrase: {tries} before the relay destroys the secret. Nothing was revealed.")
    else:
        message = (f"the relay did not accept this link's key: the link is damaged (copy all of it, including the "
                   f"part after '#'); {tries} before the relay destroys the secret. Nothing was revealed.")
    return LinkFailure(Reason.WRONG_PASSPHRASE, message, attempts_left=attempts_left)


def wrong_link(url: str) -> LinkFailure:
    """The relay did not accept the link proof: the key in the link is not the one the share was made with."""
    return LinkFailure(Reason.DAMAGED, f"the link relay at {url} did not accept this link's key: the link is "
                       "damaged (copy all of it, including the part after '#'). Nothing was revealed or used up.")


def burned_now(*, needs_passphrase: bool) -> LinkFailure:
    """This wrong try was the last one: the relay destroyed the envelope."""
    what = "wrong passphrase" if needs_passphrase else "the relay did not accept this link's key"
    return LinkFailure(Reason.BURNED, f"{what}, and that was the last allowed try: the relay destroyed the secret. "
                       "Ask the sender to share it again.", exit_code=ExitCode.WRONG_CODE, state="burned",
                       attempts_left=0)


def blocked(url: str) -> LinkFailure:
    """The share's network allowlist does not include this client's address."""
    return LinkFailure(Reason.BLOCKED_NETWORK, f"the link relay at {url} refuses to reveal this secret to your "
                       "network address: the sender limited it to certain networks. Nothing was revealed; the "
                       "sender can see this attempt.")


def blocked_country(url: str) -> LinkFailure:
    """The share's country rule does not include the country of this client's address."""
    return LinkFailure(Reason.BLOCKED_NETWORK, f"the link relay at {url} refuses to reveal this secret to your "
                       "network address: it is not from an allowed country (the sender limited it to certain "
                       "countries). Nothing was revealed; the sender can see this attempt.")


def no_country_rules(url: str) -> LinkFailure:
    """The relay has no country database, so a link cannot be limited to countries there."""
    return LinkFailure(Reason.ERROR, f"the link relay at {url} cannot limit links to countries (it has no country "
                       "database; its operator can add one with ots server --geoip-db). Nothing was shared; leave "
                       "out the allowed countries or use another relay")


def rate_limited(url: str, retry_after: int | None) -> LinkFailure:
    """Too many requests from this address."""
    when = f" in {retry_after} s" if retry_after is not None else " later"
    return LinkFailure(Reason.ERROR, f"the link relay at {url} is limiting requests from this address; try "
                       f"again{when}", retry_after=retry_after)


def too_large(url: str, max_size: int | None) -> LinkFailure:
    """The envelope is over the relay's size limit."""
    limit = f" of {max_size:,} bytes" if max_size is not None else ""
    return LinkFailure(Reason.TOO_LARGE, f"the secret is too large for the link relay at {url} (over its limit"
                       f"{limit} once encrypted); send it by wormhole instead (--via wormhole)")


class StreamingUnsupported(LinkFailure):
    """The relay predates streamed envelopes (a sender may still fit a smaller one into JSON)."""


def no_streaming(url: str) -> LinkFailure:
    """The relay predates streamed envelopes, so it takes only what fits in one JSON request."""
    return StreamingUnsupported(Reason.TOO_LARGE, f"the link relay at {url} is a version that takes no streamed "
                                "uploads, so it cannot park a secret this large; send it by wormhole instead "
                                "(--via wormhole), or ask the relay's operator to update")


def create_token_refused(url: str, code: str | None) -> LinkFailure:
    """A closed relay wants a create token, and got none or a wrong one."""
    what = "did not accept this create token" if code == "wrong_create_token" else "creates links only with a token"
    return LinkFailure(Reason.ERROR, f"the link relay at {url} {what}: set OTS_RELAY_TOKEN to the token its "
                       "operator gave you (or keep it in the keychain as this installation's relay_token)")


def storage_full(url: str, retry_after: int | None) -> LinkFailure:
    """The relay's storage budget is used up."""
    when = f" in {retry_after} s" if retry_after is not None else " later"
    return LinkFailure(Reason.ERROR, f"the link relay at {url} has no room for new secrets right now; try again"
                       f"{when}, or send it by wormhole (--via wormhole)", retry_after=retry_after)


def refused(url: str, what: str, code: str | None = None) -> LinkFailure:
    """The relay refused a request this client thought valid."""
    detail = f" ({code})" if code else ""
    return LinkFailure(Reason.ERROR, f"the link relay at {url} refused {what}{detail}")


def unauthorized(url: str, share_id: str) -> LinkFailure:
    """The relay did not accept our status token."""
    return LinkFailure(Reason.ERROR, f"the link relay at {url} did not accept this installation's status token "
                       f"for the share {share_id}")


def server_error(url: str, status: int) -> LinkFailure:
    """A 5xx or another status the API does not list."""
    return LinkFailure(Reason.ERROR, f"the link relay at {url} answered HTTP {status}; try again later")


def damaged(detail: str) -> LinkFailure:
    """The envelope the relay handed out cannot be opened."""
    return LinkFailure(Reason.DAMAGED, detail)


def timed_out(waited_s: float, what: str) -> LinkFailure:
    """A wait (``watch``) ran out."""
    return LinkFailure(Reason.TIMEOUT, f"timed out after {waited_s:g} s waiting for {what}")
