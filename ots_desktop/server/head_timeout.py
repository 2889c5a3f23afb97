"""Closing connections that do not deliver a request head in time (slowloris).

A client that opens a connection and dribbles its request line and headers in, a byte now
and then, would otherwise hold the connection (and a slot of the proxy in front) for as long
as it likes. Each connection of the relay gets ``header_timeout`` seconds from opening to
deliver its first complete request head, or it is closed without an answer. Later requests
on a kept-alive connection get the same time from the end of the previous answer: that is
aiohttp's keep-alive timer, which closes a connection waiting for a request head whatever
partial head has come in, and which the runner sets to the same value.

The head is seen complete at its blank line (CRLF CRLF, or the bare LF LF that lenient
parsers accept). The body that may follow has its own deadline (``request_body``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from aiohttp import web

_log = logging.getLogger(__name__)
_HEAD_ENDS = (b"\r\n\r\n", b"\n\n")


class HeadDeadline(asyncio.Protocol):
    """Stands in front of aiohttp's protocol for one connection until its first request head is in."""

    def __init__(self, inner: asyncio.Protocol, timeout: float) -> None:
        self._inner = inner
        self._timeout = timeout
        self._timer: asyncio.TimerHandle | None = None
        self._transport: asyncio.BaseTransport | None = None
        self._tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._timer = asyncio.get_running_loop().call_later(self._timeout, self._expire)
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._timer is not None:
            seen = self._tail + data
            if any(end in seen for end in _HEAD_ENDS):
                self._disarm()
            else:
                self._tail = seen[-3:]
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._transport = None
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._tail = b""

    def _expire(self) -> None:
        self._timer = None
        transport = self._transport
        if transport is not None and not transport.is_closing():
            _log.debug("closed a connection that sent no complete request head within %.1f s", self._timeout)
            transport.close()


class _HeadTimedServer:
    """aiohttp's protocol factory, each protocol behind a :class:`HeadDeadline`."""

    def __init__(self, inner: web.Server, timeout: float) -> None:
        self._inner = inner
        self._timeout = timeout

    def __call__(self) -> HeadDeadline:
        return HeadDeadline(self._inner(), self._timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class HeadTimedRunner(web.AppRunner):
    """An :class:`aiohttp.web.AppRunner` whose sites close connections that are slow to send a request head."""

    def __init__(self, app: web.Application, *, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(app, keepalive_timeout=header_timeout, **kwargs)
        self._header_timeout = header_timeout

    @property
    def server(self) -> web.Server | None:
        """What sites listen with: aiohttp's server, its connections timed as above."""
        inner = super().server
        return None if inner is None else cast(web.Server, _HeadTimedServer(inner, self._header_timeout))
