"""The reveal page in a real headless Chromium: the link opens in the browser, the secret is
decrypted there with WebCrypto alone, and every way a link can end is shown plainly.

Links are made by the real ``ots`` CLI against a real ``ots server`` where the test is about
the sender's side; states that need time to pass (expiry) or many attempts use the relay app
in this process with a clock the test moves. Every wait is on an event or a selector with a
deadline.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, Request

from ots_desktop.core.ids import new_share_id
from ots_desktop.core.kdf import PBKDF2_MIN_ITERATIONS
from tests.browser.support import (
    API,
    TITLES,
    WAIT_MS,
    LocalRelay,
    create,
    http,
    meta,
    open_link,
    reveal,
    seal_share,
    shown_text,
    wait_state,
)
from tests.support.cli import json_lines, run_ots
from tests.support.servers import RunningServer

SECRET = "postgres://app:s3cr3t-Ünïcode-✓@db.internal:5432/prod"
PASSPHRASE = "correct horse battery staple"
SPLIT_PASSPHRASE = "cafe\u0301 au lait"  # typed decomposed; the CLI and the page both NFC-normalise it


def send_link(server: RunningServer, *args: str, stdin: bytes = b"", pass_fds: tuple[int, ...] = ()) -> str:
    """``ots send --via link --json`` against the server; return the link."""
    assert server.link_url
    result = run_ots("send", "--via", "link", "--relay", server.link_url, "--json", *args, stdin=stdin,
                     pass_fds=pass_fds)
    assert result.returncode == 0, result
    links = [row["link"] for row in json_lines(result.stdout) if row.get("event") == "link"]
    assert len(links) == 1, result.stdout
    return str(links[0])


def heading(page: Page) -> str:
    return str(page.text_content("#outcome-title"))


def assert_final(page: Page, state: str) -> None:
    assert wait_state(page, state) == state
    assert heading(page) == TITLES[state]
    assert "Error" not in str(page.text_content("main")), page.text_content("main")


# ---------------------------------------------------------------- made by the CLI


@pytest.mark.usefixtures("keychain")
def test_text_from_the_cli_reveals_once_then_says_already_revealed(page: Page, browser: BrowserContext,
                                                                    relay_server: RunningServer) -> None:
    assert relay_server.link_url
    browser.grant_permissions(["clipboard-read", "clipboard-write"], origin=relay_server.link_url)
    link = send_link(relay_server, stdin=SECRET.encode())
    assert open_link(page, link) == "ready"
    # The key left the address bar and the history entry at once.
    assert "#" not in page.url and page.evaluate("location.hash") == ""
    assert page.text_content("#views") == "1" and page.text_content("#needs-passphrase") == "no"
    # Masked until Show.
    reveal(page)
    assert wait_state(page, "text", "damaged") == "text"
    assert SECRET not in str(page.text_content("#secret-text"))
    assert shown_text(page) == SECRET
    page.get_by_role("button", name="Copy").click()
    page.get_by_role("status").filter(has_text="Copied").wait_for(timeout=WAIT_MS)
    assert page.evaluate("navigator.clipboard.readText()") == SECRET
    # Opening the link again: gone.
    assert open_link(page, link) == "revealed"
    assert heading(page) == "Already revealed"


@pytest.mark.usefixtures("keychain")
def test_a_binary_file_downloads_byte_identical(page: Page, relay_server: RunningServer, tmp_path: Path) -> None:
    # Under 1 MiB sealed: it travels as JSON (larger ones are streamed: tests/browser/test_reveal_large.py).
    data = os.urandom(512 * 1024)
    source = tmp_path / "prod key.bin"
    source.write_bytes(data)
    link = send_link(relay_server, "--file", str(source))
    assert open_link(page, link) == "ready"
    reveal(page)
    assert wait_state(page, "file", "damaged") == "file"
    assert page.text_content("#file-name") == "prod key.bin"
    with page.expect_download(timeout=WAIT_MS) as info:
        page.get_by_role("button", name="Save file").click()
    download = info.value
    assert download.suggested_filename == "prod key.bin"
    saved = tmp_path / "downloaded.bin"
    download.save_as(saved)
    assert hashlib.sha256(saved.read_bytes()).digest() == hashlib.sha256(data).digest()


@pytest.mark.usefixtures("keychain")
def test_a_wrong_passphrase_then_the_right_one(page: Page, relay_server: RunningServer) -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, SPLIT_PASSPHRASE.encode() + b"\n")
    os.close(write_fd)
    try:
        link = send_link(relay_server, "--passphrase-fd", str(read_fd), stdin=SECRET.encode(), pass_fds=(read_fd,))
    finally:
        os.close(read_fd)
    assert open_link(page, link) == "ready"
    assert page.text_content("#needs-passphrase") == "yes"
    assert page.evaluate("document.activeElement.id") == "passphrase"
    reveal(page, "cafe au lait")
    assert wait_state(page, "wrong-passphrase", "damaged") == "wrong-passphrase"
    assert "4 attempts left" in str(page.text_content("#passphrase-error"))
    assert "4 attempts left" in str(page.text_content("[role=status]"))
    assert page.get_attribute("#passphrase", "aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == "passphrase"
    # By keyboard this time: the composed spelling, the same passphrase after NFC.
    page.keyboard.type("caf\u00e9 au lait")
    page.keyboard.press("Enter")
    assert wait_state(page, "text", "damaged") == "text"
    assert shown_text(page) == SECRET


# ---------------------------------------------------------------- ended links (relay in this process)


def test_expired_while_waiting_and_when_opened_later(page: Page, relay: LocalRelay) -> None:
    first, second = seal_share(expires_in=300), seal_share(expires_in=300)
    relay.park(first)
    relay.park(second)
    assert open_link(page, first.link(relay.url)) == "ready"
    relay.clock.now += 301
    reveal(page)  # the page was opened in time, the click comes too late
    assert_final(page, "expired")
    assert open_link(page, second.link(relay.url)) == "expired"
    assert heading(page) == "Expired"


def test_revoked(page: Page, relay: LocalRelay) -> None:
    share = seal_share()
    token = relay.park(share)
    status, body, _ = http("DELETE", f"{relay.url}{API}/{share.id}", headers={"Authorization": f"Bearer {token}"})
    assert status == 200, body
    assert open_link(page, share.link(relay.url)) == "revoked"
    assert_final(page, "revoked")


def test_burned_after_the_fifth_wrong_passphrase(page: Page, relay: LocalRelay) -> None:
    share = seal_share(passphrase=PASSPHRASE)
    relay.park(share)
    for _ in range(3):
        status, _, _ = http("POST", f"{relay.url}{API}/{share.id}/reveal", share.reveal_body("A" * 43))
        assert status == 401
    assert open_link(page, share.link(relay.url)) == "ready"
    reveal(page, "nope")
    assert wait_state(page, "wrong-passphrase") == "wrong-passphrase"
    assert "1 attempt left" in str(page.text_content("#passphrase-error"))
    reveal(page, "still nope")
    assert_final(page, "burned")


def test_not_allowed_from_this_network_consumes_nothing(page: Page, relay: LocalRelay) -> None:
    share = seal_share(allow_cidrs=["192.0.2.0/24"])
    relay.park(share)
    assert open_link(page, share.link(relay.url)) == "ready"
    reveal(page)
    assert_final(page, "forbidden-network")
    assert meta(relay.url, share.id)[0] == 200


def test_unknown_share(page: Page, relay: LocalRelay) -> None:
    assert open_link(page, seal_share().link(relay.url)) == "not-found"


# ---------------------------------------------------------------- damaged links


def test_a_mangled_key_is_damaged_and_asks_nothing_of_the_relay(page: Page, relay: LocalRelay) -> None:
    share = seal_share()
    relay.park(share)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    for broken in (share.key[:-3], share.key + "AA", share.key[:10] + "!" + share.key[11:], ""):
        assert open_link(page, f"{relay.url}/s/{share.id}#{broken}") == "damaged"
        assert_final(page, "damaged")
    assert not [url for url in asked if "/api/" in url]
    assert meta(relay.url, share.id)[0] == 200


def test_a_wrong_key_is_damaged_without_a_stack_trace(page: Page, relay: LocalRelay) -> None:
    share, other = seal_share(), seal_share()
    relay.park(share)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    assert open_link(page, f"{relay.url}/s/{share.id}#{other.key}") == "ready"
    reveal(page)  # the relay refuses the auth token derived from the wrong key
    assert_final(page, "damaged")
    assert "damaged" in str(page.text_content("[role=status]"))
    assert errors == []


def test_an_envelope_that_does_not_decrypt_says_the_link_is_damaged(page: Page, relay: LocalRelay) -> None:
    # The relay hands this envelope out (the auth token is right) but it was sealed for another id.
    share = seal_share(sealed_for=new_share_id())
    relay.park(share)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    assert open_link(page, share.link(relay.url)) == "ready"
    reveal(page)
    assert_final(page, "damaged")
    assert page.text_content("#outcome-text") and "stack" not in str(page.text_content("main")).lower()
    assert errors == []


# ---------------------------------------------------------------- bots


BOT_AGENTS = {
    "curl": "curl/8.5.0",
    "slack": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "teams": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0 SkypeUriPreview Preview/0.5",
    "outlook": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
               "Chrome/120.0.0.0 Safari/537.36 Microsoft Office/16.0 (ms-office; MSOffice 16)",
    "python": "Python-urllib/3.11",
}


def test_link_previews_and_scanners_leave_the_secret_revealable(page: Page, relay_server: RunningServer) -> None:
    base = relay_server.link_url
    assert base
    share = seal_share(SECRET.encode())
    create(base, share)
    link = share.link(base)
    without_fragment = link.partition("#")[0]  # HTTP clients never send the fragment
    for agent in BOT_AGENTS.values():
        for method in ("GET", "HEAD"):
            for url in (without_fragment, f"{base}/static/reveal.js", f"{base}/static/reveal.css",
                        f"{base}{API}/{share.id}"):
                status, _, _ = http(method, url, headers={"User-Agent": agent})
                assert status == 200, (method, url, agent)
    # A preview bot that runs JavaScript: it loads the page but never clicks.
    assert open_link(page, link) == "ready"
    page.goto("about:blank")
    status, body = meta(base, share.id)
    assert status == 200 and body["views_left"] == 1
    assert open_link(page, link) == "ready"
    reveal(page)
    assert wait_state(page, "text", "damaged") == "text"
    assert shown_text(page) == SECRET


# ---------------------------------------------------------------- headers and origins


def test_security_headers_and_no_request_leaves_the_origin(page: Page, relay: LocalRelay) -> None:
    share = seal_share(b"same origin only")
    relay.park(share)
    requests: list[Request] = []
    violations: list[str] = []
    page.on("request", lambda request: requests.append(request))  # noqa: PLW0108 - Playwright needs a Python function
    page.on("console", lambda message: violations.append(message.text) if "Content Security Policy" in message.text
            else None)
    response = page.goto(share.link(relay.url), wait_until="domcontentloaded")
    assert response is not None and response.status == 200
    headers = response.headers
    csp = {part.strip().split(" ", 1)[0]: part.strip() for part in headers["content-security-policy"].split(";")}
    assert csp["default-src"] == "default-src 'self'"
    assert csp["connect-src"] == "connect-src 'self'"
    assert csp["script-src"] == "script-src 'self'"  # no 'unsafe-inline', no other origin
    assert csp["frame-ancestors"] == "frame-ancestors 'none'"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    # No inline script: every <script> has a same-origin src.
    scripts = page.evaluate("[...document.scripts].map(s => [s.src, s.textContent.trim()])")
    assert scripts and all(src.startswith(relay.url + "/static/") and not text for src, text in scripts)
    wait_state(page, "ready")
    reveal(page)
    assert wait_state(page, "text", "damaged") == "text"
    assert shown_text(page) == "same origin only"
    origin = urlsplit(relay.url)
    foreign = [r.url for r in requests if urlsplit(r.url)[:2] != origin[:2]]
    assert not foreign, foreign
    assert {urlsplit(r.url).path for r in requests} >= {f"/s/{share.id}", "/static/reveal.js", "/static/reveal.css",
                                                        f"{API}/{share.id}", f"{API}/{share.id}/reveal"}
    assert violations == []
    for name, kind in (("reveal.js", "text/javascript"), ("reveal.css", "text/css")):
        status, _, got = http("GET", f"{relay.url}/static/{name}")
        assert status == 200 and got["Content-Type"].startswith(kind)
        assert got["X-Content-Type-Options"] == "nosniff" and got["Cache-Control"] == "no-store"


@pytest.mark.parametrize("name", ["nothing.js", "..%2Fpage.py", "%2E%2E", "reveal.JS", "__init__.py"])
def test_static_serves_only_its_own_files(relay: LocalRelay, name: str) -> None:
    status, body, _ = http("GET", f"{relay.url}/static/{name}")
    assert status == 404 and body["code"] == "not_found"


def test_the_openapi_document_lists_the_static_route(relay: LocalRelay) -> None:
    status, document, _ = http("GET", f"{relay.url}/api/v1/openapi.json")
    assert status == 200 and "get" in document["paths"]["/static/{name}"]


# ---------------------------------------------------------------- the shared test vectors


def _vectors() -> dict[str, Any]:
    import json

    return dict(json.loads((Path(__file__).parents[1] / "vectors" / "envelope-v1.json").read_text("utf-8")))


OPEN_VECTOR = """async (v) => {
  const E = globalThis.OtsEnvelope;
  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const hex = (a) => [...a].map((x) => x.toString(16).padStart(2, "0")).join("");
  try {
    const data = bytes(v.envelope_b64);
    const opened = await E.openEnvelope(data, E.b64uDecode(v.share_id), E.b64uDecode(v.fragment_key), v.passphrase);
    const header = E.readHeader(data);
    const keys = await E.deriveKeys(E.b64uDecode(v.fragment_key), header.salt, v.passphrase, header.iterations);
    const proof = await E.deriveLinkProof(E.b64uDecode(v.fragment_key), header.salt);
    return {ok: true, meta: opened.meta, plaintext: hex(opened.plaintext), auth: hex(keys.authToken),
            proof: hex(proof)};
  } catch (e) {
    return {ok: false, reason: e.reason || null, name: e.name};
  }
}"""


def test_the_envelope_vectors_open_in_the_page_and_the_invalid_ones_are_refused(page: Page, relay: LocalRelay
                                                                               ) -> None:
    doc = _vectors()
    # Any reveal page loads the script; no key is needed to call its functions.
    page.goto(f"{relay.url}/s/{seal_share().id}", wait_until="load", timeout=WAIT_MS)
    assert page.evaluate("isSecureContext && !!crypto.subtle")
    for vector in doc["vectors"]:
        got = page.evaluate(OPEN_VECTOR, vector)
        assert got["ok"], (vector["name"], got)
        assert got["plaintext"] == vector["plaintext_hex"], vector["name"]
        assert got["meta"] == vector["meta"], vector["name"]
        assert got["auth"] == vector["auth_token_hex"], vector["name"]
        assert got["proof"] == vector["link_proof_hex"], vector["name"]
    reasons = {}
    for vector in doc["invalid"]:
        got = page.evaluate(OPEN_VECTOR, vector)
        assert not got["ok"] and got["name"] == "EnvelopeError", (vector["name"], got)
        reasons[vector["name"]] = got["reason"]
    assert reasons == {vector["name"]: vector["reason"] for vector in doc["invalid"]}
    assert doc["vectors"][3]["iterations"] == PBKDF2_MIN_ITERATIONS  # the passphrase vectors ran real PBKDF2


META_CASES = [
    ('{"type":"text"}', True), ('{"type":"file","name":"a b.txt","size":3,"mime":"x/y"}', True),
    ('{"type":"text","type":"file"}', False), ('{"type":"text","extra":1}', False), ('{"type":"blob"}', False),
    ('{"type":"file","name":"../x"}', False), ('{"type":"file","name":".."}', False),
    ('{"type":"file","name":"a\\\\b"}', False), ('{"type":"file","name":"a\\u0000b"}', False),
    ('{"type":"file","name":"a\\u202eb"}', False), ('{"type":"file","name":"a\\u00a0b"}', False),
    ('{"type":"file","name":""}', False), ('{"type":"text","size":-1}', False), ('{"type":"text","size":true}', False),
    ('{"type":"text","mime":3}', False), ('["type"]', False),
    ('{"type":"file","name":"r\u00e9sum\u00e9 \u2713.pdf"}', True),
]


def test_the_page_applies_the_metadata_rules_of_the_specification(page: Page, relay: LocalRelay) -> None:
    """Envelopes sealed by the Python code with metadata the spec refuses (sealed with a patched check)."""
    import json as _json

    from ots_desktop.core import envelope

    page.goto(f"{relay.url}/s/{seal_share().id}", wait_until="load", timeout=WAIT_MS)
    for text, accepted in META_CASES:
        share = _sealed_with_raw_meta(envelope, text)
        got = page.evaluate(OPEN_VECTOR, share)
        assert got["ok"] == accepted, (text, got)
        if not accepted:
            assert got["reason"] == "bad-meta", (text, got)
        else:
            assert got["meta"] == _json.loads(text)


def _sealed_with_raw_meta(envelope: Any, text: str) -> dict[str, Any]:
    """A vector-shaped dict whose meta chunk holds exactly ``text`` (bypassing the sender's checks)."""
    import base64

    from ots_desktop.core.ids import b64u_encode, new_fragment_key

    share_id = new_share_id()
    raw = text.encode("utf-8")
    with pytest.MonkeyPatch.context() as patch, new_fragment_key() as key:
        patch.setattr(envelope, "_encode_meta", lambda _meta: raw)
        sealed = envelope.seal(b"x", share_id=share_id, fragment_key=key, meta={"type": "text"})
        key_text = b64u_encode(key)
    return {"share_id": b64u_encode(share_id), "fragment_key": key_text, "passphrase": None,
            "envelope_b64": base64.b64encode(sealed).decode()}


def test_the_screenshot_target_renders_every_state(playwright: Playwright, tmp_path: Path) -> None:
    from tests.browser import screenshots

    written = screenshots.take(tmp_path / "shots", playwright)
    assert {path.name for path in written} >= {f"reveal-{name}.png" for name in screenshots.STATES}
    assert all(path.read_bytes().startswith(b"\x89PNG") for path in written)


def test_text_that_is_not_utf8_is_shown_with_a_warning_and_a_bom_is_kept(page: Page, relay: LocalRelay) -> None:
    share = seal_share(b"caf\xe9 key")
    relay.park(share)
    assert open_link(page, share.link(relay.url)) == "ready"
    reveal(page)
    assert wait_state(page, "text", "damaged") == "text"
    assert "not valid UTF-8" in str(page.get_by_role("status").text_content())
    assert shown_text(page) == "caf\ufffd key"
    bom = seal_share("\ufeffwith a byte order mark".encode())
    relay.park(bom)
    assert open_link(page, bom.link(relay.url)) == "ready"
    reveal(page)
    assert wait_state(page, "text", "damaged") == "text"
    assert shown_text(page) == "\ufeffwith a byte order mark"
    assert "not valid UTF-8" not in str(page.get_by_role("status").text_content())
