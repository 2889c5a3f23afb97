"""Country rules end to end: ``ots server --geoip-db`` and ``ots send --via link --allow-country``.

Real relay processes on SQLite and on Redis read a small country database written for the test
(tests/support/geoip.py): 127.0.0.1 is in Germany, 203.0.113.0/24 in France, 198.51.100.0/24 in the
United States, and 192.0.2.0/24 has no country. The relays trust 127.0.0.1 as a proxy, so a test
"comes from" France by sending the X-Forwarded-For header a proxy would add; those addresses are only
text in a header, nothing is sent to them. The CLI runs as child processes with two installations
(sender and receiver) on the real Secret Service.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ots_desktop.core.errors import ExitCode
from tests.conftest import CANARY
from tests.support.geoip import FRANCE, NO_COUNTRY, UNITED_STATES, write_country_db
from tests.support.processes import wait_until
from tests.support.relay import (
    API,
    UNLIMITED,
    RelayClient,
    RelayProcess,
    Reply,
    Share,
    http_session,
    make_share,
    run_async,
    start_relay,
)

OTS = [sys.executable, "-m", "ots_desktop.cli"]
TIMEOUT_S = 60.0
SECRET = b"country secret"


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest) -> str:
    """The store the relays use: a SQLite file of their own, or the test redis-server."""
    return "sqlite" if request.param == "sqlite" else str(request.getfixturevalue("redis_url"))


@pytest.fixture
def country_db(tmp_path: Path) -> Path:
    return write_country_db(tmp_path / "countries.mmdb")


@pytest.fixture
def relay(tmp_path: Path, store: str, country_db: Path) -> Iterator[RelayProcess]:
    """A relay with the country database, behind a (pretend) proxy on 127.0.0.1."""
    process = start_relay(tmp_path, name="geo-relay", store=store,
                          extra=[*UNLIMITED, "--geoip-db", str(country_db), "--trust-proxy", "127.0.0.1/32"])
    yield process
    process.stop()


@pytest.fixture
def plain_relay(tmp_path: Path, store: str) -> Iterator[RelayProcess]:
    """A relay without a country database."""
    process = start_relay(tmp_path, name="plain-relay", store=store)
    yield process
    process.stop()


async def _reveal(client: RelayClient, share: Share, forwarded_for: str | None = None) -> Reply:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for is not None else {}
    return await client.request("POST", f"{API}/{share.id}/reveal", json_body=share.reveal_body(), headers=headers)


async def _park(client: RelayClient, share: Share, **policy: Any) -> str:
    created = await client.create(share, **policy)
    assert created.status == 201, created
    return str(created.body["status_token"])


def test_only_allowed_countries_reveal_and_refusals_consume_nothing(relay: RelayProcess) -> None:
    in_france, in_germany, both_rules = make_share(SECRET), make_share(SECRET), make_share(SECRET)

    async def scenario() -> None:
        async with http_session() as session:
            client = RelayClient(session, relay.url)
            health = await client.health()
            assert health.status == 200 and health.body["country_rules"] is True
            token = await _park(client, in_france, allow_countries=["fr"])
            # From Germany (the TCP peer itself), from the US, from an address with no country: refused.
            for forwarded in (None, UNITED_STATES, NO_COUNTRY, "127.0.1.1"):
                refused = await _reveal(client, in_france, forwarded)
                assert (refused.status, refused.code) == (403, "forbidden_country"), (forwarded, refused)
                assert "not from an allowed country" in refused.body["error"]
            assert (await client.meta(in_france.id)).body["state"] == "pending"
            status = await client.status(in_france.id, token)
            assert (status.body["state"], status.body["blocked_attempts"]) == ("pending", 4)
            allowed = await _reveal(client, in_france, FRANCE)
            assert allowed.status == 200, allowed
            assert in_france.open(allowed.body["envelope"]) == SECRET
            status = await client.status(in_france.id, token)
            assert status.body["state"] == "revealed" and status.body["reveals"][0]["from"] == FRANCE
            assert await client.metric("ots_relay_reveals_total", outcome="blocked") == 4

            # Behind the proxy, the country is the one of the address the walk from the right yields:
            # a French entry the client wrote itself, left of the proxy's, buys nothing.
            await _park(client, in_germany, allow_countries=["DE"])
            forged = await _reveal(client, in_germany, f"{FRANCE}, {UNITED_STATES}")
            assert (forged.status, forged.code) == (403, "forbidden_country"), forged
            assert (await _reveal(client, in_germany, f"{UNITED_STATES}, 127.0.0.1")).status == 403
            assert (await _reveal(client, in_germany)).status == 200

            # Networks and countries together: both must allow the address.
            await _park(client, both_rules, allow_cidrs=["203.0.113.0/24"], allow_countries=["DE"])
            assert (await _reveal(client, both_rules)).code == "forbidden_network"
            assert (await _reveal(client, both_rules, FRANCE)).code == "forbidden_country"
            assert (await client.meta(both_rules.id)).body["state"] == "pending"

    run_async(scenario())


def test_country_codes_are_checked_by_the_relay(relay: RelayProcess) -> None:
    async def scenario() -> None:
        async with http_session() as session:
            client = RelayClient(session, relay.url)
            for bad in (["XX"], ["DEU"], "DE", [7], ["de", "f"]):
                share = make_share(SECRET)
                refused = await client.create(share, allow_countries=bad)
                assert (refused.status, refused.code) == (400, "bad_request"), (bad, refused)
                assert (await client.meta(share.id)).status == 404
            lower = make_share(SECRET)
            await _park(client, lower, allow_countries=["de", "DE", "fr"])
            assert (await _reveal(client, lower)).status == 200

    run_async(scenario())


def test_a_relay_without_a_database_refuses_country_rules_at_create(plain_relay: RelayProcess) -> None:
    share = make_share(SECRET)

    async def scenario() -> None:
        async with http_session() as session:
            client = RelayClient(session, plain_relay.url)
            health = await client.health()
            assert health.status == 200 and health.body["country_rules"] is False
            refused = await client.create(share, allow_countries=["DE"])
            assert (refused.status, refused.code) == (400, "country_rules_unavailable"), refused
            assert "--geoip-db" in refused.body["error"]
            assert (await client.meta(share.id)).status == 404
            assert (await client.create(share)).status == 201  # without the rule, the same share is taken

    run_async(scenario())


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_sighup_reads_a_replaced_database(tmp_path: Path, relay: RelayProcess, country_db: Path) -> None:
    assert relay.ready["country_rules"] is True
    share = make_share(SECRET)

    async def scenario() -> None:
        async with http_session() as session:
            client = RelayClient(session, relay.url)
            await _park(client, share, allow_countries=["CH"])
            assert (await _reveal(client, share)).code == "forbidden_country"
            # As geoipupdate does: a complete new file renamed over the old one, then SIGHUP. Only a
            # reveal would look at the file's time, and none happens before the log says it was read.
            os.replace(write_country_db(tmp_path / "next.mmdb", {"127.0.0.0/8": "CH"}), country_db)
            os.kill(relay.pid, signal.SIGHUP)
            wait_until(lambda: "country database re-read" in relay.log_text(), timeout=TIMEOUT_S,
                       what="the relay to read the new country database")
            assert (await _reveal(client, share)).status == 200
            assert relay.alive()

    run_async(scenario())


def test_an_unusable_database_stops_the_relay_at_start(tmp_path: Path) -> None:
    (tmp_path / "junk.mmdb").write_bytes(b"junk" * 1000)
    for path, words in ((tmp_path / "junk.mmdb", "not a MaxMind-format"), (tmp_path / "none.mmdb", "does not exist")):
        ran = subprocess.run([*OTS, "server", "--no-wormhole", "--link-port", "0", "--geoip-db", str(path),
                              "--data-dir", str(tmp_path / "data")], capture_output=True, text=True,
                             timeout=TIMEOUT_S, check=False)
        assert ran.returncode == ExitCode.USAGE and words in ran.stderr, ran
        assert "Traceback" not in ran.stderr


# ---------------------------------------------------------------- the CLI, sender and receiver


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


class Cli:
    """``ots`` for a sender and a receiver installation against one relay."""

    def __init__(self, root: Path, relay_url: str) -> None:
        self.root = root
        self.relay_url = relay_url
        for side in ("sender", "receiver"):
            (root / side).mkdir(mode=0o700, parents=True, exist_ok=True)

    def ots(self, *args: str, side: str, stdin: bytes = b"") -> Ran:
        env = {**os.environ, "OTS_HOME": str(self.root / side), "OTS_RELAY_URL": self.relay_url}
        raw = subprocess.run([*OTS, *args], input=stdin, capture_output=True, env=env, timeout=TIMEOUT_S,
                             check=False, start_new_session=True, cwd=self.root)
        return Ran(raw.returncode, raw.stdout.decode("utf-8", "replace"), raw.stderr.decode("utf-8", "replace"))

    def send(self, secret: bytes, *args: str) -> Ran:
        return self.ots("send", "--via", "link", "--json", *args, side="sender", stdin=secret)

    def audit(self, side: str) -> list[tuple[str, str | None]]:
        result = self.ots("audit", "list", "--json", "--limit", "1000", side=side)
        assert result.returncode == 0, result
        return [(row["event_type"], row.get("reason")) for row in reversed(result.lines())
                if row["event_type"] != "audit_reviewed"]


@pytest.mark.usefixtures("keychain")
def test_cli_country_rule_end_to_end(tmp_path: Path, relay: RelayProcess) -> None:
    cli = Cli(tmp_path / "cli", relay.url)
    sent = cli.send(SECRET, "--allow-country", "fr,US", "--allow-country", "ch")
    assert sent.returncode == 0, sent
    [made] = sent.lines()
    blocked = cli.ots("receive", made["link"], "--json", side="receiver")
    assert blocked.returncode == ExitCode.REJECTED, blocked
    assert "not from an allowed country" in blocked.stderr and "Traceback" not in blocked.stderr
    assert blocked.lines()[-1]["reason"] == "blocked_network"
    assert cli.audit("receiver")[-1] == ("alert", "blocked_network")
    status = cli.ots("link", "status", made["id"], "--json", side="sender")
    assert status.returncode == 0, status
    assert (status.lines()[-1]["state"], status.lines()[-1]["blocked_attempts"]) == ("pending", 1)
    assert ("alert", "blocked_network") in cli.audit("sender")

    opened = cli.send(CANARY, "--allow-country", "de")
    assert opened.returncode == 0, opened
    received = cli.ots("receive", opened.lines()[0]["link"], side="receiver")
    assert received.returncode == 0 and received.stdout.encode() == CANARY, received


@pytest.mark.usefixtures("keychain")
def test_cli_refuses_bad_codes_before_reading_the_secret(tmp_path: Path, relay: RelayProcess) -> None:
    cli = Cli(tmp_path / "cli", relay.url)
    for codes in ("XX", "DE,FRA", "de;1"):
        result = cli.send(CANARY, "--allow-country", codes)
        assert result.returncode == ExitCode.USAGE, result
        assert "--allow-country" in result.stderr and "not a country code" in result.stderr
        assert "/s/" not in result.stdout
    wormhole = cli.ots("send", "--allow-country", "DE", side="sender", stdin=b"x")
    assert wormhole.returncode == ExitCode.USAGE and "--allow-country" in wormhole.stderr


@pytest.mark.usefixtures("keychain")
def test_cli_says_when_the_relay_cannot_check_countries(tmp_path: Path, plain_relay: RelayProcess) -> None:
    cli = Cli(tmp_path / "cli", plain_relay.url)
    result = cli.send(CANARY, "--allow-country", "DE")
    assert result.returncode == ExitCode.ERROR, result
    assert "cannot limit links to countries" in result.stderr and "--geoip-db" in result.stderr
    assert "/s/" not in result.stdout and "Traceback" not in result.stderr
    # Refused before anything was recorded or parked.
    assert ("share_created", None) not in cli.audit("sender")
