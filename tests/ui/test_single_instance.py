"""A second launch hands its files to the running app and exits; the first one comes to the front."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from ots_desktop.core.paths import app_paths
from ots_desktop.ui.handoff import hand_over, socket_name, socket_path
from ots_desktop.ui.single_instance import SingleInstance
from tests.conftest import Home


def test_a_second_launch_forwards_its_files_and_exits(qtbot: QtBot, isolated_home: Home, tmp_path: Path) -> None:
    paths = app_paths().ensure()
    first = SingleInstance(paths.state_dir)
    assert first.listen()
    try:
        queued = tmp_path / "service-account.json"
        queued.write_text("{}")
        with qtbot.waitSignal(first.activated, timeout=30_000) as got:
            done = subprocess.run([sys.executable, "-m", "ots_desktop.ui", str(queued)], env=dict(os.environ),
                                  timeout=60, capture_output=True, check=False)
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        assert got.args == [[str(queued)]]
    finally:
        first.close()


def test_installations_do_not_share_a_socket(tmp_path: Path) -> None:
    assert socket_name(tmp_path / "a") != socket_name(tmp_path / "b")
    assert socket_name(tmp_path / "a") == socket_name(tmp_path / "a")


_HOLDER = """
import sys
from pathlib import Path
from PySide6.QtCore import QCoreApplication
from ots_desktop.ui.single_instance import SingleInstance
app = QCoreApplication([])
holder = SingleInstance(Path(sys.argv[1]))
assert holder.listen()
print("listening", flush=True)
app.exec()
"""


def test_a_stale_socket_from_a_killed_instance_is_taken_over(isolated_home: Home) -> None:
    paths = app_paths().ensure()
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(paths.state_dir)], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == b"listening"
    finally:
        holder.kill()  # SIGKILL: no chance to remove its socket
        holder.wait(10)
    after = SingleInstance(paths.state_dir)
    assert after.forward([]) is False  # nobody answers on the leftover socket
    assert after.listen()
    after.close()


def test_garbage_on_the_socket_is_ignored(qtbot: QtBot, isolated_home: Home) -> None:
    from PySide6.QtNetwork import QLocalSocket

    paths = app_paths().ensure()
    first = SingleInstance(paths.state_dir)
    assert first.listen()
    try:
        seen: list[list[str]] = []
        first.activated.connect(seen.append)
        socket = QLocalSocket()
        socket.connectToServer(first.name)
        assert socket.waitForConnected(2000)
        socket.write(b"not json\n{\"command\": \"rm -rf\"}\n")
        socket.flush()
        socket.waitForBytesWritten(2000)
        with qtbot.waitSignal(first.activated, timeout=5000):
            follow = QLocalSocket()
            follow.connectToServer(first.name)
            assert follow.waitForConnected(2000)
            follow.write(b'{"command": "show", "files": ["a", 3]}\n')
            follow.flush()
            follow.waitForBytesWritten(2000)
        assert seen == [["a"]]
    finally:
        first.close()


def test_the_handover_knocks_where_qt_listens_and_only_on_our_own_socket(
        isolated_home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The second launch uses a plain Unix socket (no QtNetwork before its first paint), so its idea of
    # the path must be Qt's, TMPDIR included; and a socket someone else owns must never get our files.
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmpdir))
    paths = app_paths().ensure()
    assert hand_over(paths.state_dir, []) is False  # nobody listens
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(paths.state_dir)], stdout=subprocess.PIPE,
                              env=dict(os.environ))
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == b"listening"
        where = socket_path(socket_name(paths.state_dir))
        assert where.parent == tmpdir and where.exists()
        if os.getuid() == 0:  # only root can give the socket away; it stands for another user's socket
            os.chown(where, 4242, -1)
            assert hand_over(paths.state_dir, ["/secret/plan.txt"]) is False
            os.chown(where, 0, -1)
        assert hand_over(paths.state_dir, ["/secret/plan.txt"]) is True
    finally:
        holder.kill()
        holder.wait(10)
