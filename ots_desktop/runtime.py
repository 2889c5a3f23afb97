"""One event loop for everything: Twisted (magic-wormhole) runs on the asyncio loop.

The GUI builds a qasync loop in ``ui/`` and passes it here; the CLI and the server
get a plain selector loop from :func:`new_loop`. Order matters: the reactor must be
installed on the loop before anything imports ``twisted.internet.reactor``, and it
can be installed once per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ots_desktop.core.errors import OtsError

T = TypeVar("T")
_installed_on: asyncio.AbstractEventLoop | None = None
SHUTDOWN_GRACE_S = 2.0


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


def _hard_exit(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def run_main(main: Callable[[], Awaitable[T]]) -> T:
    """Run ``main()`` on a fresh selector loop with the reactor installed, then shut down.

    For the CLI and the server. ``KeyboardInterrupt`` cancels ``main`` and propagates.
    """
    loop = new_loop()
    install(loop)
    task = loop.create_task(_as_coroutine(main))
    code = 1
    try:
        result = loop.run_until_complete(task)
        code = result if isinstance(result, int) else 0
        return result
    except KeyboardInterrupt:
        task.cancel()
        # The interrupt is what matters, not how the cancelled task ended.
        with contextlib.suppress(asyncio.CancelledError, Exception):
            loop.run_until_complete(task)
        code = 130
        raise
    except OtsError as exc:
        code = int(exc.exit_code)
        raise
    finally:
        shutdown(loop, exit_code=code)


async def _as_coroutine(main: Callable[[], Awaitable[T]]) -> T:
    return await main()
