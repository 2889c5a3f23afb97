"""The Quit question's wording for each mix of waiting links, requests and transfers by code."""

from __future__ import annotations

from ots_desktop.ui.quit_question import quit_question


def test_nothing_waiting_asks_nothing() -> None:
    assert quit_question(0, 0, 0) == ""


def test_links_and_requests_pause_and_codes_are_cancelled() -> None:
    assert quit_question(1, 0, 0) == ("1 one-time link is still waiting to be opened. It keeps working, but receipts "
                                      "and notifications pause while ots-desktop is closed; they catch up when it "
                                      "starts again.")
    assert quit_question(2, 1, 0).startswith("2 one-time links are still waiting to be opened and 1 secret request "
                                             "is still waiting for its answer. They keep working")
    assert quit_question(0, 3, 0).startswith("3 secret requests are still waiting for their answers. They keep")
    assert quit_question(0, 0, 2) == ("2 transfers by code have not finished: quitting cancels them, and their "
                                      "codes stop working.")
    both = quit_question(1, 0, 1)
    assert both.startswith("1 one-time link is still") and both.endswith("its code stops working.")
