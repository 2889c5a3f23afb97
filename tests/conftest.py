"""Shared fixtures: an isolated home per test and a real Secret Service per session."""

from __future__ import annotations

import asyncio
import contextlib
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import keyring
import keyring.core
import pytest

from ots_desktop import runtime
from ots_desktop.core.audit.keystore import KEYCHAIN_CALLS
from tests.support.crash_log import redirect_crash_stacks
from tests.support.secret_service import SecretServiceSession, start_secret_service
from tests.support.servers import RunningServer, start_ots_server

# Widgets render offscreen unless a test starts its own X server (the tray tests do).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

CANARY = b"CANARY-7f3a9c1e-ots-secret-do-not-persist"


@dataclass(frozen=True)
class Home:
    """Per-test directories."""

    root: Path
    home: Path
    ots_home: Path


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    """Every test gets its own HOME, XDG dirs and OTS_HOME; stray OTS_* settings are cleared."""
    home = tmp_path / "home"
    ots_home = tmp_path / "ots"
    home.mkdir()
    ots_home.mkdir()
    for name in list(os.environ):
        if name.startswith("OTS_") or name in ("PYTHON_KEYRING_BACKEND", "DBUS_SESSION_BUS_ADDRESS"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("OTS_HOME", str(ots_home))
    for var, sub in (("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share"),
                     ("XDG_STATE_HOME", ".local/state"), ("XDG_CACHE_HOME", ".cache")):
        monkeypatch.setenv(var, str(home / sub))
    return Home(root=tmp_path, home=home, ots_home=ots_home)


@pytest.fixture(scope="session")
def secret_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecretServiceSession]:
    """gnome-keyring-daemon on a private D-Bus session, for the whole run."""
    session = start_secret_service(tmp_path_factory.mktemp("secret-service"))
    _SECRET_SERVICES.append(session)
    yield session
    _SECRET_SERVICES.remove(session)
    session.stop()


_SECRET_SERVICES: list[SecretServiceSession] = []


def keyring_died_during_the_test() -> bool:
    """True if this run's gnome-keyring-daemon is dead now (the ``keychain`` fixture started the test with it alive)."""
    return any(not session.daemon.alive() for session in _SECRET_SERVICES)


@pytest.fixture
def keychain(secret_service: SecretServiceSession, monkeypatch: pytest.MonkeyPatch) -> Iterator[SecretServiceSession]:
    """Point this process (and its children) at the real Secret Service."""
    if secret_service.ensure_running():
        warnings.warn(f"gnome-keyring-daemon had died and was restarted ({secret_service.restarts}); "
                      f"its log: {secret_service.root}", pytest.PytestWarning, stacklevel=1)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service.address)
    # keyring's backend probe talks to the Secret Service too: one keychain conversation at a time in this
    # process, also while a worker thread of the app under test is still using the keychain.
    with KEYCHAIN_CALLS:
        keyring.core.init_backend()
    yield secret_service
    # Only resets keyring's choice for the next test. Should gnome-keyring have died just now (the
    # upstream race the next test's setup restarts it for), the test that ran is not failed for it.
    with KEYCHAIN_CALLS, contextlib.suppress(RuntimeError):
        keyring.core.init_backend()


@pytest.fixture
def wormhole_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A real ``ots server`` (mailbox + transit relay) on free ports, stopped by PID afterwards."""
    server = start_ots_server(tmp_path)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def twisted_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """The one event loop of this test process, with Twisted's reactor installed on it.

    A reactor installs once per process, so this is session-wide. Stopping it at the end
    joins Twisted's threadpool; without that the process would never exit.
    """
    loop = runtime.installed_loop() or runtime.new_loop()
    runtime.install(loop)
    yield loop
    runtime.shutdown(loop)


@pytest.hookimpl(trylast=True)  # after pytest's own faulthandler set-up, which this replaces
def pytest_configure(config: pytest.Config) -> None:
    """With OTS_CRASH_LOG set (make pytest), a crash's stacks go to that file (tests/support/crash_log.py)."""
    redirect_crash_stacks()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Whatever installed the reactor, stop it so Twisted's threadpool cannot keep the run alive."""
    loop = runtime.installed_loop()
    if loop is not None and not loop.is_closed():
        runtime.shutdown(loop)


# ---------------------------------------------------------------- Redis (link relay store)
# Kept in one appended block (imports included) so it merges cleanly with other edits above.

from tests.support.redis_server import RedisServer, start_redis  # noqa: E402


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real ``redis-server`` on a private unix socket for the whole run, stopped by PID."""
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The store URL of an empty database 0 (flushed before and after each test)."""
    redis_server.flushdb()
    yield redis_server.url
    redis_server.flushdb()


@pytest.fixture(params=["sqlite", "redis"])
def relay_store(request: pytest.FixtureRequest) -> str:
    """The store a relay process gets: the test runs once with a SQLite file of the relay's own and once with
    the run's real redis-server (an emptied database)."""
    return "sqlite" if request.param == "sqlite" else str(request.getfixturevalue("redis_url"))


# ---------------------------------------------------------------- one loop per process
# Kept in one appended block so it merges cleanly with other edits above.


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse a run that mixes tests/ui with the others: each needs its own kind of event loop."""
    ui = Path(__file__).parent / "ui"
    kinds = {ui in Path(str(item.fspath)).parents for item in items}
    if len(kinds) > 1:
        raise pytest.UsageError("tests/ui runs in its own pytest process (a Twisted reactor binds one event loop "
                                "per process, and the desktop tests use the app's qasync loop): run "
                                "`pytest tests/ui` separately, or `make pytest` for both")
    # gnome-keyring 42 aborts when a client leaves with a property read pending (see pyproject's addopts).
    # Whatever a test then reports (its keychain call cut off, or a child ots process finding no Secret
    # Service at all and refusing keyring's plaintext fallback), it runs once more only if the daemon
    # really died during it; the keychain fixture has restarted it by then.
    for item in items:
        if "secret_service" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.flaky(reruns=1, only_rerun=[], condition=keyring_died_during_the_test))


# ---------------------------------------------------------------- Windows' rule for open files


@pytest.fixture(autouse=True)
def windows_open_files(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test runs under Windows' rule: no unlink or rename of a file this process still holds open.

    POSIX allows it, so without this a test passes here for code that fails on every Windows machine
    (tests/support/open_file_guard.py). A test that must break the rule on purpose is marked
    ``posix_open_files``.
    """
    if request.node.get_closest_marker("posix_open_files") is not None:
        yield
        return
    from tests.support import open_file_guard

    lift = open_file_guard.install()
    try:
        yield
    finally:
        lift()
