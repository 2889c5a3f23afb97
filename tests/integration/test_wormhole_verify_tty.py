"""``--verify`` on real terminals: both sides compare words at a pty, and a "no" reaches the other side at once.

Each side is an ``ots`` process whose controlling terminal is a pseudo-terminal (the prompt
opens /dev/tty, as it would for a person with stdin piped), on its own OTS_HOME, against the
test session's real mailbox and transit relay.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from pathlib import Path

import pytest

from ots_desktop.core.errors import ExitCode
from ots_desktop.runtime import CANCEL_GRACE_S
from tests.support.cli import json_lines, run_ots
from tests.support.secret_service import start_secret_service
from tests.support.servers import RunningServer
from tests.support.terminal import Terminal

pytestmark = pytest.mark.usefixtures("keychain")
CODE = re.compile(rb"\b(\d+(?:-[a-z]+){2,})\b")


def _flags(server: RunningServer) -> tuple[str, ...]:
    return ("--verify", "--mailbox-url", server.mailbox_url, "--transit-helper", server.transit_helper)


def _sender(server: RunningServer, home: Path, secret: str | None, *extra: str,
            env: dict[str, str] | None = None) -> tuple[Terminal, str]:
    """``ots send`` on a pty, ``secret`` typed at its hidden prompt (None: ``extra`` names a file); the terminal
    and the code it shows."""
    sender = Terminal("send", *extra, "--mailbox-url", server.mailbox_url, "--transit-helper",
                      server.transit_helper, env={"OTS_HOME": str(home), **(env or {})})
    if secret is not None:
        sender.expect("Secret (not shown):")
        sender.type(secret)
    sender.expect("Wormhole code")
    deadline = time.monotonic() + 30
    while (found := CODE.search(sender.output)) is None and time.monotonic() < deadline:
        sender.expect("-", timeout=max(0.1, deadline - time.monotonic()))
    assert found is not None, sender.text
    return sender, found.group(1).decode()


def _start(server: RunningServer, root: Path) -> tuple[Terminal, Terminal, str]:
    sender, code = _sender(server, root / "alice", "canary-verify-words", "--verify")
    receiver = Terminal("receive", *_flags(server), env={"OTS_HOME": str(root / "bob")})
    receiver.expect("Wormhole code or link")
    receiver.type(code)
    return sender, receiver, code


def _offered_file(server: RunningServer, root: Path, content: bytes,
                  sender_env: dict[str, str] | None = None) -> tuple[Terminal, Terminal, Path]:
    """``ots send --file prod.env`` and ``ots receive`` on ptys, the receiver asked whether to take it; and the
    receiver's (empty) inbox."""
    secret_file = root / "prod.env"
    secret_file.write_bytes(content)
    inbox = root / "inbox"
    inbox.mkdir(exist_ok=True)
    sender, code = _sender(server, root / "alice", None, "--file", str(secret_file), env=sender_env)
    receiver = Terminal("receive", "--out", str(inbox), *_flags(server)[1:], env={"OTS_HOME": str(root / "bob")})
    receiver.expect("Wormhole code or link")
    receiver.type(code)
    receiver.expect(f"Receive the file 'prod.env' ({len(content)} bytes)? [y/N]")
    return sender, receiver, inbox


def _words(term: Terminal) -> str:
    term.expect("Verification words: ")
    term.expect("[y/N]")
    line = term.text.split("Verification words: ", 1)[1].splitlines()[0]
    return line.strip()


def test_both_sides_confirm_the_same_words_then_it_is_delivered(wormhole_server: RunningServer,
                                                                tmp_path: Path) -> None:
    sender, receiver, _code = _start(wormhole_server, tmp_path)
    words = _words(sender)
    assert words and _words(receiver) == words
    sender.type("y")
    receiver.type("y")
    assert receiver.wait(60) == 0, receiver.text
    assert sender.wait(60) == 0, sender.text
    assert "canary-verify-words" in receiver.text
    assert "UnsupportedOperation" not in sender.text + receiver.text


