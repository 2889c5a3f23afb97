"""Country rules on the reveal page, in a real headless Chromium.

Links are made by the real ``ots`` CLI with ``--allow-country`` against a real ``ots server`` that
reads a small country database written for the test (tests/support/geoip.py), where 127.0.0.1,
the address Chromium connects from, is in Germany.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from tests.browser.support import meta, open_link, reveal, shown_text, wait_state
from tests.conftest import Home
from tests.support.cli import json_lines, run_ots
from tests.support.geoip import LOOPBACK_COUNTRY, write_country_db
from tests.support.servers import RunningServer, start_ots_server

pytestmark = pytest.mark.usefixtures("keychain")


@pytest.fixture
def geo_relay(isolated_home: Home) -> Iterator[RunningServer]:
    """A real link relay with the test country database, without rate limits, stopped by PID."""
    database = write_country_db(isolated_home.root / "countries.mmdb")
    server = start_ots_server(isolated_home.root, "--no-wormhole", "--create-rate", "0", "--reveal-rate", "0",
                              "--geoip-db", str(database))
    yield server
    server.stop()


def _send(server: RunningServer, secret: bytes, countries: str) -> dict[str, str]:
    assert server.link_url
    result = run_ots("send", "--via", "link", "--relay", server.link_url, "--json", "--allow-country", countries,
                     stdin=secret)
    assert result.returncode == 0, result
    [made] = [row for row in json_lines(result.stdout) if row.get("event") == "link"]
    return made


def test_a_reveal_from_another_country_is_refused_and_consumes_nothing(page: Page,
                                                                       geo_relay: RunningServer) -> None:
    made = _send(geo_relay, b"only from France", "FR")
    assert open_link(page, made["link"]) == "ready"
    reveal(page)
    assert wait_state(page, "forbidden-country") == "forbidden-country"
    assert page.text_content("#outcome-title") == "Not from an allowed country"
    text = str(page.text_content("main"))
    assert "not from an allowed country" in text and "Nothing was used up" in text
    assert "only from France" not in text
    assert geo_relay.link_url
    assert meta(geo_relay.link_url, made["id"])[0] == 200  # still pending
    status = run_ots("link", "status", made["id"], "--json")
    assert status.returncode == 0, status
    assert json_lines(status.stdout)[-1]["blocked_attempts"] == 1


def test_a_reveal_from_an_allowed_country_opens(page: Page, geo_relay: RunningServer) -> None:
    made = _send(geo_relay, b"hello from Germany", f"fr,{LOOPBACK_COUNTRY.lower()}")
    assert open_link(page, made["link"]) == "ready"
    reveal(page)
    assert wait_state(page, "text") == "text"
    assert shown_text(page) == "hello from Germany"
