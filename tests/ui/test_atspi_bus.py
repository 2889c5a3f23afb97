"""Through the real accessibility bus: no secret on it, values in the tree, status announced, no crash.

The app's widgets run in their own process (``a11y_driver``) on Xvfb with
``QT_LINUX_ACCESSIBILITY_ALWAYS_ON=1``; ``at-spi-bus-launcher`` runs the accessibility bus on a
private session bus, and a pyatspi client (Debian's python3) listens to every event and raw
D-Bus signal there, as a screen reader would, and reads the tree.
"""

from __future__ import annotations

import ast
import json
import secrets
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.atspi import AtspiSession, Listener, skip_reason, start_atspi
from tests.support.processes import Service
from tests.support.xserver import XSession

APP_NAME = "ots-a11y-driver"
ROOT = Path(__file__).resolve().parents[2]
REPLY_TIMEOUT_S = 60.0

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")


@dataclass
class Driven:
    session: AtspiSession
    listener: Listener
    driver: Service

    def command(self, line: str) -> None:
        """Send one driver command and wait for its ``ok``."""
        proc = self.driver.proc
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write((line + "\n").encode("utf-8"))
        proc.stdin.flush()
        word = line.split(" ", 1)[0]
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while time.monotonic() < deadline and self.driver.alive():
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready and proc.stdout.readline().decode().strip() == f"ok {word}":
                return
        raise AssertionError(f"driver: no reply to {word} (alive: {self.driver.alive()}; "
                             f"{self.driver.log_text()[-1500:]})")



def inserted_text(events: list[dict[str, Any]]) -> dict[str, str]:
    """The characters each object's ``text-changed:insert`` signals carried, joined, by object path."""
    typed: dict[str, str] = {}
    for event in events:
        if event.get("signal", "").endswith("Object.TextChanged") and event["body"].startswith("('insert'"):
            body = ast.literal_eval(event["body"])
            typed[event["path"]] = typed.get(event["path"], "") + str(body[3])
    return typed


@pytest.fixture(scope="module")
def driven(x_session: XSession, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Driven]:
    root = tmp_path_factory.mktemp("atspi")
    session = start_atspi(root / "bus", x_session.display)
    try:
        listener = session.listen(APP_NAME, root)
        env = session.app_env()
        env.update(PYTHONPATH=str(ROOT), HOME=str(root / "home"), OTS_HOME=str(root / "home" / "ots"))
        (root / "home").mkdir()
        driver = Service("a11y-driver", [sys.executable, "-m",
                                         "tests.ui.a11y_driver"], env=env, cwd=ROOT, stdin=subprocess.PIPE,
                         log_dir=root)
        try:
            assert driver.proc.stdout is not None
            assert driver.proc.stdout.readline().decode().strip() == "ready", driver.log_text()
            driven = Driven(session, listener, driver)
            deadline = time.monotonic() + REPLY_TIMEOUT_S
            while not any(node["name"] == "Secret" for node in listener.dump()):
                assert time.monotonic() < deadline, "the app's tree never showed up on the bus"
            yield driven
        finally:
            driver.stop()
    finally:
        session.stop()


def test_no_secret_field_sends_what_is_typed_to_the_bus(driven: Driven) -> None:
    canary = "CANARYa11y" + secrets.token_hex(6)
    control = "CONTROLa11y" + secrets.token_hex(6)
    driven.command(f"type {canary} {control}")
    # The listener does see text events: a plain Qt password field sends each typed character (the leak the
    # fields here avoid). That field is edited last, and text events arrive in order: once its last character
    # is here, every secret field's events are too.
    deadline = time.monotonic() + REPLY_TIMEOUT_S
    while not any(control in typed for typed in inserted_text(driven.listener.events()).values()):
        assert time.monotonic() < deadline, "no leak seen from a plain password field: the test would miss one"
        driven.listener.flush()
    text = json.dumps(driven.listener.events(), ensure_ascii=False)
    # ... while the secret fields send bullets only, however the text was typed, deleted, pasted or cleared.
    assert canary not in text  # not whole (a clear sends all of it) ...
    assert not any(canary in typed for typed in inserted_text(driven.listener.events()).values())  # nor per key
    masked = [typed for typed in inserted_text(driven.listener.events()).values()
              if typed and set(typed) == {"\u2022"} and len(typed) >= 2 * len(canary)]
    assert len(masked) == 4  # the four secret fields: a bullet for every character
    assert canary not in json.dumps(driven.listener.dump(), ensure_ascii=False)


