"""Country codes for link country rules: ISO 3166-1 alpha-2, upper-cased, checked against the assigned list."""

from __future__ import annotations

from pathlib import Path

import pytest

from ots_desktop.core.countries import (
    ASSIGNED_CODES,
    COUNTRY_CODES,
    MAX_COUNTRIES,
    check_countries,
    parse_countries,
)
from ots_desktop.core.errors import InputError
from ots_desktop.core.policy import LinkPolicy
from ots_desktop.server.link_policy import ApiError
from ots_desktop.server.link_policy import parse_countries as parse_api_countries

TZ_ISO3166 = Path("/usr/share/zoneinfo/iso3166.tab")


def test_codes_are_upper_cased_and_deduplicated_in_order() -> None:
    assert check_countries(parse_countries(" de, FR;de\nxk  ch ")) == ("DE", "FR", "XK", "CH")
    assert check_countries(()) == ()
    assert LinkPolicy(allow_countries=("fr", "De")).checked().allow_countries == ("FR", "DE")


@pytest.mark.parametrize("bad", ["XX", "D", "DEU", "D3", "EU", "UK", "", "ÄÖ", "1"])
def test_anything_but_an_assigned_code_is_refused_with_its_name(bad: str) -> None:
    with pytest.raises(InputError, match="not a country code") as info:
        check_countries(["DE", bad])
    assert repr(bad.strip()) in info.value.message
    with pytest.raises(ApiError) as refused:
        parse_api_countries(["DE", bad])
    assert (refused.value.status, refused.value.code) == (400, "bad_request")


def test_at_most_max_countries() -> None:
    codes = sorted(ASSIGNED_CODES)
    assert len(check_countries(codes[:MAX_COUNTRIES])) == MAX_COUNTRIES
    with pytest.raises(InputError, match=f"at most {MAX_COUNTRIES} countries"):
        check_countries(codes[: MAX_COUNTRIES + 1])
    with pytest.raises(ApiError):
        parse_api_countries(codes[: MAX_COUNTRIES + 1])


@pytest.mark.parametrize("body", ["DE", [1], [["DE"]], {"DE": 1}])
def test_the_api_wants_a_list_of_strings(body: object) -> None:
    with pytest.raises(ApiError) as refused:
        parse_api_countries(body)
    assert refused.value.status == 400


def test_the_list_is_the_assigned_one() -> None:
    assert len(ASSIGNED_CODES) == 249 and COUNTRY_CODES - ASSIGNED_CODES == {"XK"}
    if not TZ_ISO3166.exists():
        pytest.skip("tzdata's iso3166.tab is not installed")
    listed = {line.split("\t")[0] for line in TZ_ISO3166.read_text(encoding="utf-8").splitlines()
              if line.strip() and not line.startswith("#")}
    assert listed == ASSIGNED_CODES
