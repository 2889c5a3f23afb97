"""The app's widgets in a process of their own, on a real X display and the AT-SPI bus (for test_atspi_bus).

    QT_LINUX_ACCESSIBILITY_ALWAYS_ON=1 python -m tests.ui.a11y_driver

Reads one command a line on stdin and prints ``ok COMMAND`` when it is done:

- ``type CANARY CONTROL``: types CANARY into every secret field (the Send page's secret and
  passphrase, the link passphrase prompt, the Activity lookup) and edits it the ways a user
  does (Backspace, select all and Delete, paste, clear); types CONTROL into a plain Qt password
  field, whose leak the test must see (proof that it would see one);
- ``queue DIR``: queues every file in DIR on the Send page;
- ``status TEXT`` / ``error TEXT``: shows TEXT as a progress state / an error banner;
- ``quit``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QSocketNotifier, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit, QVBoxLayout, QWidget

from ots_desktop.ui.activity.lookup import LookupPanel
from ots_desktop.ui.announce import LiveLabel
from ots_desktop.ui.app import new_context
from ots_desktop.ui.banner import Banner
from ots_desktop.ui.qtloop import start_loop
from ots_desktop.ui.receive.prompts import PassphrasePrompt
from ots_desktop.ui.scroll_accessibility import install_scroll_area_interfaces
from ots_desktop.ui.send.page import SendPage
from ots_desktop.ui.send.secret_field import SecretField
from ots_desktop.ui.services import Services

APP_NAME = "ots-a11y-driver"


def edit_like_a_user(field: QLineEdit, canary: str) -> None:
    """Type, delete, select and delete, paste and clear ``canary`` in ``field``."""
    field.setFocus()
    QTest.keyClicks(field, canary)
    QTest.keyClick(field, Qt.Key.Key_Backspace)
    QTest.keyClick(field, Qt.Key.Key_Home)
    QTest.keyClick(field, Qt.Key.Key_Delete)
    QTest.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(field, Qt.Key.Key_Delete)
    QGuiApplication.clipboard().setText(canary)
    QTest.keyClick(field, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    QGuiApplication.clipboard().clear()
    field.clear()
    QTest.keyClicks(field, canary)
    field.clear()


def main() -> int:
    app = QApplication([APP_NAME])
    app.setApplicationName(APP_NAME)
    install_scroll_area_interfaces()  # as the app does
    window = QWidget()
    window.setWindowTitle(APP_NAME)
    layout = QVBoxLayout(window)
    status = LiveLabel("Share state", window)
    banner = Banner(window)
    secret = SecretField("secret", "Type or paste the secret", window)
    passphrase = SecretField("passphrase", "Optional passphrase", window)
    prompt = PassphrasePrompt(window)
    lookup = LookupPanel(window)
    start_loop(app)
    send_page = SendPage(new_context(Services()))  # the real Send page: its queue, drop zone and cards
    control = QLineEdit(window)
    control.setEchoMode(QLineEdit.EchoMode.Password)
    control.setAccessibleName("Plain Qt password field")
    for widget in (status, banner, secret, passphrase, prompt, lookup, send_page, control):
        layout.addWidget(widget)
    window.show()

    def run(line: str) -> None:
        words = line.split(" ", 1)
        if words[0] == "type":
            canary, control_canary = words[1].split(" ")
            for field in (secret.edit, passphrase.edit, prompt.field, lookup.field):
                edit_like_a_user(field, canary)
            edit_like_a_user(control, control_canary)
        elif words[0] == "queue":
            send_page.add_paths(sorted(Path(words[1]).iterdir()))
        elif words[0] == "status":
            status.setText(words[1])
        elif words[0] == "error":
            banner.error(words[1])
        elif words[0] == "quit":
            app.quit()
        print(f"ok {words[0]}", flush=True)

    notifier = QSocketNotifier(sys.stdin.fileno(), QSocketNotifier.Type.Read)

    def on_stdin() -> None:
        line = sys.stdin.readline()
        if not line:
            app.quit()
            return
        run(line.strip())

    notifier.activated.connect(on_stdin)
    print("ready", flush=True)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
