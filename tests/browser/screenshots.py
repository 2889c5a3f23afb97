"""Screenshots of every state of the reveal page, for the docs: ``make screenshots``
(``python -m tests.browser.screenshots [OUT_DIR]``, default ``docs/screenshots``).

Uses the relay app in this process (with a clock it moves, for the expired state) and the
system Chromium; nothing needs a keyring or a network.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, Playwright, sync_playwright

from ots_desktop.core.ids import new_share_id
from tests.browser.support import (
    API,
    LocalRelay,
    Sealed,
    http,
    launch,
    local_relay,
    open_link,
    reveal,
    seal_share,
    wait_state,
)

VIEWPORT = {"width": 900, "height": 640}
PASSPHRASE = "correct horse battery staple"
TEXT = b"postgres://app:s3cr3t@db.internal:5432/prod"


def _parked(relay: LocalRelay, share: Sealed) -> str:
    relay.park(share)
    return share.link(relay.url)


def _ready(page: Page, relay: LocalRelay) -> None:
    open_link(page, _parked(relay, seal_share(TEXT, max_views=2)))


def _passphrase(page: Page, relay: LocalRelay) -> None:
    open_link(page, _parked(relay, seal_share(TEXT, passphrase=PASSPHRASE)))


def _wrong_passphrase(page: Page, relay: LocalRelay) -> None:
    _passphrase(page, relay)
    reveal(page, "Tr0ub4dor&3")
    wait_state(page, "wrong-passphrase")


def _text(page: Page, relay: LocalRelay) -> None:
    open_link(page, _parked(relay, seal_share(TEXT)))
    reveal(page)
    wait_state(page, "text")


def _text_shown(page: Page, relay: LocalRelay) -> None:
    _text(page, relay)
    page.get_by_role("button", name="Show").click()
    page.wait_for_selector('#show[aria-pressed="true"]')


def _file(page: Page, relay: LocalRelay) -> None:
    meta = {"type": "file", "name": "prod.env", "size": 1200, "mime": "text/plain"}
    open_link(page, _parked(relay, seal_share(b"K=V\n" * 300, meta=meta)))
    reveal(page)
    wait_state(page, "file")


def _already_revealed(page: Page, relay: LocalRelay) -> None:
    link = _parked(relay, seal_share(TEXT))
    open_link(page, link)
    reveal(page)
    wait_state(page, "text")
    open_link(page, link)


def _expired(page: Page, relay: LocalRelay) -> None:
    link = _parked(relay, seal_share(TEXT, expires_in=300))
    relay.clock.now += 301
    try:
        open_link(page, link)
    finally:
        relay.clock.now -= 301


def _revoked(page: Page, relay: LocalRelay) -> None:
    share = seal_share(TEXT)
    token = relay.park(share)
    http("DELETE", f"{relay.url}{API}/{share.id}", headers={"Authorization": f"Bearer {token}"})
    open_link(page, share.link(relay.url))


def _burned(page: Page, relay: LocalRelay) -> None:
    share = seal_share(TEXT, passphrase=PASSPHRASE)
    link = _parked(relay, share)
    for _ in range(5):
        http("POST", f"{relay.url}{API}/{share.id}/reveal", share.reveal_body("A" * 43))
    open_link(page, link)


def _forbidden_network(page: Page, relay: LocalRelay) -> None:
    open_link(page, _parked(relay, seal_share(TEXT, allow_cidrs=["192.0.2.0/24"])))
    reveal(page)
    wait_state(page, "forbidden-network")


def _damaged(page: Page, relay: LocalRelay) -> None:
    open_link(page, _parked(relay, seal_share(TEXT, sealed_for=new_share_id())))
    reveal(page)
    wait_state(page, "damaged")


STATES: dict[str, Callable[[Page, LocalRelay], None]] = {
    "ready": _ready, "passphrase": _passphrase, "wrong-passphrase": _wrong_passphrase, "text-masked": _text,
    "text-shown": _text_shown, "file": _file, "already-revealed": _already_revealed, "expired": _expired,
    "revoked": _revoked, "burned": _burned, "forbidden-network": _forbidden_network, "damaged": _damaged,
}
DARK = ("ready", "text-masked", "damaged")


def take(out_dir: Path, driver: Playwright | None = None) -> list[Path]:
    """Write one PNG per state (and a few in dark mode) into ``out_dir``; return their paths."""
    if driver is None:
        with sync_playwright() as own:
            return take(out_dir, own)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as work, local_relay(Path(work) / "relay") as relay:
        for scheme, names in (("light", list(STATES)), ("dark", list(DARK))):
            context = launch(driver, Path(work) / f"profile-{scheme}", viewport=VIEWPORT, color_scheme=scheme)
            try:
                page = context.pages[0] if context.pages else context.new_page()
                for name in names:
                    STATES[name](page, relay)
                    path = out_dir / (f"reveal-{name}.png" if scheme == "light" else f"reveal-{name}-dark.png")
                    page.screenshot(path=str(path), full_page=True)
                    written.append(path)
            finally:
                context.close()
    return written


def main(argv: list[str]) -> int:
    out_dir = Path(argv[0]) if argv else Path("docs/screenshots")
    for path in take(out_dir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
