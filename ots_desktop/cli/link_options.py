"""What the link commands share: the CA option, passphrases, the shares file and running a coroutine."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from ots_desktop.cli.context import audit_log, installation, prompt_secret, prompt_twice, read_fd_secret
from ots_desktop.cli.state import cli_state
from ots_desktop.core.errors import InputError
from ots_desktop.core.events import EventBus
from ots_desktop.core.kdf import passphrase_from_text
from ots_desktop.core.secret import SecretBuffer
from ots_desktop.core.shares import ShareStore
from ots_desktop.installation import Installation

if TYPE_CHECKING:
    from ots_desktop.channels.link import LinkChannel

T = TypeVar("T")
NO_TTY = ("a passphrase is needed but there is no terminal to ask on; pass it from a file descriptor with "
          "--passphrase-fd N")


def ca_file_option(func: Callable[..., object]) -> Callable[..., object]:
    """``--ca-file PATH``: trust the relay's certificate if that CA bundle signed it."""
    return click.option("--ca-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        metavar="PATH", help="Verify an https relay against this PEM CA bundle instead of the "
                                             "system's CAs (or ca_file / OTS_CA_FILE).")(func)


def _normalised(raw: SecretBuffer) -> SecretBuffer:
    """The NFC-normalised UTF-8 form the envelope needs; refuses an empty or non-UTF-8 passphrase."""
    with raw:
        if not len(raw):
            raise InputError("the passphrase is empty")
        try:
            text = raw.reveal_text()
        except UnicodeDecodeError:
            raise InputError("the passphrase is not UTF-8 text") from None
        # The transient str is unavoidable for NFC; it is dropped at once.
        try:
            return passphrase_from_text(text)
        finally:
            del text




def ask_new_passphrase() -> SecretBuffer:
    """Ask twice on the terminal (echo off); both must match."""
    return _normalised(prompt_twice("Passphrase for the link: ", "Type it again: ",
                                    "the two passphrases differ; nothing was sent", no_tty=NO_TTY))


def ask_passphrase() -> SecretBuffer:
    """Ask once on the terminal (echo off)."""
    return _normalised(prompt_secret("Passphrase: ", no_tty=NO_TTY))


def passphrase_from_fd(fd: int) -> SecretBuffer:
    """Read a passphrase from an inherited descriptor (without its final newline)."""
    return _normalised(read_fd_secret(fd))


@contextlib.contextmanager
def shares_file(install: Installation) -> Iterator[ShareStore]:
    """The installation's shares file, for the length of a command."""
    store = install.open_shares()
    try:
        yield store
    finally:
        store.close()


@contextlib.contextmanager
def link_channel(ca_file: Path | None, bus: EventBus | None = None) -> Iterator[LinkChannel]:
    """A link channel on this installation's audit log and shares file, for the length of a command."""
    from ots_desktop.channels.link import LinkChannel

    install = installation()
    clients = install.relay_clients(ca_file)
    with audit_log(cli_state(), install=install) as log, shares_file(install) as shares:
        yield LinkChannel(log, bus or EventBus(), shares, client=clients)


def run(main: Callable[[], Awaitable[T]]) -> T:
    """Run a link command's coroutine on a fresh event loop (links need no Twisted reactor)."""

    async def wrapper() -> T:
        return await main()

    return asyncio.run(wrapper())
