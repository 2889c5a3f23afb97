"""Requests on the Receive page: the "Request a secret" button (Ctrl+Shift+R), its form, and the request cards.

Making a request goes through :func:`ots_desktop.channels.request_flow.make_request`, as
``ots request`` does: a key pair for this request alone, the private key in the keychain,
the request registered on the relay and audited. Live requests made earlier (here or with
``ots request``) get their card back at start, without the link (it is never kept).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ots_desktop.core.errors import OtsError
from ots_desktop.core.messages import sentence
from ots_desktop.core.times import parse_rfc3339
from ots_desktop.ui.context import UiContext
from ots_desktop.ui.key_names import native
from ots_desktop.ui.level_text import colour_text
from ots_desktop.ui.receive.request_card import RequestCard
from ots_desktop.ui.receive.request_form import RequestForm, RequestTerms
from ots_desktop.ui.send.card_list import CardList
from ots_desktop.ui.tasks import describe_error

SHORTCUT = "Ctrl+Shift+R"
UNTITLED = "Secret request"
MAX_RESTORED = 200


class RequestPanel(QWidget):
    """The Receive page's requests: a button, the form it opens, and one card per request."""

    card_added = Signal(object)  # RequestCard

    def __init__(self, ctx: UiContext, save_folder: Callable[[], Path], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._save_folder = save_folder
        self._making = False
        self.request_button = QPushButton("Re&quest a secret…", self)
        self.request_button.setAccessibleName("Request a secret")
        self.request_button.setToolTip(native(f"Make a one-time link someone answers with a secret only you can "
                                              f"open ({SHORTCUT})"))
        self.request_button.setAutoDefault(False)
        self.request_button.clicked.connect(self.open_form)
        self.problem = QLabel(self)
        self.problem.setWordWrap(True)
        self.problem.setAccessibleName("Request problem")
        colour_text(self.problem, "error")
        self.problem.hide()
        self.form = RequestForm(ctx.services.config, self)
        self.form.hide()
        self.form.submitted.connect(self._make)
        self.cards = CardList(self)
        self.cards.hide()
        row = QHBoxLayout()
        row.addWidget(self.request_button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.form)
        layout.addWidget(self.problem)
        layout.addWidget(self.cards, 1)
        shortcut = QShortcut(QKeySequence(SHORTCUT), parent or self)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.activated.connect(self.open_form)
        if (ctx.services.paths.data_dir / "requests.sqlite3").exists():  # made before: follow them again
            QTimer.singleShot(0, self, self.restore)

    def open_form(self) -> None:
        """Show the form with the focus on its first field."""
        self.form.apply_defaults(self.ctx.services.config)
        self.form.show()
        self.form.label.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def request(self, terms: RequestTerms) -> None:
        """Make a request with these terms (what the form's Create does)."""
        self._make(terms)

    def _make(self, terms: object) -> None:
        assert isinstance(terms, RequestTerms)
        if self._making:
            return
        self._making = True
        self.form.create_button.setEnabled(False)
        self.problem.hide()
        self.ctx.tasks.start(self._register(terms), on_error=self._failed)

    async def _register(self, terms: RequestTerms) -> None:
        from ots_desktop.channels.request_flow import make_request

        services = self.ctx.services
        try:
            log = await services.audit()
            client = services.request_client()
            async with client:
                made = await make_request(client, log, log.keystore, services.requests(), label=terms.label,
                                          recipient=terms.recipient, expires_in=terms.expires_in,
                                          allow_cidrs=terms.allow_cidrs, allow_countries=terms.allow_countries)
        finally:
            self._making = False
            self.form.create_button.setEnabled(True)
        self.form.reset()
        self.form.hide()
        self._add(made.request_id, made.link, made.expires_at, terms.label, terms.recipient)

    def _failed(self, text: str) -> None:
        self.problem.setText(f"The request was not made: {sentence(text)}")
        self.problem.show()

    def _add(self, request_id: str, link: str, expires_at: str, label: str | None, recipient: str | None,
             ) -> RequestCard:
        title = label or UNTITLED
        if recipient:
            title = f"{title} from {recipient}"
        card = RequestCard(self.ctx, request_id, link, expires_at, title, self._save_folder)
        self.cards.add(card)
        self.cards.show()
        card.close_requested.connect(lambda: self._close_card(card))
        card.start_watch()
        self.card_added.emit(card)
        return card

    def _close_card(self, card: RequestCard) -> None:
        card.secret_view.clear()
        self.cards.remove(card)
        if not self.cards.cards():
            self.cards.hide()

    def request_cards(self) -> list[RequestCard]:
        """The cards on the panel, newest first."""
        return [card for card in self.cards.cards() if isinstance(card, RequestCard)]

    def live_requests(self) -> int:
        """How many requests shown here still wait for (or on the opening of) their answer."""
        return sum(1 for card in self.request_cards() if not card.is_finished)

    def restore(self) -> int:
        """A card for each live request made here before (the link is not kept); how many."""
        try:
            records = self.ctx.services.requests().list(limit=MAX_RESTORED)
        except OtsError as exc:
            self._failed(describe_error(exc))
            return 0
        now = datetime.now(UTC)
        live = []
        for record in records:
            try:
                expired = parse_rfc3339(record.expires_at) <= now
            except ValueError:
                expired = False
            if record.seen_state in ("pending", "answered") and not expired:
                live.append(record)
        for record in reversed(live):
            self._add(record.request_id, "", record.expires_at, record.label, record.recipient)
        return len(live)

    def shutdown(self) -> None:
        """Wipe any answer on screen (at quit)."""
        for card in self.request_cards():
            card.secret_view.clear()
