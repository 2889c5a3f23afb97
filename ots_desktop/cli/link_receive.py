"""``ots receive LINK``: open a one-time link; text to stdout, a file into a folder."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ots_desktop.channels.link_errors import LinkFailure
from ots_desktop.cli.context import audit_log, installation
from ots_desktop.cli.link_options import ask_passphrase, passphrase_from_fd, run
from ots_desktop.cli.output import emit_json, say, warn, write_secret
from ots_desktop.cli.state import cli_state
from ots_desktop.cli.terminal import have_terminal
from ots_desktop.core.events import ChannelEvent, EventBus, EventKind
from ots_desktop.core.secret import SecretBuffer


def _human_events(event: ChannelEvent) -> None:
    if event.kind is EventKind.ALERT:
        warn(f"ALERT: {event.message}")


def _wrong_passphrase(failure: LinkFailure) -> None:
    # The alert itself is printed from the event stream; this says what happens next.
    left = failure.attempts_left or 0
    warn(f"ots: the link was not opened; try again ({left} attempt{'s' if left != 1 else ''} left).")


async def _ask_on_tty() -> SecretBuffer | None:
    return await asyncio.to_thread(ask_passphrase)


def receive_link(text: str, *, out_dir: Path, output: Path | None, passphrase_fd: int | None,
                 as_json: bool, ca_file: Path | None = None) -> None:
    """Open the link in ``text`` and print or save what it holds."""
    from ots_desktop.channels.link import LinkChannel, LinkReceived, ReceiveOptions
    from ots_desktop.channels.link_urls import parse_link, require_secure

    link = parse_link(text)
    passphrase: SecretBuffer | None = None
    try:
        require_secure(link.base_url)
        install = installation()
        clients = install.relay_clients(ca_file)
        if passphrase_fd is not None:
            passphrase = passphrase_from_fd(passphrase_fd)
        on_tty = have_terminal()
        options = ReceiveOptions(out_dir=out_dir, passphrase=passphrase,
                                 ask_passphrase=_ask_on_tty if on_tty else None,
                                 on_wrong_passphrase=_wrong_passphrase if on_tty else None)
        if output is not None:
            if output.is_dir():
                options.out_dir = output
            else:
                options.out_file = output
        bus = EventBus()
        if not as_json:
            bus.subscribe(_human_events)
        with audit_log(cli_state(), install=install) as log:
            channel = LinkChannel(log, bus, client=clients)

            async def main() -> LinkReceived:
                return await channel.receive(link, options)

            received = run(main)
    finally:
        link.close()
        if passphrase is not None:
            passphrase.close()
    _show(received, link.share_id, as_json)


def _show(received: object, share_id: str, as_json: bool) -> None:
    from ots_desktop.channels.link import LinkReceived

    assert isinstance(received, LinkReceived)
    left = received.views_left
    if received.text is not None:
        with received.text as text:
            if as_json:
                shown, escaped = text.reveal_text_escaped()
                if escaped:
                    warn("ots: the text is not valid UTF-8: its invalid bytes are shown as \\xNN in \"text\". "
                         "Run without --json to get the exact bytes on stdout.")
                emit_json({"event": "received", "kind": "text", "id": share_id, "size": len(text),
                           "views_left": left, "text": shown, "escaped": escaped})
            else:
                write_secret(text)
    elif as_json:
        emit_json({"event": "received", "kind": received.kind, "id": share_id, "path": str(received.path),
                   "size": received.size, "views_left": left})
    else:
        say(f"Saved {received.path} ({received.size:,} bytes)")
    if not as_json and left:
        warn(f"This link opens {left} more time{'s' if left != 1 else ''}.")
