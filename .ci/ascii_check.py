"""Fails when a Python source file holds non-ASCII characters outside comments and strings.

Homoglyphs and bidirectional control characters in code are a known supply-chain trick.
"""

from __future__ import annotations

import io
import sys
import tokenize
from pathlib import Path


def bad_tokens(path: Path) -> list[str]:
    problems = []
    with path.open("rb") as handle:
        for tok in tokenize.tokenize(handle.readline):
            if tok.type in (tokenize.COMMENT, tokenize.STRING, tokenize.ENCODING):
                continue
            if not tok.string.isascii():
                problems.append(f"{path}:{tok.start[0]}: non-ASCII token {tok.string!r}")
    text = path.read_text("utf-8")
    for number, line in enumerate(io.StringIO(text), 1):
        if any(ch in line for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"):
            problems.append(f"{path}:{number}: bidirectional control character")
    return problems


def main(roots: list[str]) -> int:
    problems = [p for root in roots for path in sorted(Path(root).rglob("*.py")) for p in bad_tokens(path)]
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
