"""``ots send`` and ``ots receive`` warn once, before connecting, about a plain ``ws://`` mailbox
off this machine; a loopback mailbox (or ``wss://``) gets no warning.

The "remote" mailbox is ``ws://0.0.0.0:PORT/v1``. By its name 0.0.0.0 is not a loopback
address, so the warning is due; on Linux a connection to it goes to this machine, so no
packet leaves the host. Either the real test server's port is used (the exchange then
works, warning or not) or a port held by a socket that is bound but not listening, which
refuses at once. Everything runs as real ``ots`` processes.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from ots_desktop.core.errors import ExitCode
from tests.support.cli import json_lines, run_ots
from tests.support.servers import RunningServer
from tests.support.wormhole_cli import Wormholes

WARNING = "ots: warning: the mailbox 0.0.0.0 is reached over plain ws://"
CODE = "7-guitarist-revenge-amulet"

pytestmark = pytest.mark.usefixtures("keychain")


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound by this test, never listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        yield int(holder.getsockname()[1])


def _unspecified(url: str) -> str:
    """The same mailbox, addressed as 0.0.0.0 instead of 127.0.0.1."""
    return f"ws://0.0.0.0:{urlsplit(url).port}/v1"


def _warned_once(stderr: str) -> None:
    assert stderr.count("warning:") == 1, stderr
    assert WARNING in stderr
    assert "who connects, when, and the code's nameplate" in stderr
    assert "Traceback" not in stderr


def test_send_warns_once_before_the_code(wormhole_server: RunningServer) -> None:
    result = run_ots("send", "--mailbox-url", _unspecified(wormhole_server.mailbox_url), "--timeout", "1",
                     stdin=b"a secret")
    # The warning does not stop anything: the code is made, then nobody comes.
    assert result.returncode == ExitCode.PEER_NEVER_CAME, result
    _warned_once(result.stderr)
    assert result.stderr.index(WARNING) < result.stderr.index("ots: error:")
    assert result.stdout.startswith("Wormhole code: ")
    assert "warning" not in result.stdout


def test_send_json_reports_the_warning_as_an_event_first(wormhole_server: RunningServer) -> None:
    result = run_ots("send", "--json", "--mailbox-url", _unspecified(wormhole_server.mailbox_url), "--timeout",
                     "1", stdin=b"a secret")
    assert result.returncode == ExitCode.PEER_NEVER_CAME, result
    events = json_lines(result.stdout)  # every stdout line is JSON
    assert [event["event"] for event in events] == ["warning", "code", "failed"]
    assert events[0]["reason"] == "plain_mailbox"
    assert events[0]["message"].startswith("the mailbox 0.0.0.0 is reached over plain ws://")
    _warned_once(result.stderr)


def test_the_mailbox_from_the_environment_is_checked_too(refusing_port: int) -> None:
    result = run_ots("send", stdin=b"a secret", env={"OTS_MAILBOX_URL": f"ws://0.0.0.0:{refusing_port}/v1"})
    assert result.returncode == ExitCode.SERVER_UNREACHABLE, result
    _warned_once(result.stderr)
    assert result.stderr.index(WARNING) < result.stderr.index("ots: error: cannot reach the wormhole mailbox")


def test_receive_warns_once_before_connecting(refusing_port: int) -> None:
    url = f"ws://0.0.0.0:{refusing_port}/v1"
    result = run_ots("receive", CODE, "--mailbox-url", url)
    assert result.returncode == ExitCode.SERVER_UNREACHABLE, result
    _warned_once(result.stderr)
    assert result.stderr.index(WARNING) < result.stderr.index("ots: error: cannot reach the wormhole mailbox")
    assert CODE not in result.stderr
    as_json = run_ots("receive", "--json", "--mailbox-url", url, stdin=f"{CODE}\n".encode())
    assert as_json.returncode == ExitCode.SERVER_UNREACHABLE, as_json
    assert [event["event"] for event in json_lines(as_json.stdout)] == ["warning", "failed"]
    _warned_once(as_json.stderr)


def test_wss_off_this_machine_gets_no_warning(refusing_port: int) -> None:
    result = run_ots("send", "--mailbox-url", f"wss://0.0.0.0:{refusing_port}/v1", stdin=b"a secret")
    assert result.returncode == ExitCode.SERVER_UNREACHABLE, result
    assert "warning" not in result.stderr


def test_loopback_mailbox_gets_no_warning(wormhole_server: RunningServer, tmp_path_factory: pytest.TempPathFactory
                                          ) -> None:
    worm = Wormholes(tmp_path_factory.mktemp("sides"), wormhole_server.mailbox_url, wormhole_server.transit_helper)
    try:
        sender = worm.start_send(b"over loopback")
        receiver = worm.run_receive(sender.read_code())
        assert receiver.proc.returncode == 0, receiver.describe()
        assert sender.wait() == 0, sender.describe()
        assert receiver.last_event("received")["text"] == "over loopback"
        for process in (sender, receiver):
            assert "warning" not in process.stderr, process.describe()
            assert all(event["event"] != "warning" for event in process.events()), process.describe()
    finally:
        worm.close()
