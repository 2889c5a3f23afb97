from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import resource
from ots_desktop.core.hardening import harden_process, is_dumpable
before = is_dumpable()
report = harden_process()
print(before, report.core_dumps_disabled, report.not_dumpable, resource.getrlimit(resource.RLIMIT_CORE), is_dumpable())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux only")
def test_harden_process_turns_off_core_dumps() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "True", "True", "(0,", "0)", "False"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux only")
def test_cli_hardens_itself_before_running_a_command() -> None:
    probe = ("import sys; sys.argv = ['ots', '--version']\n"
             "from ots_desktop.cli.main import main\n"
             "from ots_desktop.core.hardening import is_dumpable\n"
             "try:\n    main()\n"
             "except SystemExit:\n    pass\n"
             "print('dumpable', is_dumpable())\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "ots, version" in out
    assert out.strip().endswith("dumpable False")
