"""The reveal page in a real headless Chromium sends the link proof when a share has one, and
still opens shares parked without one, as clients did before link proofs."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

from tests.browser.support import API, TITLES, LocalRelay, http, open_link, reveal, seal_share, shown_text, wait_state

PASSPHRASE = "correct horse battery staple"


def _status(relay: LocalRelay, share_id: str, token: str) -> dict[str, Any]:
    status, body, _ = http("GET", f"{relay.url}{API}/{share_id}/status", headers={"Authorization": f"Bearer {token}"})
    assert status == 200, body
    return dict(body)


def test_both_kinds_of_link_reveal_text(page: Page, relay: LocalRelay) -> None:
    sent: list[Any] = []
    page.on("request", lambda request: sent.append(request.post_data_json) if request.url.endswith("/reveal")
            else None)
    for legacy in (False, True):
        share = seal_share(b"either kind opens", legacy=legacy)
        token = relay.park(share)
        assert open_link(page, share.link(relay.url)) == "ready"
        reveal(page)
        assert wait_state(page, "text", "damaged") == "text", legacy
        assert shown_text(page) == "either kind opens"
        assert _status(relay, share.id, token)["state"] == "revealed"
    assert ["link_proof" in body for body in sent] == [True, False], sent


def test_a_legacy_passphrase_link_takes_a_wrong_then_the_right_passphrase(page: Page, relay: LocalRelay) -> None:
    share = seal_share(b"old and locked", passphrase=PASSPHRASE, legacy=True)
    token = relay.park(share)
    assert open_link(page, share.link(relay.url)) == "ready"
    reveal(page, "not it")
    assert wait_state(page, "wrong-passphrase", "damaged") == "wrong-passphrase"
    assert "4 attempts left" in str(page.text_content("#passphrase-error"))
    reveal(page, PASSPHRASE)
    assert wait_state(page, "text", "damaged") == "text"
    assert shown_text(page) == "old and locked"
    assert _status(relay, share.id, token)["failed_attempts"] == 1


def test_the_wrong_key_for_a_passphrase_link_is_damaged_and_counts_nothing(page: Page, relay: LocalRelay) -> None:
    share, other = seal_share(passphrase=PASSPHRASE), seal_share()
    token = relay.park(share)
    for _ in range(6):  # more tries than the relay allows wrong passphrases
        assert open_link(page, f"{relay.url}/s/{share.id}#{other.key}") == "ready"
        reveal(page, PASSPHRASE)
        assert wait_state(page, *TITLES) == "damaged"
    status = _status(relay, share.id, token)
    assert (status["state"], status["failed_attempts"], status["views_left"]) == ("pending", 0, 1)
    assert open_link(page, share.link(relay.url)) == "ready"
    reveal(page, PASSPHRASE)
    assert wait_state(page, "text", "damaged") == "text"
