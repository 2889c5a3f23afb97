"""Helpers for the browser tests and `make screenshots`: a relay in this process with a clock the
test moves, sealed shares, plain HTTP, and the system Chromium driven by Playwright.

Chromium is Debian's ``/usr/bin/chromium`` (installed by ``.ci/system-deps.sh``); Playwright's
own browser downloads are never used. Every wait has a deadline; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Coroutine, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from playwright.sync_api import BrowserContext, Page, Playwright

from ots_desktop.core.envelope import read_header, seal
from ots_desktop.core.ids import b64u_encode, new_fragment_key, new_share_id
from ots_desktop.core.kdf import PBKDF2_MIN_ITERATIONS, derive_keys, derive_link_proof, passphrase_from_text
from ots_desktop.server.link_api import RelaySettings, build_app
from ots_desktop.server.link_model import DEFAULT_MAX_SIZE
from ots_desktop.server.link_service import RUNNER_OPTIONS
from ots_desktop.server.ratelimit import Rate
from ots_desktop.server.store_sqlite import SqliteStore

T = TypeVar("T")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 60_000  # PBKDF2 at 600 000 iterations on a slow, busy 2-core machine
CALL_TIMEOUT_S = 30.0
API = "/api/v1/secrets"

# What the page shows in each final state (the data-state of <body>, and the heading).
TITLES = {
    "revealed": "Already revealed", "expired": "Expired", "revoked": "Revoked", "burned": "Destroyed",
    "damaged": "This link is damaged", "forbidden-network": "Not allowed from this network",
    "not-found": "Not found",
}


# ---------------------------------------------------------------- the browser


def launch(playwright: Playwright, profile: Path, **options: Any) -> BrowserContext:
    """The system Chromium, headless, on a fresh profile directory."""
    profile.mkdir(parents=True, exist_ok=True)
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, accept_downloads=True,
        timeout=WAIT_MS, **options)


def wait_state(page: Page, *states: str, timeout: float = WAIT_MS) -> str:
    """Wait until the page reaches one of ``states`` (its ``body[data-state]``) and return it."""
    # Selectors, not wait_for_function: its in-page polling evaluates strings, which the page's CSP forbids.
    selector = ", ".join(f'body[data-state="{state}"]' for state in states)
    page.wait_for_selector(selector, state="attached", timeout=timeout)
    return str(page.get_attribute("body", "data-state"))


def open_link(page: Page, link: str) -> str:
    """Open a link and wait until the page has looked the share up; return the state it settled in."""
    page.goto("about:blank")  # else a link to the page already shown would only change its fragment
    page.goto(link, wait_until="domcontentloaded", timeout=WAIT_MS)
    return wait_state(page, "ready", *TITLES, "offline", "error", "unsupported")


def reveal(page: Page, passphrase: str | None = None) -> None:
    """Type the passphrase (if any) and press Reveal."""
    if passphrase is not None:
        page.get_by_label("Passphrase").fill(passphrase)
    page.get_by_role("button", name="Reveal").click()


def shown_text(page: Page) -> str:
    """Press Show and read the secret."""
    page.get_by_role("button", name="Show").click()
    page.wait_for_selector('#show[aria-pressed="true"]', timeout=WAIT_MS)
    return str(page.text_content("#secret-text"))


# ---------------------------------------------------------------- shares and HTTP


@dataclass(frozen=True)
class Sealed:
    """A sealed share before it is parked."""

    id: str
    key: str
    body: dict[str, Any]
    link_proof: str | None = None  # None: parked as clients did before link proofs

    def link(self, base: str) -> str:
        return f"{base}/s/{self.id}#{self.key}"

    def reveal_body(self, auth_token: str) -> dict[str, str]:
        """A reveal request with this share's link proof (if it has one) and ``auth_token``."""
        body = {"auth_token": auth_token}
        if self.link_proof is not None:
            body["link_proof"] = self.link_proof
        return body


