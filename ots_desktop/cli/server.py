"""``ots server``: host a Magic Wormhole mailbox server and transit relay."""

from __future__ import annotations

from pathlib import Path

import click

from ots_desktop.cli.output import emit_json, say, warn
from ots_desktop.cli.state import handle_errors
from ots_desktop.core.paths import app_paths
from ots_desktop.runtime import run_main
from ots_desktop.server.app import ServerInfo, serve
from ots_desktop.server.wormhole_services import is_loopback

_WILDCARDS = ("0.0.0.0", "::")  # noqa: S104 - names we recognise, not an address we bind by default


def default_data_dir() -> Path:
    """Where the server keeps its channel database unless ``--data-dir`` says otherwise."""
    return app_paths().state_dir / "server"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback needs TLS (wss) in front.")
@click.option("--port", type=click.IntRange(0, 65535), default=4000, show_default=True,
              help="Mailbox (websocket) port; 0 picks any free port.")
@click.option("--transit-port", type=click.IntRange(0, 65535), default=4001, show_default=True,
              help="Transit relay port; 0 picks any free port.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for the channel database (default: 'server' in the app's state directory).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON 'ready' line once listening.")
@handle_errors()
def server(host: str, port: int, transit_port: int, data_dir: Path | None, as_json: bool) -> None:
    """Run a self-hosted Magic Wormhole mailbox server and transit relay until stopped.

    Stop it with Ctrl+C or SIGTERM.
    """
    if port != 0 and port == transit_port:
        raise click.UsageError("--port and --transit-port must differ")
    if not is_loopback(host):
        warn(f"ots: warning: listening on {host}, which is not a loopback address. The mailbox speaks plain "
             "ws:// and the relay plain TCP; put a TLS proxy (wss://) in front of the mailbox before clients "
             "on other machines use it.")
    directory = data_dir if data_dir is not None else default_data_dir()

    def ready(info: ServerInfo) -> None:
        if as_json:
            emit_json({"event": "ready", "mailbox_url": info.mailbox_url, "transit_helper": info.transit_helper,
                       "mailbox_port": info.mailbox_port, "transit_port": info.transit_port,
                       "data_dir": str(info.data_dir)})
        else:
            _print_ready(info)

    run_main(lambda: serve(host, port, transit_port, directory, ready))


def _print_ready(info: ServerInfo) -> None:
    url, helper = info.mailbox_url, info.transit_helper
    say(f"Mailbox server:  {url}")
    say(f"Transit relay:   {helper}")
    say(f"Data directory:  {info.data_dir}")
    if info.host in _WILDCARDS:
        say(f"(listening on every interface: clients use this machine's name or address instead of {info.host})")
    say("")
    say("Point clients at it:")
    say(f"  ots send --mailbox-url {url} --transit-helper {helper}")
    say(f"  wormhole --relay-url {url} --transit-helper {helper} send")
    say(f"  export OTS_MAILBOX_URL={url} OTS_TRANSIT_HELPER={helper}")
    say("")
    say("Press Ctrl+C to stop.")
