"""The whole app's accessible tree, read through the real AT-SPI bus in every page and state.

The sender's and the recipient's windows run in one process of their own (``a11y_walk_driver``) on
Xvfb with ``QT_LINUX_ACCESSIBILITY_ALWAYS_ON=1``, on a real ``ots server`` and a real gnome-keyring,
both on the private session bus that ``at-spi-bus-launcher`` serves. A pyatspi client (Debian's
python3) records every event and dumps the tree, as a screen reader would. The app starts once and is
walked through the states: the Send page, a code shared, the code's word suggestions, the secret
received, a link created, its receipt, a refused link, a verified log, a tampered log's error banner
and Settings. In each state:

- every showing control on the bus (button, check box, radio, combo, text field, spin box, tab,
  toggle, menu item, table) has a name, and each visible control's name holds its visible label;
- each value a label shows (the code, the link terms, the receipt, the state lines, the log status and
  count, the keychain) is in the tree as a name or a text;
- the status changes into the state were announced (politely, or assertively for errors);
- the secret is nowhere on the bus.
"""

from __future__ import annotations

import ast
import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.atspi import AtspiSession, Listener, skip_reason, start_atspi
from tests.support.processes import Service
from tests.support.secret_service import start_keyring
from tests.support.servers import RunningServer, start_ots_server
from tests.support.xserver import XSession

APP_NAME = "ots-a11y-walk"
ROOT = Path(__file__).resolve().parents[2]
STEP_TIMEOUT_S = 90.0
VALUE_WAIT_S = 10.0
STATES = ("send", "code", "completion", "received", "link", "receipt", "receive-error", "activity", "banner",
          "settings")
# The roles a person operates (AT-SPI role names, as pyatspi spells them).
INTERACTIVE = {"push button", "toggle button", "check box", "radio button", "combo box", "text", "password text",
               "entry", "spin button", "page tab", "menu item", "check menu item", "radio menu item", "table",
               "tree table", "list"}

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")


@dataclass
class App:
    """The driven app, the listener on its bus, and what the walk has found so far."""

    driver: Service
    listener: Listener
    problems: list[str] = field(default_factory=list)
    counted: dict[str, int] = field(default_factory=dict)

    def send(self, line: str) -> None:
        stdin = self.driver.proc.stdin
        assert stdin is not None
        stdin.write((line + "\n").encode("utf-8"))
        stdin.flush()

    def reply(self) -> dict[str, Any]:
        """The driver's next JSON line."""
        stdout = self.driver.proc.stdout
        assert stdout is not None
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while time.monotonic() < deadline:
            raw = stdout.readline()
            if not raw:
                break
            try:
                record: dict[str, Any] = json.loads(raw)
            except ValueError:
                continue
            return record
        raise AssertionError(f"the walk driver stopped answering: {self.driver.log_text()[-3000:]}")


