"""A private D-Bus session bus for tests, started and stopped by PID.

It has no service directories, so nothing is D-Bus-activated on it: only what a test
starts itself answers there.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.support.processes import Service

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def start_session_bus(root: Path) -> tuple[Service, str]:
    """A private session bus under ``root`` (no service directories: nothing is activated)."""
    if shutil.which("dbus-daemon") is None:
        raise RuntimeError("dbus-daemon is not installed; run `make system-deps`")
    runtime = root / "run"
    runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
    socket = runtime / "bus"
    config = root / "bus.conf"
    config.write_text(_BUS_CONFIG.format(socket=socket), "utf-8")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "XDG_RUNTIME_DIR": str(runtime)}
    bus = Service("dbus-daemon", ["dbus-daemon", f"--config-file={config}", "--nofork", "--nosyslog",
                                  "--print-address=1"], env=env, log_dir=root)
    assert bus.proc.stdout is not None
    address = bus.proc.stdout.readline().decode().strip()
    if not address:
        bus.stop()
        raise RuntimeError(f"dbus-daemon did not start: {bus.log_text()}")
    return bus, address