def test_a_no_on_one_side_stops_both_promptly(wormhole_server: RunningServer, tmp_path: Path) -> None:
    sender, receiver, _code = _start(wormhole_server, tmp_path)
    _words(sender)
    _words(receiver)
    receiver.type("n")
    started = time.monotonic()
    assert receiver.wait(30) != 0, receiver.text
    sender.type("y")
    code = sender.wait(30)
    assert time.monotonic() - started < 30
    assert code not in (0, ExitCode.TIMEOUT, ExitCode.PEER_NEVER_CAME), sender.text
    assert "canary-verify-words" not in receiver.text
    assert "Traceback" not in sender.text + receiver.text


def test_a_no_on_the_receiving_side_withdraws_the_senders_question(wormhole_server: RunningServer,
                                                                  tmp_path: Path) -> None:
    # The sender is still looking at its words when the receiver says no: its question goes away and the
    # command ends with the reason, without anyone typing on the sender's terminal.
    sender, receiver, _code = _start(wormhole_server, tmp_path)
    _words(sender)
    _words(receiver)
    receiver.type("n")
    started = time.monotonic()
    assert receiver.wait(30) != 0, receiver.text
    code = sender.wait(30)
    assert time.monotonic() - started < 20
    assert code == ExitCode.REJECTED, sender.text
    assert "the other side stopped" in sender.text and "did not confirm the verification words" in sender.text
    assert "canary-verify-words" not in receiver.text
    assert "Traceback" not in sender.text + receiver.text


def test_ctrl_c_on_the_sender_withdraws_the_receivers_file_question(wormhole_server: RunningServer,
                                                                    tmp_path: Path) -> None:
    # The receiver is deciding whether to take the file when the sender gives up (Ctrl+C): the receiver's
    # question goes away at once, nothing is written, and it says why.
    sender, receiver, inbox = _offered_file(wormhole_server, tmp_path, b"API_KEY=canary-cancelled\n")
    sender.interrupt()
    started = time.monotonic()
    assert sender.wait(30) != 0, sender.text
    assert receiver.wait(30) == ExitCode.REJECTED, receiver.text
    assert time.monotonic() - started < 20
    assert "the sender cancelled the transfer" in receiver.text
    assert not list(inbox.iterdir())
    assert "Traceback" not in sender.text + receiver.text


def test_ctrl_c_just_as_the_code_shows_cancels_records_and_ends_at_once(wormhole_server: RunningServer,
                                                                         tmp_path: Path) -> None:
    # Ctrl+C the moment the code appears lands while ots is still running its own code, not waiting in the
    # event loop. Python's own handler raised KeyboardInterrupt right there: the cancel was never recorded, and
    # the command hung (or, with the clean-up deadline, waited all of it). Three tries, as the timing varies.
    for attempt in range(3):
        home = tmp_path / f"alice-{attempt}"
        sender = Terminal("send", "--mailbox-url", wormhole_server.mailbox_url, "--transit-helper",
                          wormhole_server.transit_helper, env={"OTS_HOME": str(home)})
        sender.expect("Secret (not shown):")
        sender.type("canary-interrupted-at-once")
        sender.expect("Waiting for the other side")
        sender.interrupt()
        started = time.monotonic()
        code = sender.wait(CANCEL_GRACE_S + 30)
        took = time.monotonic() - started
        assert code == 130, sender.text
        assert took < CANCEL_GRACE_S, f"ended after {took:.1f} s: {sender.text}"
        assert "ots: cancelled" in sender.text and "stopped waiting" not in sender.text
        assert "Traceback" not in sender.text and "canary-interrupted-at-once" not in sender.text
        listed = run_ots("audit", "list", "--json", "--limit", "10", env={"OTS_HOME": str(home)})
        events = [(e["event_type"], e.get("reason")) for e in json_lines(listed.stdout)]
        assert ("share_failed", "cancelled") in events, events


