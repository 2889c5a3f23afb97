"""The answer page of a secret request in a real headless Chromium: a person without ots opens the request
link, types a secret or picks a file, and the page encrypts it in the browser to the requester's key; only the
requester's `ots request open` can read it.

The requester is the real ``ots`` CLI against a real ``ots server``; every wait is on a selector with a deadline.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Request

from tests.browser.support import WAIT_MS, wait_state
from tests.conftest import CANARY, Home
from tests.support.canary import find_canary
from tests.support.cli import json_lines, run_ots
from tests.support.secret_requests import tamper_label_box
from tests.support.servers import RunningServer

pytestmark = pytest.mark.usefixtures("keychain")
STATES = ("ready", "sent", "answered", "opened", "expired", "revoked", "damaged", "not-found", "unsupported",
          "forbidden-network", "offline", "error")


def make_request(server: RunningServer, *args: str) -> dict[str, Any]:
    assert server.link_url
    made = run_ots("request", "--relay", server.link_url, "--json", "--label", "Vendor API key", *args)
    assert made.returncode == 0, made
    (row,) = json_lines(made.stdout)
    return row


def open_page(page: Page, link: str) -> str:
    page.goto("about:blank")
    page.goto(link, wait_until="domcontentloaded", timeout=WAIT_MS)
    return wait_state(page, *STATES)


def test_a_typed_canary_reaches_only_the_requester(page: Page, relay_server: RunningServer,
                                                   isolated_home: Home) -> None:
    row = make_request(relay_server)
    requests: list[Request] = []
    violations: list[str] = []
    page.on("request", lambda request: requests.append(request))  # noqa: PLW0108 - Playwright needs a Python function
    page.on("console", lambda message: violations.append(message.text) if "Content Security Policy" in message.text
            else None)
    assert open_page(page, row["link"]) == "ready"
    # The key left the address bar and the history at once; the label and expiry are shown.
    assert "#" not in page.url and page.evaluate("location.hash") == ""
    assert page.text_content("#label") == "Vendor API key"
    assert page.text_content("#expires")
    page.get_by_label("The secret").fill(CANARY.decode())
    page.get_by_role("button", name="Send").click()
    assert wait_state(page, "sent", "damaged", "error") == "sent"
    assert "only the requester can open it" in str(page.text_content("#outcome-text"))
    assert page.input_value("#secret") == ""
    # Same origin only, and the page loaded nothing the CSP refused.
    origin = urlsplit(str(relay_server.link_url))
    assert not [r.url for r in requests if urlsplit(r.url)[:2] != origin[:2]]
    paths = {urlsplit(r.url).path for r in requests}
    assert {f"/r/{row['id']}", "/static/answer.js", "/static/reveal.css", f"/api/v1/requests/{row['id']}",
            f"/api/v1/requests/{row['id']}/answer"} <= paths
    assert violations == []
    # Opening the link again: already answered, nothing sent.
    assert open_page(page, row["link"]) == "answered"
    opened = run_ots("request", "open", row["id"])
    assert opened.returncode == 0, opened
    assert opened.stdout.encode() == CANARY
    assert find_canary([isolated_home.ots_home, relay_server.data_dir, isolated_home.home], CANARY) == []


def test_a_5_mb_file_chosen_in_the_page_arrives_byte_identical(page: Page, relay_server: RunningServer,
                                                               tmp_path: Path) -> None:
    payload = hashlib.sha256(b"seed").digest() * (5 * 1024 * 1024 // 32) + CANARY
    source = tmp_path / "contractor_id_ed25519"
    source.write_bytes(payload)
    row = make_request(relay_server)
    assert open_page(page, row["link"]) == "ready"
    page.set_input_files("#file", str(source))
    page.get_by_role("button", name="Send").click()
    assert wait_state(page, "sent", "damaged", "error") == "sent"
    out = tmp_path / "received"
    out.mkdir()
    opened = run_ots("request", "open", row["id"], "--output", str(out), "--json")
    assert opened.returncode == 0, opened
    saved = out / "contractor_id_ed25519"
    assert saved.read_bytes() == payload


def test_the_page_states_a_damaged_link_and_a_withdrawn_request(page: Page, relay_server: RunningServer) -> None:
    row = make_request(relay_server)
    assert open_page(page, row["link"][:-4]) == "damaged"
    assert open_page(page, row["link"].split("#")[0]) == "damaged"
    assert run_ots("request", "revoke", row["id"]).returncode == 0
    assert open_page(page, row["link"]) == "revoked"
    assert page.text_content("#outcome-title") == "Withdrawn"


def test_an_empty_answer_is_refused_in_the_page(page: Page, relay_server: RunningServer) -> None:
    row = make_request(relay_server)
    assert open_page(page, row["link"]) == "ready"
    page.get_by_role("button", name="Send").click()
    page.wait_for_selector("#answer-error:not([hidden])", timeout=WAIT_MS)
    assert "Type the secret" in str(page.text_content("#answer-error"))
    status = run_ots("request", "status", row["id"], "--json")
    assert json_lines(status.stdout)[-1]["state"] == "pending"


def test_by_keyboard_alone_with_focus_where_it_belongs(page: Page, relay_server: RunningServer) -> None:
    row = make_request(relay_server)
    assert open_page(page, row["link"]) == "ready"
    assert page.evaluate("document.activeElement.id") == "secret"  # ready to type
    assert page.get_attribute("#status", "role") == "status"
    page.keyboard.type("typed by keyboard")
    for _ in range(6):  # Tab through the file chooser to Send
        if page.evaluate("document.activeElement.id") == "send":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "send"
    page.keyboard.press("Enter")
    assert wait_state(page, "sent", "damaged", "error") == "sent"
    assert page.evaluate("document.activeElement.id") == "outcome-title"  # screen readers hear the outcome
    opened = run_ots("request", "open", row["id"])
    assert opened.returncode == 0 and opened.stdout == "typed by keyboard", opened


def test_the_page_opens_the_sealed_label_and_an_altered_one_still_takes_the_answer(
        page: Page, relay_server: RunningServer) -> None:
    label = "canary-label-3b8d70 <b>Staging</b> DB password"
    assert relay_server.link_url
    made = run_ots("request", "--relay", relay_server.link_url, "--json", "--label", label)
    assert made.returncode == 0, made
    (row,) = json_lines(made.stdout)
    # Shown as text (never as HTML), decrypted in the page; the relay holds no copy of it.
    assert open_page(page, row["link"]) == "ready"
    assert page.text_content("#label") == label and page.locator("#label b").count() == 0
    held = b"".join(p.read_bytes() for p in relay_server.data_dir.rglob("*") if p.is_file())
    assert b"canary-label-3b8d70" not in held + relay_server.service.log_text().encode()
    # A second request whose box the relay altered: the page says so and the answer goes through.
    made = run_ots("request", "--relay", relay_server.link_url, "--json", "--label", label)
    (other,) = json_lines(made.stdout)
    tamper_label_box(relay_server.data_dir, other["id"])
    assert open_page(page, other["link"]) == "ready"
    assert page.text_content("#label") == "(the description could not be read)"
    page.get_by_label("The secret").fill(CANARY.decode())
    page.get_by_role("button", name="Send").click()
    assert wait_state(page, "sent", "damaged", "error") == "sent"
    opened = run_ots("request", "open", other["id"])
    assert opened.returncode == 0 and opened.stdout.encode() == CANARY, opened
