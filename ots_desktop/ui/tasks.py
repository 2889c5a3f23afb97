"""Run coroutines from Qt slots, and turn what they raise into words for a banner.

Every background job of the window goes through :class:`TaskRunner`, which keeps a
reference (asyncio only keeps weak ones), reports failures through ``on_error`` as
readable text, and cancels whatever is left at quit. No traceback reaches the user.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from ots_desktop.core.errors import OtsError

_log = logging.getLogger(__name__)


def describe_error(exc: BaseException) -> str:
    """A sentence for people. Our own errors already are one; anything else is a bug."""
    if isinstance(exc, OtsError):
        return str(exc)
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return "The operation timed out."
    if isinstance(exc, PermissionError):
        return f"Permission denied: {exc.filename or 'a file'}."
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else f"{exc.strerror}."
    return "Something went wrong inside ots-desktop; the details are in the application log."


class TaskRunner:
    """Starts coroutines on the running loop and reports their failures."""

    def __init__(self, on_error: Callable[[str], None]) -> None:
        self._on_error = on_error
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(self, coro: Coroutine[Any, Any, Any], *, on_error: Callable[[str], None] | None = None,
              ) -> asyncio.Task[Any]:
        """Run ``coro``; an exception goes to ``on_error`` (or the runner's) as text."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        report = on_error or self._on_error

        def done(finished: asyncio.Task[Any]) -> None:
            self._tasks.discard(finished)
            if finished.cancelled():
                return
            exc = finished.exception()
            if exc is None:
                return
            if not isinstance(exc, OtsError):
                _log.error("background task failed", exc_info=exc)
            report(describe_error(exc))

        task.add_done_callback(done)
        return task

    @property
    def busy(self) -> bool:
        """Whether any job is still running."""
        return bool(self._tasks)

    def cancel_all(self) -> None:
        """Cancel every running job (at quit)."""
        for task in list(self._tasks):
            task.cancel()
