"""Secret fields keep only bullets in Qt, yet edit like any field; value labels carry their value.

What reaches the real accessibility bus is checked in test_atspi_bus; here the editing itself.
"""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible, QGuiApplication, QInputMethodEvent
from PySide6.QtWidgets import QLabel, QLineEdit

from ots_desktop.ui.announce import LiveLabel, expose_value
from ots_desktop.ui.masked_edit import BULLET
from ots_desktop.ui.send.secret_field import SecretField

CANARY = "CANARYmasked-\u00e9\U0001f511"


def qt_text(edit: QLineEdit) -> str:
    """What Qt itself holds (and tells assistive technology)."""
    return QLineEdit.text(edit)


def make_field(qtbot: QtBot) -> SecretField:
    field = SecretField("secret", "Type the secret")
    qtbot.addWidget(field)
    field.show()
    field.edit.setFocus()
    return field


def test_typing_and_deleting_keep_the_text_here_and_bullets_in_qt(qtbot: QtBot) -> None:
    field = make_field(qtbot)
    qtbot.keyClicks(field.edit, "abcdef")
    assert field.edit.text() == "abcdef" and qt_text(field.edit) == BULLET * 6
    qtbot.keyClick(field.edit, Qt.Key.Key_Backspace)
    qtbot.keyClick(field.edit, Qt.Key.Key_Home)
    qtbot.keyClick(field.edit, Qt.Key.Key_Delete)
    assert field.edit.text() == "bcde"
    qtbot.keyClick(field.edit, Qt.Key.Key_Right)
    qtbot.keyClick(field.edit, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(field.edit, "X")  # typing over a selection replaces it
    assert field.edit.text() == "bXde" and qt_text(field.edit) == BULLET * 4
    qtbot.keyClick(field.edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(field.edit, Qt.Key.Key_Delete)
    assert field.is_empty() and qt_text(field.edit) == ""


def test_paste_input_methods_and_show_mirror_the_real_text(qtbot: QtBot) -> None:
    field = make_field(qtbot)
    QGuiApplication.clipboard().setText(CANARY)
    qtbot.keyClick(field.edit, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    QGuiApplication.clipboard().clear()
    assert field.edit.text() == CANARY and CANARY not in qt_text(field.edit)
    committed = QInputMethodEvent()
    committed.setCommitString("!")
    QGuiApplication.sendEvent(field.edit, committed)
    assert field.edit.text() == CANARY + "!"
    qtbot.keyClick(field.edit, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # no undo while hidden
    assert field.edit.text() == CANARY + "!"
    field.show_toggle.click()  # Show: the real text is in Qt now, by request
    assert qt_text(field.edit) == CANARY + "!"
    qtbot.keyClick(field.edit, Qt.Key.Key_Backspace)
    field.show_toggle.click()
    assert field.edit.text() == CANARY and CANARY not in qt_text(field.edit)
    secret = field.take()
    with secret:
        assert secret.reveal_text() == CANARY
    assert field.is_empty() and qt_text(field.edit) == ""


def test_the_field_keeps_its_length_limit(qtbot: QtBot) -> None:
    field = SecretField("passphrase", "", max_bytes=4)
    qtbot.addWidget(field)
    qtbot.keyClicks(field.edit, "1234567")
    assert field.edit.text() == "12345"  # one over the limit, so "too large" can be told


def test_a_value_label_is_named_by_its_value_and_a_live_label_too(qtbot: QtBot) -> None:
    code = expose_value(QLabel("8-medusa-bluebird"), "Wormhole code")
    state = LiveLabel("Share state")
    for label in (code, state):
        qtbot.addWidget(label)
    state.setText("Waiting for the other side\u2026")
    for label, value, caption in ((code, "8-medusa-bluebird", "Wormhole code"),
                                  (state, "Waiting for the other side\u2026", "Share state")):
        iface = QAccessible.queryAccessibleInterface(label)
        assert iface.text(QAccessible.Text.Name) == value
        assert iface.text(QAccessible.Text.Description) == caption


def test_the_key_file_passphrase_dialog_keeps_the_passphrase_off_the_widget(qtbot: QtBot) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QDialog

    from ots_desktop.ui.app import _ask_keyfile_passphrase
    from ots_desktop.ui.masked_edit import BULLET, MaskedLineEdit

    class Recorder:  # stands in for Services: only the one call the dialog makes
        got: bytes | None = None

        def set_keyfile_passphrase(self, secret: object) -> None:
            self.got = bytes(secret.view())  # type: ignore[attr-defined]

    seen: list[str] = []

    def type_and_accept() -> None:
        dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QDialog) and w.isVisible())
        field = dialog.findChild(MaskedLineEdit)
        qtbot.keyClicks(field, "k3y file pass")
        seen.append(qt_side_text(field))
        qtbot.keyClick(field, Qt.Key.Key_Return)

    recorder = Recorder()
    QTimer.singleShot(200, type_and_accept)
    assert _ask_keyfile_passphrase(recorder)  # type: ignore[arg-type]
    assert recorder.got == b"k3y file pass"
    assert seen == [BULLET * len("k3y file pass")]


def qt_side_text(field: object) -> str:
    """The text Qt holds (what the accessibility bus is told)."""
    return QLineEdit.text(field)  # type: ignore[arg-type]
