"""The country database reader: lookups in a real MaxMind-format file, and reading a replaced file again."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from ots_desktop.server import geoip
from ots_desktop.server.geoip import CountryDatabase, GeoIPError, country_of
from tests.support.geoip import FRANCE, LOOPBACK_COUNTRY, NO_COUNTRY, UNITED_STATES, write_country_db


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return write_country_db(tmp_path / "countries.mmdb")


def test_lookups(db_path: Path) -> None:
    database = CountryDatabase.open(db_path)
    try:
        assert database.country("127.0.0.1") == LOOPBACK_COUNTRY
        assert database.country("::ffff:127.0.0.1") == LOOPBACK_COUNTRY  # IPv4-mapped IPv6
        assert database.country("::1") == LOOPBACK_COUNTRY
        assert database.country(FRANCE) == "FR" and database.country(UNITED_STATES) == "US"
        assert database.country("2001:db8:f::9") == "FR"
        for nowhere in (NO_COUNTRY, "127.0.1.1", "10.1.2.3", "fe80::1", "unknown", ""):
            assert database.country(nowhere) is None, nowhere
        assert database.describe().startswith("GeoLite2-Country built ")
    finally:
        database.close()


def test_record_shapes() -> None:
    assert country_of({"country": {"iso_code": "de"}, "registered_country": {"iso_code": "FR"}}) == "DE"
    assert country_of({"country_code": "FR"}) == "FR"  # flat country databases
    for record in (None, {}, {"registered_country": {"iso_code": "FR"}}, {"country": {"iso_code": "EUR"}},
                   {"country": "DE"}, {"country": {"iso_code": 7}}, "DE"):
        assert country_of(record) is None, record


def test_an_ipv4_only_database_has_no_country_for_ipv6(tmp_path: Path) -> None:
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=4, database_type="DBIP-Country-Lite")
    writer.insert_network(IPSet(["127.0.0.0/8"]), {"country": {"iso_code": "CH"}})
    writer.to_db_file(str(tmp_path / "v4.mmdb"))
    database = CountryDatabase.open(tmp_path / "v4.mmdb")
    assert database.country("127.0.0.1") == "CH" and database.country("::1") is None
    database.close()


def test_unusable_files_are_refused_with_a_sentence(tmp_path: Path) -> None:
    (tmp_path / "junk.mmdb").write_bytes(b"not a database at all" * 100)
    cases = {tmp_path / "missing.mmdb": "does not exist", tmp_path / "junk.mmdb": "not a MaxMind-format",
             tmp_path: "is a folder"}
    for path, words in cases.items():
        with pytest.raises(GeoIPError, match=words):
            CountryDatabase.open(path)


def _replace(path: Path, networks: dict[str, str]) -> None:
    """As geoipupdate does: write a new file beside it, then rename it over the old one."""
    fresh = write_country_db(path.with_suffix(".new"), networks)
    os.replace(fresh, path)


def test_a_replaced_file_is_read_again(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    database = CountryDatabase.open(db_path)
    database._clock = lambda: now[0]
    database._checked_at = 0.0
    _replace(db_path, {"127.0.0.0/8": "CH"})
    # Not looked at again before CHECK_INTERVAL_S has passed.
    assert database.country("127.0.0.1") == LOOPBACK_COUNTRY
    now[0] = geoip.CHECK_INTERVAL_S
    assert database.country("127.0.0.1") == "CH" and database.country(FRANCE) is None
    database.close()


def test_reload_now_and_a_broken_replacement_keeps_the_old_one(db_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    database = CountryDatabase.open(db_path)
    _replace(db_path, {"127.0.0.0/8": "AT"})
    assert database.reload() and database.country("127.0.0.1") == "AT"
    broken = db_path.with_suffix(".broken")
    broken.write_bytes(b"\0" * 4096)
    os.replace(broken, db_path)
    with caplog.at_level(logging.WARNING, logger="ots_desktop.server.geoip"):
        assert not database.reload()
    assert "previous one stays in use" in caplog.text
    assert database.country("127.0.0.1") == "AT"
    db_path.unlink()
    assert not database.reload() and database.country("127.0.0.1") == "AT"
    database.close()
