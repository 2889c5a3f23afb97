"""Audit entries as a Qt table: one row per entry, newest first, filtered by type, outcome and text.

Times are stored in UTC; the table shows them in local time and keeps the UTC value
in the tooltip. The Event column's tooltip lists the entry's other fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QBrush, QGuiApplication

from ots_desktop.core.audit.events import EventType, Outcome
from ots_desktop.ui.contrast import level_colour

Entry = dict[str, Any]
Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()

ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2

COLUMNS: tuple[tuple[str, str], ...] = (
    ("seq", "#"),
    ("ts_utc", "Time"),
    ("event_type", "Event"),
    ("outcome", "Outcome"),
    ("channel", "Channel"),
    ("label", "Label"),
    ("recipient", "Recipient"),
    ("share_id", "Share id"),
    ("reason", "Reason"),
)
_DETAIL_FIELDS = ("kind", "size_bytes", "expires_at", "max_views", "remote_addr", "fingerprint",
                  "actor", "host", "app_version", "key_id")

EVENT_NAMES: dict[str, str] = {
    EventType.LOG_CREATED: "Log created",
    EventType.SHARE_CREATED: "Share created",
    EventType.SHARE_DELIVERED: "Delivered",
    EventType.SHARE_REVEALED: "Link revealed",
    EventType.SHARE_EXPIRED: "Link expired",
    EventType.SHARE_REVOKED: "Link revoked",
    EventType.SHARE_FAILED: "Share failed",
    EventType.SECRET_RECEIVED: "Received",
    EventType.RECEIVE_FAILED: "Receive failed",
    EventType.REQUEST_CREATED: "Request created",
    EventType.REQUEST_ANSWERED: "Request answered",
    EventType.REQUEST_OPENED: "Answer opened",
    EventType.REQUEST_EXPIRED: "Request expired",
    EventType.REQUEST_REVOKED: "Request revoked",
    EventType.ALERT: "Alert",
    EventType.AUDIT_REVIEWED: "Log reviewed",
    EventType.AUDIT_EXPORTED: "Log exported",
}
OUTCOME_NAMES: dict[str, str] = {Outcome.OK: "OK", Outcome.FAILED: "Failed", Outcome.ALERT: "Alert"}
_OUTCOME_LEVELS = {Outcome.FAILED: "error", Outcome.ALERT: "error"}


def local_time(ts_utc: str) -> str:
    """``ts_utc`` (ISO 8601, UTC) in this machine's time zone, to the second."""
    try:
        moment = datetime.fromisoformat(ts_utc)
    except ValueError:
        return ts_utc
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def cell_text(entry: Entry, key: str) -> str:
    """What the table shows for ``key`` of ``entry``."""
    value = entry.get(key)
    if value is None:
        return ""
    if key == "ts_utc":
        return local_time(str(value))
    if key == "event_type":
        return EVENT_NAMES.get(str(value), str(value))
    if key == "outcome":
        return OUTCOME_NAMES.get(str(value), str(value))
    if key == "reason":
        return str(value).replace("_", " ")
    return str(value)


def details(entry: Entry) -> str:
    """The entry's fields that have no column, one per line."""
    lines = [f"{name}: {entry[name]}" for name in _DETAIL_FIELDS if entry.get(name) is not None]
    return "\n".join(lines)


class AuditTableModel(QAbstractTableModel):
    """A read-only table over audit entries, in the order given (the page passes newest first)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._entries: list[Entry] = []

    def set_entries(self, entries: list[Entry]) -> None:
        """Replace every row."""
        self.beginResetModel()
        self._entries = list(entries)
        self.endResetModel()

    def entry(self, row: int) -> Entry:
        """The entry shown in ``row``."""
        return self._entries[row]

    def entries(self) -> list[Entry]:
        """Every entry, in row order."""
        return list(self._entries)

    def rowCount(self, parent: Index = _ROOT) -> int:
        """Entries (a table has no children)."""
        return 0 if parent.isValid() else len(self._entries)

    def columnCount(self, parent: Index = _ROOT) -> int:
        """One column per shown field."""
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Column titles."""
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole \
                and 0 <= section < len(COLUMNS):
            return COLUMNS[section][1]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Text, tooltips, colours and the raw entry of one cell."""
        if not index.isValid() or not 0 <= index.row() < len(self._entries):
            return None
        entry = self._entries[index.row()]
        key = COLUMNS[index.column()][0]
        if role == Qt.ItemDataRole.DisplayRole:
            return cell_text(entry, key)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(entry, key)
        if role == Qt.ItemDataRole.ForegroundRole:
            level = _OUTCOME_LEVELS.get(entry.get("outcome", ""))
            return QBrush(level_colour(QGuiApplication.palette(), level)) if level else None
        if role == ENTRY_ROLE:
            return entry
        if role == SORT_ROLE:
            value = entry.get(key)
            return value if isinstance(value, int) else ("" if value is None else str(value))
        return None

    @staticmethod
    def _tooltip(entry: Entry, key: str) -> str | None:
        if key == "ts_utc" and entry.get("ts_utc"):
            return f"UTC: {entry['ts_utc']}"
        if key == "event_type":
            return details(entry) or None
        if key == "reason" and entry.get("reason"):
            return str(entry["reason"])
        return None


class AuditFilterProxy(QSortFilterProxyModel):
    """Narrows the table to one event type, one outcome and rows holding the search text."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._event_type: str | None = None
        self._outcome: str | None = None
        self._search = ""
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    @property
    def event_type(self) -> str | None:
        """The event type shown (None: all)."""
        return self._event_type

    @property
    def outcome(self) -> str | None:
        """The outcome shown (None: any)."""
        return self._outcome

    @property
    def search(self) -> str:
        """The search text (empty: no search)."""
        return self._search

    def set_event_type(self, event_type: str | None) -> None:
        """Show only ``event_type`` (None or empty: every type)."""
        self._refilter(lambda: setattr(self, "_event_type", event_type or None))

    def set_outcome(self, outcome: str | None) -> None:
        """Show only ``outcome`` (None or empty: any outcome)."""
        self._refilter(lambda: setattr(self, "_outcome", outcome or None))

    def set_search(self, text: str) -> None:
        """Show only rows with ``text`` in any column (case-insensitive; raw values such as
        the UTC time or ``share_created`` count too)."""
        self._refilter(lambda: setattr(self, "_search", text.strip().casefold()))

    def _refilter(self, change: Any) -> None:
        self.beginFilterChange()
        change()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        """Whether the entry in ``source_row`` passes every filter."""
        model = self.sourceModel()
        if not isinstance(model, AuditTableModel):
            return True
        entry = model.entry(source_row)
        if self._event_type and entry.get("event_type") != self._event_type:
            return False
        if self._outcome and entry.get("outcome") != self._outcome:
            return False
        if not self._search:
            return True
        texts = [cell_text(entry, key) for key, _ in COLUMNS]
        texts.extend(str(entry[key]) for key, _ in COLUMNS if entry.get(key) is not None)
        return any(self._search in text.casefold() for text in texts)