def test_ctrl_c_with_a_keychain_that_stopped_answering(wormhole_server: RunningServer, tmp_path: Path) -> None:
    # The sender's keychain (a real gnome-keyring) stops answering (SIGSTOP) just as the sender presses Ctrl+C.
    # Recording the cancel waits on the keychain, so: the receiver is told before that record is tried, and the
    # sender ends on its own after the clean-up's grace, saying the record may be missing. The sender has a
    # Secret Service of its own, so that the stopped daemon, and the request the sender leaves pending on it
    # (which gnome-keyring 42 has been seen to abort on), touch neither the receiver nor any other test.
    own = start_secret_service(tmp_path / "sender-keychain")
    try:
        sender, receiver, inbox = _offered_file(wormhole_server, tmp_path, b"API_KEY=canary-stuck-keychain\n",
                                                sender_env={"DBUS_SESSION_BUS_ADDRESS": own.address})
        os.kill(own.daemon.pid, signal.SIGSTOP)
        sender.interrupt()
        started = time.monotonic()
        # The receiver hears at once, while the sender is still stuck on its keychain.
        assert receiver.wait(30) == ExitCode.REJECTED, receiver.text
        heard = time.monotonic() - started
        code = sender.wait(CANCEL_GRACE_S + 30)
        took = time.monotonic() - started
        os.kill(own.daemon.pid, signal.SIGCONT)
        # The sender's log, ended from outside mid-append, still verifies: where the resumed daemon survived
        # the request the dead sender left on it (gnome-keyring 42 may abort on that; then there is no keychain
        # left to verify against, which says nothing about the log).
        verified = run_ots("audit", "verify", env={"OTS_HOME": str(tmp_path / "alice"),
                                                   "DBUS_SESSION_BUS_ADDRESS": own.address})
        daemon_survived = own.daemon.alive()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(own.daemon.pid, signal.SIGCONT)
        own.stop()
    if daemon_survived:
        assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "the sender cancelled the transfer" in receiver.text
    assert heard < CANCEL_GRACE_S, f"the receiver heard after {heard:.1f} s"
    assert code == 130, sender.text
    assert f"stopped waiting for the clean-up after {CANCEL_GRACE_S:g} s" in sender.text
    assert CANCEL_GRACE_S <= took < CANCEL_GRACE_S + 20
    assert not list(inbox.iterdir())
    assert "Traceback" not in sender.text + receiver.text


def test_verify_without_a_terminal_is_refused_before_any_code(wormhole_server: RunningServer) -> None:

    for command, typed in (("send", b"canary-no-tty\n"), ("receive", b"7-crossover-clockwork\n")):
        result = run_ots(command, *_flags(wormhole_server), stdin=typed)
        assert result.returncode == ExitCode.USAGE, result
        assert "--verify asks you to compare words on the terminal" in result.stderr
        assert "Wormhole code" not in result.stdout + result.stderr


def test_verify_words_against_the_stock_wormhole_cli(wormhole_server: RunningServer, tmp_path: Path) -> None:
    from tests.support.wormhole_cli import WORMHOLE

    sender, code = _sender(wormhole_server, tmp_path / "alice", "canary-stock-verify", "--verify")
    stock = Terminal("--relay-url", wormhole_server.mailbox_url, "--transit-helper", wormhole_server.transit_helper,
                     "receive", "--verify", code, program=[WORMHOLE],
                     env={"HOME": str(tmp_path / "stock-home")})
    words = _words(sender)
    stock.expect("Verifier ")  # the stock receiver shows the verifier in hex and goes on; our words end with it
    stock.expect(".")
    stock_hex = stock.text.split("Verifier ", 1)[1].split(".", 1)[0].strip()
    assert words.endswith(f"({stock_hex})"), (words, stock_hex)
    sender.type("y")
    assert stock.wait(60) == 0, stock.text
    assert sender.wait(60) == 0, sender.text
    assert "canary-stock-verify" in stock.text


def test_a_file_is_offered_first_on_a_terminal_and_a_no_tells_the_sender(wormhole_server: RunningServer,
                                                                        tmp_path: Path) -> None:

    for answer, expected in (("n", "declined"), ("y", "Saved")):
        sender, receiver, inbox = _offered_file(wormhole_server, tmp_path, b"API_KEY=canary-offer\n")
        assert not list(inbox.iterdir())  # nothing is written before the answer
        receiver.type(answer)
        receiver.wait(60)
        sender_code = sender.wait(60)
        assert expected in receiver.text, receiver.text
        if answer == "n":
            assert sender_code != 0 and "declined" in sender.text and not list(inbox.iterdir())
        else:
            assert sender_code == 0 and (inbox / "prod.env").read_bytes() == b"API_KEY=canary-offer\n"
    # Scripts pass --accept-file, or have no terminal: nothing is asked.
    assert run_ots("receive", "--help").stdout.count("--accept-file") == 1
