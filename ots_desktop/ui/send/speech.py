"""Reading a code aloud with Qt's text-to-speech, when the desktop has a working engine.

Qt's text-to-speech module comes with PySide6-Addons, hundreds of MB that most people never need:
it is the optional ``speech`` extra (``pip install 'ots-desktop[desktop,speech]'``), and not in the
installers. Without it there is no engine, and no Speak button.

The "mock" engine is for tests only. Other engines are tried in Qt's order and the
first that comes up without an error is used; speech-dispatcher with no daemon, for
example, reports an error at once, and then nothing is offered.
"""

from __future__ import annotations

import contextlib

from PySide6.QtCore import QObject, Signal

try:
    from PySide6.QtTextToSpeech import QTextToSpeech
except ImportError:  # PySide6-Addons is not installed: the optional `speech` extra
    QTextToSpeech = None  # type: ignore[assignment, misc]

TEST_ENGINE = "mock"


def _usable(engine: str, parent: QObject) -> QTextToSpeech | None:
    try:
        speech = QTextToSpeech(engine, parent)
    except RuntimeError:
        return None
    if speech.state() == QTextToSpeech.State.Error:
        speech.deleteLater()
        return None
    return speech


class Speaker(QObject):
    """Says words one after another. ``engine`` names a Qt engine; None picks the first usable real one."""

    speaking_changed = Signal(bool)
    word_spoken = Signal(str)

    def __init__(self, engine: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._speech: QTextToSpeech | None = None
        if QTextToSpeech is None:
            return
        names = [engine] if engine is not None else [
            name for name in QTextToSpeech.availableEngines() if name != TEST_ENGINE]
        for name in names:
            self._speech = _usable(name, self)
            if self._speech is not None:
                break
        if self._speech is not None:
            self._speech.stateChanged.connect(self._state_changed)
            self._speech.sayingWord.connect(lambda word, _id, _start, _length: self.word_spoken.emit(word))
            self._speech.errorOccurred.connect(lambda *_args: self._state_changed(QTextToSpeech.State.Error))

    @property
    def available(self) -> bool:
        """Whether speech works here (a Speak button is shown only then)."""
        return self._speech is not None and self._speech.state() != QTextToSpeech.State.Error

    @property
    def engine(self) -> str | None:
        """The engine in use, if any."""
        return self._speech.engine() if self._speech is not None else None

    @property
    def speaking(self) -> bool:
        """Whether words are being said now."""
        return self._speech is not None and self._speech.state() in (
            QTextToSpeech.State.Speaking, QTextToSpeech.State.Synthesizing)

    def speak(self, words: list[str]) -> None:
        """Say ``words`` one at a time (whatever was being said stops first)."""
        if not self.available or self._speech is None:
            return
        self._speech.stop()
        for word in words:
            self._speech.enqueue(word)

    def stop(self) -> None:
        """Stop talking."""
        if self._speech is not None:
            with contextlib.suppress(RuntimeError):
                self._speech.stop()

    def _state_changed(self, state: QTextToSpeech.State) -> None:
        self.speaking_changed.emit(state in (QTextToSpeech.State.Speaking, QTextToSpeech.State.Synthesizing))
