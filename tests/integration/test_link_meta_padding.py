"""What a relay can learn from a link's header: not text versus file, nor the file name's length.

The attacker here is the relay (or whoever reads its store or its ``GET /api/v1/secrets/{id}``
answers): it sees each envelope's header, and with it the length of the encrypted metadata.
Real ``ots send`` processes park a text, files with a one-letter and a 255-byte name, and a
file large enough to be streamed, on a real relay process on SQLite and on Redis; every
header the relay hands out gives the same metadata length.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ots_desktop.core.chunks import TAG_LEN
from ots_desktop.core.envelope import read_header
from ots_desktop.core.envelope_meta import META_BUCKET
from ots_desktop.core.ids import b64u_decode
from tests.support.cli import run_ots
from tests.support.relay import RelayClient, http_session, relays, run_async

pytestmark = pytest.mark.usefixtures("keychain")



def _share_id(link: str) -> str:
    return link.rpartition("/s/")[2].partition("#")[0]


def test_text_and_files_of_any_name_length_show_the_relay_one_meta_length(tmp_path: Path,
                                                                           relay_store: str) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    short, long_name, large = folder / "a", folder / ("n" * 251 + ".pem"), folder / "dump.sql"
    short.write_bytes(b"k")
    long_name.write_bytes(b"-----BEGIN PRIVATE KEY-----\n")
    large.write_bytes(os.urandom(3 * 1024 * 1024))  # streamed: a PUT, not a JSON create
    with relays(tmp_path / "relay", store=relay_store) as (relay,):
        links = {}
        files = [(path.name[:12], ("--file", str(path)), None) for path in (short, long_name, large)]
        for what, args, stdin in [("text", (), b"padding canary text"), *files]:
            sent = run_ots("send", "--via", "link", "--relay", relay.url, *args, stdin=stdin)
            assert sent.returncode == 0, sent
            links[what] = _share_id(sent.stdout.strip().splitlines()[-1])

        async def headers() -> dict[str, int]:
            async with http_session() as session:
                client = RelayClient(session, relay.url)
                found = {}
                for what, share_id in links.items():
                    meta = await client.meta(share_id)
                    assert meta.status == 200, meta.body
                    found[what] = read_header(b64u_decode(meta.body["header"])).meta_len
                return found

        lengths = run_async(headers())
    assert len(links) == 4
    assert set(lengths.values()) == {META_BUCKET + TAG_LEN}, lengths
