"""Running ``ots`` as a real process, the way scripts and CI use it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

OTS = [sys.executable, "-m", "ots_desktop.cli"]


def run_ots(*args: str, stdin: bytes | None = None, env: Mapping[str, str] | None = None,
            drop: tuple[str, ...] = (), pass_fds: tuple[int, ...] = (),
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``ots ARGS`` with this test's environment (plus ``env``, minus ``drop``)."""
    full = {k: v for k, v in os.environ.items() if k not in drop}
    full.update(env or {})
    raw = subprocess.run([*OTS, *args], input=stdin if stdin is not None else b"", capture_output=True,
                         env=full, timeout=timeout, pass_fds=pass_fds, check=False)
    return subprocess.CompletedProcess(raw.args, raw.returncode, raw.stdout.decode("utf-8", "replace"),
                                       raw.stderr.decode("utf-8", "replace"))


def json_lines(text: str) -> list[dict[str, Any]]:
    """Parse the one-object-per-line output of ``--json``."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]