def seal_share(plaintext: bytes = b"browser test secret", *, meta: Mapping[str, object] | None = None,
               passphrase: str | None = None, sealed_for: bytes | None = None, legacy: bool = False,
               **policy: Any) -> Sealed:
    """Seal ``plaintext`` under a fresh id and key. ``sealed_for`` binds the envelope to another share id
    (it then cannot be opened under this one); ``legacy`` parks it without a link proof hash, as clients
    did before link proofs; ``policy`` goes into the create body."""
    share_id = new_share_id()
    secret = passphrase_from_text(passphrase) if passphrase else None
    with new_fragment_key() as key:
        envelope = seal(plaintext, share_id=sealed_for or share_id, fragment_key=key,
                        meta=meta or {"type": "text"}, passphrase=secret)
        salt = read_header(envelope).salt
        with derive_keys(key, salt, secret, PBKDF2_MIN_ITERATIONS) as keys, derive_link_proof(key, salt) as proof:
            auth_hash = hashlib.sha256(keys.auth_token.view()).hexdigest()
            link_hash, link_proof = hashlib.sha256(proof.view()).hexdigest(), b64u_encode(proof)
        key_text = b64u_encode(key)
    body = {"id": b64u_encode(share_id), "envelope": b64u_encode(envelope), "auth_hash": auth_hash, **policy}
    if legacy:
        return Sealed(id=body["id"], key=key_text, body=body)
    return Sealed(id=body["id"], key=key_text, body={**body, "link_hash": link_hash}, link_proof=link_proof)


def http(method: str, url: str, body: object = None, headers: Mapping[str, str] | None = None
         ) -> tuple[int, Any, dict[str, str]]:
    """One plain HTTP request: (status, JSON or text body, headers), whatever the status."""
    data = None if body is None else json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json"} if data is not None else {}
    all_headers.update(headers or {})
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=CALL_TIMEOUT_S) as response:
            status, raw, got = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        status, raw, got = exc.code, exc.read(), dict(exc.headers)
    text = raw.decode("utf-8", "replace")
    parsed: Any = json.loads(text) if got.get("Content-Type", "").startswith("application/json") and text else text
    return status, parsed, got


def create(base: str, share: Sealed) -> str:
    """Park a share; return its status token."""
    status, body, _ = http("POST", base + API, share.body)
    assert status == 201, body
    return str(body["status_token"])


def meta(base: str, share_id: str) -> tuple[int, Any]:
    """GET the share's metadata (never consumes)."""
    status, body, _ = http("GET", f"{base}{API}/{share_id}")
    return status, body


# ---------------------------------------------------------------- a relay in this process


@dataclass
class Clock:
    """A clock the test moves; it starts at the real time so that the page shows sensible dates."""

    now: float = field(default_factory=time.time)

    def __call__(self) -> float:
        return self.now


class LocalRelay:
    """The real relay app (``build_app`` on a real SQLite store) on a loopback port, run by its own
    event loop in a thread, with an injectable clock."""

    def __init__(self, data_dir: Path) -> None:
        self.clock = Clock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="local-relay", daemon=True)
        self._thread.start()
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.url = self._call(self._start(data_dir / "links.sqlite3"))
        except BaseException:
            self._stop_loop()
            raise

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(CALL_TIMEOUT_S)

    async def _start(self, path: Path) -> str:
        self._store = await SqliteStore.open(path)
        settings = RelaySettings(public_url="", max_size=DEFAULT_MAX_SIZE, create_rate=Rate(0, 1),
                                 reveal_rate=Rate(0, 1), clock=self.clock)
        self._runner = web.AppRunner(build_app(self._store, settings), **RUNNER_OPTIONS)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        settings.public_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return settings.public_url

    async def _shutdown(self) -> None:
        await self._runner.cleanup()
        await self._store.close()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(CALL_TIMEOUT_S)
        self._loop.close()

    def close(self) -> None:
        """Stop serving, close the store and the loop."""
        try:
            self._call(self._shutdown())
        finally:
            self._stop_loop()

    def park(self, share: Sealed) -> str:
        """Create the share on this relay; return its status token."""
        return create(self.url, share)


@contextmanager
def local_relay(data_dir: Path) -> Iterator[LocalRelay]:
    relay = LocalRelay(data_dir)
    try:
        yield relay
    finally:
        relay.close()

