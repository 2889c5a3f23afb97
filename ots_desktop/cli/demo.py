"""``ots demo``: the whole product, headless, on this machine only.

It starts an embedded mailbox, transit relay and link relay on free loopback ports, then
Alice shares a generated API key with Bob by wormhole code, Mallory guesses at a second
code (and kills it), Alice sends a database URL as a one-time link that Bob opens once
(a second try is refused and alerts), Mallory guesses passphrases on a protected link,
the link envelope is tampered with, and both audit logs are verified and exported.
Everything runs in a fresh temporary ``OTS_HOME``, so the user's own audit log is
untouched; every step is real, nothing is simulated.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path

import click

from ots_desktop import __version__
from ots_desktop.cli.output import emit_json, say
from ots_desktop.cli.state import handle_errors
from ots_desktop.core import envelope, ids
from ots_desktop.core.audit.export import export_log
from ots_desktop.core.audit.keystore import FINGERPRINT_KEY, KeychainStore, scope_for
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.audit.offline import TrustRoot, verify_file
from ots_desktop.core.audit.state import STATE
from ots_desktop.core.errors import EnvelopeError
from ots_desktop.core.events import ChannelEvent, EventBus
from ots_desktop.core.paths import app_paths
from ots_desktop.core.secret import SecretBuffer


class _Steps:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.number = 0

    def __call__(self, text: str) -> None:
        self.number += 1
        if self.as_json:
            emit_json({"event": "step", "step": self.number, "text": text})
        else:
            say(click.style(f"[{self.number}] ", bold=True) + text)


def _keystore(home: Path) -> KeychainStore:
    return KeychainStore(scope_for(app_paths({"OTS_HOME": str(home)}).data_dir))


def _open_log(home: Path) -> AuditLog:
    return AuditLog.open(app_paths({"OTS_HOME": str(home)}), _keystore(home), app_version=__version__)


def _forget_keys(home: Path) -> None:
    """Take the demo's installations out of the user's keychain again."""
    store = _keystore(home)
    for name in (STATE, FINGERPRINT_KEY):
        store.delete(name)


async def _wormhole_part(home: Path, step: _Steps, alice: AuditLog, bob: AuditLog) -> None:
    from ots_desktop.channels.failures import ChannelFailure
    from ots_desktop.channels.wormhole import ReceiveHooks, SendHooks, WormholeChannel, WormholeSettings
    from ots_desktop.server.wormhole_services import start_mailbox, start_transit_relay

    mailbox = await start_mailbox("127.0.0.1", 0, home / "server")
    relay = await start_transit_relay("127.0.0.1", 0)
    try:
        step(f"Started a mailbox at {mailbox.url} and a transit relay at {relay.helper} (loopback only).")
        settings = WormholeSettings(mailbox.url, relay.helper, peer_timeout_s=20, transfer_timeout_s=20)
        events: list[ChannelEvent] = []
        bus = EventBus()
        bus.subscribe(events.append)
        code: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        secret = SecretBuffer(b"sk_demo_" + os.urandom(16).hex().encode("ascii"))
        fingerprint = alice.fingerprint(secret)
        sending = asyncio.ensure_future(WormholeChannel(settings, alice, bus).send_text(
            secret, SendHooks(on_code=code.set_result), label="demo API key", recipient="Bob"))
        spoken = await code
        step(f"Alice shares an API key; she reads Bob the code: {spoken}")
        received = await WormholeChannel(settings, bob, bus).receive(spoken, ReceiveHooks(out_dir=home))
        await sending
        assert received.text is not None
        with received.text as text:
            same = alice.fingerprint(text) == fingerprint
            size = len(text)
        step(f"Bob received the {size}-byte secret: {'identical' if same else 'DIFFERENT'}; both buffers are "
             "wiped now.")
        step("Events on the stream: " + ", ".join(f"{e.direction}:{e.kind}" for e in events))
        code2: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        second = asyncio.ensure_future(WormholeChannel(settings, alice, bus).send_text(
            SecretBuffer(b"another secret"), SendHooks(on_code=code2.set_result), label="second key"))
        nameplate = (await code2).split("-", 1)[0]
        try:
            await WormholeChannel(settings, bob, bus).receive(f"{nameplate}-guessed-wrong", ReceiveHooks(out_dir=home))
        except ChannelFailure as failure:
            step(f"Mallory guesses at code {nameplate}-...: refused ({failure.reason}).")
        try:
            await second
        except ChannelFailure as failure:
            step(f"Alice's side stops too, with an alert: {failure.message}")
    finally:
        await mailbox.stop()
        await relay.stop()


async def _link_part(home: Path, step: _Steps, alice: AuditLog, bob: AuditLog) -> None:
    from ots_desktop.channels.failures import ChannelFailure
    from ots_desktop.channels.link import LinkChannel, LinkPolicy
    from ots_desktop.channels.link_receive import ReceiveOptions
    from ots_desktop.channels.link_urls import parse_link
    from ots_desktop.core.shares import ShareStore
    from ots_desktop.server.link_api import RelaySettings
    from ots_desktop.server.link_service import start_link_relay

    relay = await start_link_relay("127.0.0.1", 0, "sqlite", home / "server",
                                   RelaySettings(public_url="", max_size=1024 * 1024))
    try:
        step(f"Started a link relay at {relay.url} (SQLite store, loopback only).")
        bus = EventBus()
        with ShareStore.open(app_paths({"OTS_HOME": str(home / "alice")}).shares_db) as shares:
            sender = LinkChannel(alice, bus, shares)
            receiver = LinkChannel(bob, bus)
            secret = SecretBuffer(b"postgres://app:" + os.urandom(12).hex().encode("ascii") + b"@db/prod")
            fingerprint = alice.fingerprint(secret)
            (sent,) = await sender.send_text(secret, relay.url, LinkPolicy(expires_in=600), label="prod DB URL",
                                             recipients=["Bob"])
            step(f"Alice sends a database URL as a one-time link (expires {sent.expires_at}); the relay keeps "
                 "only ciphertext, the key stays in the part after '#'.")
            got = await receiver.receive(parse_link(sent.link), ReceiveOptions(out_dir=home))
            assert got.text is not None
            with got.text as text:
                same = alice.fingerprint(text) == fingerprint
            step(f"Bob opens the link: {'identical' if same else 'DIFFERENT'}.")
            try:
                await receiver.receive(parse_link(sent.link), ReceiveOptions(out_dir=home))
            except ChannelFailure as failure:
                step(f"Bob opens it again: refused ({failure.reason}), and an alert goes into his audit log.")
            _, status = await sender.status(sent.share_id)
            step(f"Alice checks the link: {status.state}, opened from {status.reveals[0].remote_addr}.")
            (guarded,) = await sender.send_text(SecretBuffer(b"a second secret"), relay.url, LinkPolicy(),
                                                passphrase=SecretBuffer(b"correct horse battery"))
            for guess in (b"hunter2", b"password"):
                try:
                    await receiver.receive(parse_link(guarded.link), ReceiveOptions(passphrase=SecretBuffer(guess)))
                except ChannelFailure as failure:
                    step(f"Mallory has the protected link and guesses a passphrase: refused ({failure.message})")
            await sender.revoke(guarded.share_id)
            step("Alice revokes the protected link before Mallory guesses again.")
    finally:
        await relay.stop()


def _envelope_part(step: _Steps) -> None:
    with SecretBuffer(b"postgres://app:" + os.urandom(12).hex().encode("ascii") + b"@db/prod") as secret:
        share_id = ids.new_share_id()
        with ids.new_fragment_key() as key:
            sealed = envelope.seal(secret, share_id=share_id, fragment_key=key, meta={"type": "text"})
            with envelope.open_envelope(sealed, share_id=share_id, fragment_key=key) as opened:
                same = opened.plaintext == secret
            damaged = bytearray(sealed)
            damaged[-1] ^= 1
            try:
                envelope.open_envelope(damaged, share_id=share_id, fragment_key=key).close()
                verdict = "NOT refused"
            except EnvelopeError as exc:
                verdict = f"refused ({exc.message})"
    step(f"One-time link envelope: {len(sealed)} bytes of AES-256-GCM, opens {'identical' if same else 'DIFFERENT'}; "
         f"one flipped bit: {verdict}.")


def _audit_part(home: Path, step: _Steps, logs: dict[str, AuditLog]) -> None:
    for who, log in logs.items():
        report = log.verify()
        out = home / f"{who}-audit.jsonl"
        export_log(log, "jsonl", out)
        offline = verify_file(out, TrustRoot(fingerprint=log.fingerprint_text))
        alerts = len(log.entries(event_type="alert"))
        step(f"{who.title()}'s audit log: {report.summary()}; {alerts} alert(s); exported and checked offline "
             f"with only the root key's fingerprint: {'intact' if offline.ok else 'TAMPERED'}.")


@click.command()
@click.option("--keep", is_flag=True, help="Keep the demo's home folder instead of deleting it.")
@click.option("--json", "as_json", is_flag=True, help="Print each step as a JSON line.")
@handle_errors()
def demo(keep: bool, as_json: bool) -> None:
    """Run the local demo: wormhole share, wrong-code alert, one-time links, envelope, audit. Offline, on loopback."""
    from ots_desktop import runtime

    home = Path(tempfile.mkdtemp(prefix="ots-demo-"))
    step = _Steps(as_json)
    if not as_json:
        say(f"Demo home: {home}")
    started = time.monotonic()

    async def main() -> None:
        with _open_log(home / "alice") as alice, _open_log(home / "bob") as bob:
            await _wormhole_part(home, step, alice, bob)
            await _link_part(home, step, alice, bob)
            _envelope_part(step)
            _audit_part(home, step, {"alice": alice, "bob": bob})

    try:
        runtime.run_main(main)
    finally:
        if not keep:
            for who in ("alice", "bob"):
                _forget_keys(home / who)
            shutil.rmtree(home, ignore_errors=True)
    elapsed = time.monotonic() - started
    if as_json:
        emit_json({"event": "done", "seconds": round(elapsed, 3), "home": str(home) if keep else None})
    else:
        say(f"Done in {elapsed:.2f} s." + (f" Kept {home}" if keep else ""))
