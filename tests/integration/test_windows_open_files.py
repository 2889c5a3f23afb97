"""Receives by code under Windows' rule for open files (tests/support/open_file_guard.py), in real processes.

Both ``ots`` processes run with the rule in force: a file that is unlinked or renamed while still open
fails here as it would with WinError 32 on Windows, where it made every single-file receive fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Home
from tests.support import open_file_guard
from tests.support.servers import RunningServer
from tests.support.wormhole_cli import Wormholes

pytestmark = pytest.mark.usefixtures("keychain")

TIMEOUT_S = 60


@pytest.fixture
def worm(wormhole_server: RunningServer, isolated_home: Home) -> Iterator[Wormholes]:
    worm = Wormholes(isolated_home.root, wormhole_server.mailbox_url, wormhole_server.transit_helper,
                     windows_open_files=True)
    yield worm
    worm.close()


def test_the_guard_refuses_to_unlink_or_rename_an_open_file(tmp_path: Path) -> None:
    held, moved = tmp_path / "held.bin", tmp_path / "moved.bin"
    held.write_bytes(b"x")
    lift = open_file_guard.install()
    try:
        with held.open("rb"):
            with pytest.raises(PermissionError, match="still open"):
                held.unlink()
            with pytest.raises(PermissionError, match="still open"):
                held.rename(moved)
            with pytest.raises(PermissionError, match="still open"):
                os.replace(held, moved)
        held.rename(moved)  # closed: allowed
        moved.unlink()
    finally:
        lift()
    assert not held.exists() and not moved.exists()


def test_a_file_received_by_code_is_published_after_it_is_closed(worm: Wormholes, isolated_home: Home) -> None:
    source = isolated_home.root / "service-account.json"
    source.write_bytes(b'{"type": "service_account"}\n' * 1000)
    sender = worm.start_send(file=source)
    receiver = worm.run_receive(sender.read_code(timeout=TIMEOUT_S), timeout=TIMEOUT_S)
    assert receiver.proc.returncode == 0, receiver.describe()
    assert sender.wait(TIMEOUT_S) == 0, sender.describe()
    target = Path(str(receiver.last_event("received")["path"]))
    assert target.read_bytes() == source.read_bytes()
    assert sorted(p.name for p in worm.receiver.out.iterdir()) == ["service-account.json"]


def test_a_folder_received_by_code_is_unpacked_and_its_zip_removed(worm: Wormholes, isolated_home: Home) -> None:
    source = isolated_home.root / "deploy"
    (source / "keys").mkdir(parents=True)
    (source / ".env").write_bytes(b"A=1\r\nB=2\n")
    (source / "keys" / "id.pem").write_bytes(os.urandom(2000))
    sender = worm.start_send(file=source)
    receiver = worm.run_receive(sender.read_code(timeout=TIMEOUT_S), timeout=TIMEOUT_S)
    assert receiver.proc.returncode == 0, receiver.describe()
    assert sender.wait(TIMEOUT_S) == 0, sender.describe()
    target = Path(str(receiver.last_event("received")["path"]))
    assert (target / ".env").read_bytes() == b"A=1\r\nB=2\n"
    assert (target / "keys" / "id.pem").read_bytes() == (source / "keys" / "id.pem").read_bytes()
    assert sorted(p.name for p in worm.receiver.out.iterdir()) == ["deploy"]


def test_with_direct_connections_off_a_file_goes_through_the_transit_relay(worm: Wormholes,
                                                                           isolated_home: Home) -> None:
    # Windows' default (no listening socket, so no firewall prompt): both sides through the relay.
    from ots_desktop.channels.wormhole_session import WormholeSettings
    from ots_desktop.core.config import Config, ConfigError

    assert WormholeSettings.from_config(Config(direct_connections="off")).direct_connections is False
    assert WormholeSettings.from_config(Config()).direct_connections is (os.name != "nt")
    with pytest.raises(ConfigError, match='"on" or "off"'):
        Config(direct_connections="maybe").validate()
    for side in (worm.sender, worm.receiver):
        (side.ots_home / "config").mkdir(exist_ok=True)
        (side.ots_home / "config" / "config.toml").write_text('direct_connections = "off"\n')
    source = isolated_home.root / "relay-only.bin"
    source.write_bytes(os.urandom(200_000))
    sender = worm.start_send(file=source)
    receiver = worm.run_receive(sender.read_code(timeout=TIMEOUT_S), timeout=TIMEOUT_S)
    assert receiver.proc.returncode == 0, receiver.describe()
    assert sender.wait(TIMEOUT_S) == 0, sender.describe()
    assert Path(str(receiver.last_event("received")["path"])).read_bytes() == source.read_bytes()
