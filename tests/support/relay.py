"""The link relay for tests and benchmarks: sealed shares, a raw HTTP client, and real relay processes.

Everything here talks to real ``ots server`` processes (started with ``--no-wormhole``) over
loopback. Several processes can serve one store, either each on its own OS-assigned port or
all on one port with ``--reuse-port`` (the first binds port 0, the others the port it
reported). Processes are stopped by PID; every wait has a deadline.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping, Sequence
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from ots_desktop.core.envelope import open_envelope, read_header, seal
from ots_desktop.core.ids import b64u_decode, b64u_encode, new_fragment_key, new_share_id
from ots_desktop.core.kdf import PBKDF2_MIN_ITERATIONS, derive_keys, derive_link_proof, passphrase_from_text
from ots_desktop.core.secret import SecretBuffer
from tests.support.processes import Service
from tests.support.servers import LineReader

T = TypeVar("T")

API = "/api/v1/secrets"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
REQUEST_TIMEOUT_S = 30.0
# No rate limits: tests and benchmarks hammer the relay from one address on purpose.
UNLIMITED = ("--create-rate", "0", "--reveal-rate", "0")
# A status token the relay never issued (right shape, wrong value).
FOREIGN_TOKEN = b64u_encode(b"\x07" * 32)


# ---------------------------------------------------------------- shares


@dataclass(frozen=True)
class Share:
    """A sealed secret as a sender holds it before parking it, plus what tests look for afterwards.

    Real clients keep the fragment key and the auth token in wipeable buffers; tests keep
    plain copies so that they can search disks and logs for them. ``link_proof`` (b64u) and
    ``link_hash`` are None for a share parked as clients did before link proofs.
    """

    id: str
    envelope: bytes
    auth_hash: str
    auth_token: str
    auth_token_raw: bytes
    fragment_key: bytes
    passphrase: str | None = None
    link_proof: str | None = None
    link_hash: str | None = None

    @property
    def fragment_key_b64u(self) -> str:
        """The key as it appears after the ``#`` of a link."""
        return b64u_encode(self.fragment_key)

    def create_body(self, **policy: Any) -> dict[str, Any]:
        """The JSON body of ``POST /api/v1/secrets`` (``policy``: expires_in, max_views, allow_cidrs...)."""
        body = {"id": self.id, "envelope": b64u_encode(self.envelope), "auth_hash": self.auth_hash, **policy}
        if self.link_hash is not None:
            body["link_hash"] = self.link_hash
        return body

    def reveal_body(self, auth_token: str | None = None) -> dict[str, str]:
        """The JSON body of ``POST /api/v1/secrets/{id}/reveal``: this share's link proof (if it has one)
        and its auth token, or ``auth_token`` instead (a wrong passphrase, when it is wrong)."""
        body = {"auth_token": auth_token or self.auth_token}
        if self.link_proof is not None:
            body["link_proof"] = self.link_proof
        return body

    def open(self, envelope_b64u: str) -> bytes:
        """Decrypt an envelope the relay handed out (it must be this share's)."""
        passphrase = passphrase_from_text(self.passphrase) if self.passphrase else None
        with SecretBuffer(self.fragment_key) as key, open_envelope(
                b64u_decode(envelope_b64u), share_id=b64u_decode(self.id), fragment_key=key,
                passphrase=passphrase) as opened:
            return bytes(opened.plaintext.view())


def make_share(plaintext: bytes = b"relay test secret", *, passphrase: str | None = None,
               iterations: int = PBKDF2_MIN_ITERATIONS, legacy: bool = False) -> Share:
    """Seal ``plaintext`` for a fresh share id and fragment key (and passphrase, if given).

    ``legacy`` makes the share as clients did before link proofs: no link hash to register.
    """
    share_id = new_share_id()
    secret = passphrase_from_text(passphrase) if passphrase else None
    with new_fragment_key() as key:
        envelope = seal(plaintext, share_id=share_id, fragment_key=key, meta={"type": "text"},
                        passphrase=secret, iterations=iterations)
        salt = read_header(envelope).salt
        with derive_keys(key, salt, secret, iterations) as keys, derive_link_proof(key, salt) as proof_buffer:
            token = bytes(keys.auth_token.view())
            proof = bytes(proof_buffer.view())
        fragment = bytes(key.view())
    return Share(id=b64u_encode(share_id), envelope=envelope, auth_hash=hashlib.sha256(token).hexdigest(),
                 auth_token=b64u_encode(token), auth_token_raw=token, fragment_key=fragment, passphrase=passphrase,
                 link_proof=None if legacy else b64u_encode(proof),
                 link_hash=None if legacy else hashlib.sha256(proof).hexdigest())


