"""The Settings page's "Audit forwarding" box: the collectors, a test event, the backlog and the last error.

The destinations are settings like the others (saved by the page's Save); the collector's
token is not: it goes to the keychain with ``ots audit forward token``. The status is read
from the spool on a worker thread when the page is shown and after each test.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from ots_desktop.core.config import Config
from ots_desktop.ui.announce import LiveLabel
from ots_desktop.ui.context import UiContext
from ots_desktop.ui.level_text import colour_text


def _line(parent: QWidget, name: str, placeholder: str) -> QLineEdit:
    field = QLineEdit(parent)
    field.setAccessibleName(name)
    field.setPlaceholderText(placeholder)
    field.setClearButtonEnabled(True)
    return field


class ForwardingBox(QGroupBox):
    """Where audit entries are forwarded, and how that is going."""

    tested = Signal(object)  # dict[str, str | None]: url -> None (delivered) or why not
    status_shown = Signal(str)

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__("Audit forwarding", parent)
        self.ctx = ctx
        self.syslog_field = _line(self, "Syslog collector", "tls://logs.example.com:6514")
        self.syslog_field.setToolTip("RFC 5424 over tls:// (or tcp://, udp:// on this machine, unix:///dev/log)")
        self.syslog_ca_field = _line(self, "Syslog CA file", "the system's certificate authorities")
        self.http_field = _line(self, "HTTP collector (event collector URL)", "https://splunk.example.com:8088/services/collector/event")
        self.http_format = QComboBox(self)
        self.http_format.setAccessibleName("HTTP collector format")
        self.http_format.addItem("Splunk HEC", "hec")
        self.http_format.addItem("JSON lines", "jsonl")
        self.token_note = QLabel("The collector's token is kept in the OS keychain: set it with "
                                 "<code>ots audit forward token</code>.", self)
        self.token_note.setWordWrap(True)
        self.status_label = LiveLabel("Forwarding status", self)
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.test_button = QPushButton("Send a &test event", self)
        self.test_button.setAccessibleName("Send a test event to the collectors")
        self.test_button.setToolTip("Send one test message (not an audit entry) to each saved collector")
        self.test_button.clicked.connect(self.send_test)
        self._task: asyncio.Task[Any] | None = None
        row = QHBoxLayout()
        row.addWidget(self.test_button)
        row.addStretch(1)
        form = QFormLayout(self)
        form.addRow("S&yslog:", self.syslog_field)
        form.addRow("Syslog CA file:", self.syslog_ca_field)
        form.addRow("&HTTP collector:", self.http_field)
        form.addRow("Format:", self.http_format)
        form.addRow("", self.token_note)
        form.addRow("Status:", self.status_label)
        form.addRow("", row)

    def tab_stops(self) -> list[QWidget]:
        """Its controls in screen order, for the page's Tab chain."""
        return [self.syslog_field, self.syslog_ca_field, self.http_field, self.http_format, self.test_button]

    def load(self, config: Config) -> None:
        """Fill the fields from ``config``."""
        self.syslog_field.setText(config.audit_syslog)
        self.syslog_ca_field.setText(config.audit_syslog_ca_file)
        self.http_field.setText(config.audit_http)
        self.http_format.setCurrentIndex(max(0, self.http_format.findData(config.audit_http_format)))

    def widgets(self) -> dict[str, QWidget]:
        """The setting each field edits."""
        return {"audit_syslog": self.syslog_field, "audit_syslog_ca_file": self.syslog_ca_field,
                "audit_http": self.http_field, "audit_http_format": self.http_format}

    def field_for(self, name: str) -> tuple[str, QWidget] | None:
        """The label and field of a setting a ConfigError names."""
        labels = {"audit_syslog": "The syslog collector", "audit_http": "The HTTP event collector",
                  "audit_http_format": "The HTTP collector format", "audit_syslog_ca_file": "The syslog CA file"}
        widget = self.widgets().get(name)
        return (labels[name], widget) if widget is not None else None

    def apply(self, config: Config) -> Config:
        """``config`` with the fields' values (not validated yet)."""
        return replace(config, audit_syslog=self.syslog_field.text().strip(),
                       audit_syslog_ca_file=self.syslog_ca_field.text().strip(),
                       audit_http=self.http_field.text().strip(),
                       audit_http_format=str(self.http_format.currentData()))

    # -- the test event and the status ---------------------------------------------------

    def send_test(self) -> asyncio.Task[Any]:
        """Send a test event to each saved collector (on a worker thread) and show what happened."""
        from ots_desktop.forwarding.setup import send_test_event

        services = self.ctx.services
        self.test_button.setEnabled(False)
        colour_text(self.status_label, None)
        self.status_label.setText("Sending a test event...")

        async def run() -> None:
            try:
                results = await asyncio.to_thread(send_test_event, services.config, services.paths,
                                                  services.install.audit_http_token)
            finally:
                self.test_button.setEnabled(True)
            failed = {url: why for url, why in results.items() if why}
            if not results:
                text = "No collector is saved: enter one above and Save first."
            elif failed:
                text = "; ".join(f"Not delivered to {why}" for why in failed.values())
            else:
                text = "Test event delivered to " + ", ".join(results) + "."
            colour_text(self.status_label, "error" if failed or not results else "success")
            self.status_label.setText(text)
            self.tested.emit(results)

        self._task = self.ctx.tasks.start(run(), on_error=self._failed)
        return self._task

    def _failed(self, text: str) -> None:
        self.test_button.setEnabled(True)
        colour_text(self.status_label, "error")
        self.status_label.setText(text)

    def refresh(self) -> asyncio.Task[Any]:
        """Read the backlog, the last success and the last error (on a worker thread) and show them."""
        from ots_desktop.forwarding.setup import read_status

        services = self.ctx.services

        async def run() -> None:
            statuses = await asyncio.to_thread(read_status, services.config, services.paths)
            lines = []
            for status in statuses:
                spooled = status.spooled
                line = f"{status.url}: {status.backlog} waiting; last success {spooled.last_success or 'never'}"
                if spooled.last_error:
                    line += f"; last error {spooled.last_error_at}: {spooled.last_error}"
                lines.append(line)
            text = "\n".join(lines) or "Off: no collector is set."
            colour_text(self.status_label, "error" if any(s.spooled.failures for s in statuses) else None)
            self.status_label.setText(text)
            self.status_shown.emit(text)

        return self.ctx.tasks.start(run(), on_error=self._failed)
