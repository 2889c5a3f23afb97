"""What commands that touch secrets need: passphrase input, the keystore and the audit log."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
from collections.abc import AsyncIterator, Iterator

from ots_desktop import __version__
from ots_desktop.cli.state import CliState
from ots_desktop.core.audit.keystore import FileKeyStore, KeychainStore, KeyStore, scope_for
from ots_desktop.core.audit.keystore_choice import check_keystore_choice
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.config import Config, load_config
from ots_desktop.core.errors import InputError, OtsError
from ots_desktop.core.paths import AppPaths, app_paths
from ots_desktop.core.secret import SecretBuffer, without_final_newline

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


def have_tty() -> bool:
    """Whether this process can talk to a terminal (its controlling tty)."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | getattr(os, "O_NOCTTY", 0))
    except OSError:
        return False
    os.close(fd)
    return True


def prompt_secret(prompt: str, *, no_tty: str = NO_TTY) -> SecretBuffer:
    """Ask on the terminal with echo off: the one prompt every secret, passphrase and key file uses."""
    if not have_tty():
        raise InputError(no_tty)
    try:
        text = bytearray(getpass.getpass(prompt).encode("utf-8"))
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


def keychain_for(paths: AppPaths) -> KeyStore:
    """This installation's entries in the OS keychain."""
    return KeychainStore(scope_for(paths.data_dir))


def open_keystore(paths: AppPaths, config: Config, state: CliState) -> KeyStore:
    """The keychain, or the passphrase key file when the config opts in (and the keychain holds no log)."""
    check_keystore_choice(paths, config.keystore, lambda: keychain_for(paths))
    if config.keystore == "file":
        if state.keyfile_passphrase_fd is not None:
            passphrase = read_fd_secret(state.keyfile_passphrase_fd)
        else:
            passphrase = prompt_secret("Key file passphrase: ")
        with passphrase:
            return FileKeyStore(paths.keyfile, passphrase)
    return keychain_for(paths)


def open_audit_log(state: CliState, *, usable: bool = True, check: bool = True) -> AuditLog:
    """Open this installation's audit log (the caller closes it).

    With ``usable`` (every command that shares, receives or appends for its own sake),
    a log that does not verify is refused here, before anything starts.
    """
    paths = app_paths().ensure()
    config = load_config(paths.config_file)
    keystore = open_keystore(paths, config, state)
    log = AuditLog.open(paths, keystore, app_version=__version__, check=check)
    if usable:
        try:
            log.require_usable()
        except OtsError:
            log.close()
            raise
    return log


@contextlib.contextmanager
def audit_log(state: CliState, *, usable: bool = True, check: bool = True) -> Iterator[AuditLog]:
    """Open this installation's audit log for the length of a command."""
    log = open_audit_log(state, usable=usable, check=check)
    try:
        yield log
    finally:
        log.close()


@contextlib.asynccontextmanager
async def audit_log_in_background(state: CliState) -> AsyncIterator[asyncio.Future[AuditLog]]:
    """Open the audit log on a worker thread while the caller starts its network work.

    Yields the future; the log is closed on the way out, whenever it finished opening.
    """
    future = asyncio.get_running_loop().run_in_executor(None, open_audit_log, state)
    try:
        yield future
    finally:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            (await asyncio.shield(future)).close()