def wrong_auth_token() -> str:
    """An auth token of the right shape that opens nothing."""
    return b64u_encode(os.urandom(32))


# ---------------------------------------------------------------- HTTP


@dataclass(frozen=True)
class Reply:
    """One response: status, body (parsed JSON when it is JSON, else text) and headers."""

    status: int
    body: Any
    headers: Mapping[str, str]

    @property
    def code(self) -> str | None:
        """The machine ``code`` of an error body."""
        return self.body.get("code") if isinstance(self.body, dict) else None


class RelayClient:
    """Raw requests to one relay: every answer comes back as a :class:`Reply`, whatever its status."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")

    async def request(self, method: str, path: str, *, json_body: object = None,
                      headers: Mapping[str, str] | None = None) -> Reply:
        """Send one request; connection failures raise :class:`aiohttp.ClientError`."""
        async with self.session.request(method, self.base_url + path, json=json_body,
                                        headers=dict(headers or {})) as response:
            raw = await response.read()
            body: Any = raw.decode("utf-8", "replace")
            if response.content_type == "application/json" and raw:
                body = json.loads(raw)
            return Reply(response.status, body, dict(response.headers))

    async def create(self, share: Share, **policy: Any) -> Reply:
        """``POST /api/v1/secrets``."""
        return await self.request("POST", API, json_body=share.create_body(**policy))

    async def reveal(self, share: Share | str, auth_token: str | None = None) -> Reply:
        """``POST /api/v1/secrets/{id}/reveal``: a :class:`Share` brings its link proof and (unless
        ``auth_token`` is given) its auth token; a bare id sends ``auth_token`` alone."""
        if isinstance(share, Share):
            return await self.request("POST", f"{API}/{share.id}/reveal", json_body=share.reveal_body(auth_token))
        return await self.request("POST", f"{API}/{share}/reveal", json_body={"auth_token": auth_token})

    async def meta(self, share_id: str) -> Reply:
        """``GET /api/v1/secrets/{id}``."""
        return await self.request("GET", f"{API}/{share_id}")

    async def status(self, share_id: str, status_token: str) -> Reply:
        """``GET /api/v1/secrets/{id}/status`` with the sender's token."""
        return await self.request("GET", f"{API}/{share_id}/status", headers=bearer(status_token))

    async def revoke(self, share_id: str, status_token: str) -> Reply:
        """``DELETE /api/v1/secrets/{id}`` with the sender's token."""
        return await self.request("DELETE", f"{API}/{share_id}", headers=bearer(status_token))

    async def health(self) -> Reply:
        """``GET /healthz``."""
        return await self.request("GET", "/healthz")

    async def metric(self, name: str, **labels: str) -> float:
        """The sum of the ``/metrics`` samples called ``name`` that carry ``labels``."""
        reply = await self.request("GET", "/metrics")
        assert reply.status == 200, reply.body
        return sum(sample.value for family in text_string_to_metric_families(reply.body)
                   for sample in family.samples
                   if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()))


def bearer(token: str) -> dict[str, str]:
    """The ``Authorization`` header carrying a status token."""
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def http_session(connections: int = 100) -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp session with up to ``connections`` keep-alive connections and a deadline per request."""
    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        yield session


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on a fresh event loop that never becomes the thread's current loop.

    (``asyncio.run`` would reset the current loop, which the session's Twisted loop owns.)
    """
    with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
        return runner.run(coro)


# ---------------------------------------------------------------- processes


