"""The share's options: code or link, and what each of them takes, plus notes for the audit log.

The defaults come from the settings (code length, link expiry and views). The link's
passphrase is a secret field of its own; it is taken (and emptied) only when a share
starts, after every other option was checked.
"""

from __future__ import annotations

import itertools

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QRadioButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ots_desktop.core.config import MAX_CODE_LENGTH, MIN_CODE_LENGTH, Config
from ots_desktop.core.kdf import passphrase_from_text
from ots_desktop.core.policy import LINK_MAX_VIEWS, LINK_MIN_VIEWS
from ots_desktop.core.secret import SecretBuffer
from ots_desktop.ui.key_names import native
from ots_desktop.ui.send.choices import (
    LINK,
    WORMHOLE,
    LinkChoices,
    WormholeChoices,
    check_channel,
    check_note,
    link_policy,
    parse_recipients,
)
from ots_desktop.ui.send.secret_field import SecretField
from ots_desktop.ui.spin_box import FramedSpinBox

EXPIRY_PRESETS = ((5 * 60, "5 minutes"), (3600, "1 hour"), (86400, "1 day"), (7 * 86400, "7 days"))
MAX_PASSPHRASE = 4096


def describe_seconds(seconds: int) -> str:
    """``90 minutes``, ``2 hours``, ``3 days``: a duration for the expiry list."""
    for unit, name in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds % unit == 0:
            count = seconds // unit
            return f"{count} {name}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


LINK_TIP = "A link that opens once, parked encrypted on your link relay"
NO_RELAY_TIP = "No link relay is set: add one under Settings, Servers (Ctrl+4)"


