"""A one-time link over HTTPS, end to end: ``ots server --tls-cert/--tls-key`` with a throwaway CA,
the link made by the real ``ots send --via link --ca-file``, revealed in the system Chromium and
by ``ots receive``.

How Chromium trusts the throwaway CA: it is started with
``--ignore-certificate-errors-spki-list=<base64 SHA-256 of the server key's SubjectPublicKeyInfo>``,
which accepts exactly that one key (Chromium honours the flag only with a ``--user-data-dir``,
which the persistent profile gives). Every other certificate is still checked, and a Chromium
started without the flag refuses the relay, which the test shows first. The flag is used in this
test only.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from playwright.sync_api import BrowserContext, Error, Page, Playwright

from ots_desktop.core.errors import ExitCode
from tests.browser.support import CHROMIUM, CHROMIUM_ARGS, WAIT_MS, reveal, shown_text, wait_state
from tests.conftest import Home
from tests.support.cli import json_lines, run_ots
from tests.support.servers import RunningServer, start_ots_server
from tests.support.tls import ThrowawayPKI, make_pki

SECRET = "sk_live_https-only-\u2713"
HSTS = "max-age=31536000"

pytestmark = pytest.mark.usefixtures("keychain")


@pytest.fixture
def pki(tmp_path: Path) -> ThrowawayPKI:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def https_relay(isolated_home: Home, pki: ThrowawayPKI) -> Iterator[RunningServer]:
    server = start_ots_server(isolated_home.root, "--no-wormhole", "--create-rate", "0", "--reveal-rate", "0",
                              "--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key))
    yield server
    server.stop()


def spki_pin(certificate: Path) -> str:
    """What ``--ignore-certificate-errors-spki-list`` takes: base64 of the SHA-256 of the key's SPKI."""
    cert = x509.load_pem_x509_certificate(certificate.read_bytes())
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def chromium(playwright: Playwright, profile: Path, *extra_args: str) -> BrowserContext:
    """The system Chromium, headless, on a fresh profile, with ``extra_args``."""
    profile.mkdir(parents=True, exist_ok=True)
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, *extra_args], timeout=WAIT_MS)


def first_page(context: BrowserContext) -> Page:
    return context.pages[0] if context.pages else context.new_page()


def send_link(server: RunningServer, pki: ThrowawayPKI, secret: str) -> str:
    """``ots send --via link --ca-file`` against the HTTPS relay; return the link."""
    assert server.link_url
    result = run_ots("send", "--via", "link", "--relay", server.link_url, "--ca-file", str(pki.ca_cert), "--json",
                     stdin=secret.encode())
    assert result.returncode == 0, result
    [row] = [row for row in json_lines(result.stdout) if row.get("event") == "link"]
    link = str(row["link"])
    assert link.startswith(f"{server.link_url}/s/")
    return link


def test_chromium_reveals_a_link_over_https(playwright: Playwright, https_relay: RunningServer, pki: ThrowawayPKI,
                                            tmp_path: Path) -> None:
    assert https_relay.link_url and https_relay.link_url.startswith("https://127.0.0.1:")
    link = send_link(https_relay, pki, SECRET)

    untrusting = chromium(playwright, tmp_path / "no-pin")
    try:
        with pytest.raises(Error, match="ERR_CERT_AUTHORITY_INVALID"):
            first_page(untrusting).goto(link, wait_until="domcontentloaded", timeout=WAIT_MS)
    finally:
        untrusting.close()

    pin = f"--ignore-certificate-errors-spki-list={spki_pin(pki.server_cert)}"
    context = chromium(playwright, tmp_path / "pinned", pin)
    try:
        page = first_page(context)
        response = page.goto(link, wait_until="domcontentloaded", timeout=WAIT_MS)
        assert response is not None and response.status == 200
        assert response.headers.get("strict-transport-security") == HSTS
        details = response.security_details() or {}
        assert details.get("issuer") == "ots test CA", details
        assert details.get("protocol", "").startswith("TLS 1."), details
        # WebCrypto is there because the page is a secure context; the refused attempt consumed nothing.
        assert wait_state(page, "ready") == "ready"
        assert page.evaluate("window.isSecureContext") is True
        with page.expect_response(lambda answer: answer.url.endswith("/reveal"), timeout=WAIT_MS) as answer:
            reveal(page)
        assert answer.value.status == 200
        assert answer.value.headers.get("strict-transport-security") == HSTS
        assert wait_state(page, "text", "damaged") == "text"
        assert shown_text(page) == SECRET
    finally:
        context.close()


def test_cli_reveal_over_https_needs_the_ca(https_relay: RunningServer, pki: ThrowawayPKI) -> None:
    link = send_link(https_relay, pki, SECRET)
    refused = run_ots("receive", link)
    assert refused.returncode == ExitCode.SERVER_UNREACHABLE, refused
    assert "its TLS certificate is not trusted" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert SECRET not in refused.stdout
    # The refusal happened before anything was asked of the relay: the link still opens, once.
    received = run_ots("receive", link, "--ca-file", str(pki.ca_cert))
    assert received.returncode == 0, received
    assert received.stdout == SECRET
    again = run_ots("receive", link, "--ca-file", str(pki.ca_cert))
    assert again.returncode == ExitCode.NOT_FOUND, again
    assert "already opened" in again.stderr
