"""The Magic Wormhole mailbox server and transit relay, hosted on our event loop.

Both come from their own packages (``magic-wormhole-mailbox-server`` and
``magic-wormhole-transit-relay``); this module builds the same objects that
``twist wormhole-mailbox`` and ``twist transitrelay`` build and listens with them on
the Twisted reactor that :func:`ots_desktop.runtime.install` put on the running
asyncio loop. The protocols are theirs, untouched.

The library modules are imported inside the functions on purpose: some of them
import ``twisted.internet.reactor`` at import time, which would install Twisted's
default reactor if it happened before the runtime installed the asyncio one.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

from twisted.internet.protocol import Factory, ServerFactory
from twisted.protocols.policies import WrappingFactory

from ots_desktop import runtime
from ots_desktop.core.errors import OtsError
from ots_desktop.core.hosts import is_loopback_host

CHANNEL_DB_NAME = "mailbox.sqlite"
MAILBOX_PATH = "/v1"

_log = logging.getLogger(__name__)


class ServerError(OtsError):
    """The server cannot start: a port is taken, an address is wrong or the data dir is unusable."""


class ListenError(ServerError):
    """A listening socket could not be opened."""

    def __init__(self, host: str, port: int, detail: str) -> None:
        super().__init__(f"cannot listen on {host_port(host, port)}: {detail}")
        self.host = host
        self.port = port
        # Not named ``reason``: handle_errors reports errors with a ``reason`` as channel failures.
        self.detail = detail


def host_port(host: str, port: int) -> str:
    """``host:port``, with the brackets an IPv6 literal needs in a URL or a hint."""
    return f"[{host}]:{port}" if _is_ipv6(host) else f"{host}:{port}"


def mailbox_url(host: str, port: int) -> str:
    """The URL wormhole clients pass as ``--relay-url`` / ``--mailbox-url``."""
    return f"ws://{host_port(host, port)}{MAILBOX_PATH}"


def transit_helper(host: str, port: int) -> str:
    """The hint wormhole clients pass as ``--transit-helper``."""
    return f"tcp:{host_port(host, port)}"


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    return is_loopback_host(host)


def _is_ipv6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False


def _reactor() -> Any:
    # Idempotent on the loop it is already installed on; fails loudly on any other.
    return runtime.install(asyncio.get_running_loop())


class Listener:
    """A listening TCP port that also keeps track of the connections it accepted.

    Stopping a service has to end its connections too: otherwise a client could still
    reach the mailbox after its database was closed.
    """

    def __init__(self, listening_port: Any, tracker: WrappingFactory) -> None:
        self._listening_port = listening_port
        self._tracker = tracker

    @property
    def port(self) -> int:
        """The port actually bound (the OS picks it when 0 was asked for)."""
        return int(self._listening_port.getHost().port)

    @property
    def connections(self) -> int:
        """How many accepted connections are still open."""
        return len(self._tracker.protocols)

    async def close(self) -> None:
        """Stop listening, abort the open connections and wait until they are gone."""
        await runtime.to_future(self._listening_port.stopListening())
        for wrapper in list(self._tracker.protocols):
            # Abort rather than close: a stalled peer must not hold the shutdown on a full buffer.
            wrapper.transport.abortConnection()
        # The connections report their loss on a later reactor turn; callers bound the wait.
        while self._tracker.protocols:
            await asyncio.sleep(0.005)


async def listen(host: str, port: int, factory: Factory) -> Listener:
    """Listen on ``host:port`` (0 = any free port) with ``serverFromString`` on our reactor."""
    from twisted.internet.endpoints import quoteStringArgument, serverFromString
    from twisted.internet.error import CannotListenError

    tracker = WrappingFactory(factory)
    endpoint = serverFromString(_reactor(), f"tcp:{port}:interface={quoteStringArgument(host)}")
    try:
        listening_port = await runtime.to_future(endpoint.listen(tracker))
    except CannotListenError as exc:
        cause = exc.socketError
        detail = (cause.strerror if isinstance(cause, OSError) and cause.strerror else str(cause)) or "unknown error"
        raise ListenError(host, port, detail.lower()) from None
    return Listener(listening_port, tracker)


def prepare_data_dir(data_dir: Path) -> Path:
    """Create the server's data directory, readable by the owner only; return its absolute path."""
    path = data_dir.expanduser().absolute()
    try:
        # mkdir(parents=True) would give new ancestors the umask's mode; whatever we create is ours alone.
        for missing in [p for p in reversed(path.parents) if not p.exists()]:
            missing.mkdir(mode=0o700, exist_ok=True)
        path.mkdir(exist_ok=True, mode=0o700)
        # An existing directory keeps its mode on mkdir; the mailbox metadata is still ours to guard.
        path.chmod(0o700)
    except OSError as exc:
        raise ServerError(f"cannot use the data directory {path}: {exc.strerror or exc}") from None
    return path


