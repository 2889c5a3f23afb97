"""``ots request``: ask someone for a secret with a one-time request link, and collect the answer.

``ots request`` makes the request and prints the link; ``ots request watch|open|status|list|revoke ID``
follow it. The answer is encrypted to a key pair made for this request alone, whose private
key waits in the keychain until the request ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ots_desktop.cli.context import audit_log, installation
from ots_desktop.cli.link_options import ca_file_option, run
from ots_desktop.cli.link_send import _countries, _expiry
from ots_desktop.cli.output import emit_json, say, warn, write_secret
from ots_desktop.cli.state import cli_state, handle_errors
from ots_desktop.core import private_files
from ots_desktop.core.policy import LinkPolicy, check_note
from ots_desktop.core.request_records import RequestRecords

if TYPE_CHECKING:
    from ots_desktop.channels.request_client import OpenedAnswer, RequestClient, RequestStatus
    from ots_desktop.core.audit.keystore import KeyStore
    from ots_desktop.core.audit.log import AuditLog
    from ots_desktop.core.envelope import Opened

T = TypeVar("T")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of text.")
_STATE_TEXT = {"pending": "pending: not answered yet", "answered": "answered: waiting for you to open it",
               "opened": "opened: the answer was collected and is gone from the relay",
               "expired": "expired: the relay holds nothing for it any more",
               "revoked": "revoked: the relay holds nothing for it any more"}  # fmt: skip
_NOTICES = {"answered": "Answered{at}{where}.", "second_answer": "ALERT: someone tried to answer {id} again; the "
            "relay refused it (only the first answer counts).", "blocked": "ALERT: an answer to {id} came from a "
            "network the request does not allow; the relay refused it.", "ended": "Ended: {state}."}


def requests_path() -> Path:
    """The requests file of this installation."""
    return installation().paths.data_dir / "requests.sqlite3"


@contextlib.contextmanager
def requester(relay: str | None = None, ca_file: Path | None = None,
              base_url: str | None = None) -> Iterator[tuple[RequestClient, AuditLog, KeyStore, RequestRecords]]:
    """The relay client, audit log, key store and requests file for one command."""
    from ots_desktop.channels.request_client import RequestClient

    install = installation()
    url = base_url or install.relay_url(relay)
    ca = install.ca_file(ca_file)
    with audit_log(cli_state(), install=install) as log, RequestRecords.open(requests_path()) as records:
        client = RequestClient(url, ca_file=ca, create_token=install.relay_token)
        yield client, log, log.keystore, records


def call(client: RequestClient, make: Callable[[], Awaitable[T]]) -> T:
    """Run one command's coroutine with ``client``, closing its HTTP session on the same loop."""

    async def main() -> T:
        async with client:
            return await make()

    return run(main)


def _base_of(request_id: str) -> str:
    from ots_desktop.channels.link_urls import check_share_id

    with RequestRecords.open(requests_path()) as records:
        record = records.get(check_share_id(request_id))
    if record is None:
        from ots_desktop.core.errors import InputError

        raise InputError(f"no request {request_id} was made with this installation (see `ots request list`)")
    return record.relay_url


def _notifier(as_json: bool, request_id: str) -> Any:
    def notify(what: str, status: RequestStatus) -> None:
        if as_json:
            emit_json({"event": {"answered": "answered", "second_answer": "alert", "blocked": "alert",
                                 "ended": status.state}[what], "id": request_id, "reason": what,
                       "at": status.answered_at, "from": status.answered_from})
            return
        text = _NOTICES[what].format(id=request_id, state=_STATE_TEXT.get(status.state, status.state),
                                     at=f" at {status.answered_at}" if status.answered_at else "",
                                     where=f" from {status.answered_from}" if status.answered_from else "")
        warn(text)  # stdout carries only the secret

    return notify


