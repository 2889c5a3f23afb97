"""300 MB files through the app, both ways, against a real ``ots`` process on the test servers.

The app once aborted part-way through such transfers on CPython 3.11 (PySide6 6.12.0 lost a
reference to True on every signal emit: tests/unit/test_pyside_refcount.py); progress is
throttled now, and the bytes must arrive whole (sha256), with progress shown to the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from ots_desktop.ui.context import UiContext
from tests.support.big_files import make_big_file, sha256_of
from tests.support.servers import RunningServer
from tests.ui.receive_support import accept_offer, press_receive, receive_page, type_code
from tests.ui.send_support import click_share, new_page, wait_code

SIZE = 300 * 1024 * 1024  # 75 blocks of 4 MiB
BIG_MS = 240_000


def _ots(args: list[str], home: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, OTS_HOME=str(home))
    return subprocess.Popen([sys.executable, "-m", "ots_desktop.cli", *args], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _flags(servers: RunningServer) -> list[str]:
    return ["--mailbox-url", servers.mailbox_url, "--transit-helper", servers.transit_helper, "--json"]


def test_a_300_mb_file_sent_from_the_app_arrives_whole(qtbot: QtBot, ctx: UiContext, servers: RunningServer,
                                                       tmp_path: Path) -> None:
    source = tmp_path / "backup.tar"
    expected = make_big_file(source, SIZE)
    page = new_page(qtbot, ctx)
    page.add_paths([source])
    click_share(qtbot, page)
    [card] = wait_code(qtbot, page)
    progress: list[int] = []
    card.progress.valueChanged.connect(progress.append)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    receiver = _ots(["receive", *_flags(servers), "--out", str(inbox)], tmp_path / "cli-home")
    assert receiver.stdin is not None
    receiver.stdin.write(card.code.encode() + b"\n")
    receiver.stdin.close()
    qtbot.waitUntil(lambda: card.state in ("delivered", "failed"), timeout=BIG_MS)
    qtbot.waitUntil(lambda: receiver.poll() is not None, timeout=60_000)
    assert receiver.stdout is not None and receiver.stderr is not None
    out, err = receiver.stdout.read(), receiver.stderr.read()
    assert card.state == "delivered", card.state
    assert receiver.returncode == 0, err.decode()
    assert sha256_of(inbox / "backup.tar") == expected
    assert progress and progress[-1] == 1000 and len(progress) < 2000  # throttled, and shown to the end
    assert json.loads(out.decode().strip().splitlines()[-1])["size"] == SIZE


@pytest.mark.usefixtures("keychain")
def test_a_300_mb_file_sent_by_ots_arrives_whole_in_the_app(qtbot: QtBot, ctx: UiContext, servers: RunningServer,
                                                            tmp_path: Path) -> None:
    source = tmp_path / "dump.sql"
    expected = make_big_file(source, SIZE)
    sender = _ots(["send", *_flags(servers), "--file", str(source)], tmp_path / "cli-home")
    assert sender.stdout is not None and sender.stdin is not None
    sender.stdin.close()
    line = sender.stdout.readline()  # {"event": "code", ...} comes first
    code = json.loads(line)["code"]
    for page in receive_page(ctx, qtbot, tmp_path / "downloads"):
        values: list[int] = []
        page.progress.valueChanged.connect(values.append)
        type_code(qtbot, page, code)
        with qtbot.waitSignal(page.received, timeout=BIG_MS):
            press_receive(qtbot, page)
            accept_offer(qtbot, page)
        qtbot.waitUntil(lambda: sender.poll() is not None, timeout=60_000)
        assert sender.returncode == 0, sender.stderr.read().decode() if sender.stderr else ""
        assert sha256_of(page.save_folder / "dump.sql") == expected
        assert values and values[-1] == 100 and len(values) < 2000
