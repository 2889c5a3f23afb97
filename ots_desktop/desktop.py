"""``ots-desktop``: check that the desktop extra is installed, then start the app.

Qt-free, so a base install (the CLI and the relay) answers ``ots-desktop`` with a sentence
naming the extra instead of a ModuleNotFoundError.
"""

from __future__ import annotations

import sys

from ots_desktop import __version__
from ots_desktop.core.errors import OtsError
from ots_desktop.core.extras import require_extra


def main(argv: list[str] | None = None) -> int:
    """The ``ots-desktop`` entry point (and ``python -m ots_desktop``)."""
    args = sys.argv[1:] if argv is None else argv[1:]
    if args == ["--version"]:
        print(f"ots-desktop {__version__}")
        return 0
    try:
        require_extra("desktop", "The desktop app")
    except OtsError as exc:
        print(f"ots-desktop: {exc.message}", file=sys.stderr)
        return int(exc.exit_code)
    from ots_desktop.ui.app import main as start_app

    return start_app(argv)
