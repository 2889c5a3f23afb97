"""Completion for wormhole codes as they are typed: nameplates in use first, then PGP words.

A code entry session (one wormhole on the mailbox) starts when the field gets the
focus or the first character. Typing the dash after a nameplate claims that
nameplate, as the stock ``wormhole receive`` does on Tab; from then on the words
part completes from the PGP word list. Editing the nameplate afterwards starts a
new session. When the receive begins, the finished entry is handed over; when the
mailbox cannot be reached, completion is simply off and a typed code still works.

Keys work as in a shell: Tab or Enter on the list takes the highlighted suggestion (Tab
takes the first when none is highlighted), and Tab in the field completes a word that has
one completion. Only Enter on a complete code receives (:meth:`CodeCompleter.incomplete`).
The arrow keys move through the list (the field shows the highlighted suggestion meanwhile; the
list stays as it is until the person types or takes one). Word suggestions follow the expected
code length: a dash follows each word but the last.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QFocusEvent, QKeyEvent
from PySide6.QtWidgets import QAbstractItemView, QCompleter, QLineEdit

from ots_desktop.channels.link_urls import is_link
from ots_desktop.channels.wormhole import CodeEntry, WormholeChannel
from ots_desktop.core.errors import OtsError
from ots_desktop.core.policy import CODE_DEFAULT_WORDS
from ots_desktop.runtime import within
from ots_desktop.ui.receive.completion_speech import CompletionSpeech
from ots_desktop.ui.tasks import TaskRunner, describe_error

REFRESH_MS = 800
WORDLIST_WAIT_S = 20.0
IDLE_CLOSE_MS = 120_000  # an untouched session leaves the mailbox after this
_LATE_CLOSES: set[asyncio.Task[None]] = set()
# Focus a person gave the field (not a closing popup or a window coming back to the front).
PERSON_FOCUS = (Qt.FocusReason.MouseFocusReason, Qt.FocusReason.TabFocusReason, Qt.FocusReason.BacktabFocusReason,
                Qt.FocusReason.ShortcutFocusReason, Qt.FocusReason.OtherFocusReason)


class CodeCompleter(QObject):
    """Wormhole code completion for one line edit, over a live code entry session."""

    unavailable = Signal(str)  # why completion is off (the mailbox cannot be reached)
    available = Signal()

    def __init__(self, field: QLineEdit, channel: Callable[[], WormholeChannel], tasks: TaskRunner,
                 parent: QObject | None = None, *, words: Callable[[], int] = lambda: CODE_DEFAULT_WORDS) -> None:
        # Owned by Qt, never by Python alone: without a parent (the field's, then), a garbage
        # collection could delete it, its completer and its list while Qt was delivering one of
        # their events, which crashed the process.
        super().__init__(parent if parent is not None else field)
        self.field = field
        self._expected_words = words
        self._new_channel = channel
        self._tasks = tasks
        self.model = QStringListModel(self)
        self.completer = QCompleter(self.model, self)
        self.completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchStartsWith)
        field.setCompleter(self.completer)
        self.channel: WormholeChannel | None = None
        self.entry: CodeEntry | None = None
        self.nameplate: str | None = None
        self.words_ready = False
        self.held: set[str] | None = None  # the nameplates senders held when last listed (None: not known)
        self.failure: str | None = None
        self.shut = False
        self._generation = 0
        self._connecting: asyncio.Task[None] | None = None
        self._wordlist: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._refresh)
        self._idle = QTimer(self)
        self._idle.setSingleShot(True)
        self._idle.setInterval(IDLE_CLOSE_MS)
        self._idle.timeout.connect(self._close_if_untouched)
        field.textChanged.connect(self.sync)
        field.installEventFilter(self)
        popup = self.completer.popup()
        assert popup is not None  # QCompleter makes its list view on first request
        self.popup: QAbstractItemView = popup
        popup.installEventFilter(self)  # after QCompleter's own filter, so it runs first
        self.speech = CompletionSpeech(field, self.completer, self)  # the list is read out (not in the tree)

    # -- session lifecycle ----------------------------------------------------------

    @property
    def connecting(self) -> bool:
        """Whether a session is being opened."""
        return self._connecting is not None and not self._connecting.done()

    @property
    def idle(self) -> bool:
        """No session open, opening or closing."""
        return self.entry is None and not self.connecting and not self._closing

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Start a session when the person moves the focus into the field; Tab and Enter as in a shell."""
        field = getattr(self, "field", None)
        if (event.type() == QEvent.Type.FocusIn and watched is field
                and isinstance(event, QFocusEvent) and event.reason() in PERSON_FOCUS
                and not is_link(self.field.text())):
            self.start(retry=True)
        if event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
            return False
        key = event.key()
        if key not in (Qt.Key.Key_Tab, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            return False
        if watched is self.popup and self.popup.isVisible():
            return self._key_on_list(key)
        if watched is field and key == Qt.Key.Key_Tab and not event.modifiers():
            return self._tab_in_field()
        return False

    def _key_on_list(self, key: int) -> bool:
        popup = self.popup
        current = popup.currentIndex()
        if key != Qt.Key.Key_Tab and not current.isValid():
            # Enter with nothing highlighted: the typed text stands; the field decides whether it is complete.
            popup.hide()
            self.field.returnPressed.emit()
            return True
        model = self.completer.completionModel()
        chosen = current.data() if current.isValid() else (model.index(0, 0).data() if model.rowCount() else None)
        popup.hide()
        if chosen:
            self.field.setText(str(chosen))
        return True

    def _tab_in_field(self) -> bool:
        """Tab in the field: take the one completion there is, or show the list; let focus move otherwise."""
        text = self.field.text().strip()
        offered = [item for item in self.model.stringList() if item.lower().startswith(text.lower()) and item != text]
        if not text or not offered:
            return False
        if len(offered) == 1:
            self.field.setText(offered[0])
        else:
            self.completer.setCompletionPrefix(text)
            self.completer.complete()
        return True

    def nobody_holds(self, code: str) -> str | None:
        """A note when no sender held the code's number at the last look (the receive still waits for one)."""
        nameplate = code.partition("-")[0]
        if self.held is None or nameplate in self.held:
            return None
        return (f"No sender was waiting with number {nameplate} a moment ago: check the number with them. "
                "This waits for a sender to use it.")

    def incomplete(self, text: str) -> str | None:
        """Why ``text`` is not a whole code yet (a sentence), or None.

        Only known with a session whose word list is in: otherwise the typed code goes ahead and
        the receive itself says what is wrong with it.
        """
        entry = self.entry
        text = text.strip()
        if entry is None or not self.words_ready or is_link(text):
            return None
        _nameplate, dash, words = text.partition("-")
        if not dash or not words or words.endswith("-"):
            return "The code is not complete yet: type the next word (Tab completes it)."
        last = words.rsplit("-", 1)[-1]
        head = words[: len(words) - len(last)]
        whole = {item.rstrip("-") for item in self._try(lambda: entry.words(words))}
        if f"{head}{last}".lower() not in {w.lower() for w in whole}:
            return f"\u201c{last}\u201d is not a whole word of a code yet: keep typing, or press Tab to complete it."
        return None

    def start(self, *, retry: bool = False) -> None:
        """Open a code entry session, unless one is open or opening (or failed, unless ``retry``)."""
        if self.shut or self.entry is not None or self.connecting or (self.failure is not None and not retry):
            return
        self.failure = None
        self._generation += 1
        self.channel = self._new_channel()
        self._connecting = self._tasks.start(self._connect(self._generation, self.channel))

    async def _connect(self, generation: int, channel: WormholeChannel) -> None:
        # Shielded: cancelled half-way (at quit), the session would stay open; it is closed once it connects.
        opening = asyncio.ensure_future(channel.code_entry())
        try:
            entry = await asyncio.shield(opening)
        except asyncio.CancelledError:
            opening.add_done_callback(_close_when_open)
            raise
        except OtsError as exc:
            if generation == self._generation:
                self.failure = describe_error(exc)
                self.unavailable.emit(self.failure)
            return
        if generation != self._generation:
            # Closed (or restarted) while connecting: this session is not wanted any more.
            await entry.session.close()
            return
        self.entry = entry
        entry.refresh()
        self._timer.start()
        self._idle.start()
        self.available.emit()
        self.sync(self.field.text())

    def _forget(self) -> CodeEntry | None:
        """Drop the session from this object (the caller closes or uses it)."""
        entry, self.entry = self.entry, None
        self._generation += 1
        self.nameplate = None
        self.held = None
        self.words_ready = False
        self._timer.stop()
        self._idle.stop()
        if self._wordlist is not None:
            self._wordlist.cancel()
            self._wordlist = None
        self._set([])
        return entry

    def close(self) -> None:
        """Close the session (releasing any claimed nameplate)."""
        entry = self._forget()
        if entry is not None:
            task = self._tasks.start(entry.session.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    def shutdown(self) -> None:
        """Close the session for good: no new one starts after this."""
        self.shut = True
        self.close()

    def set_idle_timeout(self, ms: int) -> None:
        """Close an untouched session (no nameplate chosen yet) after ``ms`` milliseconds."""
        self._idle.setInterval(ms)

    def _close_if_untouched(self) -> None:
        # A claimed nameplate is kept: claiming it again from a new session would crowd it.
        if self.entry is not None and self.nameplate is None:
            self.close()

    def restart(self) -> None:
        """Close the session and open a fresh one (after the nameplate was edited)."""
        self.close()
        self.start(retry=True)

    # -- completion ---------------------------------------------------------------------

    def sync(self, text: str) -> None:
        """Offer completions for ``text``: nameplates before the first dash, words after it."""
        text = text.strip()
        if self._highlighted(text):
            return  # the arrow keys move through the list, which shows the highlighted one in the field: keep it
        if self.entry is not None:
            self._idle.start()
        if not text or is_link(text):
            self._set([])
            return
        entry = self.entry
        if entry is None:
            self.start()
            self._set([])
            return
        nameplate, dash, words = text.partition("-")
        if not dash:
            if self.nameplate is not None:
                self.restart()
                return
            self._set(self._try(lambda: entry.nameplates(nameplate)) if nameplate.isdigit() else [])
            self.held = {item.rstrip("-") for item in self._try(lambda: entry.nameplates(""))}
            return
        if not nameplate.isdigit():
            self._set([])
            return
        if self.nameplate is None:
            if not self._choose(entry, nameplate):
                return
        elif self.nameplate != nameplate:
            self.restart()
            return
        if self.words_ready:
            self._set([f"{nameplate}-{w}" for w in self._with_dashes(self._try(lambda: entry.words(words)))])
        else:
            self._set([])

    def _highlighted(self, text: str) -> bool:
        popup = getattr(self, "popup", None)
        if popup is None or not popup.isVisible():
            return False
        current = popup.currentIndex()
        return current.isValid() and str(current.data()).strip() == text

    def _choose(self, entry: CodeEntry, nameplate: str) -> bool:
        try:
            entry.choose_nameplate(nameplate)
        except Exception:  # noqa: BLE001 - a nameplate the library refuses: no completion, the receive will say
            self._set([])
            return False
        self.nameplate = nameplate
        self._timer.stop()
        self._wordlist = self._tasks.start(self._await_wordlist(self._generation, entry))
        return True

    async def _await_wordlist(self, generation: int, entry: CodeEntry) -> None:
        with contextlib.suppress(TimeoutError):
            await within(entry.wordlist_ready(), WORDLIST_WAIT_S)
            if generation == self._generation:
                self.words_ready = True
                self.sync(self.field.text())

    def _with_dashes(self, completions: list[str]) -> list[str]:
        """A dash after each completed word but the last of the expected length (the library assumes two words)."""
        expected = self._expected_words()
        return sorted({item if item.endswith("-") or item.count("-") + 1 >= expected else item + "-"
                       for item in completions})

    @staticmethod
    def _try(completions: Callable[[], list[str]]) -> list[str]:
        try:
            return completions()
        except Exception:  # noqa: BLE001 - completion is a convenience; the library's state errors mean "none"
            return []

    def _refresh(self) -> None:
        if self.entry is None or self.nameplate is not None:
            self._timer.stop()
            return
        if not self.field.hasFocus():
            return  # nobody is typing: no need to ask the mailbox again
        self.sync(self.field.text())
        with contextlib.suppress(Exception):
            self.entry.refresh()

    def _set(self, items: list[str]) -> None:
        if items == self.model.stringList():
            return
        self.model.setStringList(items)
        text = self.field.text().strip()
        if items and self.field.hasFocus() and items != [text]:
            self.completer.setCompletionPrefix(text)
            self.completer.complete()

    # -- handing over -------------------------------------------------------------------

    def clear_field(self) -> None:
        """Empty the field and its suggestions (the code or link was taken, or the page closes)."""
        popup = self.completer.popup()
        if popup is not None:
            popup.hide()
        self.field.clear()
        self.model.setStringList([])
        self.completer.setCompletionPrefix("")

    def take(self, code: str) -> tuple[WormholeChannel, CodeEntry] | None:
        """The session with ``code`` entered, ready for :meth:`WormholeChannel.receive`; None if there is none.

        A session holding another nameplate is closed: the caller then receives with the typed code.
        """
        entry, channel = self.entry, self.channel
        if entry is None or channel is None:
            return None
        nameplate, _, words = code.partition("-")
        if self.nameplate is not None and self.nameplate != nameplate:
            self.close()
            return None
        try:
            if self.nameplate is None:
                entry.choose_nameplate(nameplate)
            entry.choose_words(words)
        except Exception:  # noqa: BLE001 - the library refused the code: let the typed-code path explain
            self.close()
            return None
        self._forget()
        return channel, entry


def _close_when_open(opening: asyncio.Future[CodeEntry]) -> None:
    """Close a session that finished connecting after its opener was cancelled."""
    if opening.cancelled() or opening.exception() is not None:
        return
    task = asyncio.ensure_future(opening.result().session.close())
    _LATE_CLOSES.add(task)
    task.add_done_callback(_LATE_CLOSES.discard)
