"""A share whose process dies gets an ``interrupted`` ending in the audit log at the next start; nothing else does.

Real ``ots`` processes on the test session's mailbox and transit relay, killed with SIGKILL
(no chance to record anything), and the real keychain. The attacker here can write
``OTS_HOME``: a planted marker must not close a share that is still running or already ended,
nor invent one.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ots_desktop.core.inflight import FOLDER
from ots_desktop.core.paths import app_paths
from tests.support.cli import json_lines, run_ots
from tests.support.servers import RunningServer

pytestmark = pytest.mark.usefixtures("keychain")


def _flags(server: RunningServer) -> list[str]:
    return ["--mailbox-url", server.mailbox_url, "--transit-helper", server.transit_helper, "--json"]


def _sender(server: RunningServer, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    """``ots send`` waiting for its receiver; its share id (from the audit log, once it is on record)."""
    proc = subprocess.Popen([sys.executable, "-m", "ots_desktop.cli", "send", *_flags(server), *args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"canary-interrupted\n")
    proc.stdin.close()
    assert json.loads(proc.stdout.readline())["event"] == "code"
    markers = app_paths().data_dir / FOLDER
    deadline = time.monotonic() + 30
    while not (names := [p.name for p in markers.glob("*")]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert names, "no in-flight marker was written"
    return proc, names[0]


def _rows(share_id: str) -> list[tuple[str, str | None]]:
    listed = json_lines(run_ots("audit", "list", "--json", "--limit", "1000").stdout)
    ours = sorted((r for r in listed if r.get("share_id") == share_id), key=lambda r: int(r["seq"]))
    return [(r["event_type"], r.get("reason")) for r in ours]


def test_a_killed_sender_gets_one_interrupted_ending_at_the_next_start(wormhole_server: RunningServer) -> None:
    proc, share_id = _sender(wormhole_server)
    # While the sender lives, another start leaves its share alone.
    assert _rows(share_id) == [("share_created", None)]
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert _rows(share_id) == [("share_created", None), ("share_failed", "interrupted")]
    assert _rows(share_id) == [("share_created", None), ("share_failed", "interrupted")]  # once
    assert not list((app_paths().data_dir / FOLDER).glob("*"))
    assert run_ots("audit", "verify").returncode == 0


def test_a_share_that_ended_leaves_no_marker_and_gets_no_second_ending(wormhole_server: RunningServer,
                                                                       tmp_path: Path) -> None:
    proc, share_id = _sender(wormhole_server, "--timeout", "2")
    assert proc.wait(60) != 0  # nobody came: it ended (and recorded that) by itself
    assert not list((app_paths().data_dir / FOLDER).glob("*"))
    before = _rows(share_id)
    assert before[0] == ("share_created", None) and len(before) == 2 and before[1][1] != "interrupted"
    # A planted marker for it (a dead pid) changes nothing; nor does one for a share that never existed.
    folder = app_paths().data_dir / FOLDER
    folder.mkdir(mode=0o700, exist_ok=True)
    (folder / share_id).write_text(json.dumps({"pid": 2**22 + 7, "started": "1"}))
    (folder / "AAAAAAAAAAAAAAAAAAAAAA").write_text("not json")
    assert _rows(share_id) == before
    assert _rows("AAAAAAAAAAAAAAAAAAAAAA") == []
    assert not list(folder.glob("*"))


def test_a_marker_naming_a_live_process_is_left_alone(wormhole_server: RunningServer) -> None:
    proc, share_id = _sender(wormhole_server)
    try:
        marker = app_paths().data_dir / FOLDER / share_id
        planted = json.loads(marker.read_text())
        assert planted["pid"] == proc.pid
        assert _rows(share_id) == [("share_created", None)]
        assert marker.exists()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert _rows(share_id)[-1] == ("share_failed", "interrupted")
