"""A large link received as a stream: decrypted into a hidden part file that is either the saved file or gone.

Real relay process (``ots server --no-wormhole``, SQLite store), the real audit log in the
real Secret Service, the channel the CLI and the app use. The envelope the relay stored is
altered on its disk to play a relay (or a disk) that hands out damaged bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ots_desktop.channels.link import LinkChannel, LinkPolicy, ReceiveOptions
from ots_desktop.channels.link_errors import LinkFailure
from ots_desktop.channels.link_receive import LinkReceived
from ots_desktop.channels.link_urls import parse_link
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.events import EventBus
from ots_desktop.installation import Installation
from tests.support.relay import RelayProcess, start_relay

pytestmark = pytest.mark.usefixtures("keychain")

MIB = 1024 * 1024
SIZE = 40 * MIB + 999  # over the write-behind step, with a short last chunk


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RelayProcess]:
    process = start_relay(tmp_path, extra=("--create-rate", "0", "--reveal-rate", "0", "--max-size", "64MiB"))
    yield process
    process.service.stop()


def _round_trip(relay: RelayProcess, source: Path, out: Path, *, damage_at: int | None) -> LinkReceived:
    """Send ``source`` as a link, optionally flip a byte of the stored envelope at ``damage_at``, receive it."""
    install = Installation()

    async def flow() -> LinkReceived:
        log: AuditLog = install.open_audit_log(install.keychain())
        try:
            channel = LinkChannel(log, EventBus(), install.open_shares(), client=install.relay_clients())
            [sent] = await channel.send_file(source, relay.url, LinkPolicy(max_views=1))
            if damage_at is not None:
                [stored] = list((relay.data_dir / "links-envelopes").iterdir())
                with stored.open("r+b") as envelope:
                    envelope.seek(damage_at)
                    byte = envelope.read(1)
                    envelope.seek(damage_at)
                    envelope.write(bytes([byte[0] ^ 0x40]))
            return await channel.receive(parse_link(sent.link), ReceiveOptions(out_dir=out))
        finally:
            log.close()

    return asyncio.run(flow())


def test_a_large_link_is_saved_whole(relay: RelayProcess, tmp_path: Path) -> None:
    source, out = tmp_path / "big.bin", tmp_path / "out"
    out.mkdir(mode=0o700)
    content = os.urandom(SIZE)
    source.write_bytes(content)
    received = _round_trip(relay, source, out, damage_at=None)
    assert received.path is not None and received.size == SIZE
    assert hashlib.sha256(received.path.read_bytes()).digest() == hashlib.sha256(content).digest()
    assert [p.name for p in out.iterdir()] == ["big.bin"]


@pytest.mark.parametrize("where", [pytest.param(0.5, id="middle"), pytest.param(1.0, id="last-chunk")])
def test_a_damaged_chunk_leaves_no_file(relay: RelayProcess, tmp_path: Path, where: float) -> None:
    source, out = tmp_path / "big.bin", tmp_path / "out"
    out.mkdir(mode=0o700)
    source.write_bytes(os.urandom(SIZE))
    damage_at = int(SIZE * where) - 1 if where < 1 else SIZE + 600  # the envelope is a little longer than the file
    with pytest.raises(LinkFailure, match="damaged"):
        _round_trip(relay, source, out, damage_at=damage_at)
    # The decrypted part before the damage was in a hidden part file: removed, nothing published.
    assert list(out.iterdir()) == []
