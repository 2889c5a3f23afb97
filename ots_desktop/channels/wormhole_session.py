"""One Magic Wormhole, driven from asyncio with a deadline on every wait.

magic-wormhole is Twisted-only; each Deferred is turned into an asyncio future with
:func:`ots_desktop.runtime.to_future`, and every wait has a timeout, because a wrong
nameplate (or a peer that never comes) would otherwise wait forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

from ots_desktop.channels.failures import (
    ChannelFailure,
    peer_never_came,
    timed_out,
    transfer_failed,
    translate,
    unreachable,
)
from ots_desktop.core.audit.events import Reason
from ots_desktop.core.config import Config
from ots_desktop.runtime import to_future, within

T = TypeVar("T")
APPID = "lothar.com/wormhole/text-or-file-xfer"
# The stock clients derive the transit key from this fixed string whatever the appid.
TRANSIT_KEY_PURPOSE = "lothar.com/wormhole/text-or-file-xfer/transit-key"
# On a cancel, how long to wait for the mailbox to acknowledge the close (so the peer's "cancelled"
# message is there) before recording it; short, since a mailbox that is down would hold up the cancel.
CANCEL_CLOSE_WAIT_S = 1.0


@dataclass(frozen=True)
class WormholeSettings:
    """Where to meet and how long to wait."""

    mailbox_url: str
    transit_helper: str
    code_length: int = 3
    appid: str = APPID
    connect_timeout_s: float = 4.0
    peer_timeout_s: float = 600.0
    transfer_timeout_s: float = 120.0
    direct_connections: bool = True  # False: never listen for the peer (relay only; no firewall prompt)

    @classmethod
    def from_config(cls, config: Config, **overrides: Any) -> WormholeSettings:
        """Settings from the user's config, with explicit overrides."""
        values: dict[str, Any] = {"mailbox_url": config.mailbox_url, "transit_helper": config.transit_helper,
                                  "code_length": config.code_length,
                                  "direct_connections": config.direct_connections == "on"}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


