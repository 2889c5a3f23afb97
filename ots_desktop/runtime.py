"""One event loop for everything: Twisted (magic-wormhole) runs on the asyncio loop.

The GUI builds a qasync loop in ``ui/`` and passes it here; the CLI and the server
get a plain selector loop from :func:`new_loop`. Order matters: the reactor must be
installed on the loop before anything imports ``twisted.internet.reactor``, and it
can be installed once per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
import warnings
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from ots_desktop.core.errors import OtsError

T = TypeVar("T")
_installed_on: asyncio.AbstractEventLoop | None = None
SHUTDOWN_GRACE_S = 2.0
# After Ctrl+C, how long the cancelled command may take to tidy up (tell the other side, close the
# wormhole within its own 5 s, record the cancel) before the process ends regardless.
CANCEL_GRACE_S = 10.0
WAKE_PERIOD_S = 0.25


class RuntimeSetupError(RuntimeError):
    """The reactor is already bound to another loop (a programming error)."""


def new_loop() -> asyncio.AbstractEventLoop:
    """A selector loop; Twisted refuses the proactor loop Windows would pick by default."""
    return asyncio.SelectorEventLoop()


def install(loop: asyncio.AbstractEventLoop) -> Any:
    """Install Twisted's asyncio reactor on ``loop`` and start it; returns the reactor.

    Calling it again with the same loop returns the same reactor.
    """
    global _installed_on  # noqa: PLW0603 - a reactor is a process-wide singleton by design
    if _installed_on is not None:
        if _installed_on is not loop:
            raise RuntimeSetupError("the Twisted reactor is already installed on another event loop")
        from twisted.internet import reactor

        return reactor
    if "twisted.internet.reactor" in sys.modules:
        raise RuntimeSetupError("twisted.internet.reactor was imported before the runtime installed it")
    asyncio.set_event_loop(loop)
    from twisted.internet import asyncioreactor

    asyncioreactor.install(loop)
    from twisted.internet import reactor

    # Without startRunning nothing scheduled on the reactor ever runs; signal handlers
    # belong to the loop's owner (the CLI or Qt), not to Twisted.
    reactor.startRunning(installSignalHandlers=False)
    _installed_on = loop
    return reactor


def installed_loop() -> asyncio.AbstractEventLoop | None:
    """The loop the reactor runs on, if installed."""
    return _installed_on


def to_future(deferred: Any) -> asyncio.Future[Any]:
    """Await a Twisted Deferred from asyncio code; cancelling the future cancels it."""
    loop = _installed_on or asyncio.get_event_loop()
    future: asyncio.Future[Any] = deferred.asFuture(loop)
    return future


async def within(awaitable: Awaitable[T], timeout_s: float) -> T:
    """``await awaitable``, raising TimeoutError after ``timeout_s`` seconds.

    Not ``asyncio.wait_for``: on Python 3.11 it returns the result instead of raising when the task is
    cancelled in the few loop turns after the awaited result landed, and the cancel is lost (a card's
    Cancel pressed as the peer's message arrived did nothing; tests/unit/test_runtime_within.py).
    """
    async with asyncio.timeout(timeout_s):
        return await awaitable


def shutdown(loop: asyncio.AbstractEventLoop, *, grace_s: float = SHUTDOWN_GRACE_S,
             exit_code: int | None = None) -> None:
    """Stop the reactor and let its shutdown triggers run, within ``grace_s`` seconds.

    Twisted joins its threadpool on shutdown; a DNS lookup stuck in that pool would
    hang the process. When ``exit_code`` is given, a watchdog ends the process with it
    if the shutdown overruns, so a finished command always exits promptly.
    """
    from twisted.internet import reactor as _reactor

    reactor: Any = _reactor
    watchdog: threading.Timer | None = None
    if exit_code is not None:
        watchdog = threading.Timer(grace_s, _hard_exit, args=(exit_code,))
        watchdog.daemon = True
        watchdog.start()
    try:
        if reactor.running:
            reactor.stop()
            guard = loop.call_later(grace_s, loop.stop)
            loop.run_forever()
            guard.cancel()
    finally:
        if watchdog is not None:
            watchdog.cancel()


def _cancel_overran(grace_s: float) -> None:
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(f"ots: cancelled; stopped waiting for the clean-up after {grace_s:g} s (the keychain or "
                         "the network did not answer), so the cancel may be missing from the audit log\n")
    _hard_exit(130)


def _hard_exit(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def quiet_library_errors() -> None:
    """Errors that Twisted or a protocol library reports from inside the reactor go to a debug log.

    Before any Twisted log observer starts, Twisted prints such a report (with its traceback) on
    stderr: autobahn failing on a frame that arrived while Ctrl+C closed the mailbox connection showed
    a traceback under "ots: cancelled". The outcome the person needs is reported by ots itself.
    Not for ``ots server``, whose log keeps them.
    """
    global _library_quiet  # noqa: PLW0603 - Twisted's log beginner is process-wide and starts once
    if _library_quiet:
        return
    _library_quiet = True
    from twisted.logger import globalLogBeginner

    log = logging.getLogger("ots_desktop.library")

    def observe(event: dict[str, Any]) -> None:
        failure = event.get("log_failure")
        if failure is not None:
            log.debug("library error: %s: %s", failure.type.__name__, failure.getErrorMessage())

    observer: Any = observe  # Twisted takes any callable as an observer
    showwarning = warnings.showwarning
    globalLogBeginner.beginLoggingTo([observer], discardBuffer=True, redirectStandardIO=False)
    warnings.showwarning = showwarning  # Python's warnings stay where they were, not in Twisted's log


_library_quiet = False


def run_main(main: Callable[[], Awaitable[T]], *, quiet_library: bool = True,
             cancel_grace_s: float = CANCEL_GRACE_S) -> T:
    """Run ``main()`` on a fresh selector loop with the reactor installed, then shut down.

    For the CLI and the server (which keeps library errors: ``quiet_library=False``).
    Ctrl+C cancels ``main`` at its next ``await`` (see :class:`_Interrupt`), and then
    ``KeyboardInterrupt`` propagates. Should the cancelled ``main`` not finish within
    ``cancel_grace_s`` (a keychain that stopped answering blocks the audit append that
    records the cancel), the process ends with 130 and says so.
    """
    loop = new_loop()
    install(loop)
    if quiet_library:
        quiet_library_errors()
    wake_for_signals(loop)
    task = loop.create_task(_as_coroutine(main))
    interrupt = _Interrupt(loop, task, cancel_grace_s)
    code = 1
    try:
        with interrupt.installed():
            try:
                result = loop.run_until_complete(task)
            except asyncio.CancelledError:
                if not interrupt.seen:
                    raise
                raise KeyboardInterrupt from None
            except KeyboardInterrupt:
                # Raised inside the loop's own code (no handler of ours, or not the main thread).
                if not task.done():
                    interrupt.cancel()
                    # The interrupt is what matters, not how the cancelled task ended.
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        loop.run_until_complete(task)
                raise
        code = result if isinstance(result, int) else 0
        return result
    except KeyboardInterrupt:
        code = 130
        raise
    except OtsError as exc:
        code = int(exc.exit_code)
        raise
    finally:
        shutdown(loop, exit_code=code)


class _Interrupt:
    """Ctrl+C as a cancel of the main task, with a deadline for its clean-up.

    Python's own handler raises ``KeyboardInterrupt`` at whatever bytecode the main thread is
    running. Landing inside the task's code, it skipped every ``except CancelledError`` (the
    other side was never told, the cancel never recorded), and ``run_until_complete`` on the
    task it had ended never returned: asyncio does not stop the loop for a task that ended with
    ``KeyboardInterrupt``. Here the handler only asks the loop to cancel the task, so the cancel
    arrives at an ``await``, and starts the clean-up's deadline. A second Ctrl+C ends at once.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any], grace_s: float) -> None:
        self.loop, self.task, self.grace_s = loop, task, grace_s
        self.seen = False
        self._watchdog: threading.Timer | None = None

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Handle SIGINT while the loop runs (only the main thread may set a handler)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGINT, self._on_signal)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)
            if self._watchdog is not None:
                self._watchdog.cancel()

    def _on_signal(self, _signum: int, _frame: object) -> None:
        if self.seen:
            _hard_exit(130)  # a second Ctrl+C: no more waiting
        self.seen = True
        self._start_deadline()  # now: the loop's thread may be stuck in a keychain call
        self.loop.call_soon_threadsafe(self.task.cancel)

    def cancel(self) -> None:
        """Cancel the task and start the clean-up's deadline."""
        self.seen = True
        self._start_deadline()
        self.task.cancel()

    def _start_deadline(self) -> None:
        if self._watchdog is None:
            self._watchdog = threading.Timer(self.grace_s, _cancel_overran, args=(self.grace_s,))
            self._watchdog.daemon = True
            self._watchdog.start()


def wake_for_signals(loop: asyncio.AbstractEventLoop, *, platform: str = sys.platform,
                     period_s: float = WAKE_PERIOD_S) -> Callable[[], None] | None:
    """On Windows, wake the selector loop every ``period_s`` so that Ctrl+C and Ctrl+Break are seen.

    Python runs signal handlers only between bytecodes of the main thread. POSIX loops wake from
    ``select()`` through the signal's wakeup fd; a Windows selector loop (Twisted's reactor needs one)
    sleeps in ``select()`` until a socket is ready, so ``ots send`` waiting for the other side would
    ignore Ctrl+C. Returns what stops the wake-ups, or None where none are needed.
    """
    if platform != "win32":
        return None
    handle: list[asyncio.TimerHandle] = []

    def tick() -> None:
        handle[:] = [loop.call_later(period_s, tick)]

    tick()

    def stop() -> None:
        handle[0].cancel()

    return stop


async def _as_coroutine(main: Callable[[], Awaitable[T]]) -> T:
    return await main()
