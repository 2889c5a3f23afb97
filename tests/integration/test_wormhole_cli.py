"""`ots send` / `ots receive` edge cases that need no peer."""

from __future__ import annotations

from pathlib import Path

import pytest

from ots_desktop.core.errors import ExitCode
from tests.support.cli import json_lines, run_ots
from tests.support.servers import RunningServer


def test_send_without_a_safe_keychain_sends_nothing(wormhole_server: RunningServer) -> None:
    result = run_ots("send", "--json", "--mailbox-url", wormhole_server.mailbox_url, stdin=b"secret",
                     env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
                     drop=("DBUS_SESSION_BUS_ADDRESS",))
    assert result.returncode == ExitCode.KEYCHAIN
    lines = json_lines(result.stdout)
    assert [line["event"] for line in lines] == ["error"]  # no code was ever shown
    assert "does not store secrets safely" in lines[0]["error"]


@pytest.mark.usefixtures("keychain")
def test_empty_and_oversized_text_are_refused(wormhole_server: RunningServer) -> None:
    flags = ("--mailbox-url", wormhole_server.mailbox_url)
    empty = run_ots("send", *flags, stdin=b"\n")
    assert empty.returncode == ExitCode.INPUT and "no secret on stdin" in empty.stderr
    big = run_ots("send", *flags, stdin=b"x" * (1024 * 1024 + 10))
    assert big.returncode == ExitCode.INPUT and "--file" in big.stderr


@pytest.mark.usefixtures("keychain")
def test_binary_stdin_is_refused_as_text(wormhole_server: RunningServer) -> None:
    result = run_ots("send", "--mailbox-url", wormhole_server.mailbox_url, stdin=b"\xff\xfe\x00binary")
    assert result.returncode == ExitCode.INPUT and "not UTF-8" in result.stderr


@pytest.mark.usefixtures("keychain")
def test_malformed_code_is_bad_input_not_an_alert(wormhole_server: RunningServer) -> None:
    for typed in (b"not a code\n", b"7\n", b"wormhole-transfer:\n"):
        result = run_ots("receive", "--json", "--mailbox-url", wormhole_server.mailbox_url, stdin=typed)
        assert result.returncode == ExitCode.INPUT, result
        line = json_lines(result.stdout)[-1]
        assert line["event"] == "error" and ("wormhole code" in line["error"] or "incomplete" in line["error"])
    listed = json_lines(run_ots("audit", "list", "--json").stdout)
    assert not [row for row in listed if row["event_type"] in ("alert", "receive_failed")]


def test_code_length_out_of_range_is_a_usage_error() -> None:
    result = run_ots("send", "--code-length", "9", stdin=b"x")
    assert result.returncode == ExitCode.USAGE


@pytest.mark.usefixtures("keychain")
def test_a_folder_with_symbolic_links_is_refused_naming_them(wormhole_server: RunningServer, tmp_path: Path) -> None:
    folder = tmp_path / "project"
    (folder / "sub").mkdir(parents=True)
    (folder / ".env").write_text("A=1\n")
    (folder / "sub" / "passwd").symlink_to("/etc/passwd")  # would send a file from outside the folder
    (folder / "gone").symlink_to(tmp_path / "nothing-here")  # broken
    (folder / "etc").symlink_to("/etc", target_is_directory=True)
    result = run_ots("send", "--mailbox-url", wormhole_server.mailbox_url, "--file", str(folder), "--json")
    assert result.returncode == ExitCode.INPUT, result
    assert "Traceback" not in result.stderr and '"code"' not in result.stdout
    for name in ("sub/passwd", "gone", "etc"):
        assert f"{name} (a symbolic link)" in result.stderr
    listed = json_lines(run_ots("audit", "list", "--json").stdout)
    assert not [row for row in listed if row["event_type"] == "share_created"]
