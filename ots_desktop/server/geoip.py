"""The country database behind per-link country rules (``ots server --geoip-db FILE``).

A MaxMind-format (``.mmdb``) file the operator downloads: MaxMind's GeoLite2-Country or
GeoIP2-Country, DB-IP's country database, or a City database of either (it names the country
too). It is read with MaxMind's ``maxminddb`` reader, memory-mapped, so a lookup is a few
microseconds and needs no network.

The file is read again when it changes: :meth:`CountryDatabase.country` looks at its
modification time, size and inode at most every ``CHECK_INTERVAL_S`` seconds, and
:meth:`CountryDatabase.reload` (``ots server`` calls it on SIGHUP) reads it at once. A new
file that cannot be read leaves the previous one in use, with a warning in the log. Replace
the file by renaming a complete new one over it (as ``geoipupdate`` does), not by writing into it.

An address the database holds no country for (loopback, private ranges, anything unlisted) has
no country, and a link with a country rule refuses it: the rule fails closed.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ots_desktop.core.errors import OtsError

CHECK_INTERVAL_S = 5.0
_log = logging.getLogger(__name__)


class GeoIPError(OtsError):
    """The country database cannot be used (missing, unreadable, not a MaxMind database)."""


def _signature(path: Path) -> tuple[int, int, int]:
    info = path.stat()
    return info.st_ino, info.st_mtime_ns, info.st_size


def _open_reader(path: Path) -> Any:
    try:
        import maxminddb  # only a relay given --geoip-db loads it
    except ImportError:
        raise GeoIPError("a country database needs the 'maxminddb' package: pip install maxminddb") from None
    try:
        return maxminddb.open_database(str(path), maxminddb.MODE_AUTO)
    except FileNotFoundError:
        raise GeoIPError(f"the country database {path} does not exist") from None
    except OSError as exc:
        raise GeoIPError(f"the country database {path} cannot be read: {exc.strerror or exc}") from None
    except (ValueError, maxminddb.InvalidDatabaseError):
        raise GeoIPError(f"{path} is not a MaxMind-format (.mmdb) database") from None


def country_of(record: object) -> str | None:
    """The ISO country code in a database record: ``country.iso_code`` (MaxMind and DB-IP), or the flat
    ``country_code`` some other country databases use; None when there is none."""
    if not isinstance(record, dict):
        return None
    country = record.get("country")
    code = country.get("iso_code") if isinstance(country, dict) else record.get("country_code")
    if isinstance(code, str) and len(code) == 2 and code.isascii() and code.isalpha():
        return code.upper()
    return None


class CountryDatabase:
    """An open country database, read again when its file is replaced."""

    def __init__(self, path: Path, reader: Any, signature: tuple[int, int, int],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._reader = reader
        self._signature = signature
        self._clock = clock
        self._checked_at = clock()

    @classmethod
    def open(cls, path: Path) -> CountryDatabase:
        """Open ``path``; :class:`GeoIPError` with a sentence for the operator if it cannot be used."""
        path = path.expanduser()
        if path.is_dir():
            raise GeoIPError(f"{path} is a folder: give the .mmdb file itself")
        reader = _open_reader(path)
        try:
            signature = _signature(path)
        except OSError as exc:
            reader.close()
            raise GeoIPError(f"the country database {path} cannot be read: {exc.strerror}") from None
        return cls(path, reader, signature)

    def describe(self) -> str:
        """The database's kind and build date, for the start-up line and the log."""
        meta = self._reader.metadata()
        built = time.strftime("%Y-%m-%d", time.gmtime(int(meta.build_epoch)))
        return f"{meta.database_type} built {built}"

    def country(self, ip: str) -> str | None:
        """The upper-case country code of ``ip``, or None (not an address, or no country on record)."""
        self._check_file()
        try:
            address = ipaddress.ip_address(ip)
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
                address = address.ipv4_mapped
            record = self._reader.get(address)
        except ValueError:  # not an address, or IPv6 in an IPv4-only database
            return None
        return country_of(record)

    def _check_file(self) -> None:
        now = self._clock()
        if now - self._checked_at < CHECK_INTERVAL_S:
            return
        self._checked_at = now
        try:
            changed = _signature(self.path) != self._signature
        except OSError:
            return  # in the middle of being replaced: keep what we have and look again later
        if changed:
            self.reload()

    def reload(self) -> bool:
        """Read the file again now; on failure keep the database in use (and log why). True if re-read."""
        try:
            signature = _signature(self.path)
            reader = _open_reader(self.path)
        except OSError as exc:
            _log.warning("the country database was not re-read; the previous one stays in use: %s", exc)
            return False
        except GeoIPError as exc:
            self._signature = signature  # tried once: look again when the file changes again
            _log.warning("the country database was not re-read; the previous one stays in use: %s", exc)
            return False
        old, self._reader, self._signature = self._reader, reader, signature
        old.close()
        _log.info("country database re-read: %s", self.describe())
        return True

    def close(self) -> None:
        """Release the file."""
        self._reader.close()