def _deliver(opened: Opened, fetched: OpenedAnswer, output: Path | None, as_json: bool, request_id: str) -> None:
    """Print a text answer, or save a file answer (never overwriting)."""
    from ots_desktop.channels.safe_files import check_name, create_unique

    with opened:
        kind = str(opened.meta.get("type", "text"))
        saved: Path | None = None
        if kind == "file" or output is not None:
            name = check_name(opened.meta.get("name", "secret.bin" if kind == "file" else "secret.txt"))
            target = output if output is not None and not output.is_dir() else None
            if target is not None:
                saved = target
                handle = private_files.private_stream(target, exclusive=True)
            else:
                saved = create_unique(output or Path.cwd(), name)
                handle = private_files.private_stream(saved, create=False)
            with handle:
                handle.write(opened.plaintext.view())
        if as_json:
            emit_json({"event": "opened", "id": request_id, "type": kind, "saved_to": str(saved) if saved else None,
                       "answered_at": fetched.answered_at, "from": fetched.answered_from})
        if saved is None:
            write_secret(opened.plaintext)
        elif not as_json:
            warn(f"Saved the answer to {saved}")


@click.group(invoke_without_command=True)
@click.option("--label", default="", help="What you ask for, shown to the person who answers (and in the audit "
              "log), like 'Staging DB password for the migration'.")
@click.option("--recipient", help="Who you ask (audit log).")
@click.option("--expire", metavar="DURATION", help="How long the request lives, 5m to 30d (default 1h, or "
              "link_expiry_s).")
@click.option("--allow-cidr", "allow_cidrs", multiple=True, metavar="CIDR",
              help="Only accept an answer from this network (repeatable), like 10.0.0.0/8.")
@click.option("--allow-country", "allow_countries", multiple=True, metavar="CODES",
              help="Only accept an answer from these countries, like DE,FR (the relay needs a country database).")
@click.option("--relay", metavar="URL", help="Link relay, like https://ots.example.com (or OTS_RELAY_URL).")
@ca_file_option
@json_option
@click.pass_context
@handle_errors()
def request(ctx: click.Context, label: str, recipient: str | None, expire: str | None, allow_cidrs: tuple[str, ...],
            allow_countries: tuple[str, ...], relay: str | None, ca_file: Path | None, as_json: bool) -> None:
    """Ask someone for a secret: prints a one-time link they answer from any browser (or `ots answer`).

    Only this installation can open the answer. Then `ots request watch ID` waits for it.
    """
    if ctx.invoked_subcommand is not None:
        return
    from ots_desktop.channels.request_flow import make_request

    label = (check_note(label, "label") or "") if label else ""
    recipient = check_note(recipient, "recipient") if recipient else None
    config = installation().config
    policy = LinkPolicy(expires_in=_expiry(expire, config.link_expiry_s), max_views=1,
                        allow_cidrs=tuple(allow_cidrs), allow_countries=_countries(allow_countries)).checked()
    with requester(relay, ca_file) as (client, log, keystore, records):
        made = call(client, lambda: make_request(client, log, keystore, records, label=label, recipient=recipient,
                                        expires_in=policy.expires_in, allow_cidrs=policy.allow_cidrs,
                                        allow_countries=policy.allow_countries))
    if as_json:
        emit_json({"event": "request", "id": made.request_id, "link": made.link, "expires_at": made.expires_at,
                   "relay": made.relay_url, "label": label or None})
        return
    warn(f"Request link (one answer, expires at {made.expires_at}); send it to the person who has the secret:")
    say(made.link)
    warn(f"Then: ots request watch {made.request_id}")


@request.command("list")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True, help="At most this many.")
@json_option
@handle_errors()
def list_requests(limit: int, as_json: bool) -> None:
    """The requests made here, newest first (from the local records; no network)."""
    with RequestRecords.open(requests_path()) as records:
        rows = records.list(limit=limit)
    for record in rows:
        row = {"event": "request", "id": record.request_id, "created_at": record.created_at,
               "expires_at": record.expires_at, "label": record.label, "recipient": record.recipient,
               "relay": record.relay_url, "last_known_state": record.seen_state}
        if as_json:
            emit_json(row)
        else:
            say("  ".join(str(row[k] or "-") for k in ("id", "created_at", "expires_at", "recipient", "label",
                                                       "last_known_state")))
    if not rows and not as_json:
        say("No requests made here yet.")


