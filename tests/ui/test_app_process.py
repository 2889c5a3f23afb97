"""The real ``ots-desktop`` process on the test X server, with the tray host running."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import Home
from tests.support.xserver import XSession


def test_the_app_starts_with_its_tray_and_quits_through_the_window(x_session: XSession, isolated_home: Home) -> None:
    # --exit-when-ready quits through MainWindow.quit_app, as the tray's Quit does, once the pages, the
    # tray and the reactor are up. With a tray the window hides on close instead of closing, which must not
    # veto the quit (the process would hang).
    assert x_session.tray is not None and x_session.tray.alive()
    done = subprocess.run([sys.executable, "-m", "ots_desktop.ui", "--exit-when-ready"], env=dict(os.environ),
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")


def test_a_bad_config_is_a_clear_message_not_a_traceback(x_session: XSession, isolated_home: Home) -> None:
    config = isolated_home.ots_home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("code_length = 99\n")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    # The one stand-in here: the modal error box would wait for a click nobody makes, so it prints instead.
    done = subprocess.run([sys.executable, "-c", "import sys; from PySide6.QtWidgets import QMessageBox; "
                           "QMessageBox.critical = staticmethod(lambda parent, title, text: print(title, '|', text)); "
                           "from ots_desktop.ui.app import main; sys.exit(main(['ots-desktop']))"],
                          env=env, capture_output=True, timeout=60, check=False)
    assert done.returncode != 0
    out = done.stdout.decode()
    assert "ots-desktop cannot start" in out and "code_length must be 2 to 8 words" in out
    assert "Traceback" not in done.stderr.decode()


def test_the_window_paints_before_the_slow_parts_load(x_session: XSession, isolated_home: Home) -> None:
    # Cold start: the window (with its tab bar) is painted from a handful of Qt modules; the pages, the
    # network modules, the keychain and Twisted come after. This pins what the first paint may load.
    probe = ("import sys; from ots_desktop.ui.app import main; code = main(['ots-desktop', '--exit-after-paint']); "
             "late = ['twisted', 'wormhole', 'keyring', 'qasync', 'PySide6.QtNetwork', 'platformdirs', 'hashlib', "
             "'ots_desktop.ui.send.page', 'ots_desktop.ui.services', 'ots_desktop.core.audit.log']; "
             "print('loaded:', [m for m in late if m in sys.modules]); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", probe], env=dict(os.environ), capture_output=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert "loaded: []" in done.stdout.decode(), done.stdout.decode()
