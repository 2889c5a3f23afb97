"""Where faulthandler writes when the test process crashes, for ``make pytest``.

With ``OTS_CRASH_LOG`` set, a crash's stacks (every thread, the crashed one last) go to that
file instead of stderr, and make prints them at the end of the run's output with the crashed
thread first (``.ci/last_stack.py``). A CI page that shows the head and the tail of a long log
then shows them; in the middle of the output they were cut off. Output is not piped through
``tee`` for this: servers a crashed run could not stop would hold such a pipe open.
"""

from __future__ import annotations

import faulthandler
import os
from typing import IO

_open: list[IO[str]] = []  # kept open for the life of the process


def redirect_crash_stacks() -> None:
    """Send faulthandler's output to ``$OTS_CRASH_LOG`` (emptied first), if that is set."""
    path = os.environ.pop("OTS_CRASH_LOG", None)  # not for the processes the tests start
    if not path:
        return
    log = open(path, "w", encoding="utf-8")  # open for as long as the process runs
    _open.append(log)
    faulthandler.enable(file=log, all_threads=True)
