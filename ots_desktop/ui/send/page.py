"""The Send page: what to share (text or files), how (code or link, with options), and the shares' cards.

Nothing is taken from the fields before every option was checked: a bad option shows
in the banner and leaves the secret where it was. Once taken, the secret lives in a
:class:`SecretBuffer` and the field is empty.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ots_desktop.channels.link_types import LinkPolicy
from ots_desktop.core.codes import PUBLIC_MAILBOX_URL
from ots_desktop.core.errors import InputError, OtsError
from ots_desktop.core.messages import sentence
from ots_desktop.core.secret import SecretBuffer
from ots_desktop.ui.announce import LiveLabel
from ots_desktop.ui.banner import Banner
from ots_desktop.ui.context import Level, UiContext
from ots_desktop.ui.key_names import native
from ots_desktop.ui.send.card import ShareCard
from ots_desktop.ui.send.card_list import CardList
from ots_desktop.ui.send.choices import LINK, MAX_TEXT, LinkChoices, WormholeChoices, check_channel
from ots_desktop.ui.send.drop_zone import DropZone
from ots_desktop.ui.send.file_queue import FileQueue
from ots_desktop.ui.send.options import ShareOptions
from ots_desktop.ui.send.secret_field import SecretField
from ots_desktop.ui.send.sharing import Sharing
from ots_desktop.ui.tasks import describe_error

if TYPE_CHECKING:
    # QtTextToSpeech loads Qt Multimedia: only when a code is first spoken.
    from ots_desktop.ui.send.speech import Speaker

BUNDLE_TEXT = "One link for all of it (a zip of the queued files and folders)"


class _FormArea(QScrollArea):
    """Scrolls the form when the window is small, but asks for the form's full height."""

    def sizeHint(self) -> QSize:
        inner = self.widget()
        return inner.sizeHint() + QSize(2, 2) if inner is not None else super().sizeHint()


FIRST_RUN_MARKER = "public-servers-note-shown"
PUBLIC_SERVERS_NOTE = ("Wormhole codes go through the public Magic Wormhole servers unless you set your own "
                       "mailbox and transit relay under Settings, Servers (Ctrl+4). Secrets are encrypted end to "
                       "end either way: those servers see when and from which addresses, never what.")