def open_channel_db(data_dir: Path) -> sqlite3.Connection:
    """Open (creating or upgrading) the mailbox's channel database in ``data_dir``, mode 0600."""
    from wormhole_mailbox_server.database import DBError, create_or_upgrade_channel_db

    db_path = data_dir / CHANNEL_DB_NAME
    try:
        db: sqlite3.Connection = create_or_upgrade_channel_db(str(db_path))
        # The library creates it 0600 via mkstemp; an older file may have been looser.
        db_path.chmod(0o600)
    except (DBError, OSError) as exc:
        raise ServerError(f"cannot open the mailbox database {db_path}: {exc}") from None
    return db


class MailboxService:
    """A running mailbox server: its listening port, its channel db and the prune timer."""

    def __init__(self, *, host: str, server: Any, db: sqlite3.Connection, listener: Listener, prune: Any,
                 db_path: Path) -> None:
        self.name = "mailbox"
        self.host = host
        self.server = server
        self.listener = listener
        self.db_path = db_path
        self._db = db
        self._prune = prune
        self._stopped = False

    @property
    def port(self) -> int:
        """The port actually bound (the OS picks it when 0 was asked for)."""
        return self.listener.port

    @property
    def url(self) -> str:
        """The websocket URL for clients."""
        return mailbox_url(self.host, self.port)

    async def stop(self) -> None:
        """Stop listening, drop the connected clients, stop the prune timer and close the database."""
        if self._stopped:
            return
        self._stopped = True
        try:
            await self.listener.close()
        finally:
            if self._prune.running:
                self._prune.stop()
            self.server.stopService()
            self._db.close()


async def start_mailbox(host: str, port: int, data_dir: Path, *, motd: str | None = None) -> MailboxService:
    """Start the mailbox (rendezvous) server; clients connect to ``ws://HOST:PORT/v1``.

    Nameplate listing stays allowed (clients use it to complete codes), access times
    are not blurred and no usage database is kept: the library's defaults. An empty
    ``motd`` means no message of the day in the welcome.
    """
    reactor = _reactor()
    from twisted.internet.task import LoopingCall
    from wormhole_mailbox_server.increase_rlimits import increase_rlimits
    from wormhole_mailbox_server.server import make_server
    from wormhole_mailbox_server.server_tap import CHANNEL_EXPIRATION_TIME, EXPIRATION_CHECK_PERIOD
    from wormhole_mailbox_server.web import make_web_server

    # Every websocket client holds a descriptor; the library raises the soft limit the same way.
    increase_rlimits()
    data_dir = prepare_data_dir(data_dir)
    db = open_channel_db(data_dir)
    server = make_server(db, allow_list=True, advertise_version=None, signal_error=None, blur_usage=None,
                         usage_db=None, log_file=None, welcome_motd=motd or None)
    site = make_web_server(server, server.get_log_requests())

    def expire() -> None:
        # The channel db stores wall-clock times, so prune by the wall clock too.
        now = time.time()
        try:
            server.prune_all_apps(now, now - CHANNEL_EXPIRATION_TIME)
        except Exception:  # noqa: BLE001 - one bad prune must not stop the timer for good
            _log.exception("error while pruning old mailboxes")

    prune = LoopingCall(expire)
    prune.clock = reactor
    try:
        listener = await listen(host, port, site)
    except BaseException:
        db.close()
        raise
    server.startService()
    prune.start(EXPIRATION_CHECK_PERIOD, now=False)
    return MailboxService(host=host, server=server, db=db, listener=listener, prune=prune,
                          db_path=data_dir / CHANNEL_DB_NAME)


class _TransitFactory(ServerFactory):
    """The factory ``TransitConnection`` expects: it reads ``transit`` and ``log_requests`` from it."""

    def __init__(self, transit: Any, protocol: Any) -> None:
        self.transit = transit
        self.log_requests = False
        self.protocol = protocol


class TransitRelayService:
    """A running transit relay: pairs up two TCP connections that present the same token."""

    def __init__(self, host: str, transit: Any, listener: Listener) -> None:
        self.name = "transit"
        self.host = host
        self.transit = transit
        self.listener = listener
        self._stopped = False

    @property
    def port(self) -> int:
        """The port actually bound (the OS picks it when 0 was asked for)."""
        return self.listener.port

    @property
    def helper(self) -> str:
        """The ``tcp:HOST:PORT`` hint for clients."""
        return transit_helper(self.host, self.port)

    async def stop(self) -> None:
        """Stop listening and cut the connections still waiting or relaying."""
        if self._stopped:
            return
        self._stopped = True
        await self.listener.close()


async def start_transit_relay(host: str, port: int) -> TransitRelayService:
    """Start the transit relay on ``tcp:HOST:PORT``; usage is tracked in memory only, never logged to files."""
    reactor = _reactor()
    from wormhole_transit_relay.transit_server import Transit, TransitConnection
    from wormhole_transit_relay.usage import create_usage_tracker

    usage = create_usage_tracker(blur_usage=None, log_file=None, usage_db=None)
    transit = Transit(usage, reactor.seconds)
    listener = await listen(host, port, _TransitFactory(transit, TransitConnection))
    return TransitRelayService(host, transit, listener)


__all__ = ["CHANNEL_DB_NAME", "MAILBOX_PATH", "ListenError", "Listener", "MailboxService", "ServerError",
           "TransitRelayService", "host_port", "is_loopback", "listen", "mailbox_url", "prepare_data_dir",
           "start_mailbox", "start_transit_relay", "transit_helper"]
