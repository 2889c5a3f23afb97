"""A large file link (streamed by the relay) revealed in real headless Chromium, saved by streaming.

The 8 MB file is sent by the real ``ots`` CLI to a real ``ots server``; being over 1 MiB it
is parked with the streamed PUT and the page gets it as a streamed reveal. Headless Chromium
has ``showSaveFilePicker`` but no one to answer its dialog, so that one call is replaced by
an init script that hands the page a file in the origin-private file system (real File
System Access API, real writable stream): the only stand-in, for the person picking a file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.browser.support import open_link, reveal, wait_state
from tests.browser.test_reveal_page import send_link
from tests.conftest import Home
from tests.support.servers import RunningServer, start_ots_server

SIZE = 8 * 1000 * 1000
PICKER = """
globalThis.showSaveFilePicker = async (options) => {
  const root = await navigator.storage.getDirectory();
  globalThis.__picked = options.suggestedName;
  return root.getFileHandle("saved.bin", { create: true });
};
"""
SAVED_SHA256 = """async () => {
  const root = await navigator.storage.getDirectory();
  const file = await (await root.getFileHandle("saved.bin")).getFile();
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return { name: globalThis.__picked, size: file.size,
           hex: Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("") };
}"""


@pytest.mark.usefixtures("keychain")
def test_a_large_streamed_file_is_saved_by_streaming(page: Page, relay_server: RunningServer,
                                                      tmp_path: Path) -> None:
    data = os.urandom(SIZE)
    source = tmp_path / "backup.tar"
    source.write_bytes(data)
    link = send_link(relay_server, "--file", str(source))
    # Streamed on the relay: the envelope is a file of its own there, until the reveal.
    assert len(list((relay_server.data_dir / "links-envelopes").iterdir())) == 1
    page.add_init_script(PICKER)
    assert open_link(page, link) == "ready"
    reveal(page)
    assert wait_state(page, "file-stream", "file", "damaged") == "file-stream"
    assert "decrypted straight into that file" in str(page.text_content("[role=status]"))
    page.get_by_role("button", name="Save file").click()
    assert wait_state(page, "saved", "damaged") == "saved"
    assert str(page.text_content("[role=status]")).startswith("Saved backup.tar. It is now gone from the relay")
    saved = page.evaluate(SAVED_SHA256)
    assert saved == {"name": "backup.tar", "size": SIZE, "hex": hashlib.sha256(data).hexdigest()}
    assert list((relay_server.data_dir / "links-envelopes").iterdir()) == []


@pytest.mark.usefixtures("keychain")
def test_without_a_file_picker_the_streamed_file_is_collected_and_downloaded(page: Page, relay_server: RunningServer,
                                                                          tmp_path: Path) -> None:
    data = os.urandom(SIZE)
    source = tmp_path / "backup.tar"
    source.write_bytes(data)
    link = send_link(relay_server, "--file", str(source))
    page.add_init_script("delete globalThis.showSaveFilePicker;")  # as in browsers without the API
    assert open_link(page, link) == "ready"
    reveal(page)
    assert wait_state(page, "file", "damaged") == "file"
    # The note that the browser holds the whole file in memory is for files from 64 MiB on (reveal.js).
    assert page.is_hidden("#file-note")
    with page.expect_download() as info:
        page.get_by_role("button", name="Save file").click()
    saved = tmp_path / "downloaded.tar"
    info.value.save_as(saved)
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()


@pytest.mark.usefixtures("keychain")
def test_without_a_file_picker_a_file_from_64_mib_says_it_is_held_in_memory(page: Page, isolated_home: Home,
                                                                            tmp_path: Path) -> None:
    size = 64 * 1024 * 1024 + 1000 * 1000
    relay = start_ots_server(isolated_home.root, "--no-wormhole", "--create-rate", "0", "--reveal-rate", "0",
                             "--max-size", "100MiB")
    try:
        data = os.urandom(size)
        source = tmp_path / "disk.img"
        source.write_bytes(data)
        link = send_link(relay, "--file", str(source))
        page.add_init_script("delete globalThis.showSaveFilePicker;")
        assert open_link(page, link) == "ready"
        reveal(page)
        assert wait_state(page, "file", "damaged") == "file"
        note = str(page.text_content("#file-note"))
        assert page.is_visible("#file-note")
        assert "holds all 68.1 MB in memory until you save it" in note, note
        assert "Chrome or Edge" in note and "the ots app" in note
        with page.expect_download() as info:
            page.get_by_role("button", name="Save file").click()
        saved = tmp_path / "downloaded.img"
        info.value.save_as(saved)
        assert saved.stat().st_size == size
        assert hashlib.sha256(saved.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    finally:
        relay.stop()
