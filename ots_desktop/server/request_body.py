"""Reading request bodies: bounded in size and in time, into one buffer.

A body is read into a single ``bytearray`` (of the declared length when there is one), so
that the relay holds one copy of it while it arrives, never the body plus a joined copy
(except a body of at most SMALL_BODY bytes that is all there with its head: it is taken at once).
It must arrive in time: ``timeout`` seconds of grace plus what its length needs at
``MIN_BODY_RATE``; a body that dribbles in slower is refused with a 408 and its connection
closed. A client that closes its connection before its body is in raises
:class:`ClientGone`: that is the client's doing, logged quietly, never a server error.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ots_desktop.server.link_policy import ApiError

# Bytes per second a body must average beyond its grace time (512 kbit/s).
MIN_BODY_RATE = 64 * 1024
# A body up to this size that is all there is taken in one piece (a copy of this size is nothing).
SMALL_BODY = 64 * 1024
# The status recorded (in metrics and the log) for a request its client abandoned, as nginx does.
CLIENT_GONE_STATUS = 499


class ClientGone(Exception):
    """The client closed the connection before the relay had read its request."""


def body_deadline(timeout: float, length: int) -> float:
    """Seconds a body of ``length`` bytes may take to arrive."""
    return timeout + length / MIN_BODY_RATE


def body_timeout_error(timeout: float) -> ApiError:
    """The 408 answered to a body that did not arrive in time."""
    return ApiError(408, "body_timeout", f"the request body did not arrive in time (the relay allows "
                    f"{timeout:g} s plus 1 s per {MIN_BODY_RATE // 1024} KiB)")


async def read_body(request: web.BaseRequest, *, limit: int, timeout: float,
                    too_large: Callable[[], ApiError]) -> bytearray:
    """The whole body of ``request``, at most ``limit`` bytes, within its deadline.

    Raises ``too_large()`` for a body over ``limit`` (before reading, when its length is
    declared), a 408 :class:`ApiError` when it is too slow, and :class:`ClientGone` when
    the client disconnects first.
    """
    declared = request.content_length
    if declared is not None and declared > limit:
        raise too_large()
    # A body that came in with its head (most requests) is all there: no deadline to arm and cancel.
    arrived = request.content.is_eof()
    if arrived and declared is not None and declared <= SMALL_BODY:
        try:
            whole = request.content.read_nowait()
        except (ConnectionError, HttpProcessingError):
            raise ClientGone from None
        if len(whole) != declared:
            raise ClientGone
        return bytearray(whole)
    buffer = bytearray(declared) if declared is not None else bytearray()
    filled = 0
    deadline = body_deadline(timeout, declared if declared is not None else limit)
    try:
        async with contextlib.nullcontext() if arrived else asyncio.timeout(deadline):
            while True:
                chunk = await request.content.readany()
                if not chunk:
                    break
                end = filled + len(chunk)
                if declared is None:
                    if end > limit:
                        raise too_large()
                    buffer += chunk
                elif end > declared:  # the parser stops at the declared length; never trust it blindly
                    raise too_large()
                else:
                    buffer[filled:end] = chunk
                filled = end
    except TimeoutError:
        raise body_timeout_error(timeout) from None
    except (ConnectionError, HttpProcessingError):
        raise ClientGone from None
    if declared is not None and filled != declared:
        raise ClientGone
    return buffer
