"""``ots link``: the sender's view of the links this installation made: list, status, revoke, watch."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ots_desktop.cli.context import installation
from ots_desktop.cli.link_options import ca_file_option, link_channel, run, shares_file
from ots_desktop.cli.output import emit_json, say, warn
from ots_desktop.cli.state import handle_errors
from ots_desktop.core.audit.events import Reason
from ots_desktop.core.durations import parse_duration
from ots_desktop.core.errors import ExitCode, InputError
from ots_desktop.core.shares import ShareRecord

if TYPE_CHECKING:
    from ots_desktop.channels.relay_client import ShareStatus

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of text.")
_STATE_TEXT = {
    "pending": "pending: not opened yet",
    "revealed": "revealed: opened as many times as allowed; the secret is gone from the relay",
    "expired": "expired: never fully opened; the secret is gone from the relay",
    "revoked": "revoked: the secret is gone from the relay",
    "burned": "burned: destroyed after too many wrong passphrases",
}


def _share_id(ref: str) -> str:
    from ots_desktop.channels.link_urls import parse_share_ref

    return parse_share_ref(ref)[1]


def _status_json(record: ShareRecord, status: ShareStatus) -> dict[str, Any]:
    return {"event": "status", "id": status.share_id, "state": status.state, "created_at": status.created_at,
            "expires_at": status.expires_at, "ended_at": status.ended_at, "max_views": status.max_views,
            "views_left": status.views_left, "failed_attempts": status.failed_attempts,
            "blocked_attempts": status.blocked_attempts, "needs_passphrase": status.needs_passphrase,
            "reveals": [{"at": r.at, "from": r.remote_addr} for r in status.reveals],
            "recipient": record.recipient, "label": record.label, "relay": record.relay_url}


def _print_status(record: ShareRecord, status: ShareStatus) -> None:
    notes = [f"for {record.recipient}" if record.recipient else "", record.label or ""]
    about = "; ".join(n for n in notes if n)
    say(f"Share {status.share_id}" + (f" ({about})" if about else ""))
    say(f"  state:     {_STATE_TEXT.get(status.state, status.state)}")
    say(f"  created:   {status.created_at}")
    say(f"  expires:   {status.expires_at}")
    if status.ended_at:
        say(f"  ended:     {status.ended_at}")
    say(f"  views:     {status.max_views - status.views_left} of {status.max_views} used")
    for reveal in status.reveals:
        say(f"  revealed:  {reveal.at} from {reveal.remote_addr}")
    if status.needs_passphrase:
        say(f"  failed:    {status.failed_attempts} wrong passphrase attempt(s)")
    else:
        say(f"  failed:    {status.failed_attempts} attempt(s) with a damaged link")
    say(f"  blocked:   {status.blocked_attempts} attempt(s) from networks outside the allowlist")


@click.group()
def link() -> None:
    """The one-time links this installation made (needs the sender's local records)."""


@link.command("list")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True, help="At most this many.")
@json_option
@handle_errors()
def list_links(limit: int, as_json: bool) -> None:
    """The links made here, newest first (from the local records; no network)."""
    with shares_file(installation()) as shares:
        records = shares.list(limit=limit)
    for record in records:
        row = {"event": "share", "id": record.share_id, "created_at": record.created_at,
               "expires_at": record.expires_at, "max_views": record.max_views, "kind": record.kind,
               "recipient": record.recipient, "label": record.label, "relay": record.relay_url,
               "last_known_state": record.seen.state or "pending"}
        if as_json:
            emit_json(row)
        else:
            say("  ".join(str(row[k] or "-") for k in ("id", "created_at", "expires_at", "kind", "recipient",
                                                       "label", "last_known_state")))
    if not records and not as_json:
        say("No links made here yet.")


@link.command()
@click.argument("ref", metavar="LINK|ID")
@ca_file_option
@json_option
@handle_errors()
def status(ref: str, ca_file: Path | None, as_json: bool) -> None:
    """Show whether a link was opened (when, from where), expired, revoked or burned, and failed attempts."""
    share_id = _share_id(ref)
    with link_channel(ca_file) as channel:
        record, current = run(lambda: channel.status(share_id))
    if as_json:
        emit_json(_status_json(record, current))
    else:
        _print_status(record, current)


