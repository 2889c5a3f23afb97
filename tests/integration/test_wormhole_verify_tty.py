"""``--verify`` on real terminals: both sides compare words at a pty, and a "no" reaches the other side at once.

Each side is an ``ots`` process whose controlling terminal is a pseudo-terminal (the prompt
opens /dev/tty, as it would for a person with stdin piped), on its own OTS_HOME, against the
test session's real mailbox and transit relay.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from ots_desktop.core.errors import ExitCode
from tests.support.servers import RunningServer
from tests.support.terminal import Terminal

pytestmark = pytest.mark.usefixtures("keychain")
CODE = re.compile(rb"\b(\d+(?:-[a-z]+){2,})\b")


def _flags(server: RunningServer) -> tuple[str, ...]:
    return ("--verify", "--mailbox-url", server.mailbox_url, "--transit-helper", server.transit_helper)


def _sender(server: RunningServer, home: Path, secret: str | None, *extra: str) -> tuple[Terminal, str]:
    """``ots send`` on a pty, ``secret`` typed at its hidden prompt (None: ``extra`` names a file); the terminal
    and the code it shows."""
    sender = Terminal("send", *extra, "--mailbox-url", server.mailbox_url, "--transit-helper",
                      server.transit_helper, env={"OTS_HOME": str(home)})
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


def _offered_file(server: RunningServer, root: Path, content: bytes) -> tuple[Terminal, Terminal, Path]:
    """``ots send --file prod.env`` and ``ots receive`` on ptys, the receiver asked whether to take it; and the
    receiver's (empty) inbox."""
    secret_file = root / "prod.env"
    secret_file.write_bytes(content)
    inbox = root / "inbox"
    inbox.mkdir(exist_ok=True)
    sender, code = _sender(server, root / "alice", None, "--file", str(secret_file))
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


def test_verify_without_a_terminal_is_refused_before_any_code(wormhole_server: RunningServer) -> None:
    from tests.support.cli import run_ots

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
    from tests.support.cli import run_ots

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
