"""One-time links end to end: `ots send --via link`, `ots receive LINK`, `ots link status|revoke|watch`.

Everything is real: an ``ots server`` relay process, the ``ots`` CLI as child processes
(each in its own session, so no terminal can be asked), two installations (sender and
receiver) with their audit logs on the real Secret Service. Every wait has a deadline.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ots_desktop.core.envelope import read_header, seal
from ots_desktop.core.errors import ExitCode
from ots_desktop.core.ids import b64u_decode, b64u_encode, new_fragment_key, new_share_id
from ots_desktop.core.kdf import auth_token_hash, derive_keys
from tests.conftest import CANARY, Home
from tests.support.canary import files_under, find_canary
from tests.support.servers import RunningServer, start_ots_server
from tests.support.wormhole_cli import CliProcess

pytestmark = pytest.mark.usefixtures("keychain")

OTS = [sys.executable, "-m", "ots_desktop.cli"]
TIMEOUT_S = 60.0
PASSPHRASE = "correct horse battery staple"


@dataclass
class Ran:
    """A finished ``ots`` process."""

    returncode: int
    stdout: str
    stderr: str

    def lines(self) -> list[dict[str, Any]]:
        """The JSON lines of stdout."""
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


@dataclass
class Side:
    """One installation."""

    name: str
    home: Path
    relay: str

    @property
    def env(self) -> dict[str, str]:
        return {"OTS_HOME": str(self.home), "OTS_RELAY_URL": self.relay}


class Links:
    """Runs ``ots`` for a sender and a receiver against one relay."""

    def __init__(self, root: Path, server: RunningServer) -> None:
        assert server.link_url
        self.root = root
        self.server = server
        self.relay = server.link_url
        self.sender = self.side("sender")
        self.receiver = self.side("receiver")
        self.out = root / "downloads"
        self.out.mkdir(mode=0o700)
        self.processes: list[CliProcess] = []

    def side(self, name: str) -> Side:
        home = self.root / f"{name}-ots"
        home.mkdir(mode=0o700, exist_ok=True)
        return Side(name, home, self.relay)

    def ots(self, *args: str, side: Side, stdin: bytes = b"", fds: Sequence[int] = (),
            env: dict[str, str] | None = None, timeout: float = TIMEOUT_S) -> Ran:
        full = dict(os.environ)
        full.update(side.env)
        full.update(env or {})
        raw = subprocess.run([*OTS, *args], input=stdin, capture_output=True, env=full, timeout=timeout,
                             pass_fds=tuple(fds), check=False, start_new_session=True, cwd=self.root)
        return Ran(raw.returncode, raw.stdout.decode("utf-8", "replace"), raw.stderr.decode("utf-8", "replace"))

    def send(self, secret: bytes, *args: str, expect: int = 0, **kwargs: Any) -> list[dict[str, Any]]:
        result = self.ots("send", "--via", "link", "--json", *args, side=self.sender, stdin=secret, **kwargs)
        assert result.returncode == expect, result
        return result.lines()

    def receive(self, link: str, *args: str, side: Side | None = None, **kwargs: Any) -> Ran:
        return self.ots("receive", link, *args, side=side or self.receiver, **kwargs)

    def audit(self, side: Side) -> list[dict[str, Any]]:
        """The installation's audit entries, oldest first (without the review entries listing adds)."""
        result = self.ots("audit", "list", "--json", "--limit", "10000", side=side)
        assert result.returncode == 0, result
        return [row for row in reversed(result.lines()) if row["event_type"] != "audit_reviewed"]

    def status(self, ref: str) -> dict[str, Any]:
        result = self.ots("link", "status", ref, "--json", side=self.sender)
        assert result.returncode == 0, result
        return result.lines()[-1]

    def spawn(self, *args: str, side: Side) -> CliProcess:
        env = dict(side.env)
        process = CliProcess("ots", [*OTS, *args], env=env)
        self.processes.append(process)
        return process

    def close(self) -> None:
        for process in self.processes:
            process.close()


@pytest.fixture
def relay_server(isolated_home: Home) -> Iterator[RunningServer]:
    """A real ``ots server`` running only the link relay, without rate limits, stopped by PID."""
    server = start_ots_server(isolated_home.root, "--no-wormhole", "--create-rate", "0", "--reveal-rate", "0")
    yield server
    server.stop()


