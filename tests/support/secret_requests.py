"""Secret requests for tests: a request's keys and link material kept in plain copies, so that
tests can search disks and logs for them, and the bodies the relay's request endpoints take."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ots_desktop.core.ids import b64u_decode, b64u_encode, new_share_id
from ots_desktop.core.request_box import RequestLink, new_request_keys, parse_fragment, seal_answer
from ots_desktop.core.secret import SecretBuffer

REQUESTS = "/api/v1/requests"


@dataclass(frozen=True)
class TestRequest:
    """A request as a requester makes it (``private_key`` and ``proof`` in plain copies)."""

    __test__ = False  # not a test class, despite the name

    id_raw: bytes
    private_key: bytes
    public_key: bytes
    fragment: str
    proof: str
    proof_hash: str
    key_hash: str

    @property
    def id(self) -> str:
        return b64u_encode(self.id_raw)

    def register_body(self, **policy: Any) -> dict[str, Any]:
        return {"id": self.id, "proof_hash": self.proof_hash, "key_hash": self.key_hash, **policy}

    def label_box(self, label: str) -> str:
        """``label`` sealed as the requester's client seals it."""
        link = parse_fragment(self.fragment)
        try:
            return link.seal_label(self.id_raw, label)
        finally:
            link.close()

    def open_label(self, label_box: str) -> str:
        """A label box opened as the answerer's client opens it."""
        link = parse_fragment(self.fragment)
        try:
            return link.open_label(self.id_raw, label_box)
        finally:
            link.close()

    def seal(self, plaintext: bytes, *, meta: dict[str, object] | None = None, public_key: bytes | None = None
             ) -> bytes:
        return seal_answer(plaintext, request_id=self.id_raw, public_key=public_key or self.public_key,
                           meta=meta or {"type": "text"})

    def answer_body(self, answer: bytes, proof: str | None = None) -> dict[str, str]:
        return {"request_proof": proof or self.proof, "answer": b64u_encode(answer)}

    def private_buffer(self) -> SecretBuffer:
        return SecretBuffer(self.private_key)


def make_request() -> TestRequest:
    request_id = new_share_id()
    private, link = new_request_keys()
    with private, link.proof(request_id) as proof:
        raw_proof = bytes(proof.view())
        made = TestRequest(request_id, bytes(private.view()), link.public_key, link.fragment(), b64u_encode(raw_proof),
                           hashlib.sha256(raw_proof).hexdigest(), link.key_hash())
    link.close()
    return made


def other_link() -> RequestLink:
    """The link material of some other request."""
    private, link = new_request_keys()
    private.close()
    return link


def local_request_relay(data_dir: Path) -> Any:
    """The relay app in this process with the request endpoints, on a clock the test moves (a context manager)."""
    from tests.browser.support import LocalRelay

    class LocalRequestRelay(LocalRelay):
        async def _start(self, path: Path) -> str:
            from aiohttp import web

            from ots_desktop.server.link_api import RelaySettings, build_app
            from ots_desktop.server.link_model import DEFAULT_MAX_SIZE
            from ots_desktop.server.link_service import RUNNER_OPTIONS
            from ots_desktop.server.ratelimit import Rate
            from ots_desktop.server.request_api import add_request_routes
            from ots_desktop.server.request_store_sqlite import SqliteRequestStore, requests_path
            from ots_desktop.server.store_sqlite import SqliteStore

            self._store = await SqliteStore.open(path)
            self._requests = await SqliteRequestStore.open_file(requests_path(path))
            settings = RelaySettings(public_url="", max_size=DEFAULT_MAX_SIZE, create_rate=Rate(0, 1),
                                     reveal_rate=Rate(0, 1), clock=self.clock)
            app = build_app(self._store, settings)
            add_request_routes(app, self._requests)
            self._runner = web.AppRunner(app, **RUNNER_OPTIONS)
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", 0).start()
            settings.public_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
            return settings.public_url

        async def _shutdown(self) -> None:
            await super()._shutdown()
            await self._requests.close()

    @contextmanager
    def running() -> Iterator[LocalRelay]:
        relay = LocalRequestRelay(data_dir)
        try:
            yield relay
        finally:
            relay.close()

    return running()


def tamper_label_box(data_dir: Path, request_id: str) -> None:
    """Play a relay that alters a stored label box: flip one bit of it in the SQLite request store.

    A second connection to the running relay's WAL-mode store, as another process on the relay's
    host could open it; the relay reads the altered box on its next look-up.
    """
    import sqlite3

    (path,) = sorted(data_dir.rglob("*-requests.sqlite3"))
    conn = sqlite3.connect(path)
    try:
        with conn:
            (box,) = conn.execute("SELECT label_box FROM requests WHERE id = ?", (request_id,)).fetchone()
            raw = bytearray(b64u_decode(box))
            raw[-1] ^= 1
            conn.execute("UPDATE requests SET label_box = ? WHERE id = ?", (b64u_encode(bytes(raw)), request_id))
    finally:
        conn.close()
