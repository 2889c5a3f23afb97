"""The ``ots`` entry point."""

from __future__ import annotations

import re
import sys

import click

from ots_desktop import __version__
from ots_desktop.cli.audit import audit
from ots_desktop.cli.context import CliState
from ots_desktop.cli.demo import demo
from ots_desktop.core.hardening import harden_process


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="ots")
@click.option("--keyfile-passphrase-fd", type=click.IntRange(0), metavar="N",
              help="Read the key file passphrase from this file descriptor (with keystore = \"file\").")
@click.pass_context
def cli(ctx: click.Context, keyfile_passphrase_fd: int | None) -> None:
    """Hand a secret to one person, once, and keep a signed record of it.

    Secrets are read from stdin or files, never from arguments.
    """
    ctx.obj = CliState(keyfile_passphrase_fd=keyfile_passphrase_fd)


cli.add_command(audit)
cli.add_command(demo)


def main() -> None:
    """Console-script entry point. Hardening comes first, before any secret can be read."""
    harden_process()
    try:
        cli.main(prog_name="ots", standalone_mode=False)
    except click.UsageError as exc:
        click.UsageError(redact_usage_error(exc.message), exc.ctx).show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("ots: cancelled", err=True)
        sys.exit(130)


_EXTRA_ARGS = re.compile(r"(unexpected extra arguments?) \(.*\)", re.DOTALL)


def redact_usage_error(message: str) -> str:
    """Drop stray arguments from an error: a secret typed there must not be echoed to a log."""
    return _EXTRA_ARGS.sub(r"\1 (not shown; secrets are read from stdin or a file, never from arguments)", message)
