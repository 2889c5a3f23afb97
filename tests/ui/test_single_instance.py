"""A second launch hands its files to the running app and exits; the first one comes to the front."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pytestqt.qtbot import QtBot

from ots_desktop.core.paths import app_paths
from ots_desktop.ui.single_instance import SingleInstance, socket_name
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
