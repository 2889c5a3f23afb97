"""``ots receive``: take a secret by wormhole code."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ots_desktop.cli.context import audit_log_in_background
from ots_desktop.cli.output import emit_json, say
from ots_desktop.cli.state import cli_state, handle_errors
from ots_desktop.cli.wormhole_options import (
    ProgressPrinter,
    confirm_on_tty,
    human_events,
    load_settings_config,
    server_options,
)
from ots_desktop.core.errors import InputError
from ots_desktop.core.events import EventBus


def _read_code(code: str | None) -> str:
    if code:
        return code.strip()
    if sys.stdin.isatty():
        code = click.prompt("Wormhole code", err=True)
    else:
        code = sys.stdin.readline()
    if not code or not code.strip():
        raise InputError("no code given: pass it as an argument or on stdin")
    return code.strip()


@click.command()
@click.argument("code", required=False)
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False, exists=True), default=".",
              show_default=True, help="Folder for a received file or directory.")
@click.option("--verify", is_flag=True, help="Confirm the verification words before accepting.")
@click.option("--no-listen", is_flag=True, help="Use only the transit relay for files (no direct connection).")
@server_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON line for the result.")
@handle_errors()
def receive(code: str | None, out_dir: Path, verify: bool, no_listen: bool, mailbox_url: str | None,
            transit_helper: str | None, timeout: float | None, as_json: bool) -> None:
    """Receive a secret. The CODE may also come on stdin, to keep it out of shell history.

    Text goes to stdout; a file or directory is saved in --out (never overwriting).
    """
    from ots_desktop import runtime
    from ots_desktop.channels.wormhole import ReceiveHooks, WormholeChannel, WormholeSettings

    the_code = _read_code(code)
    config = load_settings_config()
    settings = WormholeSettings.from_config(config, mailbox_url=mailbox_url, transit_helper=transit_helper,
                                            peer_timeout_s=timeout)
    bus = EventBus()
    if not as_json:
        bus.subscribe(human_events)
    hooks = ReceiveHooks(out_dir=out_dir, no_listen=no_listen, progress=ProgressPrinter(as_json),
                         confirm=confirm_on_tty("Does the sender see the same words?") if verify else None)

    state = cli_state()

    async def main() -> object:
        async with audit_log_in_background(state) as log:
            return await WormholeChannel(settings, log, bus).receive(the_code, hooks)

    received = runtime.run_main(main)
    from ots_desktop.channels.wormhole import Received

    assert isinstance(received, Received)
    if received.text is not None:
        with received.text as text:
            if as_json:
                emit_json({"event": "received", "kind": "text", "size": len(text), "text": text.reveal_text()})
            else:
                view = text.view()
                sys.stdout.buffer.write(view)
                view.release()
                if sys.stdout.isatty():
                    sys.stdout.buffer.write(b"\n")
                sys.stdout.flush()
        return
    if as_json:
        emit_json({"event": "received", "kind": "file", "path": str(received.path), "size": received.size})
    else:
        say(f"Saved {received.path} ({received.size:,} bytes)")
