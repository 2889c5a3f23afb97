"""``ots send``: share a secret by wormhole code or by one-time link."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from ots_desktop.channels.payloads import check_text
from ots_desktop.cli.context import audit_log_in_background, installation, prompt_secret
from ots_desktop.cli.link_send import LinkSendOptions, link_options, send_link
from ots_desktop.cli.output import emit_json, say, warn
from ots_desktop.cli.state import cli_state, handle_errors
from ots_desktop.cli.wormhole_options import (
    ProgressPrinter,
    confirm_on_tty,
    human_events,
    server_options,
    warn_plain_mailbox,
)
from ots_desktop.core.codes import code_uri
from ots_desktop.core.errors import InputError, SecretTooLargeError
from ots_desktop.core.events import EventBus
from ots_desktop.core.policy import TEXT_MAX_BYTES, TEXT_TOO_LARGE, check_note, check_recipient_count
from ots_desktop.core.secret import SecretBuffer, without_final_newline


def read_text_secret() -> SecretBuffer:
    """The secret from stdin (one trailing newline dropped), or from a hidden prompt on a terminal."""
    if sys.stdin.isatty():
        return prompt_secret("Secret (not shown): ")
    try:
        # Two bytes of slack for the trailing newline dropped below.
        raw = SecretBuffer.from_stream(sys.stdin.buffer, TEXT_MAX_BYTES + 2)
    except SecretTooLargeError:
        raise InputError(f"{TEXT_TOO_LARGE} (--file)") from None
    secret = without_final_newline(raw)
    if not len(secret):
        secret.close()
        raise InputError("no secret on stdin; pipe it in or use --file")
    if len(secret) > TEXT_MAX_BYTES:
        secret.close()
        raise InputError(f"{TEXT_TOO_LARGE} (--file)")
    try:
        check_text(secret)
    except InputError:
        secret.close()
        raise
    return secret


def _mailbox_news(as_json: bool, up: bool) -> None:
    if as_json:
        emit_json({"event": "mailbox", "connected": up})
        return
    warn("The mailbox is back; still waiting for the other side." if up else
         "The mailbox cannot be reached right now; the code stays valid and ots keeps reconnecting.")


def _show_code(code: str, as_json: bool, mailbox_url: str | None = None) -> None:
    if as_json:
        emit_json({"event": "code", "code": code})
        return
    say(f"Wormhole code: {code}")
    warn("On the other side: ots receive (or: wormhole receive), then type the code.")
    if sys.stdout.isatty():
        from ots_desktop.cli.terminal_qr import terminal_qr

        sys.stdout.write(terminal_qr(code_uri(code, mailbox_url)))
        sys.stdout.flush()


@click.command()
@click.option("--via", type=click.Choice(["wormhole", "link"]), default="wormhole", show_default=True,
              help="How the secret travels: a code read aloud, or a one-time link.")
@click.option("--file", "file", type=click.Path(path_type=Path, exists=True),
              help="Send this file or directory instead of text from stdin.")
@click.option("--label", help="A note for the audit log, like 'prod DB password for Sam'.")
@click.option("--recipient", multiple=True, help="Who it is for (audit log). With --via link, repeat it: each "
              "recipient gets their own link.")
@click.option("--code-length", type=click.IntRange(2, 8), default=None, help="Words in the code (default 3).")
@click.option("--verify", is_flag=True, help="Confirm the verification words before anything is sent.")
@click.option("--no-listen", is_flag=True, help="Use only the transit relay for files (no direct connection).")
@server_options
@link_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines: the code (then delivered or failed), or "
              "one line per link.")
@handle_errors()
def send(via: str, file: Path | None, label: str | None, recipient: tuple[str, ...], code_length: int | None,
         verify: bool, no_listen: bool, mailbox_url: str | None, transit_helper: str | None,
         timeout: float | None, expire: str | None, views: int | None, use_passphrase: bool,
         passphrase_fd: int | None, allow_countries: tuple[str, ...], allow_cidrs: tuple[str, ...],
         relay: str | None, ca_file: Path | None, as_json: bool) -> None:
    """Share a secret once. It is read from stdin (or --file), never from arguments.

    With --via link, each recipient gets a one-time link (printed on stdout); with the
    default --via wormhole, a code to read aloud.
    """
    label = check_note(label, "label") if label is not None else None
    recipient = tuple(name for name in (check_note(r, "recipient") for r in recipient) if name)
    check_recipient_count(len(recipient))
    link = LinkSendOptions(expire, views, use_passphrase, passphrase_fd, allow_cidrs, relay, ca_file,
                           allow_countries)
    if via == "link":
        wormhole_only = [name for name, value in (
            ("--code-length", code_length), ("--verify", verify), ("--no-listen", no_listen),
            ("--mailbox-url", mailbox_url), ("--transit-helper", transit_helper), ("--timeout", timeout),
        ) if value]  # fmt: skip
        if wormhole_only:
            raise click.UsageError(f"{', '.join(wormhole_only)}: only for --via wormhole")
        send_link(read_text_secret if file is None else None, file, link, recipients=recipient, label=label,
                  as_json=as_json)
        return
    if link.given():
        raise click.UsageError("--expire, --views, --passphrase, --passphrase-fd, --allow-cidr, --allow-country, "
                               "--relay and --ca-file are only for --via link")
    if len(recipient) > 1:
        raise click.UsageError("a wormhole code goes to one person: give --recipient once (or use --via link)")
    _send_wormhole(file, label, recipient[0] if recipient else None, code_length, verify, no_listen, mailbox_url,
                   transit_helper, timeout, as_json)


def _send_wormhole(file: Path | None, label: str | None, recipient: str | None, code_length: int | None,
                   verify: bool, no_listen: bool, mailbox_url: str | None, transit_helper: str | None,
                   timeout: float | None, as_json: bool) -> None:
    from ots_desktop import runtime
    from ots_desktop.channels.wormhole import SendHooks, WormholeChannel

    install = installation()
    settings = install.wormhole_settings(mailbox_url=mailbox_url, transit_helper=transit_helper,
                                            code_length=code_length, peer_timeout_s=timeout)
    warn_plain_mailbox(settings.mailbox_url, as_json)
    secret = None if file is not None else read_text_secret()
    bus = EventBus()
    if not as_json:
        bus.subscribe(human_events)
    hooks = SendHooks(on_code=lambda code: _show_code(code, as_json, settings.mailbox_url), no_listen=no_listen,
                      confirm=confirm_on_tty("Does the receiver see the same words?") if verify else None,
                      progress=ProgressPrinter(as_json) if file is not None else None,
                      on_mailbox=functools.partial(_mailbox_news, as_json))

    state = cli_state()

    async def main() -> str:
        async with audit_log_in_background(state, install) as log:
            channel = WormholeChannel(settings, log, bus)
            if secret is not None:
                return await channel.send_text(secret, hooks, label=label, recipient=recipient)
            assert file is not None
            return await channel.send_path(file, hooks, label=label, recipient=recipient)

    try:
        share_id = runtime.run_main(main)
    finally:
        if secret is not None:
            secret.close()
    if as_json:
        emit_json({"event": "delivered", "share_id": share_id})
    else:
        warn("Delivered.")
