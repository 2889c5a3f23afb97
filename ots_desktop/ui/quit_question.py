"""What the Quit question says about the work still going on (plain text, no Qt)."""

from __future__ import annotations


def _still(count: int, noun: str, single: str, plural: str) -> str:
    return f"{count} {noun} is still {single}" if count == 1 else f"{count} {noun}s are still {plural}"


def quit_question(links: int, requests: int, codes: int) -> str:
    """The question's text, or "" when nothing would be paused or cancelled by quitting.

    Links and requests live on the relay and keep working; only their receipts, notifications
    and answers wait for the app's next start. A transfer by code lives in this process.
    """
    parts = []
    waiting = []
    if links:
        waiting.append(_still(links, "one-time link", "waiting to be opened", "waiting to be opened"))
    if requests:
        waiting.append(_still(requests, "secret request", "waiting for its answer", "waiting for their answers"))
    if waiting:
        many = links + requests > 1
        parts.append(f"{' and '.join(waiting)}. {'They keep' if many else 'It keeps'} working, but receipts and "
                     "notifications pause while ots-desktop is closed; they catch up when it starts again.")
    if codes:
        parts.append(f"{codes} transfer{'s' if codes > 1 else ''} by code {'have' if codes > 1 else 'has'} not "
                     f"finished: quitting cancels {'them' if codes > 1 else 'it'}, and "
                     f"{'their codes stop' if codes > 1 else 'its code stops'} working.")
    return " ".join(parts)
