"""Print a crashed test run's stacks, the crashed thread's first (see tests/support/crash_log.py).

faulthandler writes every thread's stack, the crashed one ("Current thread") last, then the
list of extension modules. This prints the error line and the crashed thread, then the other
threads, so that the part that matters comes first in what is shown at the end of the run.
Usage: last_stack.py LOG (prints nothing when the log is missing or empty).
"""

from __future__ import annotations

import sys
from pathlib import Path

OTHERS_MAX = 400  # lines of the other threads' stacks


def reorder(text: str) -> list[str]:
    """The error line and the crashed thread's stack, then the rest of the dump (empty: none)."""
    lines = [line for line in text.splitlines() if not line.startswith("Extension modules:")]
    fatal = [line for line in lines if line.startswith("Fatal Python error")]
    starts = [i for i, line in enumerate(lines) if line.startswith("Current thread ")]
    if not starts:
        return lines
    end = starts[-1]
    while end < len(lines) and lines[end].strip():
        end += 1
    crashed = lines[starts[-1]:end]
    others = [line for line in lines[:starts[-1]] + lines[end:] if line not in fatal and line.strip()]
    return fatal[-1:] + crashed + (["", "Other threads:", *others[:OTHERS_MAX]] if others else [])


def main() -> int:
    path = Path(sys.argv[1])
    text = path.read_text(errors="replace") if path.exists() else ""
    if text.strip():
        print(f"\n--- the test process crashed; its stacks, the crashed thread first ({path}) ---")
        print("\n".join(reorder(text)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
