"""Small country databases for tests, written in the MaxMind format by ``mmdb-writer``.

Records look like GeoLite2-Country's (``{"country": {"iso_code": ..., "names": {...}}}``), so the
relay reads them exactly as it reads the real file. Loopback and the documentation networks are
given test countries; 127.0.1.0/24 and everything else (private ranges, 192.0.2.0/24) are left
out, so those addresses have no country.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet

# 127.0.0.1 (every test client) is in Germany; forwarded addresses from the documentation networks
# are in France and the United States.
LOOPBACK_COUNTRY = "DE"
TEST_COUNTRIES: Mapping[str, str] = {
    "127.0.0.0/24": LOOPBACK_COUNTRY,
    "::1/128": LOOPBACK_COUNTRY,
    "203.0.113.0/24": "FR",
    "198.51.100.0/24": "US",
    "2001:db8:f::/48": "FR",
}
FRANCE = "203.0.113.7"
UNITED_STATES = "198.51.100.9"
NO_COUNTRY = "192.0.2.10"
_NAMES = {"DE": "Germany", "FR": "France", "US": "United States"}


def write_country_db(path: Path, networks: Mapping[str, str] = TEST_COUNTRIES, *,
                     database_type: str = "GeoLite2-Country") -> Path:
    """Write a country database mapping each network to its code; return ``path``."""
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type=database_type,
                        languages=["en"], description="ots-desktop test countries")
    for network, code in networks.items():
        record = {"country": {"iso_code": code, "names": {"en": _NAMES.get(code, code)}}}
        writer.insert_network(IPSet([network]), record)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer.to_db_file(str(path))
    return path
