"""The small form behind "Request a secret": what is asked for, how long the request lives, who may answer.

The terms are checked here as the relay checks them (an unknown network or country code
is named in the form's error line) before anything leaves the machine.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from ots_desktop.core.config import Config
from ots_desktop.core.errors import InputError
from ots_desktop.core.messages import sentence
from ots_desktop.core.policy import check_note
from ots_desktop.ui.level_text import colour_text
from ots_desktop.ui.send.choices import link_policy
from ots_desktop.ui.send.options import EXPIRY_PRESETS, describe_seconds


@dataclass(frozen=True)
class RequestTerms:
    """A request's terms, checked."""

    label: str
    recipient: str | None
    expires_in: int
    allow_cidrs: tuple[str, ...]
    allow_countries: tuple[str, ...]


class RequestForm(QWidget):
    """Label, recipient, expiry, allowed networks and countries; Create emits :attr:`submitted`."""

    submitted = Signal(object)  # RequestTerms
    cancelled = Signal()

    def __init__(self, config: Config, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Request a secret")
        self.label = QLineEdit(self)
        self.label.setPlaceholderText("what you ask for, like: Staging DB password")
        self.label.setAccessibleName("What you ask for (shown to the person who answers)")
        self.recipient = QLineEdit(self)
        self.recipient.setPlaceholderText("optional: who you ask (audit log only)")
        self.recipient.setAccessibleName("Who you ask")
        self.expiry = QComboBox(self)
        self.expiry.setAccessibleName("Request expires after")
        self.networks = QLineEdit(self)
        self.networks.setPlaceholderText("optional: 10.0.0.0/8, 192.168.1.7")
        self.networks.setAccessibleName("Networks the answer may come from")
        self.countries = QLineEdit(self)
        self.countries.setPlaceholderText("optional: DE, FR")
        self.countries.setAccessibleName("Countries the answer may come from")
        self.error = QLabel(self)
        self.error.setWordWrap(True)
        self.error.setAccessibleName("Request form problem")
        colour_text(self.error, "error")
        self.error.hide()
        self.create_button = QPushButton("Create &request link", self)
        self.create_button.setAccessibleName("Create request link")
        self.create_button.setAutoDefault(True)
        self.create_button.clicked.connect(self.submit)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setAccessibleName("Cancel the request form")
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.clicked.connect(self.cancel)
        for field in (self.label, self.recipient, self.networks, self.countries):
            field.returnPressed.connect(self.submit)
        form = QFormLayout()
        form.addRow("Asking for:", self.label)
        form.addRow("Asking whom:", self.recipient)
        form.addRow("Expires after:", self.expiry)
        form.addRow("Answer only from networks:", self.networks)
        form.addRow("Answer only from countries:", self.countries)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.create_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        self.apply_defaults(config)

    def apply_defaults(self, config: Config) -> None:
        """The expiry list, with the configured link expiry chosen."""
        self.expiry.clear()
        presets = dict(EXPIRY_PRESETS)
        presets.setdefault(config.link_expiry_s, describe_seconds(config.link_expiry_s))
        for seconds in sorted(presets):
            self.expiry.addItem(presets[seconds], seconds)
        self.expiry.setCurrentIndex(self.expiry.findData(config.link_expiry_s))

    def terms(self) -> RequestTerms:
        """The form's terms, checked; InputError naming the field otherwise."""
        label = check_note(self.label.text(), "label") or ""
        recipient = check_note(self.recipient.text(), "recipient")
        policy = link_policy(int(self.expiry.currentData()), 1, self.networks.text(), self.countries.text())
        return RequestTerms(label, recipient, policy.expires_in, policy.allow_cidrs, policy.allow_countries)

    def submit(self) -> None:
        """Check the terms and hand them on; a problem stays in the form, named."""
        try:
            terms = self.terms()
        except InputError as exc:
            self.error.setText(sentence(exc.message))
            self.error.show()
            return
        self.error.hide()
        self.submitted.emit(terms)

    def cancel(self) -> None:
        """Close the form without asking."""
        self.error.hide()
        self.hide()
        self.cancelled.emit()

    def reset(self) -> None:
        """Empty the fields for the next request (the expiry stays)."""
        for field in (self.label, self.recipient, self.networks, self.countries):
            field.clear()
        self.error.hide()
