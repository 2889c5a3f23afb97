"""A missing optional package is one sentence naming the extra, never a ModuleNotFoundError."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ots_desktop import __version__, desktop
from ots_desktop.core import extras
from ots_desktop.core.errors import ExitCode


def test_a_missing_module_names_the_extra_and_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(extras.EXTRAS, "desktop", ("PySide6", "no_such_module_zz"))
    with pytest.raises(extras.MissingExtraError) as caught:
        extras.require_extra("desktop", "The desktop app")
    assert caught.value.message == ("The desktop app needs the desktop extra, and no_such_module_zz is not "
                                    "installed: pip install 'ots-desktop[desktop]'")
    assert caught.value.exit_code == ExitCode.CONFIG and caught.value.module == "no_such_module_zz"


def test_ots_desktop_without_the_extra_says_so_and_exits_5(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(extras.EXTRAS, "desktop", ("no_such_qt_zz",))
    assert desktop.main(["ots-desktop"]) == 5
    err = capsys.readouterr().err
    assert err == ("ots-desktop: The desktop app needs the desktop extra, and no_such_qt_zz is not installed: "
                   "pip install 'ots-desktop[desktop]'\n")


def test_version_needs_no_qt() -> None:
    probe = ("import sys; from ots_desktop.desktop import main; code = main(['ots-desktop', '--version']); "
             "print(any(m.startswith('PySide6') for m in sys.modules)); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout == f"ots-desktop {__version__}\nFalse\n"
    assert __version__ == "0.1.0"  # read from the installed metadata: pyproject.toml's one version string
