"""The pieces of a share card that need no network: the code display, QR codes, Copy and Speak."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace

import pytest
from pytestqt.qtbot import QtBot

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from ots_desktop.channels.link import SentLink
from ots_desktop.core.times import local_clock
from ots_desktop.ui.context import UiContext
from ots_desktop.ui.send.code_words import code_groups, display_code, qr_uri
from ots_desktop.ui.send.link_card import LinkShareCard, terms
from ots_desktop.ui.send.qr import qr_pixmap
from ots_desktop.ui.send.speech import Speaker
from ots_desktop.ui.send.wormhole_card import WormholeShareCard
from tests.conftest import Home
from tests.ui.conftest import make_context

CODE = "7-crossover-clockwork-tiger"


@pytest.fixture
def offline_ctx(ui_loop: asyncio.AbstractEventLoop, isolated_home: Home, monkeypatch: pytest.MonkeyPatch,
                qtbot: QtBot) -> Iterator[UiContext]:
    """An installation with no servers: these tests never share anything."""
    context = make_context(isolated_home.ots_home, None, monkeypatch)
    context.services.config = replace(context.services.config, mailbox_url="ws://127.0.0.1:9/v1", relay_url="")
    yield context
    context.events.close()
    context.services.close()


def test_a_code_is_shown_in_spoken_groups() -> None:
    assert code_groups(CODE) == ["7", "crossover", "clockwork", "tiger"]
    assert display_code(CODE) == "7 · crossover · clockwork · tiger"
    assert qr_uri(CODE) == "wormhole-transfer:7-crossover-clockwork-tiger"


def test_qr_codes_are_drawn_in_memory(qapp: QApplication) -> None:
    pixmap = qr_pixmap(qr_uri(CODE))
    assert not pixmap.isNull() and pixmap.width() == pixmap.height() and pixmap.width() >= 100
    assert not qr_pixmap("http://127.0.0.1:4080/s/" + "A" * 22 + "#" + "B" * 43).isNull()
    assert qr_pixmap("x" * 10_000).isNull()  # too much for a QR code: nothing drawn, nothing raised


def test_a_wormhole_card_shows_the_code_copies_it_and_speaks_it(qtbot: QtBot, offline_ctx: UiContext) -> None:
    speaker = Speaker("mock")
    assert speaker.available and speaker.engine == "mock"
    card = WormholeShareCard(offline_ctx, "api key", speaker=speaker)
    qtbot.addWidget(card)
    card.show()
    assert card.code == "" and not card.copy_button.isEnabled() and not card.qr.is_drawn()
    assert card.speak_button.isVisible()
    card.hooks().on_code(CODE)
    assert card.code == CODE and card.state == "waiting"
    assert card.code_label.text() == "7 · crossover · clockwork · tiger"
    assert card.qr.is_drawn() and card.qr.isVisible()
    qtbot.mouseClick(card.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == CODE
    assert QGuiApplication.clipboard().mimeData().hasFormat("x-kde-passwordManagerHint")
    assert offline_ctx.clipboard.pending  # it clears itself
    offline_ctx.clipboard.clear_if_ours()
    words: list[str] = []
    speaker.word_spoken.connect(words.append)
    qtbot.mouseClick(card.speak_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: words == code_groups(CODE), timeout=20_000)


def test_speak_is_hidden_without_a_working_engine(qtbot: QtBot, offline_ctx: UiContext) -> None:
    # speech-dispatcher is installed here but no daemon runs: it must not count as an engine.
    default = Speaker()
    assert not default.available and default.engine is None
    assert not Speaker("no-such-engine").available
    card = WormholeShareCard(offline_ctx, "api key", speaker=default)
    qtbot.addWidget(card)
    card.show()
    card.hooks().on_code(CODE)
    assert not card.speak_button.isVisible()
    from ots_desktop.ui.send.page import SendPage

    page = SendPage(offline_ctx)
    qtbot.addWidget(page)
    assert page.speaker() is None
    mocked = SendPage(offline_ctx, speech_engine="mock")
    qtbot.addWidget(mocked)
    assert mocked.speaker() is not None and mocked.speaker() is mocked.speaker()


def test_a_link_card_shows_its_terms_and_copies_the_link(qtbot: QtBot, offline_ctx: UiContext) -> None:
    link = "http://127.0.0.1:4080/s/" + "A" * 22 + "#" + "B" * 43
    sent = SentLink(share_id="A" * 22, link=link, expires_at="2030-01-02T03:04:00Z", max_views=3,
                    needs_passphrase=True, recipient="sam")
    assert terms(sent).startswith("Opens 3 times · expires ") and terms(sent).endswith("· passphrase needed")
    assert local_clock("not a time") == "not a time" and len(local_clock("2030-01-02T03:04:00Z")) == 5
    card = LinkShareCard(offline_ctx, sent, "db url for sam")
    qtbot.addWidget(card)
    card.show()
    assert card.link == link and card.qr.is_drawn() and card.state == "pending"
    assert "[redacted]" in repr(sent) and link not in repr(sent)
    qtbot.mouseClick(card.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == link
    offline_ctx.clipboard.clear_if_ours()
    assert QGuiApplication.clipboard().text() == ""
