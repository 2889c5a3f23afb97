"""The ``ots`` entry point."""

from __future__ import annotations

import importlib
import re
import sys

import click

from ots_desktop import __version__
from ots_desktop.cli.state import CliState
from ots_desktop.core.hardening import harden_process

# Sub-commands load on first use: `ots send` should not pay for the server's imports.
COMMANDS = {
    "send": "ots_desktop.cli.send:send",
    "receive": "ots_desktop.cli.receive:receive",
    "link": "ots_desktop.cli.link:link",
    "request": "ots_desktop.cli.request:request",
    "answer": "ots_desktop.cli.answer:answer",
    "audit": "ots_desktop.cli.audit:audit",
    "server": "ots_desktop.cli.server:server",
    "demo": "ots_desktop.cli.demo:demo",
}


class LazyGroup(click.Group):
    """A group whose commands are imported only when invoked (or listed in --help)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        module = importlib.import_module(module_name)
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="ots")
@click.option("--keyfile-passphrase-fd", type=click.IntRange(0), metavar="N",
              help="Read the key file passphrase from this file descriptor (with keystore = \"file\").")
@click.pass_context
def cli(ctx: click.Context, keyfile_passphrase_fd: int | None) -> None:
    """Hand a secret to one person, once, and keep a signed record of it.

    Secrets are read from stdin or files, never from arguments.
    """
    ctx.obj = CliState(keyfile_passphrase_fd=keyfile_passphrase_fd)




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
