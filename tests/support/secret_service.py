"""A real Secret Service for tests: a private dbus-daemon plus gnome-keyring-daemon.

Nothing is mocked: keyring talks to gnome-keyring over D-Bus exactly as on a desktop.

The bus has no service directories, so nothing is D-Bus-activated: a probe sent to
``org.freedesktop.secrets`` before our daemon owns the name would otherwise start a second,
password-less gnome-keyring from the system's service file, and on a slow machine that one
wins the name, has no collection, and every keychain call waits for a prompt nobody answers.
Readiness is therefore ``NameHasOwner`` on the bus itself, and the default collection is
created explicitly through gnome-keyring's master-password interface.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from jeepney import DBusAddress, new_method_call
from jeepney.io.blocking import DBusConnection, open_dbus_connection

from tests.support.dbus_session import start_session_bus
from tests.support.processes import Service, wait_until

_SERVICE = DBusAddress("/org/freedesktop/secrets", bus_name="org.freedesktop.secrets",
                       interface="org.freedesktop.Secret.Service")
_MASTER = _SERVICE.with_interface("org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface")
_BUS = DBusAddress("/org/freedesktop/DBus", bus_name="org.freedesktop.DBus", interface="org.freedesktop.DBus")
_PROPERTIES = "org.freedesktop.DBus.Properties"
_COLLECTION = "org.freedesktop.Secret.Collection"


@dataclass
class SecretServiceSession:
    """The running pair and the environment that reaches it."""

    address: str
    data_home: Path
    bus: Service
    daemon: Service
    root: Path
    restarts: int = 0

    def stop(self) -> None:
        """Stop both processes by PID."""
        self.daemon.stop()
        self.bus.stop()

    def ensure_running(self) -> bool:
        """Start a fresh gnome-keyring on the same bus if the last one died; True if it had to.

        Under load gnome-keyring has been seen to abort on a GLib assertion while answering a
        property read ("gkd_secret_service_get_pkcs11_session: assertion 'client' failed").
        One such crash must not turn every later keychain test into an error; the test that
        was running when it happened still fails, and the run reports the restart.
        """
        if self.daemon.alive():
            return False
        self.daemon.stop()
        self.restarts += 1
        self.daemon, self.data_home = _start_keyring(self.root, self.address, generation=self.restarts)
        return True


def start_secret_service(root: Path) -> SecretServiceSession:
    """Start dbus-daemon and an unlocked gnome-keyring under ``root``."""
    if shutil.which("gnome-keyring-daemon") is None:
        raise RuntimeError("gnome-keyring-daemon is not installed; run `make system-deps`")
    bus, address = start_session_bus(root)
    try:
        daemon, data_home = _start_keyring(root, address, generation=0)
    except BaseException:
        bus.stop()
        raise
    return SecretServiceSession(address=address, data_home=data_home, bus=bus, daemon=daemon, root=root)


def start_keyring(root: Path, address: str) -> Service:
    """An unlocked gnome-keyring on a bus the caller started (say, the one the accessibility bus is on)."""
    if shutil.which("gnome-keyring-daemon") is None:
        raise RuntimeError("gnome-keyring-daemon is not installed; run `make system-deps`")
    return _start_keyring(root, address, generation=0)[0]


def _start_keyring(root: Path, address: str, *, generation: int) -> tuple[Service, Path]:
    """gnome-keyring-daemon on the bus at ``address``, owning the name, with an unlocked default collection.

    Each ``generation`` gets a fresh data directory: a restarted daemon would find the
    previous keyring locked.
    """
    suffix = f"-{generation}" if generation else ""
    data_home = root / f"data{suffix}"
    for d in (data_home, root / "home"):
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root / "home"),
           "XDG_RUNTIME_DIR": str(root / "run"), "XDG_DATA_HOME": str(data_home),
           "DBUS_SESSION_BUS_ADDRESS": address}
    daemon = Service(f"gnome-keyring{suffix}", ["gnome-keyring-daemon", "--foreground", "--components=secrets"],
                     env=env, stdin=subprocess.DEVNULL, log_dir=root)

    def answers() -> bool:
        if not daemon.alive():
            raise RuntimeError(f"gnome-keyring-daemon exited: {daemon.log_text()}")
        with open_dbus_connection(bus=address) as conn:
            (owned,) = _call(conn, _BUS, "NameHasOwner", "s", ("org.freedesktop.secrets",))
        return bool(owned)

    try:
        wait_until(answers, timeout=30, what="gnome-keyring to own org.freedesktop.secrets", interval=0.05)
        make_default_collection(address)
    except BaseException:
        daemon.stop()
        raise
    return daemon, data_home


def _call(conn: DBusConnection, target: DBusAddress, method: str, signature: str, body: tuple[object, ...]
          ) -> tuple[object, ...]:
    reply = conn.send_and_get_reply(new_method_call(target, method, signature, body), timeout=10)
    result: tuple[object, ...] = reply.body
    return result


def make_default_collection(address: str) -> None:
    """Create an unlocked collection without a prompt and make it the ``default`` alias."""
    with open_dbus_connection(bus=address) as conn:
        _, session = _call(conn, _SERVICE, "OpenSession", "sv", ("plain", ("s", "")))
        label = {"org.freedesktop.Secret.Collection.Label": ("s", "ots-tests")}
        (path,) = _call(conn, _MASTER, "CreateWithMasterPassword", "a{sv}(oayays)",
                        (label, (session, b"", b"test-keyring-password", "text/plain")))
        _call(conn, _SERVICE, "SetAlias", "so", ("default", path))
        (alias,) = _call(conn, _SERVICE, "ReadAlias", "s", ("default",))
        collection = DBusAddress(str(path), bus_name="org.freedesktop.secrets", interface=_PROPERTIES)
        ((_, locked),) = _call(conn, collection, "Get", "ss", (_COLLECTION, "Locked"))
        if alias != path or locked:
            raise RuntimeError(f"gnome-keyring did not set up an unlocked default collection ({alias}, {locked=})")
