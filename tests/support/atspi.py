"""The real accessibility bus (AT-SPI) for tests: a bus launcher on a private session bus, and a listener.

``start_atspi(root, display)`` starts a D-Bus session bus, ``at-spi-bus-launcher`` on it (which
starts the accessibility bus and its registry) and a listener client (``atspi_listener.py``,
run by Debian's ``/usr/bin/python3`` with python3-pyatspi) that records every event as a JSON
line and dumps the tree on request. ``app_env`` is the environment for a Qt app that should
talk to that bus. Everything is stopped by PID. ``skip_reason()`` says why it cannot run here.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.dbus_session import start_session_bus
from tests.support.processes import Service, wait_until

SYSTEM_PYTHON = "/usr/bin/python3"
BUS_LAUNCHER = "/usr/libexec/at-spi-bus-launcher"
LISTENER = Path(__file__).with_name("atspi_listener.py")
READY_TIMEOUT_S = 20.0


def skip_reason() -> str | None:
    """Why the AT-SPI tests cannot run here (None if they can)."""
    if not Path(BUS_LAUNCHER).exists():
        return f"{BUS_LAUNCHER} is missing; install at-spi2-core (make system-deps)"
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import pyatspi"], capture_output=True, check=False) \
        if Path(SYSTEM_PYTHON).exists() else None
    if probe is None or probe.returncode != 0:
        return f"{SYSTEM_PYTHON} cannot import pyatspi; install python3-pyatspi (make system-deps)"
    return None


@dataclass
class Listener:
    """The listener process and what it has written so far (one dict per line)."""

    service: Service
    records: list[dict[str, Any]] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def _read(self) -> None:
        assert self.service.proc.stdout is not None
        for raw in self.service.proc.stdout:
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            with self._cond:
                self.records.append(record)
                self._cond.notify_all()

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], *, timeout: float, what: str,
                 start: int = 0) -> dict[str, Any]:
        """The first record from index ``start`` on for which ``predicate`` holds; fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for record in self.records[start:]:
                    if predicate(record):
                        return record
                left = deadline - time.monotonic()
                if left <= 0 or not self.service.alive():
                    raise AssertionError(f"AT-SPI listener: no {what} within {timeout} s "
                                         f"({len(self.records)} records; {self.service.log_text()[-800:]})")
                self._cond.wait(min(left, 0.5))

    def send(self, line: str) -> None:
        """One command (see atspi_listener.py)."""
        stdin = self.service.proc.stdin
        assert stdin is not None
        stdin.write((line + "\n").encode("utf-8"))
        stdin.flush()

    def flush(self, timeout: float = 20.0) -> int:
        """Wait until every event sent before now has been recorded; returns the record count."""
        token = f"m{time.monotonic_ns()}"
        self.send(f"mark {token}")
        self.wait_for(lambda r: r.get("mark") == token, timeout=timeout, what=f"mark {token}")
        return len(self.records)

    def dump(self, timeout: float = 30.0) -> list[dict[str, Any]]:
        """The app's accessible tree, node by node."""
        start = len(self.records)
        self.send("dump")
        return list(self.wait_for(lambda r: "tree" in r, timeout=timeout, what="tree", start=start)["tree"])

    def act(self, name: str, action: str, walks: int = 0, timeout: float = 30.0) -> Any:
        """Invoke ``action`` on the node named ``name`` (then walk the tree ``walks`` times)."""
        start = len(self.records)
        self.send(f"act {name.replace(' ', '_')} {action} {walks}")
        return self.wait_for(lambda r: "acted" in r, timeout=timeout, what="action", start=start)["acted"]

    def events(self) -> list[dict[str, Any]]:
        """Every event and raw signal recorded so far."""
        with self._cond:
            return [r for r in self.records if "event" in r or "signal" in r]


@dataclass
class AtspiSession:
    """A session bus with the accessibility bus on it, and a listener."""

    bus: Service
    address: str
    launcher: Service
    display: str
    listener: Listener | None = None

    def app_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """The environment for a Qt app on this display that talks to this accessibility bus."""
        env = dict(base if base is not None else os.environ)
        env.update(DISPLAY=self.display, QT_QPA_PLATFORM="xcb", DBUS_SESSION_BUS_ADDRESS=self.address,
                   QT_LINUX_ACCESSIBILITY_ALWAYS_ON="1", QT_ACCESSIBILITY="1")
        env.pop("NO_AT_BRIDGE", None)
        return env

    def listen(self, app_name: str, log_dir: Path) -> Listener:
        """Start the listener for the app called ``app_name`` (its QApplication name)."""
        self.listener = self.add_listener(app_name, log_dir)
        return self.listener

    def add_listener(self, app_name: str, log_dir: Path) -> Listener:
        """Another client on the bus (the caller stops it)."""
        service = Service("atspi-listener", [SYSTEM_PYTHON, str(LISTENER), app_name],
                          env=self.app_env({"PATH": os.environ.get("PATH", "/usr/bin:/bin")}),
                          stdin=subprocess.PIPE, log_dir=log_dir)
        listener = Listener(service)
        threading.Thread(target=listener._read, daemon=True).start()
        listener.wait_for(lambda r: r.get("ready") is True, timeout=READY_TIMEOUT_S, what="ready")
        return listener

    def stop(self) -> None:
        """Stop the listener, the launcher (and with it the accessibility bus), then the session bus."""
        if self.listener is not None:
            self.listener.service.stop()
        self.launcher.stop()
        self.bus.stop()


def start_atspi(root: Path, display: str) -> AtspiSession:
    """The accessibility bus on a new session bus under ``root``, for X display ``display``."""
    root.mkdir(parents=True, exist_ok=True)
    bus, address = start_session_bus(root / "session")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DISPLAY": display, "DBUS_SESSION_BUS_ADDRESS": address,
           "XDG_RUNTIME_DIR": str(root / "session" / "run")}
    launcher = Service("at-spi-bus-launcher", [BUS_LAUNCHER, "--launch-immediately"], env=env, log_dir=root)

    def owned() -> bool:
        probe = subprocess.run(["dbus-send", "--session", "--print-reply", "--dest=org.a11y.Bus", "/org/a11y/bus",
                                "org.a11y.Bus.GetAddress"], env=env, capture_output=True, check=False)
        return probe.returncode == 0 and b"unix:" in probe.stdout

    try:
        wait_until(owned, timeout=READY_TIMEOUT_S, what="the accessibility bus (org.a11y.Bus)", interval=0.1)
    except BaseException:
        launcher.stop()
        bus.stop()
        raise
    return AtspiSession(bus=bus, address=address, launcher=launcher, display=display)
