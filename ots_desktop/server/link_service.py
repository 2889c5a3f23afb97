"""Running the link relay as one of ``ots server``'s services."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from ots_desktop.server.head_timeout import HeadTimedRunner
from ots_desktop.server.link_api import RelaySettings, build_app
from ots_desktop.server.link_model import LinkStore
from ots_desktop.server.request_api import add_request_routes
from ots_desktop.server.request_model import RequestStore
from ots_desktop.server.request_stores import open_request_store
from ots_desktop.server.stores import open_store
from ots_desktop.server.wormhole_services import ListenError, host_port

SWEEP_INTERVAL_S = 60.0
HSTS_VALUE = "max-age=31536000"
# aiohttp's own access log would print the path, which holds the share id; link_api logs the route instead.
RUNNER_OPTIONS: dict[str, Any] = {"access_log": None, "handle_signals": False}
_log = logging.getLogger(__name__)


@dataclass
class LinkRelayService:
    """A listening relay: its address, its store, and what stopping it must undo."""

    name: str
    url: str
    port: int
    store: LinkStore
    runner: web.AppRunner
    sweeper: asyncio.Task[None]
    requests: RequestStore | None = None

    async def stop(self) -> None:
        """Stop accepting, finish in-flight requests, then close the stores."""
        self.sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.sweeper
        await self.runner.cleanup()
        await self.store.close()
        if self.requests is not None:
            await self.requests.close()


async def _sweep_forever(store: LinkStore, settings: RelaySettings, requests: RequestStore | None = None) -> None:
    while True:
        try:
            await store.sweep(settings.clock())
            if requests is not None:
                await requests.sweep(settings.clock())
        except Exception as exc:  # noqa: BLE001 - a failed sweep is retried next round
            _log.warning("sweeping expired shares failed: %s", exc)
        await asyncio.sleep(SWEEP_INTERVAL_S)


async def start_link_relay(host: str, port: int, store_url: str, data_dir: Path, settings: RelaySettings,
                           *, reuse_port: bool = False, ssl_context: ssl.SSLContext | None = None,
                           ) -> LinkRelayService:
    """Open the store and listen; ``port`` 0 takes any free port; ``ssl_context`` serves HTTPS (with HSTS)."""
    store = await open_store(store_url, data_dir)
    try:
        requests = await open_request_store(store_url, data_dir)
    except BaseException:
        await store.close()
        raise
    app = build_app(store, settings)
    add_request_routes(app, requests)
    if ssl_context is not None:
        app.on_response_prepare.append(_add_hsts)
    runner = HeadTimedRunner(app, header_timeout=settings.header_timeout, **RUNNER_OPTIONS)
    try:
        await runner.setup()
        site = web.TCPSite(runner, host, port, reuse_port=reuse_port or None, backlog=1024,
                           ssl_context=ssl_context)
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        await store.close()
        await requests.close()
        raise ListenError(host, port, os.strerror(exc.errno).lower() if exc.errno else str(exc)) from None
    except BaseException:
        await runner.cleanup()
        await store.close()
        await requests.close()
        raise
    addresses = runner.addresses
    bound = int(addresses[0][1]) if addresses else port
    scheme = "https" if ssl_context is not None else "http"
    url = f"{scheme}://{host_port(host, bound)}"
    if not settings.public_url:
        settings.public_url = url
    sweeper = asyncio.get_running_loop().create_task(_sweep_forever(store, settings, requests))
    return LinkRelayService(name="link relay", url=url, port=bound, store=store,
                            runner=runner, sweeper=sweeper, requests=requests)


async def _add_hsts(request: web.BaseRequest, response: web.StreamResponse) -> None:
    response.headers["Strict-Transport-Security"] = HSTS_VALUE
