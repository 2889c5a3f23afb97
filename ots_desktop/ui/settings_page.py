"""The Settings page: servers, defaults for new shares, the clipboard, and the keychain's state.

Saving checks every field (through :meth:`Config.validate` and the relay rules the
channels enforce), writes ``config.toml`` and applies the new values at once. The
config holds no secret, so nothing here ever does either.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ots_desktop.channels.link_urls import relay_base, require_secure
from ots_desktop.core.audit.keystore import KeychainStatus, keychain_status
from ots_desktop.core.config import MAX_CODE_LENGTH, MIN_CODE_LENGTH, Config, settings_from_environment
from ots_desktop.core.durations import format_duration, parse_duration
from ots_desktop.core.errors import ConfigError, InputError, OtsError
from ots_desktop.core.hosts import mailbox_warning
from ots_desktop.core.messages import sentence as _sentence
from ots_desktop.core.policy import LINK_MAX_VIEWS, LINK_MIN_VIEWS
from ots_desktop.ui.announce import expose_value
from ots_desktop.ui.banner import Banner
from ots_desktop.ui.context import Level, UiContext
from ots_desktop.ui.forwarding_box import ForwardingBox
from ots_desktop.ui.key_names import native
from ots_desktop.ui.level_text import colour_text
from ots_desktop.ui.spin_box import FramedSpinBox
from ots_desktop.ui.tasks import describe_error


class FieldError(OtsError):
    """A settings field holds a value that cannot be saved."""

    def __init__(self, field: QWidget, message: str) -> None:
        super().__init__(message)
        self.field = field




def _line(parent: QWidget, name: str, placeholder: str = "") -> QLineEdit:
    field = QLineEdit(parent)
    field.setAccessibleName(name)
    field.setPlaceholderText(placeholder)
    field.setClearButtonEnabled(True)
    return field


def _spin(parent: QWidget, name: str, low: int, high: int, suffix: str = "") -> QSpinBox:
    spin = FramedSpinBox(parent)
    spin.setAccessibleName(name)
    spin.setRange(low, high)
    spin.setSuffix(suffix)
    return spin


def _note(parent: QWidget, name: str) -> QLabel:
    label = QLabel(parent)
    label.setWordWrap(True)
    expose_value(label, name)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.hide()
    return label


class SettingsPage(QWidget):
    """Edit and save the installation's settings; shows where the audit log keeps its keys."""

    saved = Signal(object)  # Config
    keychain_checked = Signal(object)  # KeychainStatus

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setAccessibleName("Settings")
        self.banner = Banner(self)
        self.environment_note = QLabel(self)
        self.environment_note.setWordWrap(True)
        self.environment_note.setAccessibleName("Settings from the environment")
        self.environment_note.hide()
        self._keychain_task: asyncio.Task[Any] | None = None
        servers = self._build_servers()
        defaults = self._build_defaults()
        keychain = self._build_keychain()
        self.forwarding = ForwardingBox(ctx, self)
        self.save_button = QPushButton("Save", self)
        self.save_button.setToolTip(native("Check and save these settings (Ctrl+S)"))
        self.save_button.setAccessibleName("Save settings")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        self.revert_button = QPushButton("Re&vert", self)
        self.revert_button.setToolTip("Put back the saved settings")
        self.revert_button.setAccessibleName("Revert to the saved settings")
        self.revert_button.clicked.connect(self.load)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(self.environment_note)
        layout.addWidget(servers)
        layout.addWidget(defaults)
        layout.addWidget(keychain)
        layout.addWidget(self.forwarding)
        layout.addStretch(1)
        layout.addLayout(buttons)
        order = [self.mailbox_field, self.transit_field, self.relay_field, self.ca_field, self.ca_button,
                 self.code_length_spin, self.expiry_field, self.max_views_spin, self.clipboard_spin,
                 self.keychain_button, *self.forwarding.tab_stops(), self.revert_button, self.save_button]
        for first, second in itertools.pairwise(order):
            QWidget.setTabOrder(first, second)
        QShortcut(QKeySequence.StandardKey.Save, self).activated.connect(self.save)
        escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        escape.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        escape.activated.connect(self.banner.hide)
        self.load()

    # -- building ------------------------------------------------------------------

    def _build_servers(self) -> QGroupBox:
        box = QGroupBox("Servers", self)
        self.mailbox_field = _line(box, "Wormhole mailbox URL", "wss://mailbox.example.com/v1")
        self.mailbox_warning = _note(box, "Mailbox warning")
        colour_text(self.mailbox_warning, "warning")
        self.mailbox_field.textChanged.connect(self._check_mailbox)
        self.transit_field = _line(box, "Transit relay", "tcp:transit.example.com:4001")
        self.relay_field = _line(box, "Link relay URL", "https://ots.example.com")
        self.relay_note = _note(box, "Link relay problem")
        colour_text(self.relay_note, "error")
        self.relay_field.textChanged.connect(self._check_relay)
        self.ca_field = _line(box, "CA file (a certificate bundle)", "the system's certificate authorities")
        self.ca_button = QPushButton("&Browse…", box)
        self.ca_button.setAccessibleName("Choose a CA bundle file")
        self.ca_button.clicked.connect(self.choose_ca_file)
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca_field, 1)
        ca_row.addWidget(self.ca_button)
        form = QFormLayout(box)
        form.addRow("&Mailbox URL:", self.mailbox_field)
        form.addRow("", self.mailbox_warning)
        form.addRow("Tra&nsit relay:", self.transit_field)
        form.addRow("&Link relay URL:", self.relay_field)
        form.addRow("", self.relay_note)
        ca_label = QLabel("&CA file:", box)
        ca_label.setBuddy(self.ca_field)
        form.addRow(ca_label, ca_row)
        return box

    def _build_defaults(self) -> QGroupBox:
        box = QGroupBox("Defaults", self)
        self.code_length_spin = _spin(box, "Code words (in a wormhole code)", MIN_CODE_LENGTH, MAX_CODE_LENGTH,
                                      " words")
        self.expiry_field = _line(box, "Link expiry", "for example 1h, 90m or 7d")
        self.expiry_field.setClearButtonEnabled(False)
        self.expiry_field.setToolTip("How long a new link stays open: 5 minutes to 30 days (s, m, h, d or w)")
        self.max_views_spin = _spin(box, "Link views (opens per link)", LINK_MIN_VIEWS, LINK_MAX_VIEWS)
        self.clipboard_spin = _spin(box, "Clear clipboard after", 0, 3600, " s")
        self.clipboard_spin.setSpecialValueText("Never")
        self.clipboard_spin.setToolTip("Seconds before a copied secret is cleared from the clipboard (0: never)")
        form = QFormLayout(box)
        form.addRow("Code &words:", self.code_length_spin)
        form.addRow("Link e&xpiry:", self.expiry_field)
        form.addRow("Link v&iews:", self.max_views_spin)
        form.addRow("Clear clipboard a&fter:", self.clipboard_spin)
        return box

    def _build_keychain(self) -> QGroupBox:
        box = QGroupBox("Keychain", self)
        self.backend_label = QLabel("Checking…", box)
        expose_value(self.backend_label, "Keychain backend")
        self.backend_label.setWordWrap(True)
        self.backend_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.store_label = QLabel(box)
        expose_value(self.store_label, "Where the audit log keeps its keys")
        self.store_label.setWordWrap(True)
        self.keychain_button = QPushButton("Check a&gain", box)
        self.keychain_button.setAccessibleName("Check the keychain again")
        self.keychain_button.clicked.connect(self.check_keychain)
        form = QFormLayout(box)
        form.addRow("OS keychain:", self.backend_label)
        form.addRow("Audit log keys:", self.store_label)
        again = QHBoxLayout()
        again.addWidget(self.keychain_button)
        again.addStretch(1)
        form.addRow("", again)
        return box

    # -- loading and saving ----------------------------------------------------------

    def load(self) -> None:
        """Fill the fields from the current settings."""
        config = self.ctx.services.config
        self.mailbox_field.setText(config.mailbox_url)
        self.transit_field.setText(config.transit_helper)
        self.relay_field.setText(config.relay_url)
        self.ca_field.setText(config.ca_file)
        self.code_length_spin.setValue(config.code_length)
        self.expiry_field.setText(format_duration(config.link_expiry_s))
        self.max_views_spin.setValue(config.link_max_views)
        self.clipboard_spin.setValue(config.clipboard_clear_s)
        self.forwarding.load(config)
        self._show_store(config)
        self._mark_environment()

    def _setting_widgets(self) -> dict[str, QWidget]:
        return {"mailbox_url": self.mailbox_field, "transit_helper": self.transit_field, "relay_url": self.relay_field,
                "ca_file": self.ca_field, "code_length": self.code_length_spin, "link_expiry_s": self.expiry_field,
                "link_max_views": self.max_views_spin, "clipboard_clear_s": self.clipboard_spin,
                **self.forwarding.widgets()}

    def _mark_environment(self) -> None:
        """Settings an ``OTS_*`` variable sets are shown read-only, naming the variable (Save keeps them out
        of config.toml)."""
        from_env = settings_from_environment()
        for name, widget in self._setting_widgets().items():
            own_tip = widget.property("own_tip")
            if own_tip is None:
                own_tip = widget.toolTip()
                widget.setProperty("own_tip", own_tip)
            variable = from_env.get(name)
            widget.setEnabled(variable is None)
            widget.setToolTip(f"Set by the environment variable {variable}; change it there." if variable
                              else str(own_tip))
        self.environment_note.setText(
            "Set by the environment, not saved here: " + ", ".join(sorted(from_env.values())) + "." if from_env else "")
        self.environment_note.setVisible(bool(from_env))

    def config_from_fields(self) -> Config:
        """The settings the fields describe, checked; raises :class:`FieldError` naming the bad field."""
        mailbox = self.mailbox_field.text().strip()
        transit = self.transit_field.text().strip()
        relay = self.relay_field.text().strip()
        if relay:
            problem = self._relay_problem(relay)
            if problem:
                raise FieldError(self.relay_field, problem)
        ca_file = self.ca_field.text().strip()
        if ca_file and not Path(ca_file).expanduser().is_file():
            raise FieldError(self.ca_field, f"The CA file {ca_file} does not exist or is not a file.")
        try:
            expiry = parse_duration(self.expiry_field.text())
        except InputError as exc:
            raise FieldError(self.expiry_field, f"Link expiry: {exc.message}.") from None
        config = replace(self.ctx.services.config, mailbox_url=mailbox, transit_helper=transit, relay_url=relay,
                         ca_file=ca_file, code_length=self.code_length_spin.value(), link_expiry_s=expiry,
                         link_max_views=self.max_views_spin.value(),
                         clipboard_clear_s=self.clipboard_spin.value())
        config = self.forwarding.apply(config)
        try:
            return config.validate()
        except ConfigError as exc:
            raise self._field_error(exc) from None

    def _field_error(self, exc: ConfigError) -> FieldError:
        fields = {"mailbox_url": ("The mailbox URL", self.mailbox_field),
                  "transit_helper": ("The transit relay", self.transit_field),
                  "relay_url": ("The link relay URL", self.relay_field),
                  "code_length": ("A wormhole code", self.code_length_spin),
                  "link_expiry_s": ("The link expiry", self.expiry_field),
                  "link_max_views": ("Link views (opens per link)", self.max_views_spin),
                  "clipboard_clear_s": ("The clipboard timeout", self.clipboard_spin)}
        found = fields.get(exc.field or "") or self.forwarding.field_for(exc.field or "")
        if found is None:
            return FieldError(self.save_button, _sentence(exc.message))
        label, widget = found
        rest = exc.message[len(exc.field or ""):] if exc.message.startswith(exc.field or "\0") else f": {exc.message}"
        return FieldError(widget, _sentence(label + rest))

    def save(self) -> bool:
        """Check, write and apply the settings; False (with the reason in the banner) when they are refused."""
        try:
            config = self.config_from_fields()
        except FieldError as exc:
            self.banner.error(f"Not saved. {exc.message}")
            exc.field.setFocus(Qt.FocusReason.OtherFocusReason)
            return False
        try:
            self.ctx.services.save_config(config)
        except (OtsError, OSError) as exc:
            self.banner.error(f"Not saved. {_sentence(describe_error(exc))}")
            return False
        self.ctx.clipboard.timeout_s = config.clipboard_clear_s
        warning = mailbox_warning(config.mailbox_url)
        where = self.ctx.services.paths.config_file
        if warning:
            self.banner.show_message(f"Saved to {where}. Note: {_sentence(warning)}", Level.WARNING)
        else:
            self.banner.show_message(f"Saved to {where}.", Level.SUCCESS)
        self._show_store(config)
        self.saved.emit(config)
        return True

    def choose_ca_file(self) -> None:
        """Pick a PEM CA bundle with a file dialog."""
        current = self.ca_field.text().strip()
        start = str(Path(current).expanduser().parent) if current else str(Path.home())
        chosen, _ = QFileDialog.getOpenFileName(self, "Choose a CA bundle", start,
                                                "PEM certificates (*.pem *.crt *.cer);;All files (*)")
        if chosen:
            self.ca_field.setText(chosen)

    # -- live checks -------------------------------------------------------------------

    def _check_mailbox(self, text: str) -> None:
        warning = mailbox_warning(text)
        self.mailbox_warning.setText(f"⚠ {_sentence(warning)}" if warning else "")
        self.mailbox_warning.setVisible(bool(warning))

    @staticmethod
    def _relay_problem(url: str) -> str | None:
        try:
            require_secure(relay_base(url))
        except InputError as exc:
            return _sentence(exc.message)
        return None

    def _check_relay(self, text: str) -> None:
        problem = self._relay_problem(text) if text.strip() else None
        self.relay_note.setText(problem or "")
        self.relay_note.setVisible(bool(problem))

    # -- the keychain --------------------------------------------------------------------

    def _show_store(self, config: Config) -> None:
        if config.keystore == "file":
            self.store_label.setText(f"in the passphrase-protected key file {self.ctx.services.paths.keyfile} "
                                     "(opted in with keystore = \"file\")")
        else:
            self.store_label.setText("in the OS keychain")

    def check_keychain(self) -> asyncio.Task[Any]:
        """Find out (on a worker thread) which keychain backend is in use and whether it is safe."""
        self.keychain_button.setEnabled(False)
        self.backend_label.setText("Checking…")
        self._keychain_task = self.ctx.tasks.start(self._check_keychain(), on_error=self._keychain_failed)
        return self._keychain_task

    async def _check_keychain(self) -> None:
        try:
            status = await asyncio.to_thread(keychain_status)
        finally:
            self.keychain_button.setEnabled(True)
        self.show_keychain(status)
        self.keychain_checked.emit(status)

    def _keychain_failed(self, text: str) -> None:
        colour_text(self.backend_label, "error")
        self.backend_label.setText(f"Unknown: {_sentence(text)}")

    def show_keychain(self, status: KeychainStatus) -> None:
        """Show ``status``: the backend, and whether it is safe for the audit log's keys."""
        if status.safe:
            colour_text(self.backend_label, "success")
            self.backend_label.setText(f"{status.backend}: safe for the audit log's keys")
        else:
            colour_text(self.backend_label, "error")
            self.backend_label.setText(f"{status.backend}: not safe. {_sentence(status.problem or 'refused')}")

    def showEvent(self, event: QShowEvent) -> None:
        """Check the keychain the first time the page is shown."""
        super().showEvent(event)
        if self._keychain_task is None:
            self.check_keychain()
        self.forwarding.refresh()