@link.command()
@click.argument("ref", metavar="LINK|ID")
@ca_file_option
@json_option
@handle_errors()
def revoke(ref: str, ca_file: Path | None, as_json: bool) -> None:
    """Revoke a link: the relay destroys the secret at once, unopened."""
    share_id = _share_id(ref)
    with link_channel(ca_file) as channel:
        _, state, revoked_now = run(lambda: channel.revoke(share_id))
    if as_json:
        emit_json({"event": "revoked" if revoked_now else "ended", "id": share_id, "state": state,
                   "revoked_now": revoked_now})
    elif revoked_now:
        say(f"Revoked {share_id}: the secret is gone from the relay, unopened.")
    else:
        say(f"{share_id} had already ended ({_STATE_TEXT.get(state, state)}); nothing to revoke.")


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> float:
    try:
        seconds = parse_duration(value)
    except InputError as exc:
        raise click.BadParameter(exc.message) from None
    if not 1 <= seconds <= 31 * 86400:
        raise click.BadParameter("must be between 1s and 31d")
    return float(seconds)


@link.command()
@click.argument("ref", metavar="LINK|ID")
@click.option("--timeout", default="10m", show_default=True, callback=_duration, metavar="DURATION",
              help="Give up after this long, like 90s, 10m or 2h.")
@click.option("--interval", type=click.FloatRange(0.2, 3600), default=2.0, show_default=True, metavar="S",
              help="Seconds between two looks at the relay.")
@ca_file_option
@json_option
@handle_errors()
def watch(ref: str, timeout: float, interval: float, ca_file: Path | None, as_json: bool) -> None:
    """Wait until a link is opened (or ends), reporting each reveal and failed or blocked attempt.

    Exits 0 once it was opened as many times as allowed, 7 if it expired, was revoked or burned
    first, and 14 if --timeout passes while it is still pending.
    """
    from ots_desktop.channels.link import WatchUpdate
    from ots_desktop.channels.link_errors import LinkFailure

    share_id = _share_id(ref)

    def update(item: WatchUpdate) -> None:
        current = item.status
        if item.kind == "revealed" and item.reveal is not None:
            if as_json:
                emit_json({"event": "revealed", "id": share_id, "at": item.reveal.at, "from": item.reveal.remote_addr,
                           "views_left": current.views_left})
            else:
                say(f"Revealed at {item.reveal.at} from {item.reveal.remote_addr} ({current.views_left} view(s) left)")
        elif item.kind in ("failed_attempts", "blocked_attempts"):
            if as_json:
                emit_json({"event": item.kind, "id": share_id, "new": item.count,
                           "total": current.failed_attempts if item.kind == "failed_attempts"
                           else current.blocked_attempts})
            elif item.kind == "failed_attempts":
                warn(f"ALERT: {item.count} new failed attempt(s) to open {share_id} (wrong passphrase or damaged "
                     f"link); {current.failed_attempts} in all")
            else:
                warn(f"ALERT: {item.count} new attempt(s) to open {share_id} from outside the allowed networks")
        elif item.kind == "ended":
            if as_json:
                emit_json({"event": "ended", "id": share_id, "state": current.state})
            else:
                say(f"Ended: {_STATE_TEXT.get(current.state, current.state)}")

    with link_channel(ca_file) as channel:
        final = run(lambda: channel.watch(share_id, timeout_s=timeout, on_update=update, interval_s=interval))
    if final.state != "revealed":
        reason = {"expired": Reason.EXPIRED, "revoked": Reason.REVOKED, "burned": Reason.BURNED}.get(final.state,
                                                                                                      Reason.ERROR)
        raise LinkFailure(reason, f"the share {share_id} ended without being opened: {final.state}",
                          exit_code=ExitCode.NOT_FOUND, state=final.state)
