"""`ots server` as a real process: the stock magic-wormhole CLI talks through it."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Home
from tests.support.cli import json_lines, run_ots
from tests.support.processes import Service
from tests.support.servers import LineReader, RunningServer, start_ots_server

WORMHOLE = str(Path(sys.executable).parent / "wormhole")
CODE = "7-crossover-clockwork"
TIMEOUT_S = 60


def _wormhole_env() -> dict[str, str]:
    # A developer's WORMHOLE_* settings must not point the stock CLI anywhere else.
    return {k: v for k, v in os.environ.items() if not k.startswith("WORMHOLE_")}


def _wormhole(server: RunningServer, *args: str) -> list[str]:
    return [WORMHOLE, "--relay-url", server.mailbox_url, "--transit-helper", server.transit_helper, *args]


def _exchange(server: RunningServer, send: list[str], receive: list[str]
              ) -> tuple[subprocess.CompletedProcess[bytes], str, str]:
    """Run the stock sender and receiver side by side; returns the receiver's result and the sender's output."""
    sender = subprocess.Popen(_wormhole(server, "send", *send), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=_wormhole_env())
    try:
        received = subprocess.run(_wormhole(server, "receive", *receive), stdin=subprocess.DEVNULL,
                                  capture_output=True, env=_wormhole_env(), timeout=TIMEOUT_S, check=False)
        out, err = sender.communicate(timeout=TIMEOUT_S)
    finally:
        if sender.poll() is None:
            sender.kill()
            sender.wait(TIMEOUT_S)
    assert sender.returncode == 0, err.decode(errors="replace")
    return received, out.decode(errors="replace"), err.decode(errors="replace")


@pytest.fixture
def free_port() -> Iterator[int]:
    """A port held by a plain listening socket for the length of the test."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_starts_on_os_assigned_ports_and_prints_one_ready_line(wormhole_server: RunningServer) -> None:
    ready = wormhole_server.ready
    assert set(ready) == {"event", "mailbox_url", "transit_helper", "mailbox_port", "transit_port", "data_dir",
                          "link_url", "link_port", "public_url", "store", "max_size", "country_rules"}
    assert ready["country_rules"] is False  # no --geoip-db: links cannot be limited to countries
    assert wormhole_server.mailbox_port > 0 and wormhole_server.transit_port > 0 and ready["link_port"] > 0
    assert len({wormhole_server.mailbox_port, wormhole_server.transit_port, ready["link_port"]}) == 3
    assert ready["link_url"] == ready["public_url"] == f"http://127.0.0.1:{ready['link_port']}"
    assert (ready["store"], ready["max_size"]) == ("sqlite", 10 * 1024 * 1024)
    assert ready["mailbox_url"] == f"ws://127.0.0.1:{wormhole_server.mailbox_port}/v1"
    assert ready["transit_helper"] == f"tcp:127.0.0.1:{wormhole_server.transit_port}"
    assert wormhole_server.service.alive()
    for port in (wormhole_server.mailbox_port, wormhole_server.transit_port, ready["link_port"]):
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass


def test_stock_wormhole_sends_text_through_our_mailbox(wormhole_server: RunningServer) -> None:
    text = "hello through our own mailbox " + os.urandom(8).hex()
    received, _, _ = _exchange(wormhole_server, ["--text", text, "--code", CODE], [CODE])
    assert received.returncode == 0, received.stderr.decode(errors="replace")
    assert received.stdout.decode().strip() == text


def test_stock_wormhole_sends_a_file_through_our_transit_relay(wormhole_server: RunningServer,
                                                               tmp_path: Path) -> None:
    source = tmp_path / "payload.bin"
    source.write_bytes(os.urandom(200 * 1024))
    target = tmp_path / "received.bin"
    # --no-listen on both sides leaves no direct hint, so the bytes can only go via the relay.
    received, _, sender_err = _exchange(
        wormhole_server, ["--hide-progress", "--no-listen", "--code", CODE, str(source)],
        ["--accept-file", "-o", str(target), "--hide-progress", "--no-listen", CODE])
    receiver_err = received.stderr.decode(errors="replace")
    assert received.returncode == 0, receiver_err
    assert target.read_bytes() == source.read_bytes()
    assert f"relay:{wormhole_server.transit_helper}" in receiver_err + sender_err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_exits_zero_promptly(isolated_home: Home, signum: int) -> None:
    server = start_ots_server(isolated_home.root)
    try:
        os.kill(server.pid, signum)
        sent = time.monotonic()
        code = server.service.proc.wait(timeout=TIMEOUT_S)
        elapsed = time.monotonic() - sent
    finally:
        server.stop()
    assert code == 0, server.service.log_text()
    assert elapsed < 5.0, f"took {elapsed:.2f} s to exit"  # bounded by STOP_TIMEOUT_S per service; room for a loaded CI
    assert "Traceback" not in server.service.log_text()


