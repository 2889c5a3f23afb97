"""``ots audit forward``: send the audit log to the organisation's collector now, show its backlog, set its token."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from ots_desktop.cli.context import audit_log, installation, prompt_secret
from ots_desktop.cli.output import emit_json, say, warn
from ots_desktop.cli.state import cli_state, handle_errors
from ots_desktop.core.errors import ConfigError, ExitCode, InputError, OtsError
from ots_desktop.core.secret import SecretBuffer
from ots_desktop.installation import AUDIT_HTTP_TOKEN_ENTRY

if TYPE_CHECKING:
    from ots_desktop.forwarding.setup import ForwardStatus

MAX_TOKEN = 4096
NO_DESTINATION = ("no collector is set: set audit_syslog (tls://host:6514) or audit_http (an HTTP event collector's "
                  "URL) in config.toml, or OTS_AUDIT_SYSLOG / OTS_AUDIT_HTTP")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of text.")


class CollectorUnreachable(OtsError):
    """Entries are left in the spool because a collector could not be reached."""

    exit_code = ExitCode.SERVER_UNREACHABLE


def _when(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@click.group("forward", invoke_without_command=True)
@click.option("--status", "show_status", is_flag=True, help="Show the backlog, the last success and the last error.")
@click.option("--test", "send_test", is_flag=True, help="Send a test event (not an audit entry) to each collector.")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=60, show_default=True, metavar="SECONDS",
              help="How long to keep sending before giving up.")
@json_option
@click.pass_context
@handle_errors()
def forward(ctx: click.Context, show_status: bool, send_test: bool, timeout: float, as_json: bool) -> None:
    """Send every audit entry and checkpoint the collectors have not taken yet, now, and say what was sent.

    Every `ots` command and the app do this by themselves, in the background; this one waits
    for it and exits 13 when a collector could not be reached (the entries stay in the spool).
    """
    if ctx.invoked_subcommand is not None:
        return
    install = installation()
    from ots_desktop.forwarding.setup import forwarding_on, read_status, send_test_event

    if show_status:
        _print_status(read_status(install.config, install.paths), as_json, configured=forwarding_on(install.config))
        return
    if not forwarding_on(install.config):
        raise ConfigError(NO_DESTINATION, field="audit_syslog")
    if send_test:
        results = send_test_event(install.config, install.paths, install.audit_http_token)
        for url, error in results.items():
            if as_json:
                emit_json({"event": "test_event", "url": url, "delivered": error is None, "error": error})
            else:
                say(f"{url}: test event {'delivered' if error is None else 'NOT delivered: ' + error}")
        if any(results.values()):
            raise CollectorUnreachable("a collector did not take the test event")
        return
    with audit_log(cli_state(), install=install) as log:
        del log
        if install.forwarder is None:
            raise OtsError("forwarding could not start; run with the log level at warning to see why")
        deliveries = install.forwarder.flush(timeout)
    statuses = {s.dest: s for s in read_status(install.config, install.paths)}
    stuck = False
    for dest, sent in deliveries.items():
        left = statuses[dest].backlog if dest in statuses else 0
        stuck = stuck or bool(left and (sent.error or sent.skipped))
        if as_json:
            emit_json({"event": "forwarded", "dest": dest, "url": sent.url, "entries": sent.entries,
                       "first_seq": sent.first_seq or None, "last_seq": sent.last_seq or None,
                       "checkpoints": sent.checkpoints, "backlog": left, "error": sent.error or sent.skipped or None})
            continue
        span = f" (seq {sent.first_seq} to {sent.last_seq})" if sent.entries else ""
        say(f"{sent.url}: sent {sent.entries} entries{span} and {sent.checkpoints} checkpoints; {left} waiting")
        if sent.error or sent.skipped:
            warn(f"ots: {sent.error or sent.skipped}")
    if stuck:
        raise CollectorUnreachable("entries are waiting in the spool: a collector could not be reached; they are "
                                   "sent at the next start of ots or the app, or with `ots audit forward`")


def _print_status(statuses: list[ForwardStatus], as_json: bool, *, configured: bool) -> None:
    if not statuses:
        if as_json:
            emit_json({"event": "forward_status", "configured": configured, "destinations": 0})
        else:
            say("No collector is set (audit_syslog, audit_http in config.toml).")
        return
    for status in statuses:
        spooled = status.spooled
        retry = _when(spooled.next_attempt) if spooled.failures and spooled.next_attempt else None
        if as_json:
            emit_json({"event": "forward_status", "dest": status.dest, "url": status.url, "backlog": status.backlog,
                       "spooled": spooled.backlog, "not_spooled": status.unspooled, "sent": spooled.sent,
                       "last_seq": spooled.last_seq or None, "last_success": spooled.last_success or None,
                       "last_error": spooled.last_error or None, "last_error_at": spooled.last_error_at or None,
                       "failures": spooled.failures, "next_attempt": retry})
            continue
        say(f"{status.url} ({status.dest}): {status.backlog} waiting")
        say(f"  last success: {spooled.last_success or 'never'}"
            + (f" (up to entry {spooled.last_seq})" if spooled.last_seq else ""))
        if spooled.last_error:
            say(f"  last error:   {spooled.last_error_at}: {spooled.last_error}")
        if retry:
            say(f"  next try:     {retry} ({spooled.failures} failed attempts in a row)")


@forward.command("token")
@click.option("--delete", is_flag=True, help="Remove the stored token.")
@json_option
@handle_errors()
def token(delete: bool, as_json: bool) -> None:
    """Store the HTTP event collector's token in the OS keychain, read from stdin (never from arguments)."""
    install = installation()
    keychain = install.keychain()
    if delete:
        keychain.delete(AUDIT_HTTP_TOKEN_ENTRY)
        if as_json:
            emit_json({"event": "token_deleted"})
        else:
            say("The collector token was removed from the keychain.")
        return
    secret = (prompt_secret("Event collector token (not shown): ") if sys.stdin.isatty()
              else SecretBuffer.from_stream(sys.stdin.buffer, MAX_TOKEN))
    with secret:
        raw = bytes(secret.view()).strip()
        if not raw:
            raise InputError("no token was given on stdin")
        if any(b < 0x21 or b > 0x7E for b in raw):
            raise InputError("the token holds spaces or characters outside printable ASCII")
        keychain.set(AUDIT_HTTP_TOKEN_ENTRY, raw.decode("ascii"))
        del raw
    if as_json:
        emit_json({"event": "token_stored", "keychain": keychain.description})
    else:
        say(f"The collector token is stored in the {keychain.description}; it is sent only in the "
            "Authorization header.")
