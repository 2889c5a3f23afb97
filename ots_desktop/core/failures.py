"""One vocabulary of failure for every channel: each reason's exit code, and which reasons are alerts.

A wormhole transfer and a one-time link fail in different ways, but the person, the
script and the audit log see one set of reasons (:class:`~ots_desktop.core.audit.events.Reason`),
one exit code per reason, and one rule for what may mean an attack.
"""

from __future__ import annotations

from ots_desktop.core.audit.events import Reason
from ots_desktop.core.errors import ExitCode

EXIT_CODES: dict[Reason, ExitCode] = {
    Reason.WRONG_CODE: ExitCode.WRONG_CODE,
    Reason.WRONG_PASSPHRASE: ExitCode.WRONG_CODE,
    Reason.PEER_NEVER_CAME: ExitCode.PEER_NEVER_CAME,
    Reason.CROWDED: ExitCode.CROWDED,
    Reason.SERVER_UNREACHABLE: ExitCode.SERVER_UNREACHABLE,
    Reason.TIMEOUT: ExitCode.TIMEOUT,
    Reason.TRANSFER_FAILED: ExitCode.TRANSFER_FAILED,
    Reason.DAMAGED: ExitCode.TRANSFER_FAILED,
    Reason.UNSAFE_PATH: ExitCode.UNSAFE_PATH,
    Reason.REJECTED: ExitCode.REJECTED,
    Reason.BLOCKED_NETWORK: ExitCode.REJECTED,
    Reason.TOO_LARGE: ExitCode.INPUT,
    Reason.ALREADY_CONSUMED: ExitCode.NOT_FOUND,
    Reason.SECOND_ANSWER: ExitCode.NOT_FOUND,
    Reason.EXPIRED: ExitCode.NOT_FOUND,
    Reason.REVOKED: ExitCode.NOT_FOUND,
    Reason.BURNED: ExitCode.NOT_FOUND,
    Reason.CANCELLED: ExitCode.CANCELLED,
    Reason.ERROR: ExitCode.ERROR,
}

# A wrong code or passphrase may be a guess; a crowded code, a refused network, a link already
# opened or destroyed may mean someone else got there first.
ALERT_REASONS = frozenset({Reason.WRONG_CODE, Reason.CROWDED, Reason.WRONG_PASSPHRASE, Reason.BLOCKED_NETWORK,
                           Reason.ALREADY_CONSUMED, Reason.BURNED, Reason.SECOND_ANSWER})


# Failures of the network or of patience: the same code can simply be tried again.
RETRY_REASONS = frozenset({Reason.SERVER_UNREACHABLE, Reason.TIMEOUT, Reason.PEER_NEVER_CAME,
                           Reason.TRANSFER_FAILED})


def exit_code_for(reason: Reason) -> ExitCode:
    """The exit code of a failure with ``reason`` (a broken transfer when it has none of its own)."""
    return EXIT_CODES.get(reason, ExitCode.TRANSFER_FAILED)
