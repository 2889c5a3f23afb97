"""The Windows and macOS CI jobs' round-trip script (packaging/platform_smoke.py), run here on Linux.

It is the only check those jobs run that does not come from this suite, so it is held to pass here first,
against the real keychain (gnome-keyring) and a real ``ots server``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("keychain")

SCRIPT = Path(__file__).resolve().parents[2] / "packaging" / "platform_smoke.py"


def test_the_platform_smoke_script_passes_every_step(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), "--size-mb", "3", "--work", str(tmp_path / "work")],
                            env=dict(os.environ), capture_output=True, timeout=240, check=False)
    out = result.stdout.decode()
    assert result.returncode == 0, out + result.stderr.decode()[-3000:]
    for step in ("text by code keeps CRLF", "3000000 bytes by code", "folder by code", "3000000 bytes by link",
                 "audit log of alice intact", "audit log of bob intact", "every step passed"):
        assert step in out, out
    assert "FAIL" not in out
