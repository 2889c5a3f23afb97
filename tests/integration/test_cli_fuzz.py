"""Every ``ots`` command and option, given hostile values, ends with a documented exit code and a sentence.

The values: empty, huge, control characters, bytes that are not UTF-8, negative and huge
numbers, a missing file, and a dead server. Nothing may print a traceback, nothing may
hang, and the exit code must be one docs/cli.md lists. The keychain is left out on
purpose (keyring's ``fail`` backend): commands that reach it stop there with exit 4,
and the many processes this test starts do not touch the session's Secret Service.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from ots_desktop.cli.main import cli
from ots_desktop.core.errors import ExitCode
from tests.conftest import Home

OTS = [sys.executable, "-m", "ots_desktop.cli"]
DOCUMENTED = {int(code) for code in ExitCode} | {2}
DEAD = "http://127.0.0.1:9"
HUNG = -1000
HOSTILE: dict[str, bytes] = {
    "empty": b"",
    "huge": b"x" * 5000,
    "control": b"a\x01b\x1b[31mc\x7f",
    "not utf-8": b"\xff\xfe\xc3(",
    "negative": b"-1",
    "huge number": b"99999999999999999999999",
    "missing file": b"/nonexistent/folder/file",
    "dead server": DEAD.encode(),
}
# `ots server` and `ots demo` run until stopped when their options are fine; their options are
# fuzzed with values that must all be refused before anything starts.
SERVER_REFUSED = ("empty", "control", "not utf-8", "negative", "huge number")
VALID_THERE = {("--data-dir", "negative"), ("--data-dir", "huge number")}  # fine folder names


@dataclass(frozen=True)
class Case:
    """One command line: the command path, an option (or argument) and a hostile value."""

    path: tuple[str, ...]
    param: str
    value: str

    @property
    def argv(self) -> list[bytes]:
        head = [part.encode() for part in self.path]
        value = HOSTILE[self.value]
        if self.param.startswith("-"):
            return [*head, self.param.encode(), value]
        extra = [b"file"] if self.path == ("audit", "keystore") and self.param != "target" else []
        return [*head, *extra, value]

    def __str__(self) -> str:
        return f"ots {' '.join(self.path)} {self.param}={self.value}"


def _commands() -> Iterator[tuple[tuple[str, ...], click.Command]]:
    ctx = click.Context(cli)

    def walk(cmd: click.Command, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], click.Command]]:
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None
                yield from walk(sub, (*path, name))
        else:
            yield path, cmd

    yield from walk(cli, ())


def cases() -> list[Case]:
    out = []
    for path, cmd in _commands():
        long_running = path[0] in ("server", "demo")
        for param in cmd.params:
            if isinstance(param, click.Option) and (param.is_flag or param.name == "help"):
                continue
            name = param.opts[0] if isinstance(param, click.Option) else param.name or ""
            for value in (SERVER_REFUSED if long_running else HOSTILE):
                if (name, value) not in VALID_THERE:
                    out.append(Case(path, name, value))
    return out


def run(case: Case, home: Path) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("DBUS_SESSION_BUS_ADDRESS",)}
    env.update(OTS_HOME=str(home), OTS_RELAY_URL=DEAD, OTS_MAILBOX_URL="ws://127.0.0.1:9/v1",
               OTS_TRANSIT_HELPER="tcp:127.0.0.1:9", PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    argv = [*[a.encode() for a in OTS], *case.argv]
    try:
        return subprocess.run(argv, input=b"", capture_output=True, env=env, timeout=60, check=False,
                              start_new_session=True, cwd=home)
    except subprocess.TimeoutExpired as exc:  # subprocess.run killed it; report it as a hang
        return subprocess.CompletedProcess(argv, HUNG, b"", (exc.stderr or b"") + b"\n(still running after 60 s)")


def problem_of(case: Case, done: subprocess.CompletedProcess[bytes]) -> str | None:
    err = done.stderr.decode("utf-8", "replace")
    if done.returncode == HUNG:
        return f"{case}: accepted the value and ran on (killed after 60 s)\n{err[-500:]}"
    if "Traceback" in err:
        return f"{case}: traceback\n{err[-1500:]}"
    if done.returncode not in DOCUMENTED:
        return f"{case}: exit {done.returncode} is not documented\n{err[-500:]}"
    if done.returncode and not err.strip():
        return f"{case}: exit {done.returncode} without a word on stderr"
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith(("Usage:", "Try '"))]
    if len(lines) > 3:
        return f"{case}: {len(lines)} lines on stderr, not a sentence\n{err[-800:]}"
    return None


def test_every_command_and_option_survives_hostile_values(isolated_home: Home) -> None:
    todo = cases()
    assert len(todo) > 300
    homes = []
    for n in range(len(todo)):
        home = isolated_home.root / f"h{n}"
        home.mkdir()
        homes.append(home)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, todo, homes))
    problems = [p for p in (problem_of(c, r) for c, r in zip(todo, results, strict=True)) if p]
    assert problems == [], f"{len(problems)} of {len(todo)} command lines misbehaved:\n\n" + "\n\n".join(problems[:25])


@pytest.mark.parametrize("command", [("server", "--public-url", ""), ("server", "--store", "bogus://x"),
                                     ("server", "--host", "")])
def test_server_refuses_before_starting(isolated_home: Home, command: tuple[str, ...]) -> None:
    done = subprocess.run([*OTS, *command], input=b"", capture_output=True, timeout=60, check=False,
                          cwd=isolated_home.root)
    assert done.returncode in DOCUMENTED and done.returncode != 0
    assert b"Traceback" not in done.stderr
