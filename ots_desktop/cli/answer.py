"""``ots answer LINK``: answer a secret request from the command line, as the answer page does in a browser."""

from __future__ import annotations

import mimetypes
from pathlib import Path

import click

from ots_desktop.cli.context import audit_log, installation
from ots_desktop.cli.link_options import ca_file_option, run
from ots_desktop.cli.output import emit_json, say, warn
from ots_desktop.cli.send import read_text_secret
from ots_desktop.cli.state import cli_state, handle_errors
from ots_desktop.core.errors import InputError, SecretTooLargeError
from ots_desktop.core.secret import SecretBuffer

# The relay's default limit; a larger file is refused by the relay with its own limit in the message.
MAX_FILE_BYTES = 10 * 1024 * 1024


def _read_file(path: Path) -> SecretBuffer:
    try:
        with path.open("rb") as handle:
            return SecretBuffer.from_stream(handle, MAX_FILE_BYTES)
    except SecretTooLargeError:
        raise InputError(f"{path} is larger than {MAX_FILE_BYTES} bytes, more than a request answer holds") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None


@click.command()
@click.argument("link", metavar="LINK")
@click.option("--file", "file", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Send this file instead of text from stdin.")
@ca_file_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON line for the result.")
@handle_errors()
def answer(link: str, file: Path | None, ca_file: Path | None, as_json: bool) -> None:
    """Answer a secret request LINK (https://HOST/r/ID#KEY) once. The secret is read from stdin (or --file),
    never from arguments, and encrypted here to a key only the requester holds.
    """
    from ots_desktop.channels.request_client import RequestClient
    from ots_desktop.channels.request_flow import answer_request, parse_request_link

    base, request_id, material = parse_request_link(link)
    install = installation()
    try:
        secret = read_text_secret() if file is None else _read_file(file)
        meta: dict[str, object] = {"type": "text"}
        if file is not None:
            meta = {"type": "file", "name": file.name, "size": len(secret),
                    "mime": mimetypes.guess_type(file.name)[0] or "application/octet-stream"}
        with secret, audit_log(cli_state(), install=install) as log:
            client = RequestClient(base, ca_file=install.ca_file(ca_file))

            async def main() -> object:
                async with client:
                    return await answer_request(client, log, request_id, material, secret, meta)

            info = run(main)
    finally:
        material.close()
    label = getattr(info, "label", "")
    if as_json:
        emit_json({"event": "answered", "id": request_id, "label": label or None, "type": meta["type"]})
    else:
        if label:
            warn(f"Answered the request: {label}")
        say("Sent: only the requester can open it.")
