"""Country codes a link may be limited to: ISO 3166-1 alpha-2, checked against the assigned list.

The relay looks the client's address up in a country database (MaxMind's GeoLite2-Country or
DB-IP's country database) and compares the code found there with the link's list. Those
databases use the ISO 3166-1 alpha-2 codes, plus ``XK`` for Kosovo (a user-assigned code both
use), so these are the codes a link may name. Codes are upper-cased and duplicates dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ots_desktop.core.errors import InputError

# The officially assigned ISO 3166-1 alpha-2 codes (249), as tzdata's iso3166.tab lists them.
_ASSIGNED = """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT
BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH
ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT
HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS
LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI
NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG
SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG
UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
"""
ASSIGNED_CODES = frozenset(_ASSIGNED.split())
# User-assigned codes the country databases use for places without an assigned one.
DATABASE_CODES = frozenset({"XK"})
COUNTRY_CODES = ASSIGNED_CODES | DATABASE_CODES
MAX_COUNTRIES = 64
_SPLIT = re.compile(r"[,;\s]+")


def parse_countries(text: str) -> tuple[str, ...]:
    """Codes separated by commas, semicolons, spaces or line breaks (checked by :func:`check_countries`)."""
    return tuple(part for part in _SPLIT.split(text) if part)


def check_country(value: str) -> str:
    """One code, upper-cased; an InputError naming it when it is not an ISO 3166-1 alpha-2 code."""
    code = value.strip().upper()
    if code not in COUNTRY_CODES:
        shown = value.strip()[:16]
        raise InputError(f"{shown!r} is not a country code: use two-letter ISO 3166-1 codes like DE or FR")
    return code


def check_countries(values: Iterable[str]) -> tuple[str, ...]:
    """The codes upper-cased, checked, without duplicates (first one kept), at most MAX_COUNTRIES."""
    codes: list[str] = []
    for value in values:
        code = check_country(value)
        if code not in codes:
            codes.append(code)
    if len(codes) > MAX_COUNTRIES:
        raise InputError(f"a link allows at most {MAX_COUNTRIES} countries")
    return tuple(codes)
