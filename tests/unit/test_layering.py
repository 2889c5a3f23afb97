"""The core loads without Qt, networking frameworks or an event loop."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import importlib, pkgutil, sys
import ots_desktop.core
for info in pkgutil.walk_packages(ots_desktop.core.__path__, "ots_desktop.core."):
    importlib.import_module(info.name)
banned = ("PySide6", "shiboken6", "qasync", "twisted", "wormhole", "aiohttp")
print(sorted({m.split(".")[0] for m in sys.modules if m.split(".")[0] in banned}))
print(sorted(m for m in sys.modules if m.startswith("ots_desktop.") and not m.startswith("ots_desktop.core")))
"""


def test_core_imports_no_qt_and_no_other_layer() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["[]", "[]"]


def test_cli_imports_no_qt() -> None:
    probe = "import sys, ots_desktop.cli.main; print(any(m.startswith('PySide6') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
