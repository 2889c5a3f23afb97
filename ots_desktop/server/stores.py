"""Choosing the link store from a ``--store`` URL."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

from ots_desktop.server.link_model import LinkStore, describe_store
from ots_desktop.server.wormhole_services import ServerError

__all__ = ["DEFAULT_STORE", "check_store_url", "describe_store", "open_store"]

DEFAULT_STORE = "sqlite"
SQLITE_FILE = "links.sqlite3"


def check_store_url(url: str, platform: str = sys.platform) -> str:
    """Refuse a store URL the server cannot use, before anything starts."""
    scheme = urlsplit(url).scheme
    if scheme == "unix" and platform == "win32":
        raise ServerError("a unix:// Redis socket needs Unix sockets, which Windows does not offer; use "
                          "'redis://host:port/db'")
    if url == DEFAULT_STORE or scheme in ("sqlite", "redis", "rediss", "unix"):
        return url
    raise ServerError(f"unknown --store {describe_store(url)!r}: use 'sqlite', 'sqlite:///path/to/file', "
                      "'redis://host:port/db' or 'unix:///path/to/redis.sock?db=0'")


async def open_store(url: str, data_dir: Path) -> LinkStore:
    """Open the store ``url`` names; plain ``sqlite`` is a file in the server's data directory."""
    check_store_url(url)
    if url == DEFAULT_STORE:
        from ots_desktop.server.store_sqlite import SqliteStore

        return await SqliteStore.open(data_dir / SQLITE_FILE)
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        from ots_desktop.server.store_sqlite import SqliteStore

        path = parts.path if not parts.netloc else f"/{parts.netloc}{parts.path}"
        if not path or path == "/":
            raise ServerError("a sqlite store URL names a file: sqlite:///path/to/links.sqlite3")
        return await SqliteStore.open(Path(path))
    from ots_desktop.server.store_redis import RedisStore

    return await RedisStore.connect(url)