@pytest.fixture(scope="module")
def app(x_session: XSession, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    root = tmp_path_factory.mktemp("atspi-walk")
    server: RunningServer = start_ots_server(root)
    session: AtspiSession | None = None
    keyring: Service | None = None
    driver: Service | None = None
    try:
        session = start_atspi(root / "bus", x_session.display)
        keyring = start_keyring(root / "keyring", session.address)
        listener = session.listen(APP_NAME, root)
        env = session.app_env()
        home = root / "home"
        home.mkdir()
        env.update(PYTHONPATH=str(ROOT), HOME=str(home), OTS_HOME=str(home / "ots"), OTS_WALK_ROOT=str(home),
                   OTS_WALK_MAILBOX=server.mailbox_url, OTS_WALK_TRANSIT=server.transit_helper,
                   OTS_WALK_RELAY=server.link_url or "", XDG_CONFIG_HOME=str(home / ".config"),
                   XDG_DATA_HOME=str(home / ".local/share"), XDG_STATE_HOME=str(home / ".local/state"),
                   XDG_CACHE_HOME=str(home / ".cache"))
        for name in [name for name in env if name.startswith("OTS_") and not name.startswith(("OTS_WALK_",
                                                                                              "OTS_HOME"))]:
            env.pop(name)
        driver = Service("a11y-walk-driver", [sys.executable, "-m", "tests.ui.a11y_walk_driver"], env=env, cwd=ROOT,
                         stdin=subprocess.PIPE, log_dir=root)
        walked = App(driver, listener)
        assert walked.reply() == {"ready": True}, driver.log_text()
        yield walked
    finally:
        if driver is not None:
            driver.stop()
        if keyring is not None:
            keyring.stop()
        if session is not None:
            session.stop()
        server.stop()


def _said(record: dict[str, Any]) -> tuple[str, int]:
    """An ``Object.Announcement`` signal's text and politeness (its body is detail, politeness, 0, text, {})."""
    body = ast.literal_eval(record["body"])
    return str(body[3]), int(body[1])


def announcements(listener: Listener, start: int) -> list[tuple[str, int]]:
    """What was announced since record ``start``: the text and its politeness (1 polite, 2 assertive)."""
    said = []
    for record in listener.records[start:]:
        if record.get("signal", "").endswith("Object.Announcement"):
            said.append(_said(record))
    return said


def _plain(text: str) -> str:
    return text.replace("&", "").strip().rstrip(":").strip()


def missing_values(report: dict[str, Any], tree: list[dict[str, Any]]) -> list[str]:
    """The values the state shows that are in no name, text or description of ``tree`` (the code field describes
    its open suggestion list: Qt keeps pop-up lists out of the tree)."""
    return [value for value in report["values"]
            if not any(value in node["name"] or value in str(node.get("text", "")) or value in node["description"]
                       for node in tree)]


def settled_tree(app: App, report: dict[str, Any]) -> list[dict[str, Any]]:
    """The tree once the state's values are in it (a client learns of a changed name from the change event,
    which comes a moment after the change), or as it is after VALUE_WAIT_S."""
    deadline = time.monotonic() + VALUE_WAIT_S
    while True:
        app.listener.flush()
        tree = app.listener.dump()
        if not missing_values(report, tree) or time.monotonic() > deadline:
            return tree


def check_state(app: App, state: str, report: dict[str, Any], tree: list[dict[str, Any]], start: int) -> None:
    """Record in ``app.problems`` what ``state`` gets wrong on the bus (see the module's note)."""
    showing = [node for node in tree if node["role"] in INTERACTIVE and "showing" in node["states"]]
    app.counted[state] = len(showing)
    for node in showing:
        if not node["name"].strip():
            app.problems.append(f"{state}: a showing {node['role']} has no name ({node})")
    on_bus = {node["name"]: node for node in tree if node["role"] in INTERACTIVE}
    for control in report["controls"]:
        label, name = control["label"], control["name"]
        node = on_bus.get(name)
        if not name.strip():
            app.problems.append(f"{state}: {control['kind']} {label!r} has no accessible name")
        elif node is None:
            app.problems.append(f"{state}: {control['kind']} {name!r} is not on the bus")
        elif label and label.lower() not in name.lower() and not (
                node["role"] == "combo box" and label in [_plain(text) for text in node.get("labelled_by", [])]):
            # Qt names a combo box on Linux by its current item and labels it through the labelled-by relation,
            # which screen readers speak with it: there, the label must be that relation's.
            app.problems.append(f"{state}: {control['kind']} named {name!r} does not hold its label {label!r}")
    for value in missing_values(report, tree):
        app.problems.append(f"{state}: the value {value!r} is not in the tree")
    for text, politeness in report["announced"]:
        try:
            app.listener.wait_for(
                lambda r, text=text, politeness=politeness: r.get("signal", "").endswith("Object.Announcement")
                and _said(r) == (text, politeness),
                timeout=10.0, what=f"announcement of {text!r}", start=start)
        except AssertionError:
            app.problems.append(f"{state}: {text!r} was not announced at politeness {politeness} "
                                f"(announced: {announcements(app.listener, start)})")


def test_every_page_and_state_through_the_accessibility_bus(app: App, tmp_path: Path) -> None:
    dumps = tmp_path / "trees"  # each state's tree, to read when the walk fails
    dumps.mkdir()
    canary = "CANARYwalk" + secrets.token_hex(8)
    app.send(f"secret {canary}")
    assert app.reply() == {"done": "secret"}
    controls = 0
    for state in STATES:
        start = app.listener.flush()
        app.send(f"step {state}")
        report = app.reply()
        assert report.get("done") == state, f"{state}: {report} {app.driver.log_text()[-2000:]}"
        tree = settled_tree(app, report)
        (dumps / f"{state}.json").write_text(json.dumps(tree, indent=1, ensure_ascii=False), "utf-8")
        check_state(app, state, report, tree, start)
        assert canary not in json.dumps(tree, ensure_ascii=False), f"{state}: the secret is in the tree"
        controls += len(report["controls"])
    assert canary not in json.dumps(app.listener.records, ensure_ascii=False), "the secret went over the bus"
    print(f"\nwalked {len(STATES)} states; showing interactive nodes per state: {app.counted}; "
          f"{controls} visible controls checked in all")
    assert not app.problems, "\n".join(app.problems)
