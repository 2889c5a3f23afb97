"""``ots server``: the self-hosted services, all in one process on one event loop.

The Magic Wormhole mailbox server and transit relay, and the one-time link relay. Either
part can be left out: scaled-out relay processes run with the wormhole part off.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import ssl
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from ots_desktop.server.link_api import RelaySettings
from ots_desktop.server.wormhole_services import prepare_data_dir, start_mailbox, start_transit_relay

STOP_TIMEOUT_S = 1.5
# SIGBREAK: Ctrl+Break in a Windows console, and what a console's close sends before it ends the process.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, *((signal.SIGBREAK,) if hasattr(signal, "SIGBREAK") else ()))

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerInfo:
    """Where the running server can be reached, as clients should be told (None: not running)."""

    host: str
    data_dir: Path
    mailbox_url: str | None = None
    transit_helper: str | None = None
    mailbox_port: int | None = None
    transit_port: int | None = None
    link_url: str | None = None
    link_port: int | None = None
    public_url: str | None = None
    store: str | None = None


@dataclass(frozen=True)
class LinkOptions:
    """How to run the link relay (None: do not run it)."""

    port: int
    store_url: str
    settings: RelaySettings
    reuse_port: bool = False
    ssl_context: ssl.SSLContext | None = None


class RunningService(Protocol):
    """Anything ``serve`` started and has to stop on the way out."""

    name: str

    async def stop(self) -> None:
        """Stop listening and release what the service holds."""


async def serve(host: str, port: int | None, transit_port: int, data_dir: Path,
                ready: Callable[[ServerInfo], None], *, motd: str | None = None,
                link: LinkOptions | None = None) -> None:
    """Start every service, report them through ``ready``, then serve until stopped.

    Runs until the task is cancelled, or until SIGTERM or SIGINT arrives: those cancel
    the serving task, and ``serve`` then returns normally so the process exits 0.
    Ports may be 0 (the OS picks one); ``ready`` receives the ports actually bound.
    ``port`` None leaves the wormhole mailbox and transit relay out.
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
    countries = link.settings.countries if link is not None else None
    if countries is not None and hasattr(signal, "SIGHUP"):
        # SIGHUP reads the country database again (after the operator replaced it).
        def reload_countries(_signum: int) -> None:
            countries.reload()

        installed += _install_signal_handlers(loop, reload_countries, (signal.SIGHUP,))
    services: list[RunningService] = []
    try:
        data_dir = prepare_data_dir(data_dir)
        info = ServerInfo(host=host, data_dir=data_dir)
        if port is not None:
            mailbox = await start_mailbox(host, port, data_dir, motd=motd)
            services.append(mailbox)
            transit = await start_transit_relay(host, transit_port)
            services.append(transit)
            info = replace(info, mailbox_url=mailbox.url, transit_helper=transit.helper, mailbox_port=mailbox.port,
                           transit_port=transit.port)
        if link is not None:
            from ots_desktop.server.link_service import start_link_relay

            relay = await start_link_relay(host, link.port, link.store_url, data_dir, link.settings,
                                           reuse_port=link.reuse_port, ssl_context=link.ssl_context)
            services.append(relay)
            public = link.settings.public_url or relay.url
            info = replace(info, link_url=relay.url, link_port=relay.port, public_url=public,
                           store=relay.store.name)
        ready(info)
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        if not received:
            raise
        # The cancellation was our own way of leaving on a signal: a normal end, not an error.
        task.uncancel()
    finally:
        await stop_all(services)
        for undo in installed:
            undo()


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


def _install_signal_handlers(loop: asyncio.AbstractEventLoop, handler: Callable[[int], None],
                             signals: tuple[int, ...] = STOP_SIGNALS) -> list[Callable[[], object]]:
    """Run ``handler(signum)`` on the loop for each of ``signals``; returns what undoes each installation.

    Windows loops have no ``add_signal_handler``: there a plain ``signal.signal`` handler hands the
    signal to the loop instead (run_main keeps a Windows selector loop waking up so that it runs).
    """
    installed: list[Callable[[], object]] = []
    for signum in signals:
        try:
            loop.add_signal_handler(signum, handler, signum)
        except NotImplementedError:
            try:
                previous = signal.signal(signum, lambda got, _frame: loop.call_soon_threadsafe(handler, got))
            except ValueError:  # not the main thread: nothing can be installed
                continue
            installed.append(functools.partial(signal.signal, signum, previous))
            continue
        except (RuntimeError, ValueError):
            continue  # not the main thread
        installed.append(functools.partial(loop.remove_signal_handler, signum))
    return installed
