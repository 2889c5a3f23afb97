"""The Send page's "Allowed countries" field, against a real relay that reads a test country database.

In that database (tests/support/geoip.py) 127.0.0.1, where the recipient's installation connects
from, is in Germany.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from PySide6.QtWidgets import QFormLayout, QLabel

from ots_desktop.channels.link_errors import LinkFailure
from ots_desktop.core.audit.events import Reason
from ots_desktop.ui.context import UiContext
from tests.support.geoip import LOOPBACK_COUNTRY, write_country_db
from tests.support.servers import RunningServer, start_ots_server
from tests.ui.send_support import (
    NETWORK_MS,
    click_share,
    link_cards,
    new_page,
    notifications,
    receive_link,
    type_secret,
    wait_done,
    wait_state,
)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[RunningServer]:
    """A real ``ots server`` (mailbox, transit relay, link relay) with the test country database."""
    database = write_country_db(tmp_path / "countries.mmdb")
    (tmp_path / "server").mkdir()
    server = start_ots_server(tmp_path / "server", "--geoip-db", str(database))
    yield server
    server.stop()


def _share(qtbot: QtBot, ctx: UiContext, text: str, countries: str):  # type: ignore[no-untyped-def]
    page = new_page(qtbot, ctx)
    page.options.set_channel("link")
    type_secret(qtbot, page, text)
    page.options.countries.setText(countries)
    click_share(qtbot, page)
    return page


def test_the_field_sits_under_the_allowed_networks(qtbot: QtBot, ctx: UiContext) -> None:
    page = new_page(qtbot, ctx)
    page.options.set_channel("link")
    field = page.options.countries
    assert field.isVisible() and field.accessibleName() == "Allowed countries"
    form = field.parentWidget().layout()
    assert isinstance(form, QFormLayout)
    row = form.getWidgetPosition(field)[0]
    assert form.getWidgetPosition(page.options.networks)[0] == row - 1
    label = form.itemAt(row, QFormLayout.ItemRole.LabelRole).widget()
    assert isinstance(label, QLabel) and label.text() == "Allowed countries:"
    assert page.options.networks.nextInFocusChain() is field


def test_a_link_for_another_country_is_refused_and_the_card_shows_it(qtbot: QtBot, ctx: UiContext,
                                                                    peer_ctx: UiContext, tmp_path: Path) -> None:
    seen = notifications(ctx)
    page = _share(qtbot, ctx, "france-only", "fr")
    qtbot.waitUntil(lambda: len(link_cards(page)) == 1, timeout=NETWORK_MS)
    [card] = link_cards(page)
    assert page.options.countries.text() == "fr"  # a policy, kept for the next share like the networks
    refused = receive_link(peer_ctx, card.link, tmp_path / "in")
    wait_done(qtbot, refused)
    failure = refused.exception()
    assert isinstance(failure, LinkFailure) and failure.reason is Reason.BLOCKED_NETWORK
    assert "not from an allowed country" in str(failure)
    qtbot.waitUntil(lambda: "1 attempt from a network that is not allowed" in card.receipts(), timeout=NETWORK_MS)
    assert card.state == "pending"
    assert any(level == "error" for _t, _m, level in seen)

    page.options.countries.setText(f"FR, {LOOPBACK_COUNTRY.lower()}")
    type_secret(qtbot, page, "germany-too")
    click_share(qtbot, page)
    qtbot.waitUntil(lambda: len(link_cards(page)) == 2, timeout=NETWORK_MS)
    opened = receive_link(peer_ctx, link_cards(page)[0].link, tmp_path / "in2")
    wait_done(qtbot, opened)
    assert bytes(opened.result().text.view()) == b"germany-too"
    wait_state(qtbot, link_cards(page)[0], "revealed")


def test_a_bad_code_is_named_and_nothing_is_taken(qtbot: QtBot, ctx: UiContext) -> None:
    page = _share(qtbot, ctx, "sk_bad_country", "DE, XX")
    assert page.banner.level == "error" and "'XX' is not a country code" in page.banner.text()
    assert page.secret.edit.text() == "sk_bad_country" and page.cards() == []


def test_a_relay_without_a_country_database_says_so(qtbot: QtBot, ctx: UiContext, tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    plain = start_ots_server(tmp_path / "plain", "--no-wormhole")
    try:
        assert plain.link_url
        ctx.services.config = replace(ctx.services.config, relay_url=plain.link_url)
        page = _share(qtbot, ctx, "nowhere-to-check", "DE")
        qtbot.waitUntil(lambda: page.banner.isVisible() and page.banner.level == "error", timeout=NETWORK_MS)
        assert "cannot limit links to countries" in page.banner.text()
        assert page.secret.edit.text() == "nowhere-to-check" and page.cards() == []
    finally:
        plain.stop()
