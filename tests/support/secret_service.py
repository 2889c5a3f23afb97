"""A real Secret Service for tests: a private dbus-daemon plus gnome-keyring-daemon.

Nothing is mocked: keyring talks to gnome-keyring over D-Bus exactly as on a desktop.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import Service, wait_until


@dataclass
class SecretServiceSession:
    """The running pair and the environment that reaches it."""

    address: str
    data_home: Path
    bus: Service
    daemon: Service

    def stop(self) -> None:
        """Stop both processes by PID."""
        self.daemon.stop()
        self.bus.stop()


def start_secret_service(root: Path) -> SecretServiceSession:
    """Start dbus-daemon and an unlocked gnome-keyring under ``root``."""
    for tool in ("dbus-daemon", "gnome-keyring-daemon"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed; run `make system-deps`")
    runtime = root / "run"
    data_home = root / "data"
    for d in (runtime, data_home, root / "home"):
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root / "home"),
           "XDG_RUNTIME_DIR": str(runtime), "XDG_DATA_HOME": str(data_home)}
    socket = runtime / "bus"
    bus = Service("dbus-daemon", ["dbus-daemon", "--session", f"--address=unix:path={socket}", "--nofork",
                                  "--nosyslog", "--print-address=1"], env=env, log_dir=root)
    assert bus.proc.stdout is not None
    address = bus.proc.stdout.readline().decode().strip()
    if not address:
        bus.stop()
        raise RuntimeError(f"dbus-daemon did not start: {bus.log_text()}")
    env["DBUS_SESSION_BUS_ADDRESS"] = address
    daemon = Service("gnome-keyring", ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
                     env=env, stdin=subprocess.PIPE, log_dir=root)
    assert daemon.proc.stdin is not None
    daemon.proc.stdin.write(b"test-keyring-password")
    daemon.proc.stdin.close()
    session = SecretServiceSession(address=address, data_home=data_home, bus=bus, daemon=daemon)

    def answers() -> bool:
        if not daemon.alive():
            raise RuntimeError(f"gnome-keyring-daemon exited: {daemon.log_text()}")
        probe = subprocess.run(
            ["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.secrets",
             "/org/freedesktop/secrets", "org.freedesktop.DBus.Peer.Ping"],
            env=env, capture_output=True, timeout=10, check=False)
        return probe.returncode == 0

    try:
        wait_until(answers, timeout=30, what="gnome-keyring's Secret Service on D-Bus")
    except BaseException:
        session.stop()
        raise
    return session
