"""The Activity page: the audit log as a table, with Verify, Export and "Was this secret shared?".

Everything here works offline. The log is read and checked on a worker thread, one
operation at a time, so a large log never freezes the window. Verifying, exporting
and looking up are recorded in the log like their ``ots audit`` counterparts. When
the keychain refuses to open the log, the page says so and shows nothing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ots_desktop.core.audit.events import EventType, Outcome
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.audit.review import (
    ExportResult,
    VerifyResult,
    export_format_for,
    export_to,
    lookup_secret,
    verify_log,
)
from ots_desktop.core.errors import OtsError
from ots_desktop.core.events import ChannelEvent, EventKind
from ots_desktop.core.messages import sentence as _sentence
from ots_desktop.core.secret import SecretBuffer
from ots_desktop.ui.activity.export import ask_export_target
from ots_desktop.ui.activity.lookup import LookupPanel
from ots_desktop.ui.activity.model import EVENT_NAMES, OUTCOME_NAMES, AuditFilterProxy, AuditTableModel
from ots_desktop.ui.announce import LiveLabel, expose_value
from ots_desktop.ui.banner import Banner
from ots_desktop.ui.context import Level, UiContext
from ots_desktop.ui.key_names import native
from ots_desktop.ui.shortcuts import PageShortcuts
from ots_desktop.ui.tasks import describe_error

MAX_ROWS = 10_000
REFRESH_DELAY_MS = 400
MAX_COLUMN_WIDTH = 280




def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def verify_message(result: VerifyResult) -> tuple[str, Level]:
    """The banner text and level for a verification."""
    report = result.report
    if report.ok:
        anchored = ", and it matches the checkpoint kept in the keychain" if report.anchored else ""
        text = (f"Audit log intact: {_count(report.entries, 'entry', 'entries')}, "
                f"{_count(report.checkpoints, 'signed checkpoint', 'signed checkpoints')} "
                f"(key {report.key_id}){anchored}.")
        level = Level.SUCCESS
    elif report.unverifiable:
        text = (f"The audit log cannot be verified: {_sentence(report.problem or 'no anchor')} Sharing and "
                "receiving stay off. See Recovery in the audit log guide.")
        level = Level.ERROR
    else:
        text = (f"The audit log was tampered with. First bad entry: {report.first_bad_seq}. "
                f"{_sentence(report.problem or 'it does not verify')} "
                "Sharing and receiving stay off; keep the file as it is for investigation.")
        level = Level.ERROR
    if result.not_recorded:
        text += f" This check could not be recorded in the log: {result.not_recorded}"
    return text, level


class ActivityPage(QWidget):
    """Review the local, signed audit log: filter, search, verify, export and look up a secret."""

    refreshed = Signal(int)  # entries loaded
    verified = Signal(object)  # VerifyReport
    exported = Signal(object)  # ExportResult
    looked_up = Signal(int)  # matching entries

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setAccessibleName("Activity")
        self._lock = asyncio.Lock()
        self._stale = True
        self._blocked_shown: str | None = None
        self.banner = Banner(self)
        self.model = AuditTableModel(self)
        self.proxy = AuditFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self._build_actions()
        self._build_filters()
        self._build_table()
        self.lookup_panel = LookupPanel(self)
        self.lookup_panel.submitted.connect(self.lookup)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addLayout(self._actions_row)
        layout.addLayout(self._filters_row)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.count_label)
        layout.addWidget(self.lookup_panel)
        for first, second in ((self.refresh_button, self.verify_button), (self.verify_button, self.export_button),
                              (self.export_button, self.type_combo), (self.type_combo, self.outcome_combo),
                              (self.outcome_combo, self.search_field), (self.search_field, self.table),
                              (self.table, self.lookup_panel.field),
                              (self.lookup_panel.field, self.lookup_panel.button)):
            QWidget.setTabOrder(first, second)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_DELAY_MS)
        self._refresh_timer.timeout.connect(self.refresh)
        ctx.events.event.connect(self._on_channel_event)
        self._shortcuts()

    # -- building ------------------------------------------------------------------

    def _build_actions(self) -> None:
        self.refresh_button = QPushButton("Refresh", self)
        self.refresh_button.setToolTip("Reload the log (F5)")
        self.refresh_button.setAccessibleName("Refresh the audit log")
        self.refresh_button.clicked.connect(self.refresh)
        self.verify_button = QPushButton("&Verify", self)
        self.verify_button.setToolTip("Check the hash chain, the signatures and the keychain checkpoint")
        self.verify_button.setAccessibleName("Verify the audit log")
        self.verify_button.clicked.connect(self.verify)
        self.export_button = QPushButton("E&xport…", self)
        self.export_button.setToolTip(native("Save the log as CSV or JSONL with a signed manifest (Ctrl+E)"))
        self.export_button.setAccessibleName("Export the audit log")
        self.export_button.clicked.connect(self.choose_export)
        self.status_label = LiveLabel("Activity status", self)
        row = QHBoxLayout()
        for button in (self.refresh_button, self.verify_button, self.export_button):
            row.addWidget(button)
        row.addWidget(self.status_label, 1)
        self._actions_row = row

    def _build_filters(self) -> None:
        self.type_combo = QComboBox(self)
        self.type_combo.setAccessibleName("Event type filter")
        self.type_combo.addItem("All events", "")
        for event_type in EventType:
            self.type_combo.addItem(EVENT_NAMES.get(event_type, str(event_type)), str(event_type))
        self.type_combo.currentIndexChanged.connect(
            lambda _i: self.proxy.set_event_type(self.type_combo.currentData()))
        self.outcome_combo = QComboBox(self)
        self.outcome_combo.setAccessibleName("Outcome filter")
        self.outcome_combo.addItem("Any outcome", "")
        for outcome in Outcome:
            self.outcome_combo.addItem(OUTCOME_NAMES.get(outcome, str(outcome)), str(outcome))
        self.outcome_combo.currentIndexChanged.connect(
            lambda _i: self.proxy.set_outcome(self.outcome_combo.currentData()))
        self.search_field = QLineEdit(self)
        self.search_field.setPlaceholderText(native("Search every column (Ctrl+F)"))
        self.search_field.setAccessibleName("Search the audit log")
        self.search_field.setClearButtonEnabled(True)
        self.search_field.textChanged.connect(self.proxy.set_search)
        type_label = QLabel("Ty&pe:", self)
        type_label.setBuddy(self.type_combo)
        outcome_label = QLabel("&Outcome:", self)
        outcome_label.setBuddy(self.outcome_combo)
        row = QHBoxLayout()
        row.addWidget(type_label)
        row.addWidget(self.type_combo)
        row.addWidget(outcome_label)
        row.addWidget(self.outcome_combo)
        row.addWidget(self.search_field, 1)
        self._filters_row = row

    def _build_table(self) -> None:
        self.table = QTableView(self)
        self.table.setModel(self.proxy)
        self.table.setAccessibleName("Audit log entries")
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setTabKeyNavigation(False)  # arrows move between rows; Tab leaves for the next control
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.count_label = expose_value(QLabel(self), "Entries shown")
        for signal in (self.proxy.rowsInserted, self.proxy.rowsRemoved, self.proxy.modelReset,
                       self.proxy.layoutChanged):
            signal.connect(self._update_count)

    def _shortcuts(self) -> None:
        QShortcut(QKeySequence.StandardKey.Find, self).activated.connect(self.focus_search)
        QShortcut(QKeySequence("F5"), self).activated.connect(self.refresh)
        QShortcut(QKeySequence("Ctrl+E"), self).activated.connect(self.choose_export)
        # The search and lookup fields would take Ctrl+E ("end of line"); Export wins there too.
        self._keys_through = PageShortcuts([QKeySequence("Ctrl+E")], self)
        self._keys_through.install(self.findChildren(QLineEdit))
        escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        escape.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        escape.activated.connect(self.banner.hide)

    # -- public actions --------------------------------------------------------------

    def focus_search(self) -> None:
        """Put the cursor in the search box, its text selected."""
        self.search_field.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_field.selectAll()

    def refresh(self) -> asyncio.Task[Any]:
        """Reload the entries (newest first) from the log."""
        self._refresh_timer.stop()
        return self.ctx.tasks.start(self._refresh(), on_error=self._failed)

    def verify(self) -> asyncio.Task[Any]:
        """Verify the whole log on a worker thread and show the result in the banner."""
        return self.ctx.tasks.start(self._verify(), on_error=self._failed)

    def choose_export(self) -> None:
        """Ask for a file name and format, then export."""
        target = ask_export_target(self, Path.home())
        if target is not None:
            self.export_to(*target)

    def export_to(self, path: Path, fmt: str | None = None) -> asyncio.Task[Any]:
        """Export the log to ``path`` (CSV or JSONL; from the suffix unless ``fmt`` says) with its manifest."""
        return self.ctx.tasks.start(self._export(Path(path), fmt), on_error=self._failed)

    def lookup(self) -> asyncio.Task[Any]:
        """Look up the secret in the field; the field is cleared at once."""
        secret = self.lookup_panel.take_secret()
        self.lookup_panel.clear_answer()
        return self.ctx.tasks.start(self._lookup(secret), on_error=self._failed)

    # -- the jobs --------------------------------------------------------------------

    async def _open_log(self) -> AuditLog | None:
        try:
            return await self.ctx.services.audit()
        except OtsError as exc:
            self.model.set_entries([])
            self.banner.error(f"The audit log cannot be opened: {_sentence(describe_error(exc))} "
                              "Nothing is shown here, and nothing is shared or received, until it opens. "
                              "Press Refresh (F5) to try again.")
            return None

    async def _load(self, log: AuditLog) -> None:
        async with self._lock:
            entries = await asyncio.to_thread(log.entries, newest_first=True, limit=MAX_ROWS)
        self._stale = False
        self.model.set_entries(entries)
        self._fit_columns()
        self._update_count()
        if log.blocked_reason and self._blocked_shown != log.blocked_reason:
            self._blocked_shown = log.blocked_reason
            self.banner.show_message(f"The audit log does not verify: {_sentence(log.blocked_reason)} "
                                     "Sharing and receiving stay off until it does; press Verify for details.",
                                     Level.WARNING)
        self.refreshed.emit(len(entries))

    async def _refresh(self) -> None:
        log = await self._open_log()
        if log is not None:
            await self._load(log)

    async def _verify(self) -> None:
        log = await self._open_log()
        if log is None:
            return
        self._busy(self.verify_button, "Verifying the audit log…")
        try:
            async with self._lock:
                result = await asyncio.to_thread(verify_log, log)
        finally:
            self._idle(self.verify_button)
        text, level = verify_message(result)
        self.banner.show_message(text, level)
        self._blocked_shown = log.blocked_reason  # the verdict above says it all
        self.verified.emit(result.report)
        await self._load(log)

    async def _export(self, path: Path, fmt: str | None) -> None:
        fmt = export_format_for(path, fmt)
        log = await self._open_log()
        if log is None:
            return
        self._busy(self.export_button, "Exporting…")
        try:
            async with self._lock:
                result: ExportResult = await asyncio.to_thread(export_to, log, path, fmt)
        finally:
            self._idle(self.export_button)
        if result.intact:
            self.banner.show_message(
                f"Exported {_count(result.entries, 'entry', 'entries')} to {result.path}. "
                f"Its signed manifest is {result.manifest}.", Level.SUCCESS)
        else:
            self.banner.show_message(
                f"Exported {_count(result.entries, 'entry', 'entries')} to {result.path} for investigation. The log "
                "does not verify, and its signed manifest says so: the export will not verify as intact.",
                Level.WARNING)
        self.exported.emit(result)
        await self._load(log)

    async def _lookup(self, secret: SecretBuffer) -> None:
        self.lookup_panel.set_busy(True)
        try:
            log = await self._open_log()
            if log is None:
                return
            async with self._lock:
                result = await asyncio.to_thread(lookup_secret, log, secret)
        finally:
            secret.close()
            self.lookup_panel.set_busy(False)
        self.lookup_panel.show_matches(result.entries)
        self.looked_up.emit(len(result.entries))
        await self._load(log)

    # -- helpers -----------------------------------------------------------------------

    def _failed(self, text: str) -> None:
        self.banner.error(_sentence(text))

    def _busy(self, button: QPushButton, text: str) -> None:
        self._refocus = button if button.hasFocus() else None  # a disabled button passes its focus on
        button.setEnabled(False)
        self.status_label.setText(text)

    def _idle(self, button: QPushButton) -> None:
        button.setEnabled(True)
        self.status_label.clear()
        if getattr(self, "_refocus", None) is button:  # the keyboard comes back where the person left it
            button.setFocus()
        self._refocus = None

    def _fit_columns(self) -> None:
        self.table.resizeColumnsToContents()
        for column in range(self.model.columnCount()):
            self.table.setColumnWidth(column, min(self.table.columnWidth(column), MAX_COLUMN_WIDTH))

    def _update_count(self) -> None:
        total, shown = self.model.rowCount(), self.proxy.rowCount()
        text = f"{shown:,} of {_count(total, 'entry', 'entries')} shown" if shown != total \
            else _count(total, "entry", "entries")
        if total >= MAX_ROWS:
            text += f" (the newest {MAX_ROWS:,}; export the log to see them all)"
        self.count_label.setText(text)

    def _on_channel_event(self, event: object) -> None:
        if not isinstance(event, ChannelEvent) or event.kind is EventKind.PROGRESS:
            return
        if not self.isVisible():
            self._stale = True
        elif not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def showEvent(self, event: QShowEvent) -> None:
        """Load the log the first time the page is shown, and after changes made while it was hidden."""
        super().showEvent(event)
        if self._stale:
            self._stale = False
            self.refresh()
