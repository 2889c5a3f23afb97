"""A request's label never reaches the relay in clear (issue 17), with the real ``ots`` CLI on both sides
and a real ``ots server`` relay on SQLite and on a real Redis.

The requester seals the label with a key from the link's fragment; the relay keeps and serves only the
opaque ``label_box``. A canary label is searched for in every byte the relay holds (its store files, the
Redis database, its log) after the request is made, answered and collected; ``ots answer`` prints it,
``ots request status`` shows it from the requester's own records, and a box the relay altered reads as
"(the description could not be read)" while the answer still goes through.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest

from tests.conftest import CANARY, Home
from tests.integration.test_link_cli import Links
from tests.support.redis_server import RedisServer
from tests.support.relay import RelayProcess, start_relay
from tests.support.secret_requests import tamper_label_box
from tests.support.servers import RunningServer

pytestmark = pytest.mark.usefixtures("keychain")
LABEL = "canary-label-91c4e2 Staging DB password for the migration"
UNREADABLE = "(the description could not be read)"


@dataclass(frozen=True)
class _Relay:
    """What :class:`Links` uses of a server: the relay's URL and its data folder."""

    link_url: str
    data_dir: Path


@pytest.fixture(params=["sqlite", "redis"])
def relay(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RelayProcess]:
    store = "sqlite"
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        store = request.getfixturevalue("redis_url")
        assert server.answers()
    process = start_relay(tmp_path / "relay", store=store)
    yield process
    process.stop()


@pytest.fixture
def tool(isolated_home: Home, relay: RelayProcess) -> Iterator[Links]:
    links = Links(isolated_home.root, cast(RunningServer, _Relay(relay.url, relay.data_dir)))
    yield links
    links.close()


def relay_bytes(relay: RelayProcess, request: pytest.FixtureRequest) -> bytes:
    """Every byte the relay holds: its store files, the Redis database if it uses one, its log."""
    files = b"".join(p.read_bytes() for p in sorted(relay.data_dir.rglob("*")) if p.is_file())
    if "redis" in request.node.callspec.id:
        files += request.getfixturevalue("redis_server").dump_bytes()
    return files + relay.log_text().encode()


def make_request(tool: Links) -> tuple[str, str]:
    made = tool.ots("request", "--json", "--label", LABEL, side=tool.sender)
    assert made.returncode == 0, made
    (row,) = made.lines()
    return row["id"], row["link"]


def test_the_relay_never_holds_the_label_and_both_sides_show_it(tool: Links, relay: RelayProcess,
                                                                request: pytest.FixtureRequest) -> None:
    request_id, link = make_request(tool)
    canary = LABEL.split(maxsplit=1)[0].encode()
    held = relay_bytes(relay, request)
    assert request_id.encode() in held, "the scan reaches the stored request"
    assert canary not in held
    # The requester's own records give the label, without the relay's copy.
    status = tool.ots("request", "status", request_id, side=tool.sender)
    assert status.returncode == 0 and f"Request {request_id} ({LABEL})" in status.stdout, status
    # The answerer's ots opens the sealed label with the link and prints it.
    answered = tool.ots("answer", link, "--json", side=tool.receiver, stdin=CANARY)
    assert answered.returncode == 0, answered
    assert answered.lines()[-1]["label"] == LABEL
    opened = tool.ots("request", "open", request_id, side=tool.sender)
    assert opened.returncode == 0 and opened.stdout.encode() == CANARY, opened
    listed = tool.ots("request", "status", request_id, "--json", side=tool.sender)
    assert listed.lines()[-1]["label"] == LABEL and listed.lines()[-1]["state"] == "opened"
    held = relay_bytes(relay, request)
    assert canary not in held and CANARY not in held


@pytest.mark.parametrize("relay", ["sqlite"], indirect=True)
def test_a_label_the_relay_altered_reads_as_unreadable_and_the_answer_goes_through(tool: Links) -> None:
    request_id, link = make_request(tool)
    tamper_label_box(tool.server.data_dir, request_id)
    answered = tool.ots("answer", link, side=tool.receiver, stdin=CANARY)
    assert answered.returncode == 0, answered
    assert f"Answered the request: {UNREADABLE}" in answered.stderr and LABEL not in answered.stderr
    opened = tool.ots("request", "open", request_id, side=tool.sender)
    assert opened.returncode == 0 and opened.stdout.encode() == CANARY, opened
    # The requester still knows what was asked for: the label is in its records.
    status = tool.ots("request", "status", request_id, "--json", side=tool.sender)
    assert status.lines()[-1]["label"] == LABEL
