"""What commands that touch secrets need: passphrase input, the installation, its keystore and audit log."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
from collections.abc import AsyncIterator, Iterator

from ots_desktop.cli import terminal
from ots_desktop.cli.state import CliState
from ots_desktop.core.audit.keystore import KeyStore
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.errors import InputError, OtsError
from ots_desktop.core.secret import SecretBuffer, without_final_newline
from ots_desktop.installation import Installation

MAX_PASSPHRASE = 4096
NO_TTY = ("a passphrase is needed but there is no terminal to ask on; pass it from a file descriptor with "
          "a --*-fd option")


def read_fd_secret(fd: int, limit: int = MAX_PASSPHRASE) -> SecretBuffer:
    """Read a passphrase from an inherited file descriptor, without its final newline."""
    try:
        with os.fdopen(os.dup(fd), "rb") as stream:
            raw = SecretBuffer.from_stream(stream, limit)
    except OSError as exc:
        raise OtsError(f"cannot read the passphrase from file descriptor {fd}: {exc.strerror}") from None
    return without_final_newline(raw)


def prompt_secret(prompt: str, *, no_tty: str = NO_TTY) -> SecretBuffer:
    """Ask on the terminal with echo off: the one prompt every secret, passphrase and key file uses."""
    if not terminal.have_terminal():
        raise InputError(no_tty)
    try:
        text = terminal.read_hidden(prompt)
    except EOFError:
        raise InputError("nothing was typed") from None
    return SecretBuffer(text, wipe_source=True)


def prompt_twice(prompt: str, again: str, mismatch: str, *, no_tty: str = NO_TTY) -> SecretBuffer:
    """Ask twice (echo off); InputError(``mismatch``) when the two differ."""
    first = prompt_secret(prompt, no_tty=no_tty)
    try:
        with prompt_secret(again, no_tty=no_tty) as second:
            if bytes(first.view()) != bytes(second.view()):
                raise InputError(mismatch)
    except BaseException:
        first.close()
        raise
    return first


#: How a command sets the relay, ending the "no link relay is set" message.
RELAY_HINT = "pass --relay URL, or set relay_url in config.toml (or the OTS_RELAY_URL variable)"


def installation() -> Installation:
    """This user's installation, as the ``ots`` commands see it (``OTS_HOME``, config.toml, ``OTS_*``)."""
    return Installation(relay_hint=RELAY_HINT)


def keyfile_passphrase(state: CliState) -> SecretBuffer:
    """The key file's passphrase: from ``--keyfile-passphrase-fd`` when given, else asked on the terminal."""
    if state.keyfile_passphrase_fd is not None:
        return read_fd_secret(state.keyfile_passphrase_fd)
    return prompt_secret("Key file passphrase: ")


def open_keystore(install: Installation, state: CliState) -> KeyStore:
    """The keychain, or the passphrase key file when the config opts in (and the keychain holds no log)."""
    return install.keystore(lambda: keyfile_passphrase(state))


def open_audit_log(state: CliState, *, usable: bool = True, check: bool = True,
                   install: Installation | None = None) -> AuditLog:
    """Open this installation's audit log (the caller closes it); see :meth:`Installation.open_audit_log`."""
    install = install or installation()
    return install.open_audit_log(open_keystore(install, state), usable=usable, check=check)


@contextlib.contextmanager
def audit_log(state: CliState, *, usable: bool = True, check: bool = True,
              install: Installation | None = None) -> Iterator[AuditLog]:
    """Open this installation's audit log for the length of a command."""
    log = open_audit_log(state, usable=usable, check=check, install=install)
    try:
        yield log
    finally:
        log.close()


@contextlib.asynccontextmanager
async def audit_log_in_background(state: CliState,
                                  install: Installation) -> AsyncIterator[asyncio.Future[AuditLog]]:
    """Open the audit log on a worker thread while the caller starts its network work.

    Yields the future; the log is closed on the way out, whenever it finished opening.
    """
    future = asyncio.get_running_loop().run_in_executor(
        None, functools.partial(open_audit_log, state, install=install))
    try:
        yield future
    finally:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            (await asyncio.shield(future)).close()
