"""Print again the crashed thread's stack from a test run's log, so that it ends the output.

faulthandler prints every thread on a crash, the crashed one ("Current thread") last of all
but the extension list; a CI page that shows only the head and tail of a long log then hides it.
Usage: last_stack.py LOG (prints nothing when the log has no such stack).
"""

from __future__ import annotations

import sys
from pathlib import Path


def crashed_stack(text: str) -> list[str]:
    """The lines of the last "Current thread" block in ``text`` (empty when there is none)."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Current thread ")]
    if not starts:
        return []
    block: list[str] = []
    for line in lines[starts[-1]:]:
        if block and not line.strip():
            break
        block.append(line)
    fatal = [line[line.index("Fatal Python error"):] for line in lines if "Fatal Python error" in line]
    return fatal[-1:] + block


def main() -> int:
    path = Path(sys.argv[1])
    stack = crashed_stack(path.read_text(errors="replace")) if path.exists() else []
    if stack:
        print(f"\n--- the crashed thread, again (full log: {path}) ---")
        print("\n".join(stack[:60]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
