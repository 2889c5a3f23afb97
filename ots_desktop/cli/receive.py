"""``ots receive``: take a secret by wormhole code or one-time link."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ots_desktop.cli.context import audit_log_in_background, installation
from ots_desktop.cli.link_options import ca_file_option
from ots_desktop.cli.output import emit_json, say, warn, write_secret
from ots_desktop.cli.state import cli_state, handle_errors
from ots_desktop.cli.terminal import have_terminal
from ots_desktop.cli.wormhole_options import (
    ProgressPrinter,
    ask_before_taking,
    confirm_on_tty,
    human_events,
    server_options,
    warn_plain_mailbox,
)
from ots_desktop.core.codes import check_code, rendezvous_of
from ots_desktop.core.errors import InputError
from ots_desktop.core.events import EventBus

ARGV_LINK_NOTE = ("ots: note: a link given as an argument can be read by every user of this machine (in the process "
                  "list) while ots runs. Paste it at the prompt of a bare `ots receive`, or pipe it in.")


def _read_code(code: str | None) -> str:
    if code:
        if "#" in code and "://" in code:
            warn(ARGV_LINK_NOTE)
        return code.strip()
    if sys.stdin.isatty():
        code = click.prompt("Wormhole code or link", err=True, hide_input=False)
    else:
        code = sys.stdin.readline()
    if not code or not code.strip():
        raise InputError("no code or link given: type it at the prompt, pipe it in, or (for a code) pass it as an "
                         "argument")
    return code.strip()


def _mailbox_for(code: str, given: str | None, as_json: bool) -> str | None:
    """The mailbox to meet on: --mailbox-url, else the one a scanned code names, else the configured one."""
    named = rendezvous_of(code)
    if named is not None and given is None:
        if not as_json:
            warn(f"The code names its own mailbox: {named}")
        return named
    if named is not None and named != given and not as_json:
        warn(f"The code names the mailbox {named}; using --mailbox-url {given} as given.")
    return given


@click.command()
@click.argument("code", required=False)
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False, exists=True), default=".",
              show_default=True, help="Folder for a received file or directory.")
@click.option("--output", type=click.Path(path_type=Path), default=None,
              help="Links: save what the link holds here (a folder, or a new file name) instead of printing it.")
@click.option("--passphrase-fd", type=click.IntRange(0), metavar="N",
              help="Links: read the link's passphrase from file descriptor N (otherwise asked on the terminal).")
@click.option("--verify", is_flag=True, help="Confirm the verification words before accepting.")
@click.option("--no-listen", is_flag=True, help="Use only the transit relay for files (no direct connection).")
@click.option("--accept-file", is_flag=True,
              help="Take a file or directory without asking (on a terminal, ots asks first, with name and size).")
@server_options
@ca_file_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON line for the result.")
@handle_errors()
def receive(code: str | None, out_dir: Path, output: Path | None, passphrase_fd: int | None, verify: bool,
            no_listen: bool, accept_file: bool, mailbox_url: str | None, transit_helper: str | None,
            timeout: float | None, ca_file: Path | None, as_json: bool) -> None:
    """Receive a secret by wormhole CODE or one-time LINK. Either may also come on stdin, to keep it out of
    shell history.

    Text goes to stdout; a file or directory is saved in --out (never overwriting).
    """
    from ots_desktop import runtime
    from ots_desktop.channels.link_urls import is_link
    from ots_desktop.channels.wormhole import ReceiveHooks, WormholeChannel

    the_code = _read_code(code)
    if is_link(the_code):
        wormhole_only = [name for name, value in (
            ("--verify", verify), ("--no-listen", no_listen), ("--mailbox-url", mailbox_url),
            ("--transit-helper", transit_helper), ("--timeout", timeout),
        ) if value]  # fmt: skip
        if wormhole_only:
            raise click.UsageError(f"{', '.join(wormhole_only)}: only for wormhole codes, not links")
        from ots_desktop.cli.link_receive import receive_link

        receive_link(the_code, out_dir=out_dir, output=output, passphrase_fd=passphrase_fd, as_json=as_json,
                     ca_file=ca_file)
        return
    if output is not None or passphrase_fd is not None or ca_file is not None:
        raise click.UsageError("--output, --passphrase-fd and --ca-file are for links; a wormhole code saves files "
                               "in --out")
    mailbox_url = _mailbox_for(the_code, mailbox_url, as_json)
    the_code = check_code(the_code)  # a malformed code is bad input, not a wrong guess to alert on
    install = installation()
    settings = install.wormhole_settings(mailbox_url=mailbox_url, transit_helper=transit_helper,
                                            peer_timeout_s=timeout)
    warn_plain_mailbox(settings.mailbox_url, as_json)
    bus = EventBus()
    if not as_json:
        bus.subscribe(human_events)
    hooks = ReceiveHooks(out_dir=out_dir, no_listen=no_listen, progress=ProgressPrinter(as_json),
                         confirm=confirm_on_tty("Does the sender see the same words?") if verify else None,
                         accept=None if accept_file or not have_terminal() else ask_before_taking)

    state = cli_state()

    async def main() -> object:
        async with audit_log_in_background(state, install) as log:
            return await WormholeChannel(settings, log, bus).receive(the_code, hooks)

    received = runtime.run_main(main)
    from ots_desktop.channels.wormhole import Received

    assert isinstance(received, Received)
    if received.text is not None:
        with received.text as text:
            if as_json:
                emit_json({"event": "received", "kind": "text", "size": len(text), "text": text.reveal_text()})
            else:
                write_secret(text)
        return
    if as_json:
        emit_json({"event": "received", "kind": "file", "path": str(received.path), "size": received.size})
    else:
        say(f"Saved {received.path} ({received.size:,} bytes)")