class ShareOptions(QWidget):
    """Channel choice and the options of each channel."""

    channel_changed = Signal(str)

    def __init__(self, config: Config, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.wormhole_radio = QRadioButton("Wormhole &code", self)
        self.wormhole_radio.setToolTip("A short code you read out; the other side types it in")
        self.link_radio = QRadioButton("One-time &link", self)
        self.link_radio.setToolTip(LINK_TIP)
        self._group = QButtonGroup(self)
        self._group.addButton(self.wormhole_radio)
        self._group.addButton(self.link_radio)
        self.wormhole_radio.setChecked(True)
        self.wormhole_radio.toggled.connect(self._switch)

        self.code_length = FramedSpinBox(self)
        self.code_length.setRange(MIN_CODE_LENGTH, MAX_CODE_LENGTH)
        self.code_length.setSuffix(" words")
        self.code_length.setAccessibleName("Code length in words")
        self.verify = QCheckBox("&Verify words before sending", self)
        self.verify.setToolTip("Both sides compare a few words first: nobody can sit in between unnoticed")
        wormhole_page = QWidget(self)
        wormhole_form = QFormLayout(wormhole_page)
        wormhole_form.setContentsMargins(0, 0, 0, 0)
        wormhole_form.addRow("Code length:", self.code_length)
        wormhole_form.addRow("", self.verify)

        self.expiry = QComboBox(self)
        self.expiry.setAccessibleName("Link expires after")
        self.views = FramedSpinBox(self)
        self.views.setRange(LINK_MIN_VIEWS, LINK_MAX_VIEWS)
        self.views.setAccessibleName("Number of times the link opens")
        self.passphrase = SecretField("passphrase", "optional: tell it to them another way", self,
                                      max_bytes=MAX_PASSPHRASE)
        self.networks = QLineEdit(self)
        self.networks.setPlaceholderText("optional: 10.0.0.0/8, 192.168.1.7")
        self.networks.setAccessibleName("Allowed networks")
        self.networks.setToolTip("Only these addresses or CIDR networks may open the link (comma separated)")
        self.countries = QLineEdit(self)
        self.countries.setPlaceholderText("optional: DE, FR")
        self.countries.setAccessibleName("Allowed countries")
        self.countries.setToolTip("Only addresses your link relay places in these countries may open the link: "
                                  "two-letter ISO codes, comma separated (the relay needs a country database)")
        link_page = QWidget(self)
        link_form = QFormLayout(link_page)
        link_form.setContentsMargins(0, 0, 0, 0)
        link_form.addRow("Expires after:", self.expiry)
        link_form.addRow("Opens:", self.views)
        link_form.addRow("Passphrase:", self.passphrase)
        link_form.addRow("Allowed networks:", self.networks)
        link_form.addRow("Allowed countries:", self.countries)

        for field in (self.code_length, self.expiry, self.views):
            field.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(wormhole_page)
        self.stack.addWidget(link_page)
        self._pages = (wormhole_page, link_page)

        self.label = QLineEdit(self)
        self.label.setPlaceholderText("optional, for the audit log: prod DB password")
        self.label.setAccessibleName("Label")
        self.recipients = QPlainTextEdit(self)
        self.recipients.setPlaceholderText("optional: sam, alex (each gets their own share)")
        self.recipients.setAccessibleName("Recipients")
        self.recipients.setTabChangesFocus(True)
        self.recipients.setFixedHeight(self.fontMetrics().lineSpacing() * 3 + 12)

        radios = QHBoxLayout()
        radios.addWidget(self.wormhole_radio)
        radios.addWidget(self.link_radio)
        radios.addStretch(1)
        notes = QFormLayout()
        notes.setContentsMargins(0, 0, 0, 0)
        notes.addRow("La&bel:", self.label)
        notes.addRow("Reci&pients:", self.recipients)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(radios)
        layout.addWidget(self.stack)
        layout.addLayout(notes)
        self.apply_defaults(config)
        self._tab_order()
        self._switch()

    def _tab_order(self) -> None:
        chain: list[QWidget] = [self.wormhole_radio, self.link_radio, self.code_length, self.verify, self.expiry,
                                self.views, self.passphrase.edit, self.passphrase.show_toggle, self.networks,
                                self.countries, self.label, self.recipients]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    def apply_defaults(self, config: Config) -> None:
        """Set code length, expiry and views from the settings; links only with a relay to park them on."""
        has_relay = bool(config.relay_url.strip())
        self.link_radio.setEnabled(has_relay)
        self.link_radio.setToolTip(LINK_TIP if has_relay else native(NO_RELAY_TIP))
        if not has_relay and self.link_radio.isChecked():
            self.wormhole_radio.setChecked(True)
        self.code_length.setValue(config.code_length)
        self.expiry.clear()
        presets = dict(EXPIRY_PRESETS)
        if config.link_expiry_s not in presets:
            presets[config.link_expiry_s] = describe_seconds(config.link_expiry_s)
        for seconds in sorted(presets):
            self.expiry.addItem(presets[seconds], seconds)
        self.expiry.setCurrentIndex(self.expiry.findData(config.link_expiry_s))
        self.views.setValue(config.link_max_views)

    # -- the channel ---------------------------------------------------------------------

    def channel(self) -> str:
        """``wormhole`` or ``link``."""
        return LINK if self.link_radio.isChecked() else WORMHOLE

    def set_channel(self, via: str) -> None:
        """Choose the channel."""
        (self.link_radio if check_channel(via) == LINK else self.wormhole_radio).setChecked(True)

    def _switch(self) -> None:
        current = 1 if self.channel() == LINK else 0
        # The stack takes the height of the page shown, not of the tallest one.
        for index, page in enumerate(self._pages):
            policy = QSizePolicy.Policy.Preferred if index == current else QSizePolicy.Policy.Ignored
            page.setSizePolicy(QSizePolicy.Policy.Preferred, policy)
        self.stack.setCurrentIndex(current)
        self.stack.adjustSize()
        self.channel_changed.emit(self.channel())

    # -- reading the choices ---------------------------------------------------------------

    def notes(self) -> tuple[str | None, tuple[str, ...]]:
        """The label and the recipients, checked."""
        return check_note(self.label.text(), "label"), parse_recipients(self.recipients.toPlainText())

    def wormhole_choices(self) -> WormholeChoices:
        """The code options, checked."""
        label, recipients = self.notes()
        return WormholeChoices(self.code_length.value(), self.verify.isChecked(), label, recipients)

    def link_choices(self) -> LinkChoices:
        """The link options, checked (the passphrase is taken separately, last)."""
        label, recipients = self.notes()
        policy = link_policy(int(self.expiry.currentData()), self.views.value(), self.networks.text(),
                             self.countries.text())
        return LinkChoices(policy, label, recipients)

    def take_passphrase(self) -> SecretBuffer | None:
        """The passphrase in its normalised form (None when empty); the field is emptied."""
        if self.passphrase.is_empty():
            return None
        with self.passphrase.take() as raw:
            text = raw.reveal_text()
        # The transient str is needed for Unicode normalisation and is dropped at once.
        try:
            return passphrase_from_text(text)
        finally:
            del text

    def clear_after_share(self) -> None:
        """Empty what belongs to one share: passphrase, label, recipients."""
        self.passphrase.clear()
        self.label.clear()
        self.recipients.clear()
