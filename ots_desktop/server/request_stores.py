"""Choosing the request store from the relay's ``--store`` URL: beside the link store, same kind."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from ots_desktop.server.request_model import RequestStore
from ots_desktop.server.stores import DEFAULT_STORE, SQLITE_FILE, check_store_url


async def open_request_store(url: str, data_dir: Path) -> RequestStore:
    """The request store for the link store ``url``: a SQLite file beside it, or the same Redis database."""
    check_store_url(url)
    parts = urlsplit(url)
    if url == DEFAULT_STORE or parts.scheme == "sqlite":
        from ots_desktop.server.request_store_sqlite import SqliteRequestStore, requests_path

        links = data_dir / SQLITE_FILE if url == DEFAULT_STORE else Path(
            parts.path if not parts.netloc else f"/{parts.netloc}{parts.path}")
        return await SqliteRequestStore.open_file(requests_path(links))
    from ots_desktop.server.request_store_redis import RedisRequestStore

    return await RedisRequestStore.connect(url)
