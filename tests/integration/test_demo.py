"""`ots demo` runs end to end on the real keychain and cleans up after itself."""

from __future__ import annotations

import pytest

from tests.conftest import Home
from tests.support.cli import json_lines, run_ots

pytestmark = pytest.mark.usefixtures("keychain")


def test_demo_runs_every_step_and_removes_its_home(isolated_home: Home) -> None:
    tmp = isolated_home.root / "tmp"
    tmp.mkdir()
    result = run_ots("demo", env={"TMPDIR": str(tmp)})
    assert result.returncode == 0, result.stderr
    for step in range(1, 7):
        assert f"[{step}]" in result.stdout
    assert "identical" in result.stdout
    assert "refused (the envelope is damaged" in result.stdout
    assert "NOT refused" not in result.stdout
    assert result.stdout.count("intact") == 2
    assert list(tmp.iterdir()) == []


def test_demo_keep_leaves_a_verifiable_home(isolated_home: Home) -> None:
    tmp = isolated_home.root / "tmp"
    tmp.mkdir()
    result = run_ots("demo", "--keep", "--json", env={"TMPDIR": str(tmp)})
    assert result.returncode == 0, result.stderr
    lines = json_lines(result.stdout)
    assert [line["step"] for line in lines[:-1]] == [1, 2, 3, 4, 5, 6]
    (home,) = tmp.iterdir()
    assert lines[-1]["event"] == "done" and lines[-1]["home"] == str(home)
    verify = run_ots("audit", "verify", env={"OTS_HOME": str(home)})
    assert verify.returncode == 0, verify.stderr
