"""A real ``redis-server`` for tests: private socket, no persistence, stopped by PID."""

from __future__ import annotations

import shutil
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.support.processes import Service, wait_until

READY_TIMEOUT_S = 20.0
# sun_path holds 108 bytes; stay well under it.
MAX_SOCKET_PATH = 100
TCP_ATTEMPTS = 5


@dataclass
class RedisServer:
    """A started ``redis-server`` listening on a unix socket (and a TCP port if asked)."""

    service: Service
    socket_path: Path
    work_dir: Path
    port: int | None = None
    _own_dir: bool = False
    _client: redis.Redis | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.service.pid

    @property
    def url(self) -> str:
        """The store URL of database 0 over the unix socket."""
        return f"unix://{self.socket_path}?db=0"

    @property
    def tcp_url(self) -> str:
        """The store URL over TCP (only for servers started with ``tcp=True``)."""
        if self.port is None:
            raise RuntimeError("this redis-server listens on its unix socket only")
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        """A synchronous client for inspecting database 0."""
        if self._client is None:
            self._client = redis.Redis(unix_socket_path=str(self.socket_path), db=0, socket_timeout=10)
        return self._client

    def answers(self) -> bool:
        """Whether the server replies to PING right now."""
        if not self.socket_path.exists():
            return False
        try:
            with redis.Redis(unix_socket_path=str(self.socket_path), socket_timeout=1) as probe:
                return bool(probe.ping())
        except redis.RedisError:
            return False

    def flushdb(self) -> None:
        """Empty database 0."""
        self.client().flushdb()

    def dump(self) -> dict[bytes, object]:
        """Every key of database 0 with its value, read type by type (not DUMP: that may compress)."""
        client = self.client()
        result: dict[bytes, object] = {}
        for key in client.scan_iter(count=500):
            kind = client.type(key)
            if kind == b"string":
                result[key] = client.get(key)
            elif kind == b"hash":
                result[key] = client.hgetall(key)
            elif kind == b"list":
                result[key] = client.lrange(key, 0, -1)
            elif kind == b"set":
                result[key] = sorted(client.smembers(key))
            elif kind == b"zset":
                result[key] = client.zrange(key, 0, -1, withscores=True)
            else:
                result[key] = kind
        return result

    def dump_bytes(self) -> bytes:
        """All keys and values of database 0 as one byte string, for canary scans."""
        parts: list[bytes] = []

        def add(value: object) -> None:
            if isinstance(value, bytes):
                parts.append(value)
            elif isinstance(value, dict):
                for k, v in value.items():
                    add(k)
                    add(v)
            elif isinstance(value, list | tuple):
                for item in value:
                    add(item)
            else:
                parts.append(repr(value).encode())

        for key, value in self.dump().items():
            add(key)
            add(value)
        return b"\n".join(parts)

    def stop(self) -> None:
        """SIGTERM exactly this PID; remove the private directory if this object made it."""
        if self._client is not None:
            self._client.close()
            self._client = None
        self.service.stop()
        if self._own_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _launch(work_dir: Path, own_dir: bool, port: int | None, appendonly: bool = False) -> RedisServer:
    sock = work_dir / "redis.sock"
    argv = ["redis-server", "--port", str(port or 0), "--unixsocket", str(sock), "--unixsocketperm", "700",
            "--save", "", "--appendonly", "yes" if appendonly else "no", "--dir", str(work_dir),
            "--daemonize", "no", "--logfile", str(work_dir / "redis.log")]
    if appendonly:
        argv += ["--appendfsync", "always"]
    if port is not None:
        argv += ["--bind", "127.0.0.1", "--protected-mode", "yes"]
    service = Service(f"redis-{port or 'unix'}", argv, cwd=work_dir, log_dir=work_dir)
    server = RedisServer(service=service, socket_path=sock, work_dir=work_dir, port=port, _own_dir=own_dir)
    try:
        wait_until(lambda: server.answers() or not service.alive(), timeout=READY_TIMEOUT_S,
                   what="redis-server to answer PING")
    except TimeoutError:
        service.stop()
        raise
    if not service.alive():
        log = work_dir / "redis.log"
        text = log.read_text("utf-8", "replace") if log.exists() else service.log_text()
        service.stop()
        raise RuntimeError(f"redis-server exited ({service.proc.returncode}) before answering:\n{text}")
    return server


def start_redis(work_dir: Path, *, tcp: bool = False, appendonly: bool = False) -> RedisServer:
    """Start ``redis-server`` in ``work_dir`` (a short private directory is used if its path is too long).

    The unix socket is always there. With ``tcp=True`` it also listens on 127.0.0.1 on a port
    picked by the OS; redis-server cannot pick one itself, so a port taken in between is
    retried with another. ``appendonly=True`` keeps an append-only file (fsynced on every
    write) in ``work_dir``, as a persistent production Redis would; RDB snapshots stay off.
    """
    own_dir = len(str(work_dir / "redis.sock")) > MAX_SOCKET_PATH
    if own_dir:
        work_dir = Path(tempfile.mkdtemp(prefix="ots-redis-", dir="/tmp"))
    work_dir.chmod(0o700)
    if not tcp:
        return _launch(work_dir, own_dir, None, appendonly)
    last: Exception | None = None
    for _ in range(TCP_ATTEMPTS):
        try:
            return _launch(work_dir, own_dir, _free_port(), appendonly)
        except RuntimeError as exc:  # most likely the port was taken meanwhile
            last = exc
    raise RuntimeError(f"redis-server could not listen on a free TCP port in {TCP_ATTEMPTS} tries: {last}")