@dataclass
class RelayProcess:
    """One running ``ots server --no-wormhole`` and what its ready line said."""

    service: Service
    ready: dict[str, Any]
    data_dir: Path

    @property
    def url(self) -> str:
        """The relay's base URL."""
        return str(self.ready["link_url"])

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.ready["link_port"])

    @property
    def pid(self) -> int:
        """Its process id."""
        return self.service.pid

    @property
    def log_path(self) -> Path:
        """Its stderr log."""
        assert self.service.log_path is not None
        return self.service.log_path

    def log_text(self) -> str:
        """What it wrote to stderr so far."""
        return self.service.log_text()

    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.service.alive()

    def stop(self) -> None:
        """SIGTERM exactly this PID (SIGKILL if it lingers)."""
        self.service.stop(STOP_TIMEOUT_S)

    def kill(self) -> None:
        """SIGKILL exactly this PID, as a crash would, and reap it."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        try:
            self.service.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"{self.service.name} (pid {self.pid}) survived SIGKILL") from None
        self.service.stop()  # closes its pipes and log


def relay_argv(data_dir: Path, *, store: str, port: int, extra: Sequence[str]) -> list[str]:
    """The command line of one relay process."""
    return [sys.executable, "-m", "ots_desktop.cli", "server", "--no-wormhole", "--link-port", str(port),
            "--store", store, "--data-dir", str(data_dir), "--json", *extra]


def launch(work_dir: Path, name: str, argv: Sequence[str], *, timeout: float = READY_TIMEOUT_S,
           env: Mapping[str, str] | None = None) -> tuple[Service, dict[str, Any]]:
    """Start a process that prints a JSON ``ready`` line with a ``link_url``; wait for that line.

    Its environment is this process's (or ``env``); its stderr goes to ``work_dir/<name>.log``.
    On any failure the process is stopped.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    service = Service(name, argv, env=dict(os.environ if env is None else env), log_dir=work_dir)
    try:
        line = LineReader(service).next_line(timeout=timeout)
        ready = json.loads(line)
        if ready.get("event") != "ready" or not ready.get("link_url"):
            raise RuntimeError(f"unexpected first line from {name}: {line!r}; stderr:\n{service.log_text()}")
    except BaseException:
        service.stop()
        raise
    return service, ready


def start_relay(work_dir: Path, *, name: str = "relay", store: str = "sqlite", port: int = 0,
                data_dir: Path | None = None, extra: Sequence[str] = UNLIMITED,
                timeout: float = READY_TIMEOUT_S, env: Mapping[str, str] | None = None) -> RelayProcess:
    """Start one relay and wait for its ready line; its stderr goes to ``work_dir/<name>.log``.

    ``data_dir`` defaults to ``work_dir/<name>-data``; pass the same one again to restart a
    relay on the same SQLite store.
    """
    data = data_dir if data_dir is not None else work_dir / f"{name}-data"
    argv = relay_argv(data, store=store, port=port, extra=extra)
    service, ready = launch(work_dir, name, argv, timeout=timeout, env=env)
    return RelayProcess(service=service, ready=ready, data_dir=data)


@contextmanager
def relays(work_dir: Path, count: int = 1, *, store: str = "sqlite", share_port: bool = False,
           extra: Sequence[str] = UNLIMITED) -> Iterator[list[RelayProcess]]:
    """``count`` relays on ``store``, stopped by PID on the way out.

    A Redis (or ``sqlite:///path``) store URL is shared by all of them; plain ``sqlite`` gives
    each its own file in its data dir. With ``share_port`` they all listen on one port
    (``--reuse-port``: the kernel spreads connections); otherwise each has its own OS-assigned port.
    """
    flags = [*extra, "--reuse-port"] if share_port else list(extra)
    with ExitStack() as stack:
        started: list[RelayProcess] = []
        for n in range(count):
            port = started[0].port if share_port and started else 0
            process = start_relay(work_dir, name=f"relay-{n}", store=store, port=port, extra=flags)
            stack.callback(process.stop)
            started.append(process)
        yield started
