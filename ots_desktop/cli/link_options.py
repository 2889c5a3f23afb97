"""What the link commands share: the relay URL, passphrases, the shares file and running a coroutine."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from ots_desktop.cli.context import prompt_secret, prompt_twice, read_fd_secret
from ots_desktop.core.config import Config
from ots_desktop.core.errors import ConfigError, InputError
from ots_desktop.core.kdf import passphrase_from_text
from ots_desktop.core.paths import app_paths
from ots_desktop.core.secret import SecretBuffer
from ots_desktop.core.shares import ShareStore

if TYPE_CHECKING:
    from ots_desktop.channels.relay_client import RelayClient

T = TypeVar("T")
NO_TTY = ("a passphrase is needed but there is no terminal to ask on; pass it from a file descriptor with "
          "--passphrase-fd N")




def relay_url_from(option: str | None, config: Config) -> str:
    """``--relay``, else the ``relay_url`` setting; checked and normalised."""
    from ots_desktop.channels.link_urls import relay_base, require_secure

    url = (option or config.relay_url or "").strip()
    if not url:
        raise ConfigError("no link relay is set: pass --relay URL, or set relay_url in config.toml "
                          "(or the OTS_RELAY_URL variable)")
    return require_secure(relay_base(url))


def ca_file_option(func: Callable[..., object]) -> Callable[..., object]:
    """``--ca-file PATH``: trust the relay's certificate if that CA bundle signed it."""
    return click.option("--ca-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        metavar="PATH", help="Verify an https relay against this PEM CA bundle instead of the "
                                             "system's CAs (or ca_file / OTS_CA_FILE).")(func)


def ca_file_from(option: Path | None, config: Config) -> Path | None:
    """``--ca-file``, else the ``ca_file`` setting (None: the system's CAs); it must be a readable file."""
    path = option if option is not None else (Path(config.ca_file).expanduser() if config.ca_file else None)
    if path is not None and not path.is_file():
        raise InputError(f"the CA file {path} does not exist or is not a file")
    return path


def relay_clients(ca_file: Path | None) -> Callable[[str], RelayClient]:
    """A relay client factory verifying https relays against ``ca_file`` (None: the system's CAs)."""
    from ots_desktop.channels.relay_client import RelayClient

    def make(base_url: str) -> RelayClient:
        return RelayClient(base_url, ca_file=ca_file)

    return make




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
def shares_file() -> Iterator[ShareStore]:
    """This installation's shares file, for the length of a command."""
    store = ShareStore.open(app_paths().ensure().shares_db)
    try:
        yield store
    finally:
        store.close()


def run(main: Callable[[], Awaitable[T]]) -> T:
    """Run a link command's coroutine on a fresh event loop (links need no Twisted reactor)."""

    async def wrapper() -> T:
        return await main()

    return asyncio.run(wrapper())