@pytest.fixture
def links(isolated_home: Home, relay_server: RunningServer) -> Iterator[Links]:
    tool = Links(isolated_home.root, relay_server)
    yield tool
    tool.close()


class PassphraseFd:
    """A pipe whose read end carries a passphrase to a child (``--passphrase-fd N``)."""

    def __init__(self, text: str) -> None:
        self.read_fd, write_fd = os.pipe()
        os.write(write_fd, text.encode() + b"\n")
        os.close(write_fd)

    def args(self) -> list[str]:
        return ["--passphrase-fd", str(self.read_fd)]

    def close(self) -> None:
        os.close(self.read_fd)


def with_passphrase(links: Links, command: str, text: str, *args: str, side: Side | None = None,
                    stdin: bytes = b"") -> Ran:
    pipe = PassphraseFd(text)
    try:
        if command == "send":
            return links.ots("send", "--via", "link", "--json", *pipe.args(), *args, side=links.sender,
                             stdin=stdin, fds=[pipe.read_fd])
        return links.ots("receive", *args, *pipe.args(), side=side or links.receiver, fds=[pipe.read_fd])
    finally:
        pipe.close()


def key_of(link: str) -> bytes:
    return b64u_decode(link.rpartition("#")[2])


def leaks(roots: Sequence[Path], needle: bytes) -> list[str]:
    """Files holding ``needle`` raw, in hex or in base64/base64url at any alignment."""
    forms = {"raw": needle, "hex": needle.hex().encode(), "HEX": needle.hex().upper().encode()}
    for shift in range(3):
        padded = b"\0" * shift + needle
        for name, enc in (("b64", base64.b64encode), ("b64u", base64.urlsafe_b64encode)):
            forms[f"{name}+{shift}"] = enc(padded).rstrip(b"=")[(shift * 4 + 2) // 3 + 1: -2]
    return [f"{path}: {name}" for path in files_under(roots) for name, form in forms.items()
            if form in path.read_bytes()]


def scan_roots(links: Links) -> list[Path]:
    """Everything this test wrote (both installations, the relay's data and log, HOME, OTS_HOME), except
    the files sent and the downloads, which hold the secret on purpose."""
    roots = [p for p in links.root.iterdir() if p != links.out and p.suffix != ".bin"]
    assert {links.sender.home, links.receiver.home, links.server.data_dir} <= set(roots)
    return roots


def assert_nothing_leaked(links: Links, secret: bytes, keys: Sequence[bytes]) -> None:
    roots = scan_roots(links)
    assert files_under(roots), "nothing to scan"
    assert find_canary(roots, secret) == []
    for key in keys:
        assert leaks(roots, key) == []


def types(rows: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(row["event_type"], row.get("reason")) for row in rows]


# ---------------------------------------------------------------- text, once


def test_text_link_opens_once_then_says_already_opened(links: Links) -> None:
    secret = CANARY + b" text"
    [made] = links.send(secret, "--recipient", "sam", "--label", "db password")
    assert made["event"] == "link" and made["recipient"] == "sam" and made["link"].startswith(links.relay + "/s/")
    assert made["link"] == f"{links.relay}/s/{made['id']}#{made['link'].rpartition('#')[2]}"
    assert len(made["id"]) == 22 and len(made["link"].rpartition("#")[2]) == 43
    assert made["expires_at"].endswith("Z") and made["max_views"] == 1 and made["needs_passphrase"] is False

    first = links.receive(made["link"])
    assert first.returncode == 0, first
    assert first.stdout.encode() == secret

    second = links.receive(made["link"], "--json")
    assert second.returncode == ExitCode.NOT_FOUND, second
    assert "already opened" in second.stderr
    failed = second.lines()[-1]
    assert failed["event"] == "failed" and failed["reason"] == "already_consumed"

    received = links.audit(links.receiver)
    assert types(received)[-2:] == [("secret_received", None), ("alert", "already_consumed")]
    assert received[-2]["share_id"] == made["id"] and received[-2]["channel"] == "link"
    assert received[-1]["outcome"] == "alert"

    sent = links.audit(links.sender)
    created = [row for row in sent if row["event_type"] == "share_created"]
    assert len(created) == 1
    assert created[0]["share_id"] == made["id"] and created[0]["channel"] == "link"
    assert created[0]["recipient"] == "sam" and created[0]["label"] == "db password"
    assert created[0]["max_views"] == 1 and created[0]["expires_at"].endswith("Z")
    assert created[0]["fingerprint"].startswith("blake3:") and received[-2]["fingerprint"].startswith("blake3:")
    assert_nothing_leaked(links, secret, [key_of(made["link"])])


def test_human_output_prints_the_link_and_json_receive(links: Links) -> None:
    result = links.ots("send", "--via", "link", "--expire", "2h", side=links.sender, stdin=b"hello there\n")
    assert result.returncode == 0, result
    [link] = result.stdout.split()
    assert link.startswith(links.relay + "/s/") and "expires in 2h" in result.stderr
    got = links.receive(link, "--json")
    assert got.returncode == 0, got
    line = got.lines()[-1]
    assert line["event"] == "received" and line["kind"] == "text" and line["text"] == "hello there"
    assert line["views_left"] == 0


def test_two_views(links: Links) -> None:
    [made] = links.send(b"twice", "--views", "2")
    first = links.receive(made["link"])
    assert first.returncode == 0 and first.stdout == "twice", first
    assert "1 more time" in first.stderr
    assert links.receive(made["link"]).stdout == "twice"
    third = links.receive(made["link"])
    assert third.returncode == ExitCode.NOT_FOUND and "already opened" in third.stderr


def test_each_recipient_gets_a_distinct_link(links: Links) -> None:
    made = links.send(CANARY, "--recipient", "alice", "--recipient", "bob")
    assert [m["recipient"] for m in made] == ["alice", "bob"]
    assert made[0]["id"] != made[1]["id"]
    assert key_of(made[0]["link"]) != key_of(made[1]["link"])
    for m in made:
        assert links.receive(m["link"]).stdout.encode() == CANARY
        assert links.receive(m["link"]).returncode == ExitCode.NOT_FOUND
    created = [row for row in links.audit(links.sender) if row["event_type"] == "share_created"]
    assert [(row["share_id"], row["recipient"]) for row in created] == [(m["id"], m["recipient"]) for m in made]
    assert len({row["fingerprint"] for row in created}) == 1
    assert_nothing_leaked(links, CANARY, [key_of(m["link"]) for m in made])


def test_duplicate_recipients_are_refused(links: Links) -> None:
    result = links.ots("send", "--via", "link", "--recipient", "a", "--recipient", "a", side=links.sender,
                       stdin=b"x")
    assert result.returncode == ExitCode.INPUT and "different" in result.stderr


# ---------------------------------------------------------------- passphrases


def test_wrong_passphrase_four_times_then_right(links: Links) -> None:
    sent = with_passphrase(links, "send", PASSPHRASE, stdin=CANARY)
    assert sent.returncode == 0, sent
    [made] = sent.lines()
    assert made["needs_passphrase"] is True
    for left in (4, 3, 2, 1):
        wrong = with_passphrase(links, "receive", f"wrong {left}", made["link"], "--json")
        assert wrong.returncode == ExitCode.WRONG_CODE, wrong
        assert f"{left} attempt{'s' if left != 1 else ''} left" in wrong.stderr
        assert wrong.lines()[-1]["reason"] == "wrong_passphrase"
    right = with_passphrase(links, "receive", PASSPHRASE, made["link"])
    assert right.returncode == 0, right
    assert right.stdout.encode() == CANARY
    rows = links.audit(links.receiver)
    assert types(rows).count(("alert", "wrong_passphrase")) == 4
    assert types(rows)[-1] == ("secret_received", None)
    status = links.status(made["id"])
    assert status["failed_attempts"] == 4 and status["state"] == "revealed"
    sender_rows = links.audit(links.sender)
    assert types(sender_rows).count(("alert", "wrong_passphrase")) == 4
    assert_nothing_leaked(links, CANARY, [key_of(made["link"])])
    assert_nothing_leaked(links, PASSPHRASE.encode(), [])


def test_five_wrong_passphrases_burn_the_link(links: Links) -> None:
    sent = with_passphrase(links, "send", PASSPHRASE, stdin=b"burn me")
    [made] = sent.lines()
    for _ in range(4):
        assert with_passphrase(links, "receive", "nope", made["link"]).returncode == ExitCode.WRONG_CODE
    fifth = with_passphrase(links, "receive", "nope", made["link"], "--json")
    assert fifth.returncode == ExitCode.WRONG_CODE, fifth
    assert "destroyed" in fifth.stderr and fifth.lines()[-1]["reason"] == "burned"
    after = with_passphrase(links, "receive", PASSPHRASE, made["link"])
    assert after.returncode == ExitCode.NOT_FOUND and "destroyed" in after.stderr
    assert types(links.audit(links.receiver))[-2:] == [("alert", "burned"), ("alert", "burned")]
    status = links.status(made["id"])
    assert status["state"] == "burned"
    assert ("alert", "burned") in types(links.audit(links.sender))


def test_missing_passphrase_without_a_terminal_is_a_clear_error(links: Links) -> None:
    [made] = with_passphrase(links, "send", PASSPHRASE, stdin=b"x").lines()
    result = links.receive(made["link"])
    assert result.returncode == ExitCode.INPUT and "passphrase" in result.stderr and "--passphrase-fd" in result.stderr
    # Nothing was consumed or counted.
    assert links.status(made["id"])["failed_attempts"] == 0
    assert with_passphrase(links, "receive", PASSPHRASE, made["link"]).stdout == "x"


def test_send_passphrase_prompt_needs_a_terminal(links: Links) -> None:
    result = links.ots("send", "--via", "link", "--passphrase", side=links.sender, stdin=b"x")
    assert result.returncode == ExitCode.INPUT and "--passphrase-fd" in result.stderr


# ---------------------------------------------------------------- status, revoke, watch


def test_status_before_and_after_the_reveal(links: Links) -> None:
    [made] = links.send(b"status", "--recipient", "ops")
    before = links.status(made["link"])
    assert before["state"] == "pending" and before["reveals"] == [] and before["views_left"] == 1
    assert before["recipient"] == "ops" and before["ended_at"] is None
    assert links.receive(made["link"]).returncode == 0
    after = links.status(made["id"])
    assert after["state"] == "revealed" and after["views_left"] == 0 and after["ended_at"]
    assert [r["from"] for r in after["reveals"]] == ["127.0.0.1"]
    links.status(made["id"])  # a second look records nothing new
    revealed = [row for row in links.audit(links.sender) if row["event_type"] == "share_revealed"]
    assert len(revealed) == 1 and revealed[0]["remote_addr"] == "127.0.0.1" and revealed[0]["share_id"] == made["id"]
    human = links.ots("link", "status", made["id"], side=links.sender)
    assert human.returncode == 0 and "revealed:  " in human.stdout and "127.0.0.1" in human.stdout
    listed = links.ots("link", "list", "--json", side=links.sender).lines()
    assert [(row["id"], row["last_known_state"]) for row in listed] == [(made["id"], "revealed")]


def test_status_token_is_never_printed(links: Links) -> None:
    [made] = links.send(b"tok")
    with sqlite3.connect(links.sender.home / "data" / "shares.sqlite3") as db:
        (token,) = db.execute("SELECT status_token FROM shares").fetchone()
    assert stat.S_IMODE((links.sender.home / "data" / "shares.sqlite3").stat().st_mode) == 0o600
    outputs = [links.ots("link", "status", made["id"], *flag, side=links.sender) for flag in ((), ("--json",))]
    outputs.append(links.ots("link", "list", side=links.sender))
    for out in outputs:
        assert token not in out.stdout + out.stderr
    assert token.encode() not in (links.root / "ots-server.log").read_bytes()


def test_status_of_a_share_made_elsewhere(links: Links) -> None:
    [made] = links.send(b"x")
    result = links.ots("link", "status", made["id"], side=links.receiver)
    assert result.returncode == ExitCode.NOT_FOUND and "not made on this installation" in result.stderr


def test_revoke_then_receive_fails(links: Links) -> None:
    [made] = links.send(CANARY)
    revoked = links.ots("link", "revoke", made["link"], side=links.sender)
    assert revoked.returncode == 0 and "Revoked" in revoked.stdout, revoked
    got = links.receive(made["link"], "--json")
    assert got.returncode == ExitCode.NOT_FOUND and "revoked" in got.stderr
    assert got.lines()[-1]["reason"] == "revoked"
    assert types(links.audit(links.receiver))[-1] == ("receive_failed", "revoked")
    again = links.ots("link", "revoke", made["id"], "--json", side=links.sender)
    assert again.returncode == 0 and again.lines()[-1] == {"event": "ended", "id": made["id"], "state": "revoked",
                                                          "revoked_now": False}
    assert links.status(made["id"])["state"] == "revoked"
    assert types(links.audit(links.sender)).count(("share_revoked", "revoked")) == 1
    assert_nothing_leaked(links, CANARY, [key_of(made["link"])])


def test_watch_reports_attempts_and_the_reveal(links: Links) -> None:
    [made] = with_passphrase(links, "send", PASSPHRASE, "--views", "2", stdin=b"watched").lines()
    watch = links.spawn("link", "watch", made["id"], "--json", "--interval", "0.2", "--timeout", "2m",
                        side=links.sender)
    assert with_passphrase(links, "receive", "wrong", made["link"]).returncode == ExitCode.WRONG_CODE
    event = watch.wait_for_line(lambda e: e["event"] == "failed_attempts", timeout=TIMEOUT_S).event
    assert event is not None and event["total"] == 1
    for _ in range(2):
        assert with_passphrase(links, "receive", PASSPHRASE, made["link"]).stdout == "watched"
        watch.wait_for_line(lambda e: e["event"] == "revealed", timeout=TIMEOUT_S)
    ended = watch.wait_for_line(lambda e: e["event"] == "ended", timeout=TIMEOUT_S).event
    assert ended == {"event": "ended", "id": made["id"], "state": "revealed"}
    assert watch.wait(TIMEOUT_S) == 0, watch.describe()
    rows = links.audit(links.sender)
    assert types(rows).count(("share_revealed", None)) == 2
    assert types(rows).count(("alert", "wrong_passphrase")) == 1


def test_watch_times_out_while_pending(links: Links) -> None:
    [made] = links.send(b"nobody")
    result = links.ots("link", "watch", made["id"], "--timeout", "1s", "--interval", "0.2", side=links.sender)
    assert result.returncode == ExitCode.TIMEOUT and "timed out" in result.stderr


def test_watch_of_a_revoked_share_ends_non_zero(links: Links) -> None:
    [made] = links.send(b"gone")
    assert links.ots("link", "revoke", made["id"], side=links.sender).returncode == 0
    result = links.ots("link", "watch", made["id"], "--json", side=links.sender)
    assert result.returncode == ExitCode.NOT_FOUND
    assert result.lines()[0] == {"event": "ended", "id": made["id"], "state": "revoked"}


# ---------------------------------------------------------------- files


def test_file_round_trip(links: Links) -> None:
    source = links.root / "report 2026.bin"
    content = os.urandom(200_000) + CANARY + os.urandom(100_000)
    source.write_bytes(content)
    [made] = links.send(b"", "--file", str(source))
    got = links.receive(made["link"], "--output", str(links.out), "--json")
    assert got.returncode == 0, got
    line = got.lines()[-1]
    saved = Path(line["path"])
    assert line["kind"] == "file" and saved == links.out / "report 2026.bin" and line["size"] == len(content)
    assert saved.read_bytes() == content
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert [p.name for p in links.out.iterdir()] == ["report 2026.bin"]  # no part file left behind
    rows = links.audit(links.receiver)
    assert rows[-1]["event_type"] == "secret_received" and rows[-1]["kind"] == "file"
    sent = [row for row in links.audit(links.sender) if row["event_type"] == "share_created"]
    assert sent[0]["kind"] == "file" and sent[0]["size_bytes"] == len(content)
    assert sent[0]["fingerprint"].startswith("blake3:")

    # A second copy never replaces the first; an explicit new name is used as given.
    [again] = links.send(b"", "--file", str(source), "--views", "2")
    second = links.receive(again["link"], "--output", str(links.out), "--json")
    assert Path(second.lines()[-1]["path"]).name == "report 2026 (2).bin"
    exact = links.out / "chosen.bin"
    third = links.receive(again["link"], "--output", str(exact))
    assert third.returncode == 0 and exact.read_bytes() == content
    assert_nothing_leaked_except_downloads(links, [key_of(made["link"]), key_of(again["link"])])


def assert_nothing_leaked_except_downloads(links: Links, keys: Sequence[bytes]) -> None:
    roots = scan_roots(links)
    assert find_canary(roots, CANARY) == []
    for key in keys:
        assert leaks(roots, key) == []


def test_a_file_too_large_for_one_json_request_round_trip(links: Links) -> None:
    """Over 1 MiB sealed, a file is streamed to relays that take it (else sent as JSON) and streamed back into a
    hidden part file that gets its name once the last chunk is authenticated."""
    source = links.root / "large.bin"
    content = os.urandom(3 * 1024 * 1024 + 17)
    source.write_bytes(content)
    [made] = links.send(b"", "--file", str(source))
    got = links.receive(made["link"], "--output", str(links.out), "--json")
    assert got.returncode == 0, got
    saved = Path(got.lines()[-1]["path"])
    assert saved.read_bytes() == content and stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert [p.name for p in links.out.iterdir()] == ["large.bin"]
    sent = [row for row in links.audit(links.sender) if row["event_type"] == "share_created"]
    received = [row for row in links.audit(links.receiver) if row["event_type"] == "secret_received"]
    assert sent[-1]["size_bytes"] == received[-1]["size_bytes"] == len(content)
    assert sent[-1]["fingerprint"].startswith("blake3:") and received[-1]["fingerprint"].startswith("blake3:")


def test_existing_output_file_is_refused_before_anything_is_consumed(links: Links) -> None:
    [made] = links.send(b"keep")
    target = links.out / "exists.txt"
    target.write_text("mine")
    result = links.receive(made["link"], "--output", str(target))
    assert result.returncode == ExitCode.INPUT and "never overwrites" in result.stderr
    assert target.read_text() == "mine"
    assert links.status(made["id"])["state"] == "pending"


def test_unsafe_file_name_from_a_hostile_sender_is_refused(links: Links) -> None:
    link = park_raw_share(links.relay, b"payload", {"type": "file", "name": "CON.txt", "size": 7})
    result = links.receive(link, "--output", str(links.out))
    assert result.returncode == ExitCode.UNSAFE_PATH, result
    assert "reserved" in result.stderr
    assert list(links.out.iterdir()) == []
    assert types(links.audit(links.receiver))[-1] == ("receive_failed", "unsafe_path")


def park_raw_share(relay: str, plaintext: bytes, meta: dict[str, object]) -> str:
    """Park a share the way any client could (here: with a name our sender would never use)."""
    raw_id = new_share_id()
    with new_fragment_key() as key:
        envelope = seal(plaintext, share_id=raw_id, fragment_key=key, meta=meta)
        with derive_keys(key, read_header(envelope).salt) as keys:
            auth_hash = auth_token_hash(keys.auth_token)
        fragment = b64u_encode(key)
    share_id = b64u_encode(raw_id)

    async def post() -> int:
        async with aiohttp.ClientSession() as session:
            body = {"id": share_id, "envelope": b64u_encode(envelope), "auth_hash": auth_hash}
            async with session.post(f"{relay}/api/v1/secrets", json=body) as response:
                return response.status

    with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
        assert runner.run(post()) == 201
    return f"{relay}/s/{share_id}#{fragment}"


def test_a_folder_goes_by_link_as_one_zip(links: Links) -> None:
    # Zipped on the fly (never a zip on disk); the receiver gets FOLDER.zip with the layout and the bytes.
    import zipfile

    folder = links.root / "deploy-keys"
    (folder / "ssh").mkdir(parents=True)
    (folder / "ssh" / "id_ed25519").write_bytes(CANARY)
    (folder / "README").write_bytes(b"rotate monthly\n")
    [event] = [e for e in links.send(b"", "--file", str(folder)) if e.get("event") == "link"]
    result = links.receive(event["link"], "--out", str(links.out))
    assert result.returncode == 0, result
    with zipfile.ZipFile(links.out / "deploy-keys.zip") as bundle:
        # As `zip -r deploy-keys.zip deploy-keys` would have it: unzipping gives the folder back.
        assert bundle.read("deploy-keys/ssh/id_ed25519") == CANARY
        assert bundle.read("deploy-keys/README") == b"rotate monthly\n"
    assert find_canary([links.sender.home], CANARY) == []
    evil = links.root / "with-a-link"
    evil.mkdir()
    (evil / "escape").symlink_to("/etc/passwd")
    refused = links.ots("send", "--via", "link", "--file", str(evil), side=links.sender)
    assert refused.returncode == ExitCode.INPUT and "symbolic link" in refused.stderr


def test_too_large_for_the_relay(isolated_home: Home, keychain: object) -> None:
    (isolated_home.root / "small").mkdir()
    server = start_ots_server(isolated_home.root / "small", "--no-wormhole", "--max-size", "4KiB")
    try:
        tool = Links(isolated_home.root, server)
        big = tool.root / "big.bin"
        big.write_bytes(os.urandom(64 * 1024))
        result = tool.ots("send", "--via", "link", "--file", str(big), side=tool.sender)
        assert result.returncode == ExitCode.INPUT, result
        assert "too large" in result.stderr
        assert types(tool.audit(tool.sender))[-1] == ("share_failed", "too_large")
    finally:
        server.stop()


# ---------------------------------------------------------------- failures


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_relay_down_is_a_clear_error_and_audited(links: Links) -> None:
    down = f"http://127.0.0.1:{closed_port()}"
    result = links.ots("send", "--via", "link", "--relay", down, "--json", side=links.sender, stdin=CANARY)
    assert result.returncode == ExitCode.SERVER_UNREACHABLE, result
    assert f"unreachable at {down}" in result.stderr and "refused" in result.stderr
    assert [line["event"] for line in result.lines()] == ["failed"]
    assert types(links.audit(links.sender))[-2:] == [("share_created", None), ("share_failed", "server_unreachable")]

    [made] = links.send(b"x")
    dead_link = made["link"].replace(links.relay, down)
    got = links.receive(dead_link)
    assert got.returncode == ExitCode.SERVER_UNREACHABLE and f"unreachable at {down}" in got.stderr
    assert types(links.audit(links.receiver))[-1] == ("receive_failed", "server_unreachable")
    assert_nothing_leaked(links, CANARY, [])


def test_no_relay_configured(links: Links) -> None:
    result = links.ots("send", "--via", "link", side=links.sender, stdin=b"x", env={"OTS_RELAY_URL": ""})
    assert result.returncode == ExitCode.CONFIG and "--relay" in result.stderr


def test_unknown_share(links: Links) -> None:
    [made] = links.send(b"x")
    other = made["link"].replace(made["id"], b64u_encode(new_share_id()))
    result = links.receive(other)
    assert result.returncode == ExitCode.NOT_FOUND and "does not know the share" in result.stderr


@pytest.mark.parametrize(("mangle", "message"), [
    (lambda link: link.partition("#")[0], "no key"),
    (lambda link: link.partition("#")[0] + "#", "no key"),
    (lambda link: link[:-1], "damaged"),
    (lambda link: link + "A", "damaged"),
    (lambda link: link.replace("/s/", "/x/"), "not an ots link"),
    (lambda link: link.replace("/s/", "/s/A"), "id (after /s/) is damaged"),
    (lambda link: link.replace("http://", "ftp://"), "https://"),
])
def test_malformed_links_are_input_errors(links: Links, mangle: Any, message: str) -> None:
    [made] = links.send(b"x")
    bad = mangle(made["link"])
    result = links.receive(bad, "--json")
    assert result.returncode == ExitCode.INPUT, result
    assert message in result.stderr
    key = made["link"].rpartition("#")[2]
    assert key not in result.stderr and key[:-1] not in result.stdout
    assert links.status(made["id"])["state"] == "pending"


def test_link_on_stdin(links: Links) -> None:
    [made] = links.send(b"from stdin")
    result = links.ots("receive", side=links.receiver, stdin=made["link"].encode() + b"\n")
    assert result.returncode == 0 and result.stdout == "from stdin", result


def test_options_of_the_other_channel_are_usage_errors(links: Links) -> None:
    assert links.ots("send", "--views", "2", side=links.sender, stdin=b"x").returncode == ExitCode.USAGE
    assert links.ots("send", "--via", "link", "--verify", side=links.sender, stdin=b"x").returncode == ExitCode.USAGE
    two = links.ots("send", "--recipient", "a", "--recipient", "b", side=links.sender, stdin=b"x")
    assert two.returncode == ExitCode.USAGE and "--via link" in two.stderr


def test_without_a_safe_keychain_nothing_is_parked(links: Links) -> None:
    result = links.ots("send", "--via", "link", "--json", side=links.sender, stdin=CANARY,
                       env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    assert result.returncode == ExitCode.KEYCHAIN, result
    assert [line["event"] for line in result.lines()] == ["error"]
    assert find_canary([links.server.data_dir], CANARY) == []


def test_allowlist_blocks_other_networks(links: Links) -> None:
    [made] = links.send(b"lan only", "--allow-cidr", "10.0.0.0/8", "--allow-cidr", "2001:db8::/32")
    blocked = links.receive(made["link"], "--json")
    assert blocked.returncode == ExitCode.REJECTED, blocked
    assert "network address" in blocked.stderr and blocked.lines()[-1]["reason"] == "blocked_network"
    assert types(links.audit(links.receiver))[-1] == ("alert", "blocked_network")
    status = links.status(made["id"])
    assert status["blocked_attempts"] == 1 and status["state"] == "pending"
    assert ("alert", "blocked_network") in types(links.audit(links.sender))
    opened = links.send(b"local", "--allow-cidr", "127.0.0.1")[0]
    assert links.receive(opened["link"]).stdout == "local"


def test_bad_policy_is_refused_before_the_secret_is_read(links: Links) -> None:
    for args, words in ((("--allow-cidr", "10.0.0.0/33"),  "not a network"), (("--expire", "1m"), "5 minutes"),
                        (("--expire", "soon"), "not a duration")):
        result = links.ots("send", "--via", "link", *args, side=links.sender, stdin=CANARY)
        assert result.returncode == ExitCode.INPUT and words in result.stderr, result
    assert links.ots("send", "--via", "link", "--views", "11", side=links.sender, stdin=b"x").returncode == 2


def test_bad_audit_notes_are_refused_before_anything_is_sent(links: Links) -> None:
    for args, words in ((("--label", "x" * 201), "label is longer than 200 characters"),
                        (("--recipient", "sam\nFAKE ENTRY"), "control character"),
                        (tuple(a for n in range(21) for a in ("--recipient", f"r{n}")), "at most 20 recipients")):
        result = links.ots("send", "--via", "link", *args, side=links.sender, stdin=b"never sent")
        assert result.returncode == ExitCode.INPUT, result
        assert words in result.stderr and "Traceback" not in result.stderr
        assert "/s/" not in result.stdout


def test_a_text_link_that_is_not_utf8_is_shown_escaped_not_lost(links: Links) -> None:
    link = park_raw_share(links.relay, b"caf\xe9 \xff\xfe key=1", {"type": "text"})
    result = links.receive(link, "--json")
    assert result.returncode == 0, result
    line = result.lines()[-1]
    assert line["escaped"] is True and line["text"] == "caf\\xe9 \\xff\\xfe key=1"
    assert "not valid UTF-8" in result.stderr and "Traceback" not in result.stderr


def test_a_link_on_stdin_is_the_quiet_way_and_argv_gets_a_note(links: Links) -> None:
    [made] = links.send(b"argv or stdin")
    on_stdin = links.ots("receive", side=links.receiver, stdin=made["link"].encode() + b"\n")
    assert on_stdin.returncode == 0 and on_stdin.stdout == "argv or stdin"
    assert "process list" not in on_stdin.stderr
    [again] = links.send(b"argv or stdin")
    in_argv = links.receive(again["link"])
    assert in_argv.returncode == 0 and "process list" in in_argv.stderr


def test_a_wrong_passphrase_typed_at_the_terminal_is_asked_again(links: Links) -> None:
    from tests.support.terminal import Terminal

    sent = with_passphrase(links, "send", PASSPHRASE, stdin=b"asked twice")
    assert sent.returncode == 0, sent
    [made] = sent.lines()
    term = Terminal("receive", env=links.receiver.env)
    term.expect("Wormhole code or link")
    term.type(made["link"])
    term.expect("Passphrase:")
    term.type("not the passphrase")
    term.expect("4 attempts left")
    term.expect("Passphrase:")  # asked again: the link was not consumed
    term.type(PASSPHRASE)
    assert term.wait() == 0, term.text
    assert "asked twice" in term.text and PASSPHRASE not in term.text and "not the passphrase" not in term.text
    assert types(links.audit(links.receiver)).count(("alert", "wrong_passphrase")) == 1