@pytest.mark.parametrize("which", ["--port", "--transit-port", "--link-port"])
def test_a_port_in_use_is_a_clear_error(free_port: int, tmp_path: Path, which: str) -> None:
    ports = {name: "0" for name in ("--port", "--transit-port", "--link-port")}
    ports[which] = str(free_port)
    result = run_ots("server", *[x for pair in ports.items() for x in pair], "--data-dir", str(tmp_path / "srv"),
                     "--json", timeout=TIMEOUT_S)
    assert result.returncode != 0
    message = f"cannot listen on 127.0.0.1:{free_port}: address already in use"
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert json_lines(result.stdout) == [{"event": "error", "error": message, "exit_code": 1}]


def test_the_data_dir_holds_only_the_private_databases(wormhole_server: RunningServer) -> None:
    data_dir = wormhole_server.data_dir
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    names = {p.name for p in data_dir.iterdir()}
    stores = {f"{db}{tail}" for db in ("links.sqlite3", "links-requests.sqlite3") for tail in ("", "-wal", "-shm")}
    assert {"mailbox.sqlite", "links.sqlite3"} <= names <= {"mailbox.sqlite", "links-envelopes", *stores}
    for path in data_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path.name
    db_path = data_dir / "mailbox.sqlite"
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"nameplates", "mailboxes", "messages"} <= tables


def test_human_output_tells_clients_what_to_pass_and_uses_the_state_dir(isolated_home: Home) -> None:
    argv = [sys.executable, "-m", "ots_desktop.cli", "server", "--port", "0", "--transit-port", "0",
            "--link-port", "0", "--public-url", "https://secrets.example.com/"]
    service = Service("ots-server-human", argv, env=dict(os.environ), log_dir=isolated_home.root)
    reader = LineReader(service)
    try:
        lines = [reader.next_line(timeout=TIMEOUT_S).decode() for _ in range(13)]
    finally:
        service.stop()
    text = "\n".join(lines)
    url = lines[0].split()[-1]
    helper = lines[1].split()[-1]
    assert url.startswith("ws://127.0.0.1:") and url.endswith("/v1")
    assert helper.startswith("tcp:127.0.0.1:")
    assert f"ots send --mailbox-url {url} --transit-helper {helper}" in text
    assert f"wormhole --relay-url {url} --transit-helper {helper} send" in text
    assert f"OTS_MAILBOX_URL={url} OTS_TRANSIT_HELPER={helper} OTS_RELAY_URL=https://secrets.example.com" in text
    assert "links start with https://secrets.example.com/s/" in text
    assert "ots send --via link --relay https://secrets.example.com" in text
    assert (isolated_home.ots_home / "state" / "server" / "mailbox.sqlite").is_file()
    assert (isolated_home.ots_home / "state" / "server" / "links.sqlite3").is_file()
    assert "warning" not in service.log_text()


def test_a_non_loopback_host_warns_about_tls(tmp_path: Path) -> None:
    server = start_ots_server(tmp_path, "--host", "0.0.0.0")
    try:
        assert server.mailbox_url.startswith("ws://0.0.0.0:")
    finally:
        server.stop()
    log = server.service.log_text()
    assert "not a loopback address" in log and "TLS proxy" in log


def _get_json(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_link_relay_alone_serves_health_and_its_openapi(tmp_path: Path) -> None:
    server = start_ots_server(tmp_path, "--no-wormhole", "--public-url", "https://links.example.org")
    try:
        ready = server.ready
        assert ready["mailbox_url"] is None and ready["transit_helper"] is None
        assert server.link_url is not None and server.link_url.startswith("http://127.0.0.1:")
        assert ready["public_url"] == "https://links.example.org" and ready["store"] == "sqlite"
        assert _get_json(f"{server.link_url}/healthz") == (200, {"status": "ok", "store": "sqlite",
                                                                  "country_rules": False, "streaming": True})
        code, doc = _get_json(f"{server.link_url}/api/v1/openapi.json")
        assert code == 200 and doc["servers"] == [{"url": "https://links.example.org"}]
        assert "/api/v1/secrets/{id}/reveal" in doc["paths"]
    finally:
        server.stop()
    assert not (server.data_dir / "mailbox.sqlite").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--no-wormhole", "--no-link"], "leave nothing to run"),
    (["--store", "mysql://db"], "unknown --store"),
    (["--store", "redis://:hunter2@127.0.0.1:1/0"], "cannot reach"),
    (["--max-size", "lots"], "not a size"),
    (["--max-size", "17GiB"], "between 1 KiB and 16 GiB"),
    (["--public-url", "ftp://x"], "must start with https://"),
    (["--create-rate", "fast"], "a rate is N or N/BURST"),
])  # fmt: skip
def test_bad_link_relay_options_are_clear_errors(tmp_path: Path, args: list[str], message: str) -> None:
    result = run_ots("server", "--port", "0", "--transit-port", "0", "--link-port", "0",
                     "--data-dir", str(tmp_path / "srv"), *args, timeout=TIMEOUT_S)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
