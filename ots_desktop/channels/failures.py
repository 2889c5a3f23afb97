"""The few ways a transfer can fail, each with a plain message and an exit code.

magic-wormhole and Twisted raise many exception types; :func:`translate` folds them
into :class:`ChannelFailure` so callers (CLI, GUI, audit) deal with one small set.
"""

from __future__ import annotations

import asyncio

from ots_desktop.core.audit.events import Reason
from ots_desktop.core.errors import OtsError
from ots_desktop.core.failures import ALERT_REASONS, exit_code_for


class ChannelFailure(OtsError):
    """A transfer ended without success. ``reason`` is what the audit log records."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.exit_code = exit_code_for(reason)

    @property
    def is_alert(self) -> bool:
        """Whether this failure may mean an attack (and so raises an alert)."""
        return self.reason in ALERT_REASONS


def wrong_code() -> ChannelFailure:
    """Both sides hold different codes: a typo, or someone guessing."""
    return ChannelFailure(Reason.WRONG_CODE, "the code did not match: the other side typed a different code, or "
                          "someone tried to guess it. This code is now dead and nothing was revealed; start again "
                          "with a new code.")


def peer_never_came(waited_s: float) -> ChannelFailure:
    """Nobody used the code in time."""
    return ChannelFailure(Reason.PEER_NEVER_CAME, f"nobody used the code within {waited_s:g} s; the secret was not "
                          "sent.")


def crowded() -> ChannelFailure:
    """A third party touched the code."""
    return ChannelFailure(Reason.CROWDED, "a third party joined this code (the mailbox says it is crowded); the "
                          "transfer was stopped and nothing was revealed. Start again with a new code.")


def unreachable(url: str, detail: str) -> ChannelFailure:
    """The mailbox server cannot be reached."""
    return ChannelFailure(Reason.SERVER_UNREACHABLE, f"cannot reach the wormhole mailbox at {url}: {detail}")


def timed_out(waited_s: float, what: str) -> ChannelFailure:
    """A wait ran out."""
    return ChannelFailure(Reason.TIMEOUT, f"timed out after {waited_s:g} s waiting for {what}")


def cancelled() -> ChannelFailure:
    """The user stopped it."""
    return ChannelFailure(Reason.CANCELLED, "cancelled; nothing more will be sent or received")


def transfer_failed(detail: str) -> ChannelFailure:
    """The peer or the connection broke off mid-transfer."""
    return ChannelFailure(Reason.TRANSFER_FAILED, f"the transfer failed: {detail}")


def translate(exc: BaseException, *, url: str) -> ChannelFailure:
    """Map a wormhole, Twisted or asyncio exception to a :class:`ChannelFailure`."""
    if isinstance(exc, ChannelFailure):
        return exc
    from wormhole import errors as werr

    if isinstance(exc, werr.WrongPasswordError):
        return wrong_code()
    if isinstance(exc, werr.ServerError):
        if "crowded" in str(exc).lower():
            return crowded()
        return ChannelFailure(Reason.ERROR, f"the wormhole mailbox refused: {exc}")
    if isinstance(exc, werr.ServerConnectionError):
        return unreachable(url, str(exc.reason) or type(exc.reason).__name__)
    if isinstance(exc, werr.KeyFormatError):
        return ChannelFailure(Reason.WRONG_CODE, "that is not a valid wormhole code (expected a number and words, "
                              "like 7-crossover-clockwork)")
    if isinstance(exc, werr.LonelyError):
        return ChannelFailure(Reason.PEER_NEVER_CAME, "the other side never connected")
    if isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt)):
        return cancelled()
    if isinstance(exc, werr.TransferError):
        return transfer_failed(str(exc))
    # Only the type: an arbitrary exception's text could quote data it was handling.
    return transfer_failed(type(exc).__name__)