class WormholeSession:
    """A wormhole plus the deadlines of one transfer. Always :meth:`close` it."""

    def __init__(self, settings: WormholeSettings) -> None:
        from twisted.internet import reactor
        from wormhole import create

        self.settings = settings
        self._closed = False
        self.answered = False  # an answer or an error went to the sender
        # Messages that came while the person answered a question, oldest first, and the one asked for:
        # none is lost, none is read twice.
        self._inbox: list[Any] = []
        self._next: asyncio.Future[Any] | None = None
        # The library writes debugging chatter to stderr; none of it is for users.
        self._w = create(settings.appid, settings.mailbox_url, reactor, versions={}, stderr=io.StringIO())

    async def _wait(self, deferred: Any, timeout_s: float, on_timeout: ChannelFailure) -> Any:
        try:
            return await within(to_future(deferred), timeout_s)
        except TimeoutError:
            raise on_timeout from None
        except ChannelFailure:
            raise
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - every library error becomes one of a few outcomes
            raise translate(exc, url=self.settings.mailbox_url) from None

    async def connected(self) -> dict[str, Any]:
        """Wait for the mailbox's welcome: proves the server is reachable."""
        s = self.settings
        welcome = await self._wait(self._w.get_welcome(), s.connect_timeout_s,
                                   translate_unreachable(s.mailbox_url, s.connect_timeout_s))
        return welcome if isinstance(welcome, dict) else {}

    async def allocate_code(self) -> str:
        """Claim a nameplate and return the new code."""
        self._w.allocate_code(self.settings.code_length)
        code = await self._wait(self._w.get_code(), self.settings.connect_timeout_s,
                                translate_unreachable(self.settings.mailbox_url, self.settings.connect_timeout_s))
        return str(code)

    def set_code(self, code: str) -> None:
        """Use a code the user typed."""
        try:
            self._w.set_code(code)
        except Exception as exc:  # noqa: BLE001 - KeyFormatError and friends
            raise translate(exc, url=self.settings.mailbox_url) from None

    def input_code(self) -> Any:
        """The completion helper (nameplates, then words) for interactive entry."""
        return self._w.input_code()

    async def verifier(self, *, waiting_for_peer: bool) -> bytes:
        """Wait for the key exchange with the peer; returns the verifier bytes.

        A wrong code fails here on both sides.
        """
        s = self.settings
        failure = peer_never_came(s.peer_timeout_s) if waiting_for_peer else timed_out(
            s.peer_timeout_s, "the sender (is the code right?)")
        return bytes(await self._wait(self._w.get_verifier(), s.peer_timeout_s, failure))

    def send_json(self, message: dict[str, Any]) -> None:
        """Send one protocol message (not for secrets: use :meth:`send_bytes`)."""
        if "answer" in message or "error" in message:
            self.answered = True
        self._w.send_message(json.dumps(message).encode("utf-8"))

    def refuse(self, why: str) -> None:
        """Tell the sender the offer is refused, unless an answer already went out: nobody is left waiting."""
        if not self.answered:
            self.send_json({"error": f"transfer rejected: {why}"})

    def send_bytes(self, message: bytes | bytearray) -> None:
        """Send one already-encoded protocol message."""
        self._w.send_message(bytes(message))

    def stop(self, why: str) -> None:
        """Tell the peer this side stopped (cancelled, or failed), unless an answer already went out."""
        if not self.answered and not self._closed:
            self.send_json({"error": why})

    def _next_message(self) -> asyncio.Future[Any]:
        if self._next is None:
            self._next = to_future(self._w.get_message())
        return self._next

    def _translate(self, exc: BaseException) -> BaseException:
        if isinstance(exc, ChannelFailure | asyncio.CancelledError):
            return exc
        return translate(exc, url=self.settings.mailbox_url)

    async def receive_json(self, timeout_s: float, what: str) -> dict[str, Any]:
        """The next protocol message from the peer."""
        if self._inbox:
            return _parse(self._inbox.pop(0))
        pending = self._next_message()
        try:
            raw = await within(asyncio.shield(pending), timeout_s)
        except TimeoutError:
            raise timed_out(timeout_s, what) from None
        except Exception as exc:  # noqa: BLE001 - every library error becomes one of a few outcomes
            raise self._translate(exc) from None
        finally:
            if pending.done():
                self._next = None
        return _parse(raw)

    async def ask_while_listening(self, question: Awaitable[T]) -> T:
        """The person's answer to ``question``; if the peer stops meanwhile, the question is withdrawn at once.

        Other messages that arrive meanwhile (the sender's offer, say) wait for :meth:`receive_json`.
        """
        asking = asyncio.ensure_future(question)
        try:
            while True:
                pending = self._next_message()
                await asyncio.wait({asking, pending}, return_when=asyncio.FIRST_COMPLETED)
                if asking.done():
                    return asking.result()
                self._next = None
                try:
                    raw = pending.result()
                except Exception as exc:  # noqa: BLE001 - the mailbox went away while the person was deciding
                    raise self._translate(exc) from None
                _parse(raw)  # a stop raises here
                self._inbox.append(raw)
        finally:
            if not asking.done():
                asking.cancel()

    def mailbox_connected(self) -> bool | None:
        """Whether the connection to the mailbox is up right now (None: this library version does not say).

        magic-wormhole reconnects by itself after an outage and keeps the code valid, but tells nobody;
        its connector's open websocket is the only sign (checked by a test on the pinned version).
        """
        connector = getattr(getattr(self._w, "_boss", None), "_RC", None)
        if connector is None or not hasattr(connector, "_ws"):
            return None
        return connector._ws is not None

    def transit_key(self, length: int) -> bytes:
        """The key that protects the transit connection for files."""
        return bytes(self._w.derive_key(TRANSIT_KEY_PURPOSE, length))

    async def close(self, wait_s: float = 5.0) -> None:
        """Close the wormhole, releasing the nameplate; errors at this point are ignored.

        Waits up to ``wait_s`` for the mailbox to acknowledge, which it does only after every
        message sent before the close.
        """
        if self._closed:
            return
        self._closed = True
        if self._next is not None and not self._next.done():
            self._next.cancel()
        # The outcome is already decided; a close error (LonelyError...) adds nothing.
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await within(to_future(self._w.close()), wait_s)


def _parse(raw: Any) -> dict[str, Any]:
    try:
        message = json.loads(raw)
    except ValueError:
        message = None
    if not isinstance(message, dict):
        raise transfer_failed("the other side sent a malformed message")
    if "error" in message:
        raise ChannelFailure(Reason.REJECTED, f"the other side stopped: {str(message['error'])[:200]}")
    return message


def translate_unreachable(url: str, timeout_s: float) -> ChannelFailure:
    """The failure for a mailbox that did not answer in time."""
    return unreachable(url, f"no answer within {timeout_s:g} s")
