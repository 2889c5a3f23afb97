"""``ots send`` / ``ots receive`` end to end through a real ``ots server``, and interop with the stock CLI."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CANARY, Home
from tests.support.canary import find_canary
from tests.support.servers import RunningServer
from tests.support.wormhole_cli import Wormholes, audit_rows

pytestmark = pytest.mark.usefixtures("keychain")

TIMEOUT_S = 60
MIB = 1 << 20


@pytest.fixture
def worm(wormhole_server: RunningServer, isolated_home: Home) -> Iterator[Wormholes]:
    """Sender and receiver installations on one server; every process is killed at the end."""
    worm = Wormholes(isolated_home.root, wormhole_server.mailbox_url, wormhole_server.transit_helper)
    yield worm
    worm.close()


def write_random(path: Path, size: int) -> str:
    """Write ``size`` random bytes in 1 MiB chunks; returns their SHA-256."""
    digest = hashlib.sha256()
    with path.open("wb") as out:
        left = size
        while left:
            chunk = os.urandom(min(MIB, left))
            digest.update(chunk)
            out.write(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while chunk := src.read(MIB):
            digest.update(chunk)
    return digest.hexdigest()


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def tree(root: Path) -> dict[str, bytes | None]:
    """Relative path -> content (None for a directory)."""
    return {p.relative_to(root).as_posix(): (None if p.is_dir() else p.read_bytes()) for p in sorted(root.rglob("*"))}


def exchange_text(worm: Wormholes, secret: bytes) -> tuple[str, dict[str, object]]:
    """Send ``secret`` as text with ``ots send`` and take it with ``ots receive``; returns (code, received line)."""
    sender = worm.start_send(secret)
    code = sender.read_code(timeout=TIMEOUT_S)
    receiver = worm.run_receive(code, timeout=TIMEOUT_S)
    assert receiver.proc.returncode == 0, receiver.describe()
    assert sender.wait(TIMEOUT_S) == 0, sender.describe()
    assert sender.last_event("delivered")["share_id"]
    return code, receiver.last_event("received")


# --------------------------------------------------------------------------- ots <-> ots


def test_text_round_trip_keeps_every_byte(worm: Wormholes) -> None:
    text = 'pa$$ "wörd" \\ with 🔑 emoji\nsecond line\ttab'
    # `ots send` drops exactly one trailing newline from stdin, and only one.
    _, received = exchange_text(worm, text.encode() + b"\n")
    assert received["kind"] == "text"
    assert received["text"] == text
    assert received["size"] == len(text.encode())

    _, received = exchange_text(worm, b"ends with two newlines\n\n")
    assert received["text"] == "ends with two newlines\n"

    sent = audit_rows(worm.audit(worm.sender), "share_delivered")
    got = audit_rows(worm.audit(worm.receiver), "secret_received")
    assert len(sent) == 2 and len(got) == 2


def test_a_50_mb_file_arrives_intact_and_private(worm: Wormholes, isolated_home: Home) -> None:
    source = isolated_home.root / "big.bin"
    size = 50 * MIB
    digest = write_random(source, size)
    sender = worm.start_send(file=source)
    code = sender.read_code(timeout=TIMEOUT_S)
    receiver = worm.run_receive(code, timeout=TIMEOUT_S)
    assert receiver.proc.returncode == 0, receiver.describe()
    assert sender.wait(TIMEOUT_S) == 0, sender.describe()

    received = receiver.last_event("received")
    target = Path(str(received["path"]))
    assert target == worm.receiver.out / "big.bin"
    assert received["size"] == size
    assert sha256_of(target) == digest
    assert mode_of(target) == 0o600
    assert sorted(p.name for p in worm.receiver.out.iterdir()) == ["big.bin"]

    for side in (sender, receiver):
        progress = [e for e in side.events() if e.get("event") == "progress"]
        assert len(progress) >= 2, side.describe()
        assert all(e["total"] == size for e in progress)
        assert [e["done"] for e in progress] == sorted(e["done"] for e in progress)
        assert progress[-1]["done"] == progress[-1]["total"] == size


def test_a_directory_tree_arrives_with_empty_folders(worm: Wormholes, isolated_home: Home) -> None:
    source = isolated_home.root / "project"
    (source / "config" / "deep" / "deeper").mkdir(parents=True)
    (source / "empty").mkdir()
    (source / "config" / "empty-too").mkdir()
    (source / ".env").write_bytes(b"API_KEY=abc\n")
    (source / "config" / "prod.yaml").write_bytes(b"password: hunter2\n")
    (source / "config" / "deep" / "deeper" / "key.pem").write_bytes(os.urandom(3000))
    (source / "config" / "deep" / "zero.bin").write_bytes(b"")

    sender = worm.start_send(file=source)
    receiver = worm.run_receive(sender.read_code(timeout=TIMEOUT_S), timeout=TIMEOUT_S)
    assert receiver.proc.returncode == 0, receiver.describe()
    assert sender.wait(TIMEOUT_S) == 0, sender.describe()

    target = Path(str(receiver.last_event("received")["path"]))
    assert target == worm.receiver.out / "project"
    assert tree(target) == tree(source)
    for path in target.rglob("*"):
        assert mode_of(path) == (0o700 if path.is_dir() else 0o600), path
    assert mode_of(target) == 0o700
    # The zip travelled as a hidden .part file; it is gone.
    assert sorted(p.name for p in worm.receiver.out.iterdir()) == ["project"]


def test_a_second_file_with_the_same_name_gets_a_new_name(worm: Wormholes, isolated_home: Home) -> None:
    first_src = isolated_home.root / "first"
    second_src = isolated_home.root / "second"
    first_src.mkdir()
    second_src.mkdir()
    (first_src / "prod.env").write_bytes(b"FIRST=1\n")
    (second_src / "prod.env").write_bytes(b"SECOND=2\n")

    paths = []
    for src in (first_src, second_src):
        sender = worm.start_send(file=src / "prod.env")
        receiver = worm.run_receive(sender.read_code(timeout=TIMEOUT_S), timeout=TIMEOUT_S)
        assert receiver.proc.returncode == 0, receiver.describe()
        assert sender.wait(TIMEOUT_S) == 0, sender.describe()
        paths.append(Path(str(receiver.last_event("received")["path"])))

    out = worm.receiver.out
    assert paths == [out / "prod.env", out / "prod (2).env"]
    assert (out / "prod.env").read_bytes() == b"FIRST=1\n"
    assert (out / "prod (2).env").read_bytes() == b"SECOND=2\n"
    assert mode_of(out / "prod (2).env") == 0o600
    assert sorted(p.name for p in out.iterdir()) == ["prod (2).env", "prod.env"]


def test_the_canary_secret_is_never_written_to_disk(worm: Wormholes, isolated_home: Home,
                                                   wormhole_server: RunningServer) -> None:
    _, received = exchange_text(worm, CANARY)
    # The receiver's stdout (which holds the secret) was read into this process's memory only.
    assert received["text"] == CANARY.decode()
    assert worm.audit(worm.sender) and worm.audit(worm.receiver)
    assert find_canary([isolated_home.root, wormhole_server.data_dir], CANARY) == []


# --------------------------------------------------------------------------- interop with the stock CLI


def test_our_text_reaches_the_stock_receiver(worm: Wormholes) -> None:
    text = "from ots to stock: " + os.urandom(8).hex() + " é🔑"
    sender = worm.start_send(text.encode())
    code = sender.read_code(timeout=TIMEOUT_S)
    stock = worm.stock("receive", code)
    assert stock.wait(TIMEOUT_S) == 0, stock.describe()
    assert sender.wait(TIMEOUT_S) == 0, sender.describe()
    # The stock receiver prints the text and a newline.
    assert stock.stdout_bytes() == text.encode() + b"\n"


def test_our_file_reaches_the_stock_receiver(worm: Wormholes, isolated_home: Home) -> None:
    source = isolated_home.root / "payload.bin"
    digest = write_random(source, 3 * MIB + 17)
    target = isolated_home.root / "stock-got.bin"
    sender = worm.start_send(file=source)
    code = sender.read_code(timeout=TIMEOUT_S)
    stock = worm.stock("receive", "--accept-file", "--hide-progress", "-o", str(target), code)
    assert stock.wait(TIMEOUT_S) == 0, stock.describe()
    assert sender.wait(TIMEOUT_S) == 0, sender.describe()
    assert sha256_of(target) == digest


def test_stock_text_reaches_our_receiver(worm: Wormholes) -> None:
    text = "from stock to ots: " + os.urandom(8).hex() + " \\ \" é🔑"
    code = "31-crossover-clockwork"
    stock = worm.stock("send", "--hide-progress", "--code", code, "--text", text)
    receiver = worm.run_receive(code, timeout=TIMEOUT_S)
    assert receiver.proc.returncode == 0, receiver.describe()
    assert stock.wait(TIMEOUT_S) == 0, stock.describe()
    received = receiver.last_event("received")
    assert received["kind"] == "text" and received["text"] == text


def test_stock_file_reaches_our_receiver(worm: Wormholes, isolated_home: Home) -> None:
    source = isolated_home.root / "stock-payload.bin"
    digest = write_random(source, 3 * MIB + 5)
    code = "32-crossover-clockwork"
    stock = worm.stock("send", "--hide-progress", "--code", code, str(source))
    receiver = worm.run_receive(code, timeout=TIMEOUT_S)
    assert receiver.proc.returncode == 0, receiver.describe()
    assert stock.wait(TIMEOUT_S) == 0, stock.describe()
    received = receiver.last_event("received")
    target = Path(str(received["path"]))
    assert target == worm.receiver.out / "stock-payload.bin"
    assert sha256_of(target) == digest
    assert mode_of(target) == 0o600


def test_a_scanned_code_meets_on_the_mailbox_it_names(worm: Wormholes) -> None:
    # The receiver's own mailbox setting points nowhere; the scanned URI names the sender's mailbox, and
    # that is where the two meet. Without the URI's rendezvous the receive could not even connect.
    import socket

    from ots_desktop.core.codes import code_uri
    from tests.support.cli import run_ots

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"ws://127.0.0.1:{probe.getsockname()[1]}/v1"
    sender = worm.start_send(b"canary-rendezvous-4411")
    code = sender.read_code(timeout=TIMEOUT_S)
    receiver = worm.receiver
    env = {**receiver.env, "OTS_MAILBOX_URL": dead, "OTS_TRANSIT_HELPER": worm.transit_helper}
    scanned = code_uri(code, worm.mailbox_url)
    result = run_ots("receive", "--json", stdin=scanned.encode() + b"\n", env=env, timeout=TIMEOUT_S)
    assert result.returncode == 0, result
    assert "canary-rendezvous-4411" in result.stdout
    assert sender.wait(TIMEOUT_S) == 0, sender.describe()
    human = run_ots("receive", stdin=b"wormhole-transfer:7-a-b?rendezvous=https%3A%2F%2Fevil.example%2F\n", env=env)
    assert human.returncode != 0 and "not a ws:// or wss:// address" in human.stderr


def test_the_sender_hears_of_a_mailbox_outage_and_the_code_still_works_after_it(
        wormhole_server: RunningServer, isolated_home: Home) -> None:
    # ots send reaches the real mailbox through a link the test cuts and restores: a script sees
    # {"event": "mailbox", "connected": false} then true, and the same code still delivers.
    from urllib.parse import urlsplit

    from tests.support.tcp_proxy import CuttableProxy

    where = urlsplit(wormhole_server.mailbox_url)
    assert where.hostname is not None and where.port is not None
    proxy = CuttableProxy((where.hostname, where.port))
    via_proxy = Wormholes(isolated_home.root, f"ws://127.0.0.1:{proxy.port}{where.path}",
                          wormhole_server.transit_helper)
    direct = Wormholes(isolated_home.root, wormhole_server.mailbox_url, wormhole_server.transit_helper)
    try:
        sender = via_proxy.start_send(b"canary-cli-outage")
        code = sender.read_code(timeout=TIMEOUT_S)
        proxy.cut()
        assert sender.next_event(timeout=TIMEOUT_S) == {"event": "mailbox", "connected": False}
        proxy.restore()
        assert sender.next_event(timeout=TIMEOUT_S) == {"event": "mailbox", "connected": True}
        receiver = direct.run_receive(code, timeout=TIMEOUT_S)
        assert receiver.proc.returncode == 0, receiver.describe()
        assert receiver.last_event("received")["text"] == "canary-cli-outage"
        assert sender.wait(TIMEOUT_S) == 0, sender.describe()
    finally:
        via_proxy.close()
        direct.close()
        proxy.close()
