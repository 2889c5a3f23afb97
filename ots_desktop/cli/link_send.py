"""``ots send --via link``: one one-time link per recipient, printed on stdout."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from ots_desktop.cli.context import audit_log, installation
from ots_desktop.cli.link_options import ask_new_passphrase, passphrase_from_fd, run, shares_file
from ots_desktop.cli.output import emit_json, say, warn
from ots_desktop.cli.state import cli_state
from ots_desktop.core.countries import check_countries, parse_countries
from ots_desktop.core.durations import format_duration, parse_duration
from ots_desktop.core.errors import InputError
from ots_desktop.core.events import ChannelEvent, EventBus, EventKind
from ots_desktop.core.policy import LINK_MAX_VIEWS, LINK_MIN_VIEWS, check_link_expiry
from ots_desktop.core.secret import SecretBuffer


@dataclass(frozen=True)
class LinkSendOptions:
    """The link options of ``ots send``, as given (None = not given)."""

    expire: str | None
    views: int | None
    passphrase: bool
    passphrase_fd: int | None
    allow_cidrs: tuple[str, ...]
    relay: str | None
    ca_file: Path | None = None
    allow_countries: tuple[str, ...] = ()

    def given(self) -> bool:
        """Whether any link-only option was used (an error with --via wormhole)."""
        return bool(self.expire is not None or self.views is not None or self.passphrase
                    or self.passphrase_fd is not None or self.allow_cidrs or self.relay or self.ca_file
                    or self.allow_countries)


def link_options(func: Callable[..., object]) -> Callable[..., object]:
    """The options only ``--via link`` takes."""
    options = [
        click.option("--ca-file", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="PATH",
                     help="Verify an https relay against this PEM CA bundle instead of the system's CAs "
                          "(or ca_file / OTS_CA_FILE)."),
        click.option("--relay", metavar="URL", help="Link relay, like https://ots.example.com (or OTS_RELAY_URL)."),
        click.option("--allow-country", "allow_countries", multiple=True, metavar="CODES",
                     help="Only reveal to clients the relay places in these countries: ISO 3166-1 codes, comma "
                          "separated or repeated, like DE,FR (the relay needs a country database)."),
        click.option("--allow-cidr", "allow_cidrs", multiple=True, metavar="CIDR",
                     help="Only reveal to clients in this network (repeatable), like 10.0.0.0/8."),
        click.option("--passphrase-fd", type=click.IntRange(0), metavar="N",
                     help="Also require a passphrase, read from file descriptor N (for scripts)."),
        click.option("--passphrase", "use_passphrase", is_flag=True,
                     help="Also require a passphrase, typed on the terminal (twice); tell it by another way."),
        click.option("--views", type=click.IntRange(LINK_MIN_VIEWS, LINK_MAX_VIEWS), default=None, metavar="N",
                     help=f"How many times each link opens, {LINK_MIN_VIEWS} to {LINK_MAX_VIEWS} (default 1, or "
                          "link_max_views)."),
        click.option("--expire", metavar="DURATION",
                     help="How long a link lives, 5m to 30d, like 1h or 7d (default 1h, or link_expiry_s)."),
    ]
    for option in options:
        func = option(func)
    return func


def _expiry(text: str | None, default_s: int) -> int:
    if text is None:
        return default_s
    seconds = parse_duration(text)
    try:
        return check_link_expiry(seconds)
    except InputError as exc:
        raise InputError(f"--expire {text} is out of range: {exc.message}") from None


def _countries(values: Sequence[str]) -> tuple[str, ...]:
    codes = tuple(code for value in values for code in parse_countries(value))
    try:
        return check_countries(codes)
    except InputError as exc:
        raise click.UsageError(f"--allow-country: {exc.message}") from None


def _human_events(event: ChannelEvent) -> None:
    if event.kind is EventKind.ALERT:
        warn(f"ALERT: {event.message}")


def _show(link: object, as_json: bool, *, expires_in: int) -> None:
    from ots_desktop.channels.link import SentLink

    assert isinstance(link, SentLink)
    if as_json:
        emit_json({"event": "link", "id": link.share_id, "link": link.link, "expires_at": link.expires_at,
                   "recipient": link.recipient, "max_views": link.max_views,
                   "needs_passphrase": link.needs_passphrase})
        return
    who = f" for {link.recipient}" if link.recipient else ""
    views = "once" if link.max_views == 1 else f"{link.max_views} times"
    extra = "; it needs the passphrase, which you tell by another way" if link.needs_passphrase else ""
    warn(f"Link{who} (opens {views}, expires in {format_duration(expires_in)} at {link.expires_at}{extra}):")
    say(link.link)


def send_link(read_secret: Callable[[], SecretBuffer] | None, file: Path | None, options: LinkSendOptions, *,
              recipients: Sequence[str], label: str | None, as_json: bool) -> None:
    """Check the options, read the text secret (``read_secret``) or use ``file``, make the links, print them."""
    from ots_desktop.channels.source_print import start_print
    from ots_desktop.core.policy import LinkPolicy

    passphrase: SecretBuffer | None = None
    secret: SecretBuffer | None = None
    try:
        if options.passphrase and options.passphrase_fd is not None:
            raise click.UsageError("use --passphrase or --passphrase-fd, not both")
        install = installation()
        config = install.config
        relay_url = install.relay_url(options.relay)
        clients = install.relay_clients(options.ca_file)
        policy = LinkPolicy(expires_in=_expiry(options.expire, config.link_expiry_s),
                            max_views=options.views if options.views is not None else config.link_max_views,
                            allow_cidrs=tuple(options.allow_cidrs),
                            allow_countries=_countries(options.allow_countries)).checked()
        if len(set(recipients)) != len(recipients):
            raise InputError("each --recipient must be different: every recipient gets their own link")
        if read_secret is not None:
            secret = read_secret()
        if options.passphrase_fd is not None:
            passphrase = passphrase_from_fd(options.passphrase_fd)
        elif options.passphrase:
            passphrase = ask_new_passphrase()
        bus = EventBus()
        if not as_json:
            bus.subscribe(_human_events)
        targets: list[str | None] = list(recipients) or [None]

        def shown(link: object) -> None:
            _show(link, as_json, expires_in=policy.expires_in)

        with audit_log(cli_state(), install=install) as log, shares_file(install) as shares:
            # A large file's first reading (its audit fingerprint) starts now, on threads of its own, and the
            # link channel with its HTTP stack loads meanwhile.
            first_reading = start_print(file, log) if file is not None else None
            from ots_desktop.channels.link import LinkChannel

            channel = LinkChannel(log, bus, shares, client=clients)

            async def main() -> object:
                if secret is not None:
                    return await channel.send_text(secret, relay_url, policy, recipients=targets,
                                                   passphrase=passphrase, label=label, on_link=shown)
                assert file is not None
                if file.is_dir():  # a folder goes as one zip, made on the fly
                    return await channel.send_bundle([file], f"{file.name}.zip", relay_url, policy,
                                                     recipients=targets, passphrase=passphrase, label=label,
                                                     on_link=shown)
                return await channel.send_file(file, relay_url, policy, recipients=targets,
                                               passphrase=passphrase, label=label, on_link=shown,
                                               first_reading=first_reading)

            run(main)
    finally:
        if secret is not None:
            secret.close()
        if passphrase is not None:
            passphrase.close()
