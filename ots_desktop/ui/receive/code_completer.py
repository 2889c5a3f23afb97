"""Completion for wormhole codes as they are typed: nameplates in use first, then PGP words.

A code entry session (one wormhole on the mailbox) starts when the field gets the
focus or the first character. Typing the dash after a nameplate claims that
nameplate, as the stock ``wormhole receive`` does on Tab; from then on the words
part completes from the PGP word list. Editing the nameplate afterwards starts a
new session. When the receive begins, the finished entry is handed over; when the
mailbox cannot be reached, completion is simply off and a typed code still works.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QFocusEvent
from PySide6.QtWidgets import QCompleter, QLineEdit

from ots_desktop.channels.link_urls import is_link
from ots_desktop.channels.wormhole import CodeEntry, WormholeChannel
from ots_desktop.core.errors import OtsError
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
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.field = field
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
        """Start a session when the person moves the focus into the field."""
        if (event.type() == QEvent.Type.FocusIn and watched is getattr(self, "field", None)
                and isinstance(event, QFocusEvent) and event.reason() in PERSON_FOCUS
                and not is_link(self.field.text())):
            self.start(retry=True)
        return False

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
            self._set([f"{nameplate}-{w}" for w in self._try(lambda: entry.words(words))])
        else:
            self._set([])

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
            await asyncio.wait_for(entry.wordlist_ready(), WORDLIST_WAIT_S)
            if generation == self._generation:
                self.words_ready = True
                self.sync(self.field.text())

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