class SendPage(QWidget):
    """Compose and start shares; follow them on cards. ``speech_engine`` picks the Speak button's engine."""

    share_started = Signal(str)  # "wormhole" or "link"

    def __init__(self, ctx: UiContext, parent: QWidget | None = None, *, speech_engine: str | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._speech_engine = speech_engine
        self._speaker: Speaker | None = None
        self._speaker_made = False
        self.banner = Banner(self)
        self.drop_zone = DropZone(self)
        self.queue = FileQueue(self)
        self.queue.hide()
        self.bundle_box = QCheckBox(BUNDLE_TEXT, self)
        self.bundle_box.setAccessibleName("Send the queue as one link, zipped")
        self.bundle_box.hide()
        self.secret = SecretField("secret", "Type or paste the secret (or drop text above)", self, max_bytes=MAX_TEXT,
                                  too_large=" Send it as a file instead.")
        self.options = ShareOptions(ctx.services.config, self)
        # Shown in clear, a selection in either field would otherwise reach PRIMARY (middle-click paste).
        for field in (self.secret, self.options.passphrase):
            ctx.clipboard.guard_selection(field.edit, field.edit.hasSelectedText)
        self.share_button = QPushButton("S&hare", self)
        self.share_button.setDefault(True)
        self.share_button.setToolTip(native("Start the share (Ctrl+Enter)"))
        self.share_button.setAccessibleName("Share")
        self.busy_label = LiveLabel("Share progress", self)
        self.card_list = CardList(self)
        self.sharing = Sharing(ctx, self.card_list, self.speaker, self._async_error, self)
        self._layout()
        self._connect()
        # Links made before this start and still live, with their receipts and Revoke: after the first paint.
        QTimer.singleShot(0, self, self.sharing.restore_links)
        self._first_run_note()

    def _layout(self) -> None:
        compose = QWidget(self)
        column = QVBoxLayout(compose)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.drop_zone)
        column.addWidget(self.queue)
        column.addWidget(self.bundle_box)
        secret_label = QLabel("S&ecret:", compose)
        secret_label.setBuddy(self.secret.edit)
        secret_row = QHBoxLayout()
        secret_row.addWidget(secret_label)
        secret_row.addWidget(self.secret, 1)
        column.addLayout(secret_row)
        column.addWidget(self.options)
        _align_labels([secret_label, *self.options.findChildren(QLabel)])
        shares = QWidget(self)
        shares_column = QVBoxLayout(shares)
        shares_column.setContentsMargins(0, 0, 0, 0)
        shares_column.addWidget(QLabel("<b>Shares</b>", shares))
        shares_column.addWidget(self.card_list, 1)
        compose_area = _FormArea(self)
        compose_area.setWidget(compose)
        compose_area.setWidgetResizable(True)
        compose_area.setFrameShape(QFrame.Shape.NoFrame)
        compose_area.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # its fields are the Tab stops, not the area
        # The Share button sits under the scrolling form, never inside it: a long queue cannot push it away.
        top = QWidget(self)
        top_column = QVBoxLayout(top)
        top_column.setContentsMargins(0, 0, 0, 0)
        top_column.addWidget(compose_area, 1)
        actions = QHBoxLayout()
        actions.addWidget(self.busy_label, 1)
        actions.addWidget(self.share_button)
        top_column.addLayout(actions)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(top)
        splitter.addWidget(shares)
        splitter.setStretchFactor(1, 1)
        self._splitter, self._compose = splitter, compose
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, 1)
        chain: list[QWidget] = [self.drop_zone.choose_files_button, self.drop_zone.choose_folder_button,
                                self.queue.list, self.queue.remove_button, self.queue.clear_button,
                                self.secret.edit, self.secret.show_toggle, self.options.wormhole_radio]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)
        QWidget.setTabOrder(self.options.recipients, self.share_button)

    def _connect(self) -> None:
        self.drop_zone.paths_dropped.connect(self.add_paths)
        self.drop_zone.text_dropped.connect(self._text_dropped)
        self.drop_zone.refused.connect(lambda text: self.banner.show_message(text, str(Level.WARNING)))
        self.queue.changed.connect(self._queue_changed)
        self.options.channel_changed.connect(lambda _via: self._queue_changed())
        self.share_button.clicked.connect(self.share)
        self.secret.edit.returnPressed.connect(self.share)
        self.sharing.started.connect(self.share_started.emit)
        self.sharing.link_jobs_changed.connect(self._link_jobs_changed)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            self._shortcut(QKeySequence(keys), self.share)
        self._shortcut(QKeySequence(QKeySequence.StandardKey.Open), self.drop_zone.choose_files)
        self._shortcut(QKeySequence("Escape"), self.banner.hide)

    def _shortcut(self, keys: QKeySequence, slot: Callable[[], None]) -> None:
        shortcut = QShortcut(keys, self)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.activated.connect(slot)

    # -- what the window and the tray call ------------------------------------------------

    def speaker(self) -> Speaker | None:
        """The text-to-speech engine shared by the cards (made on first use; None if there is none)."""
        if not self._speaker_made:
            self._speaker_made = True
            from ots_desktop.ui.send.speech import Speaker

            speaker = Speaker(self._speech_engine, self)
            self._speaker = speaker if speaker.available else None
        return self._speaker

    def _first_run_note(self) -> None:
        """Once per installation, while codes go through the public servers: say so, and how to change it."""
        services = self.ctx.services
        marker = services.paths.state_dir / FIRST_RUN_MARKER
        if services.config.mailbox_url != PUBLIC_MAILBOX_URL or marker.exists():
            return
        self.banner.show_message(native(PUBLIC_SERVERS_NOTE), "info")
        with contextlib.suppress(OSError):
            marker.touch(mode=0o600)

    def live_links(self) -> int:
        """How many links shown here are still waiting to be opened (their receipts pause while the app is closed)."""
        return sum(1 for card in self.cards() if card.channel == "link" and not card.is_finished)

    def live_codes(self) -> int:
        """How many transfers by code shown here have not finished (quitting cancels them)."""
        return sum(1 for card in self.cards() if card.channel == "wormhole" and not card.is_finished)

    def cards(self) -> list[ShareCard]:
        """Every card on the page, newest first."""
        return self.card_list.cards()

    def active_cards(self) -> list[ShareCard]:
        """The cards whose share has not ended yet."""
        return [card for card in self.cards() if not card.is_finished]

    def focus_secret(self) -> None:
        """Put the cursor in the secret field."""
        self.secret.edit.setFocus(Qt.FocusReason.OtherFocusReason)

    def add_paths(self, paths: list[Path]) -> None:
        """Queue files and folders for sharing; refused ones are named in the banner."""
        problems = self.queue.add([Path(path) for path in paths])
        if problems:
            self.banner.show_message(" ".join(problems), str(Level.WARNING))

    def share_text(self, secret: SecretBuffer, via: str, *, on_ready: Callable[[str], None] | None = None,
                   label: str | None = None) -> None:
        """Share a text secret with the default options from the settings (the tray's quick share).

        ``on_ready`` is given the code or the link once there is one; ``label`` names it in the audit log.
        """
        try:
            config = self.ctx.services.config
            if check_channel(via) == LINK:
                relay_url = self.ctx.services.relay_url()
                channel = self.ctx.services.link()
                policy = LinkPolicy(config.link_expiry_s, config.link_max_views).checked()
                self._check_size(secret)
                self.sharing.link_text(channel, relay_url, secret, None, LinkChoices(policy, label=label),
                                       on_ready=on_ready)
            else:
                self._check_size(secret)
                self.sharing.wormhole_text(secret, WormholeChoices(config.code_length, label=label),
                                           on_ready=on_ready)
        except OtsError as exc:
            secret.close()
            self.banner.error(sentence(describe_error(exc)))

    @staticmethod
    def _check_size(secret: SecretBuffer) -> None:
        if not len(secret):
            raise InputError("There is nothing to share: the text is empty.")
        if len(secret) > MAX_TEXT:
            raise InputError("The text is larger than 1 MiB; send it as a file instead.")

    # -- the Share button ------------------------------------------------------------------

    def share(self) -> None:
        """Start sharing what is in the fields, with the options shown."""
        self.banner.hide()
        try:
            if not self.queue.is_empty():
                self._share_queue()
            else:
                self._share_field()
        except OtsError as exc:
            self.banner.error(sentence(describe_error(exc)))
            return
        self.options.clear_after_share()

    def _share_field(self) -> None:
        if self.secret.is_empty():
            raise InputError("There is nothing to share: type or paste a secret, or drop files or text above.")
        if self.options.channel() == LINK:
            choices = self.options.link_choices()
            relay_url = self.ctx.services.relay_url()
            channel = self.ctx.services.link()
            secret = self.secret.take()
            try:
                passphrase = self.options.take_passphrase()
            except OtsError:
                self.secret.restore(secret)
                raise
            self.sharing.link_text(channel, relay_url, secret, passphrase, choices, restore=self.secret.restore)
        else:
            code_choices = self.options.wormhole_choices()
            self.sharing.wormhole_text(self.secret.take(), code_choices)

    def _share_queue(self) -> None:
        if not self.secret.is_empty():
            raise InputError("Share either the text or the queued files, not both at once: clear the secret field "
                             "or the queue first.")
        items = self.queue.items()
        if self.options.channel() == LINK:
            choices = self.options.link_choices()
            relay_url = self.ctx.services.relay_url()
            channel = self.ctx.services.link()
            passphrase = self.options.take_passphrase()
            paths = [item.path for item in items]
            if self.bundle_box.isVisible() and self.bundle_box.isChecked():
                self.sharing.link_bundle(channel, relay_url, paths, passphrase, choices)
            else:
                self.sharing.link_files(channel, relay_url, paths, passphrase, choices)
        else:
            self.sharing.wormhole_paths(items, self.options.wormhole_choices())
        self.queue.clear()

    # -- reactions ------------------------------------------------------------------------------

    def _text_dropped(self, text: str) -> None:
        self.secret.set_text(text)
        self.focus_secret()
        del text

    def _queue_changed(self) -> None:
        self.queue.setVisible(not self.queue.is_empty())
        # By link, several items may go as one zip; a folder can go by link only that way.
        folders = bool(self.queue.folders())
        self.bundle_box.setVisible(self.options.channel() == LINK and (folders or len(self.queue.items()) > 1))
        if folders:
            self.bundle_box.setChecked(True)
        self.bundle_box.setEnabled(not folders)
        self.bundle_box.setToolTip("A folder goes by link only inside a zip." if folders else "")
        self._fit_form()

    def _fit_form(self) -> None:
        """Give the form the height it now asks for (at most two thirds of the page); the cards get the rest."""
        total = sum(self._splitter.sizes())
        if total <= 0:
            return
        form = min(self._compose.sizeHint().height() + self.share_button.sizeHint().height() + 10, total * 2 // 3)
        self._splitter.setSizes([form, total - form])

    def _link_jobs_changed(self, count: int) -> None:
        self.busy_label.setText("Sealing and uploading…" if count else "")

    def _async_error(self, text: str) -> None:
        self.banner.error(text)


def _align_labels(candidates: list[QLabel]) -> None:
    """One label column for the whole form: the secret's row and every form row of the options (both channels')."""
    labels = [label for label in candidates if label.buddy() is not None or label.text().endswith(":")]
    width = max(label.sizeHint().width() for label in labels)
    for label in labels:
        label.setMinimumWidth(width)