@request.command()
@click.argument("request_id", metavar="ID")
@ca_file_option
@json_option
@handle_errors()
def status(request_id: str, ca_file: Path | None, as_json: bool) -> None:
    """Whether the request was answered (when, from where), refused answers and blocked attempts."""
    from ots_desktop.channels.request_flow import request_status

    with requester(ca_file=ca_file, base_url=_base_of(request_id)) as (client, log, keystore, records):
        record, current = call(client, lambda: request_status(client, log, keystore, records, request_id,
                                                     _notifier(as_json, request_id)))
    if as_json:
        emit_json({"event": "status", "id": request_id, "state": current.state, "label": record.label,
                   "created_at": current.created_at, "expires_at": current.expires_at,
                   "answered_at": current.answered_at, "answered_from": current.answered_from,
                   "ended_at": current.ended_at, "refused_answers": current.refused_answers,
                   "blocked_attempts": current.blocked_attempts, "recipient": record.recipient})
        return
    say(f"Request {request_id}" + (f" ({record.label})" if record.label else ""))
    say(f"  state:     {_STATE_TEXT.get(current.state, current.state)}")
    say(f"  expires:   {current.expires_at}")
    if current.answered_at:
        say(f"  answered:  {current.answered_at} from {current.answered_from}")
    say(f"  refused:   {current.refused_answers} second answer attempt(s)")
    say(f"  blocked:   {current.blocked_attempts} answer(s) from networks not allowed")


def _output_option(func: Any) -> Any:
    return click.option("--output", type=click.Path(path_type=Path), default=None,
                        help="Save the answer here (a folder, or a new file name) instead of printing a text.")(func)


@request.command("open")
@click.argument("request_id", metavar="ID")
@_output_option
@ca_file_option
@json_option
@handle_errors()
def open_command(request_id: str, output: Path | None, ca_file: Path | None, as_json: bool) -> None:
    """Collect the answer (once: the relay deletes it) and print it, or save a file."""
    from ots_desktop.channels.request_flow import open_request
    from ots_desktop.core.errors import ExitCode, OtsError

    with requester(ca_file=ca_file, base_url=_base_of(request_id)) as (client, log, keystore, records):
        result = call(client, lambda: open_request(client, log, keystore, records, request_id))
    if result is None:
        error = OtsError(f"nobody has answered the request {request_id} yet (wait with `ots request watch`)")
        error.exit_code = ExitCode.NOT_FOUND
        raise error
    _deliver(*result, output, as_json, request_id)


@request.command()
@click.argument("request_id", metavar="ID")
@click.option("--timeout", default="1h", show_default=True, metavar="DURATION",
              help="Give up after this long, like 90s, 10m or 2h.")
@click.option("--interval", type=click.FloatRange(0.2, 3600), default=2.0, show_default=True, metavar="S",
              help="Seconds between two looks at the relay.")
@_output_option
@ca_file_option
@json_option
@handle_errors()
def watch(request_id: str, timeout: str, interval: float, output: Path | None, ca_file: Path | None,
          as_json: bool) -> None:
    """Wait for the answer, then print it (or save a file); alerts on refused answers as they come."""
    from ots_desktop.channels.request_flow import watch_request
    from ots_desktop.core.durations import parse_duration

    wait_s = float(parse_duration(timeout))
    with requester(ca_file=ca_file, base_url=_base_of(request_id)) as (client, log, keystore, records):
        opened, fetched = call(client, lambda: watch_request(
            client, log, keystore, records, request_id, timeout_s=wait_s, interval_s=interval,
            notify=_notifier(as_json, request_id)))
    _deliver(opened, fetched, output, as_json, request_id)


@request.command()
@click.argument("request_id", metavar="ID")
@ca_file_option
@json_option
@handle_errors()
def revoke(request_id: str, ca_file: Path | None, as_json: bool) -> None:
    """Withdraw the request: the relay refuses answers and deletes any answer; the key is erased."""
    from ots_desktop.channels.request_flow import revoke_request

    with requester(ca_file=ca_file, base_url=_base_of(request_id)) as (client, log, keystore, records):
        state, revoked_now = call(client, lambda: revoke_request(client, log, keystore, records, request_id))
    if as_json:
        emit_json({"event": "revoked" if revoked_now else "ended", "id": request_id, "state": state,
                   "revoked_now": revoked_now})
    elif revoked_now:
        say(f"Revoked {request_id}: the relay takes no answer and holds nothing for it.")
    else:
        say(f"{request_id} had already ended ({_STATE_TEXT.get(state, state)}).")

