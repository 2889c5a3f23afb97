"""Typing a code with completion through real key presses (xdotool, XTEST on the real X server).

Enter and Tab on the suggestion list take the highlighted suggestion, as in a shell; Enter on
half a code never receives (which would use up the sender's code with a wrong-code alert on
both sides); word suggestions follow the code length (three words by default: a dash after the
first two). Only Enter on the whole code receives.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from ots_desktop.core.audit.events import EventType
from ots_desktop.ui.context import UiContext
from ots_desktop.ui.receive.page import ReceivePage
from tests.ui.receive_support import NET_MS, audit_entries, completions, receive_page, send_text

KEY_MS = 10_000


@pytest.fixture
def page(ctx: UiContext, qtbot: QtBot, tmp_path: Path) -> Iterator[ReceivePage]:
    yield from receive_page(ctx, qtbot, tmp_path / "downloads")


def xdotool(qtbot: QtBot, *args: str) -> None:
    """Real key events from another X client; Qt keeps running while it does."""
    proc = subprocess.Popen(["xdotool", *args])
    qtbot.waitUntil(lambda: proc.poll() is not None, timeout=KEY_MS)
    assert proc.returncode == 0


def typed(qtbot: QtBot, text: str) -> None:
    xdotool(qtbot, "type", "--delay", "20", text)


def key(qtbot: QtBot, name: str) -> None:
    xdotool(qtbot, "key", name)


def _focused_field(qtbot: QtBot, page: ReceivePage) -> None:
    page.window().activateWindow()
    page.focus_code()
    qtbot.waitUntil(page.field.hasFocus, timeout=KEY_MS)


def _list_shows(qtbot: QtBot, page: ReceivePage, wanted: str) -> None:
    qtbot.waitUntil(lambda: wanted in completions(page) and page.completion.popup.isVisible(), timeout=NET_MS)


def test_enter_and_tab_take_suggestions_and_only_a_whole_code_receives(qtbot: QtBot, ctx: UiContext,
                                                                       page: ReceivePage,
                                                                       peer_ctx: UiContext) -> None:
    sent, code = send_text(peer_ctx, qtbot, b"canary-typed-with-keys")
    nameplate, first, second, third = code.split("-")  # three words: the default length
    _focused_field(qtbot, page)
    typed(qtbot, f"{nameplate}-{first}")
    _list_shows(qtbot, page, f"{nameplate}-{first}-")
    # Enter on a highlighted suggestion takes it; nothing is received. (The whole word is typed, so the one
    # suggestion is the word with its dash: Down highlights it whatever the list held a moment before.)
    qtbot.waitUntil(lambda: page.completion.completer.completionModel().rowCount() == 1, timeout=KEY_MS)
    key(qtbot, "Down")
    key(qtbot, "Return")
    qtbot.waitUntil(lambda: page.field.text() == f"{nameplate}-{first}-", timeout=KEY_MS)
    assert not page.busy
    # The second word's suggestions end in a dash too (a third word follows); Tab takes the first one
    # that starts with what was typed.
    typed(qtbot, second[:3])
    _list_shows(qtbot, page, f"{nameplate}-{first}-{second}-")
    assert all(c.endswith("-") for c in completions(page)), completions(page)
    wanted = f"{nameplate}-{first}-{second}-"
    while page.completion.completer.completionModel().index(0, 0).data() != wanted:
        typed(qtbot, second[len(page.field.text()) - len(f"{nameplate}-{first}-")])
    key(qtbot, "Tab")
    qtbot.waitUntil(lambda: page.field.text() == wanted, timeout=KEY_MS)
    assert page.field.hasFocus() and not page.busy
    # Enter on half of the last word: a warning, no receive, the sender's code is not spent.
    typed(qtbot, third[:2])
    qtbot.waitUntil(page.completion.popup.isVisible, timeout=NET_MS)
    key(qtbot, "Escape")
    key(qtbot, "Return")
    qtbot.waitUntil(lambda: "not a whole word" in page.banner.text(), timeout=KEY_MS)
    assert not page.busy and not sent.done()
    # The rest of the word, then Enter on the whole code: received.
    typed(qtbot, third[2:])
    qtbot.waitUntil(lambda: page.field.text() == code, timeout=KEY_MS)
    key(qtbot, "Escape")  # the list may still be open on the exact word
    with qtbot.waitSignal(page.received, timeout=NET_MS):
        key(qtbot, "Return")
    qtbot.waitUntil(sent.done, timeout=NET_MS)
    assert sent.exception() is None
    assert audit_entries(ctx, qtbot, str(EventType.ALERT)) == []
    page.secret_view.clear()


def test_the_suggestion_summary_counts_and_names_the_first_few() -> None:
    from ots_desktop.ui.receive.completion_speech import summary

    assert summary([], 0) == ""
    assert summary(["7-aardvark"], 1) == "1 suggestion: 7-aardvark. Down arrow to choose one."
    words = [f"7-w{n}-" for n in range(5)]
    assert summary(words, 256) == ("256 suggestions: 7-w0-, 7-w1-, 7-w2-, 7-w3-, 7-w4-, and more. "
                                   "Down arrow to choose one.")
    assert summary(words[:2], 2) == "2 suggestions: 7-w0-, 7-w1-. Down arrow to choose one."


def test_the_suggestion_speech_uses_declared_slots_through_many_teardowns(qtbot: QtBot) -> None:
    """CI once saw "Slot 'CompletionSpeech::' not found" as a page went: PySide had called a
    dynamic slot (added to the class's meta-object on connect) by an index that was gone. With
    declared slots, connecting adds nothing to the meta-object; pages made and torn down while
    their lists change must raise nothing (pytest-qt fails the test on any error in the loop)."""
    from PySide6.QtCore import QCoreApplication, QEvent, QObject
    from PySide6.QtWidgets import QCompleter, QLineEdit

    from ots_desktop.ui.receive.completion_speech import CompletionSpeech

    declared = CompletionSpeech.staticMetaObject.methodCount()
    assert declared > QObject.staticMetaObject.methodCount()  # _changed and _highlighted
    for round_ in range(30):
        field = QLineEdit()
        completer = QCompleter([f"7-w{n}-" for n in range(8)], field)
        field.setCompleter(completer)
        speech = CompletionSpeech(field, completer, field)
        assert speech.metaObject().methodCount() == declared
        completer.setCompletionPrefix("7-w1" if round_ % 2 else "7")
        completer.complete()
        field.deleteLater()  # the list empties as the page goes
        if round_ % 5 == 4:  # the deferred deletions run between other pages' signals
            QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
