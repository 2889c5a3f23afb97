"""``ots audit reset | rotate | keystore``: the log's own life, each step recorded and signed."""

from __future__ import annotations

import click

from ots_desktop import __version__
from ots_desktop.cli.context import audit_log, installation, open_keystore, prompt_twice, read_fd_secret
from ots_desktop.cli.output import emit_json, say
from ots_desktop.cli.state import cli_state, handle_errors
from ots_desktop.core.audit.keys import fingerprint
from ots_desktop.core.audit.keystore import FileKeyStore, KeyStore
from ots_desktop.core.audit.keystore_choice import switch_keystore
from ots_desktop.core.audit.lifecycle import reset_log
from ots_desktop.core.config import settings_from_environment, with_overrides
from ots_desktop.core.errors import InputError, OtsError
from ots_desktop.core.secret import SecretBuffer

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of text.")


@click.command()
@click.option("--reason", "note", required=True, metavar="TEXT",
              help="Why the log is started over (kept in the new log's first entry for the auditor).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@handle_errors()
def reset(note: str, yes: bool, as_json: bool) -> None:
    """Start a new audit log. The old file is archived, never deleted, and the new log names it.

    For a log that can no longer be verified (restored from nowhere, keychain reset) or
    was written by an earlier version. The new log has a new root key: give its
    fingerprint to your auditor again.
    """
    install = installation()
    paths = install.paths
    keystore = open_keystore(install, cli_state())
    if not yes:
        click.confirm("Start a new audit log? The current file is archived and a new root key replaces the old one",
                      abort=True, err=True)
    log, archived = reset_log(paths, keystore, note, app_version=__version__)
    with log:
        record = log.public_key_record()
    if as_json:
        emit_json({"event": "reset", "log_id": record.log_id, "fingerprint": record.fingerprint,
                   "archived": str(archived) if archived else None})
        return
    say(f"New audit log {record.log_id}, root key fingerprint {fingerprint(bytes.fromhex(record.public_key))}.")
    if archived is not None:
        say(f"The old log file was kept as {archived}.")


@click.command()
@json_option
@handle_errors()
def rotate(as_json: bool) -> None:
    """Start a new signing-key epoch now (the old private key is erased).

    Epochs also change by themselves at the first entry of each UTC day. Rotate after
    you suspect the keychain was read: a key read before now can no longer sign
    anything this machine accepts, and entries before that key's epoch stay sealed
    (export right after rotating, and keep the export's last_seq and head).
    """
    with audit_log(cli_state()) as log:
        epoch = log.rotate()
        _, key_id = log.current_key()
    if as_json:
        emit_json({"event": "rotated", "epoch": epoch, "key_id": key_id})
    else:
        say(f"The audit log now signs with key epoch {epoch} ({key_id}); the previous key was erased.")


def _new_passphrase(fd: int | None) -> SecretBuffer:
    if fd is not None:
        return read_fd_secret(fd)
    return prompt_twice("New key file passphrase: ", "Repeat the passphrase: ",
                        "the two passphrases differ; nothing was changed")


@click.command("keystore")
@click.argument("target", type=click.Choice(["file", "keychain"]))
@click.option("--new-passphrase-fd", type=click.IntRange(0), metavar="N",
              help="Read the new key file's passphrase from this file descriptor (with `file`).")
@json_option
@handle_errors()
def keystore_command(target: str, new_passphrase_fd: int | None, as_json: bool) -> None:
    """Move the audit keys to the OS keychain or to a passphrase key file, recorded and signed in the log.

    Editing keystore in config.toml alone is refused: the current keys must sign the move.
    """
    install = installation()
    paths, config = install.paths, install.config
    overridden = settings_from_environment().get("keystore")
    if overridden:
        raise InputError(f"the keystore is set by the environment variable {overridden}: unset it first, so that "
                         "the move is saved in config.toml")
    if config.keystore == target:
        raise InputError(f"the audit keys are already in the {'key file' if target == 'file' else 'OS keychain'}")
    with audit_log(cli_state(), install=install) as log:
        new_store: KeyStore
        if target == "file":
            if paths.keyfile.exists():
                raise InputError(f"{paths.keyfile} already exists; move it away first")
            with _new_passphrase(new_passphrase_fd) as passphrase:
                new_store = FileKeyStore(paths.keyfile, passphrase)
        else:
            new_store = install.keychain()
        switch_keystore(log, new_store, target,
                        lambda: install.save_config(with_overrides(config, keystore=target)))
    if target == "keychain":
        try:
            paths.keyfile.unlink()
        except OSError as exc:
            raise OtsError(f"the keys moved, but the old key file {paths.keyfile} could not be removed: "
                           f"{exc.strerror}") from None
    if as_json:
        emit_json({"event": "keystore", "keystore": target})
    else:
        say(f"The audit keys are now in the {'passphrase key file' if target == 'file' else 'OS keychain'}; "
            "the move is recorded in the log.")
