"""Desktop tests: a real X server with a tray host, the app's qasync loop, and real servers.

These tests run in their own pytest process (``make pytest`` starts it): a Twisted
reactor binds one event loop per process, and here that loop is qasync's, driven by
Qt's own event loop while ``qtbot`` waits.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication

from ots_desktop.core.config import Config
from ots_desktop.ui.app import new_context
from ots_desktop.ui.context import UiContext
from ots_desktop.ui.qtloop import start_loop
from ots_desktop.ui.services import Services
from tests.conftest import Home
from tests.support.dbus_session import start_session_bus
from tests.support.processes import Service
from tests.support.secret_service import SecretServiceSession
from tests.support.servers import RunningServer, start_ots_server
from tests.support.xserver import XSession, start_x

_X: XSession | None = None
_BUS: tuple[Service, str] | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Start Xvfb, trayer and a session bus before Qt starts, and point Qt at them.

    Without a session bus in the environment, the first window Qt shows makes libdbus
    autolaunch one (dbus-launch on the X display): a process no test owns or stops, which
    can D-Bus-activate whatever the system has installed.
    """
    global _X, _BUS  # noqa: PLW0603 - one X server and one bus per test process
    root = Path(tempfile.mkdtemp(prefix="ots-ui-x-"))
    # OTS_TEST_X_SCREEN: a larger screen for the scale-2 screenshots (make screenshots).
    _X = start_x(root, screen=os.environ.get("OTS_TEST_X_SCREEN", "1280x900"))
    try:
        _BUS = start_session_bus(root / "bus")
    except BaseException:
        _X.stop()
        raise
    os.environ["DISPLAY"] = _X.display
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = _BUS[1]
    os.environ.pop("WAYLAND_DISPLAY", None)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _BUS is not None:
        _BUS[0].stop()
    if _X is not None:
        _X.stop()


@pytest.fixture(autouse=True)
def delete_widgets_now() -> Iterator[None]:
    """Widgets a test (or pytest-qt) scheduled for deletion go at its end, not in whichever later
    test first runs a nested event loop."""
    yield
    if QApplication.instance() is not None:
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture(autouse=True)
def session_bus(isolated_home: Home, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test sees the run's session bus (the ``keychain`` fixture swaps in the Secret Service's)."""
    assert _BUS is not None
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", _BUS[1])
    return _BUS[1]


@pytest.fixture(scope="session")
def x_session() -> XSession:
    """The X server and tray host of this run."""
    assert _X is not None
    return _X


@pytest.fixture(scope="session")
def ui_loop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    """The app's loop: qasync on the test QApplication, already running (Qt drives it), with the reactor.

    At the end the reactor stops while Qt keeps turning, so Twisted's threadpool is joined.
    """
    loop = start_loop(qapp, already_running=True)
    yield loop
    from twisted.internet import reactor

    if reactor.running:  # type: ignore[attr-defined]
        reactor.stop()  # type: ignore[attr-defined]
        deadline = time.monotonic() + 5
        while reactor.running and time.monotonic() < deadline:  # type: ignore[attr-defined]
            qapp.processEvents()
    executor = getattr(loop, "_QEventLoop__default_executor", None)
    if executor is not None:
        executor.shutdown(wait=True)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[RunningServer]:
    """A real ``ots server``: wormhole mailbox, transit relay and link relay, on free ports."""
    (tmp_path / "server").mkdir()
    server = start_ots_server(tmp_path / "server")
    yield server
    server.stop()


def make_context(paths_home: Path, server: RunningServer | None, monkeypatch: pytest.MonkeyPatch) -> UiContext:
    """A UiContext for one installation under ``paths_home`` (its own OTS_HOME), on ``server``."""
    from ots_desktop.core.paths import app_paths

    paths = app_paths({"OTS_HOME": str(paths_home)})
    services = Services(paths)
    if server is not None:
        services.config = Config(mailbox_url=server.mailbox_url, transit_helper=server.transit_helper,
                                 relay_url=server.link_url or "", clipboard_clear_s=30)
        services.wormhole_overrides = {"peer_timeout_s": 30.0, "transfer_timeout_s": 30.0}
    return new_context(services)


@pytest.fixture
def ctx(ui_loop: asyncio.AbstractEventLoop, keychain: SecretServiceSession, servers: RunningServer,
        isolated_home: Home, monkeypatch: pytest.MonkeyPatch, qtbot: QtBot) -> Iterator[UiContext]:
    """The sender's (or only) installation, on the test servers, with the real keychain."""
    context = make_context(isolated_home.ots_home, servers, monkeypatch)
    yield context
    _close(context, qtbot)


@pytest.fixture
def peer_ctx(ui_loop: asyncio.AbstractEventLoop, keychain: SecretServiceSession, servers: RunningServer,
             isolated_home: Home, monkeypatch: pytest.MonkeyPatch, qtbot: QtBot) -> Iterator[UiContext]:
    """A second installation (the recipient), with its own OTS_HOME, on the same servers."""
    context = make_context(isolated_home.root / "peer-ots", servers, monkeypatch)
    yield context
    _close(context, qtbot)


def _close(context: UiContext, qtbot: QtBot) -> None:
    context.tasks.cancel_all()
    qtbot.waitUntil(lambda: not context.tasks.busy, timeout=10_000)
    context.events.close()
    context.services.close()
