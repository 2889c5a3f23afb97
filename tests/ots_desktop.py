"""The test suite as Briefcase's test mode runs it: ``briefcase dev --test`` or ``briefcase run --test``.

Briefcase starts ``python -m tests.ots_desktop`` (``tests.`` + the app's module name) and reads its
output until the ``>>>>>>>>>> EXIT n <<<<<<<<<<`` line. Like ``make pytest``, the suite runs in two
pytest processes: the unit, integration and browser tests on Qt's offscreen platform, then the
desktop tests, which start their own X server and bind Twisted's reactor to the app's loop.

Arguments after ``--`` (``briefcase dev --test -- tests/unit -k audit``) are passed to pytest
instead, in a single process; paths are relative to the directory holding ``tests/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pytest(args: list[str], env: dict[str, str]) -> int:
    command = [sys.executable, "-m", "pytest", f"--rootdir={ROOT}", *args]
    print("$", " ".join(command[2:]), flush=True)
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


def run(args: list[str]) -> int:
    """Run the given pytest arguments, or the whole suite in its two processes; returns the exit code."""
    offscreen = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    if args:
        is_ui = any(Path(arg).parts[:2] == ("tests", "ui") for arg in args if not arg.startswith("-"))
        return _pytest(args, dict(os.environ) if is_ui else offscreen)
    first = _pytest([], offscreen)  # testpaths in pyproject.toml: unit, integration, browser
    second = _pytest(["tests/ui"], dict(os.environ))
    return first or second


if __name__ == "__main__":
    code = run(sys.argv[1:])
    print(f">>>>>>>>>> EXIT {code} <<<<<<<<<<", flush=True)
    sys.exit(code)
