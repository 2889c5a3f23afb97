"""``ots server``: the self-hosted services, all in one process on one event loop.

Today that is the Magic Wormhole mailbox server and transit relay; the one-time
link relay joins later as one more entry in the list of started services.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ots_desktop.server.wormhole_services import prepare_data_dir, start_mailbox, start_transit_relay

STOP_TIMEOUT_S = 1.5
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerInfo:
    """Where the running server can be reached, as clients should be told."""

    mailbox_url: str
    transit_helper: str
    host: str
    mailbox_port: int
    transit_port: int
    data_dir: Path


class RunningService(Protocol):
    """Anything ``serve`` started and has to stop on the way out."""

    name: str

    async def stop(self) -> None:
        """Stop listening and release what the service holds."""


async def serve(host: str, port: int, transit_port: int, data_dir: Path,
                ready: Callable[[ServerInfo], None], *, motd: str | None = None) -> None:
    """Start every service, report them through ``ready``, then serve until stopped.

    Runs until the task is cancelled, or until SIGTERM or SIGINT arrives: those cancel
    the serving task, and ``serve`` then returns normally so the process exits 0.
    Ports may be 0 (the OS picks one); ``ready`` receives the ports actually bound.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    received: list[int] = []

    def on_signal(signum: int) -> None:
        # A second signal while stopping must not abort the cleanup half-way; stopping is bounded anyway.
        if not received:
            task.cancel()
        received.append(signum)

    installed = _install_signal_handlers(loop, on_signal)
    services: list[RunningService] = []
    try:
        data_dir = prepare_data_dir(data_dir)
        mailbox = await start_mailbox(host, port, data_dir, motd=motd)
        services.append(mailbox)
        transit = await start_transit_relay(host, transit_port)
        services.append(transit)
        ready(ServerInfo(mailbox_url=mailbox.url, transit_helper=transit.helper, host=host,
                         mailbox_port=mailbox.port, transit_port=transit.port, data_dir=data_dir))
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        if not received:
            raise
        # The cancellation was our own way of leaving on a signal: a normal end, not an error.
        task.uncancel()
    finally:
        await stop_all(services)
        for signum in installed:
            loop.remove_signal_handler(signum)


async def stop_all(services: list[RunningService], *, timeout: float = STOP_TIMEOUT_S) -> None:
    """Stop services in reverse start order; a failing or slow one does not keep the others running."""
    for service in reversed(services):
        try:
            async with asyncio.timeout(timeout):
                await service.stop()
        except TimeoutError:
            _log.warning("the %s service did not stop within %.1f s", service.name, timeout)
        except Exception:  # noqa: BLE001 - shutting down must go on
            _log.exception("error while stopping the %s service", service.name)


def _install_signal_handlers(loop: asyncio.AbstractEventLoop, handler: Callable[[int], None]) -> list[int]:
    installed: list[int] = []
    for signum in STOP_SIGNALS:
        try:
            loop.add_signal_handler(signum, handler, signum)
        except (NotImplementedError, RuntimeError, ValueError):
            # Windows loops and non-main threads have no loop signal handlers; Ctrl+C still
            # reaches run_main as KeyboardInterrupt there.
            continue
        installed.append(signum)
    return installed