def test_status_changes_and_errors_are_announced_and_their_values_are_in_the_tree(driven: Driven) -> None:
    start = driven.listener.flush()
    driven.command("status Waiting for the other side\u2026")
    driven.command("error The relay refused the link.")
    # AT-SPI's politeness: 1 polite (progress), 2 assertive (an error interrupts)
    for said, politeness in (("Waiting for the other side\u2026", 1), ("error: The relay refused the link.", 2)):
        record = driven.listener.wait_for(
            lambda r, said=said: r.get("signal", "").endswith("Object.Announcement") and said in r["body"],
            timeout=REPLY_TIMEOUT_S, what=f"announcement of {said!r}", start=start)
        assert ast.literal_eval(record["body"])[1] == politeness
    tree = driven.listener.dump()
    state = [n for n in tree if n["name"] == "Waiting for the other side\u2026"]
    assert state and state[0]["description"] == "Share state"


def test_removing_queued_files_through_the_accessibility_action_while_the_tree_is_walked(
        driven: Driven, tmp_path: Path) -> None:
    """Once a crash in QAccessibleCache::idForObject (items deleted while a client read them)."""
    for index in range(40):
        (tmp_path / f"file-{index:02}.txt").write_bytes(b"x")
    walker = driven.session.add_listener(APP_NAME, tmp_path)  # a second client, walking the tree meanwhile
    try:
        for _ in range(4):
            driven.command(f"queue {tmp_path}")
            for _ in range(6):
                walker.send("dump")
            assert driven.listener.act("Remove all queued files", "Press", walks=3) == "Remove all queued files"
            walker.flush(timeout=REPLY_TIMEOUT_S)
            assert driven.driver.alive(), driven.driver.log_text()[-2000:]
            driven.command("status queue cleared")  # the app still answers
            queued = [n for n in driven.listener.dump() if n["name"].startswith("file-")]
            assert queued == []
    finally:
        walker.service.stop()


ROUNDS = 3


def test_the_real_app_survives_clear_all_pressed_by_an_assistive_technology(
        driven: Driven, x_session: XSession, tmp_path: Path) -> None:
    """The reported crash, in the whole app: files queued from the command line, Clear all pressed through
    its AT-SPI action while a second client walks the tree (it crashed the first attempt of each run, in
    QAccessibleCache::idForObject: the form's scroll bar went away while the walker read the scroll area's
    children; see ots_desktop/ui/scroll_accessibility.py). Then the app still works: a second launch hands
    it the files again, and they are cleared the same way, round after round."""
    files = tmp_path / "files"
    files.mkdir()
    for index in range(40):
        (files / f"file-{index:02}.txt").write_bytes(b"x")
    names = sorted(map(str, files.iterdir()))
    home = tmp_path / "app-home"
    home.mkdir()
    env = driven.session.app_env()
    env.update(PYTHONPATH=str(ROOT), HOME=str(home), OTS_HOME=str(home / "ots"))
    listener = driven.session.add_listener("ots-desktop", tmp_path)
    app = Service("ots-desktop", [sys.executable, "-m", "ots_desktop", *names], env=env, cwd=ROOT, log_dir=tmp_path)
    walker = driven.session.add_listener("ots-desktop", tmp_path)

    def queued() -> list[str]:
        return [node["name"] for node in listener.dump() if node["name"].startswith("file-")]

    try:
        for round_ in range(ROUNDS):
            deadline = time.monotonic() + REPLY_TIMEOUT_S
            while len(queued()) != len(names):
                assert time.monotonic() < deadline and app.alive(), f"round {round_}: {app.log_text()[-2000:]}"
            for _ in range(6):
                walker.send("dump")
            assert listener.act("Clear all", "Press", walks=3) == "Clear all"
            walker.flush(timeout=REPLY_TIMEOUT_S)
            listener.flush(timeout=REPLY_TIMEOUT_S)
            assert app.alive(), f"round {round_}: the app died ({app.proc.poll()}): {app.log_text()[-2000:]}"
            assert queued() == []
            # Still answering: a second launch hands the files to it (and exits at once) ...
            second = subprocess.run([sys.executable, "-m", "ots_desktop", *names], env=env, cwd=ROOT,
                                    capture_output=True, timeout=REPLY_TIMEOUT_S, check=False)
            assert second.returncode == 0, second.stderr.decode(errors="replace")[-2000:]
            # ... and the next round sees them queued again before clearing them once more.
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while len(queued()) != len(names):
            assert time.monotonic() < deadline and app.alive(), app.log_text()[-2000:]
        assert app.alive()
    finally:
        walker.service.stop()
        listener.service.stop()
        app.stop()
