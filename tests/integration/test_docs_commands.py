"""The shell examples in the docs run, and the shipped systemd units match ``ots server``.

Convention: a fenced block in ``docs/*.md`` or ``README.md`` whose info string is ``sh test``
(a line of three backticks followed by ``sh test``) is a testable example. GitHub still highlights
it as ``sh``. Each such block becomes one test case, named ``FILE:LINE`` after its opening
fence, and runs with ``bash`` under ``set -euo pipefail`` in a fresh folder with:

- a fresh ``HOME`` and ``OTS_HOME`` (an installation of its own, with no history);
- the virtual environment's ``bin`` first on ``PATH`` (so ``ots`` is this checkout's);
- the real Secret Service of the test session (``DBUS_SESSION_BUS_ADDRESS``);
- a real local ``ots server`` (mailbox, transit relay and link relay on loopback), named by
  ``OTS_MAILBOX_URL``, ``OTS_TRANSIT_HELPER`` and ``OTS_RELAY_URL``.

A block fails its test when any command in it fails; the failure shows the block, its exit
status, stdout and stderr. Mark only what can run like that: nothing that needs another
person, a display, the internet, or a server that keeps running (``ots server`` itself).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ots_desktop.core.config import load_config
from ots_desktop.core.errors import ConfigError
from tests.conftest import Home
from tests.support.processes import Service
from tests.support.servers import LineReader, RunningServer, start_ots_server

ROOT = Path(__file__).resolve().parents[2]
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
UNITS = ROOT / "packaging" / "systemd"
VENV_BIN = Path(sys.executable).parent
OTS = VENV_BIN / "ots"
BLOCK_TIMEOUT_S = 180
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
# Each new page shows at least this many runnable examples.
NEW_DOCS = {"security.md": 1, "compliance.md": 2, "operators.md": 3, "guide.md": 3}


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it starts (1-based line of the fence), its info string and code."""

    path: Path
    line: int
    info: str
    code: str

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def testable(self) -> bool:
        words = self.info.split()
        return len(words) >= 2 and words[0] in ("sh", "bash") and "test" in words[1:]


def fenced_blocks(path: Path, text: str) -> list[Block]:
    """Every fenced code block of a Markdown text (CommonMark fences: ``` or ~~~, up to 3 spaces in)."""
    blocks: list[Block] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        body: list[str] = []
        end = index + 1
        while end < len(lines):
            closing = FENCE.match(lines[end])
            if closing and closing["fence"][0] == fence[0] and len(closing["fence"]) >= len(fence) \
                    and not closing["info"].strip():
                break
            line = lines[end]
            body.append(line[min(indent, len(line) - len(line.lstrip(" "))):])
            end += 1
        blocks.append(Block(path, index + 1, opening["info"].strip(), "\n".join(body) + "\n"))
        index = end + 1
    return blocks


def marked_blocks() -> list[Block]:
    """The marked blocks of every doc, in file order."""
    found: list[Block] = []
    for path in DOCS:
        found += [b for b in fenced_blocks(path, path.read_text("utf-8")) if b.testable]
    return found


BLOCKS = marked_blocks()


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One real ``ots server`` (all three services, default limits) for every block of the module."""
    server = start_ots_server(tmp_path_factory.mktemp("docs-server"))
    yield server
    server.stop()


def block_env(home: Home, server: RunningServer, work: Path) -> dict[str, str]:
    """The environment a block runs in: this test's isolated home and keychain, the server, the venv."""
    env = dict(os.environ)
    env.update(HOME=str(home.home), OTS_HOME=str(home.ots_home), PWD=str(work),
               PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
               OTS_MAILBOX_URL=server.mailbox_url, OTS_TRANSIT_HELPER=server.transit_helper,
               OTS_RELAY_URL=str(server.link_url))
    return env


def run_block(code: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run one block with bash in strict mode; stdin is empty."""
    return subprocess.run(["bash", "--noprofile", "--norc", "-c", "set -euo pipefail\n" + code], cwd=cwd, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S,
                          check=False)


def describe(block_code: str, result: subprocess.CompletedProcess[str]) -> str:
    return (f"exit status {result.returncode}\n--- block:\n{block_code}--- stdout:\n{result.stdout}"
            f"--- stderr:\n{result.stderr}")


@pytest.mark.usefixtures("keychain")
@pytest.mark.parametrize("block", BLOCKS, ids=[block.id for block in BLOCKS])
def test_marked_block_runs(block: Block, isolated_home: Home, docs_server: RunningServer) -> None:
    work = isolated_home.root / "work"
    work.mkdir()
    result = run_block(block.code, block_env(isolated_home, docs_server, work), work)
    assert result.returncode == 0, f"{block.id}: {describe(block.code, result)}"
    assert "Traceback" not in result.stderr, f"{block.id}: {describe(block.code, result)}"


def test_the_new_pages_have_runnable_examples() -> None:
    counts = {name: sum(1 for block in BLOCKS if block.path.name == name) for name in NEW_DOCS}
    assert all(counts[name] >= least for name, least in NEW_DOCS.items()), counts
    existing = {block.path.name for block in BLOCKS} - set(NEW_DOCS)
    assert len(existing) >= 3, existing


def test_relative_links_of_the_new_pages_resolve() -> None:
    """Links to other docs and to files in the repository point at something (images are added apart)."""
    checked = 0
    for name in NEW_DOCS:
        page = ROOT / "docs" / name
        for target in re.findall(r"(?<!!)\[[^\]]*\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text("utf-8")):
            if not target.startswith(("http://", "https://")):
                assert (page.parent / target).exists(), f"{name}: {target}"
                checked += 1
    assert checked >= 10


def test_fences_are_read_as_commonmark_does() -> None:
    text = ("intro\n```sh test\necho one\n```\n\n~~~~ sh test\n```not a fence end\n~~~~\n"
            "   ```sh\n   echo indented\n   ```\n````sh test extra\necho two\n````\n")
    blocks = fenced_blocks(ROOT / "x.md", text)
    assert [(b.line, b.info, b.testable) for b in blocks] == [
        (2, "sh test", True), (6, "sh test", True), (9, "sh", False), (12, "sh test extra", True)]
    assert blocks[1].code == "```not a fence end\n"
    assert blocks[2].code == "echo indented\n"


def test_toml_examples_are_valid_settings(tmp_path: Path) -> None:
    """Every ``toml`` block in the docs is a config.toml that ``ots`` accepts (unknown keys are refused)."""
    examples = [block for path in DOCS for block in fenced_blocks(path, path.read_text("utf-8"))
                if block.info.split()[:1] == ["toml"]]
    assert len(examples) >= 2
    for block in examples:
        path = tmp_path / "config.toml"
        path.write_text(block.code, "utf-8")
        try:
            load_config(path, environ={})
        except ConfigError as exc:
            pytest.fail(f"{block.id}: {exc.message}")


@pytest.mark.usefixtures("keychain")
def test_a_failing_command_fails_the_block(isolated_home: Home, docs_server: RunningServer) -> None:
    work = isolated_home.root / "work"
    work.mkdir()
    env = block_env(isolated_home, docs_server, work)
    failed = run_block("ots audit verify --log missing.jsonl --pubkey missing.json\necho not reached\n", env, work)
    assert failed.returncode != 0
    assert "not reached" not in failed.stdout
    assert "missing" in describe("...", failed)
    # An unset variable and a failure inside a pipe count too.
    assert run_block('echo "$NO_SUCH_VARIABLE"\n', env, work).returncode != 0
    assert run_block("false | cat\n", env, work).returncode != 0


# ---------------------------------------------------------------- systemd units


def unit_files() -> list[Path]:
    return sorted(UNITS.glob("*.service"))


def unit_settings(path: Path) -> dict[str, list[str]]:
    """``Key`` -> values of a unit file (continuation lines joined; comments dropped)."""
    settings: dict[str, list[str]] = {}
    pending = ""
    for raw in path.read_text("utf-8").splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def exec_argv(path: Path) -> list[str]:
    [command] = [value for value in unit_settings(path)["ExecStart"] if value]
    return shlex.split(command)


def local_argv(path: Path, state: Path, store: str | None) -> list[str]:
    """The unit's command line as it can run here: this venv's ``ots``, free ports, a temp state dir."""
    argv = [str(OTS), *exec_argv(path)[1:]]
    ports = {"--port", "--transit-port", "--link-port"}
    for index, word in enumerate(argv[:-1]):
        if word in ports:
            argv[index + 1] = "0"
        elif word == "--store" and store is not None:
            argv[index + 1] = store
    return [word.replace("%S", str(state)).replace("%i", "4081") for word in argv] + ["--json"]


@pytest.mark.parametrize("unit", unit_files(), ids=lambda p: p.name)
def test_unit_flags_exist_in_ots_server_help(unit: Path) -> None:
    argv = exec_argv(unit)
    assert argv[0].endswith("/bin/ots") and argv[1] == "server", argv
    helped = subprocess.run([str(OTS), "server", "--help"], capture_output=True, text=True, timeout=60, check=True)
    flags = [word for word in argv[2:] if word.startswith("--")]
    assert flags and all(re.search(rf"(^|\s){re.escape(f)}\b", helped.stdout) for f in flags), (flags, helped.stdout)


@pytest.mark.parametrize("unit", unit_files(), ids=lambda p: p.name)
def test_unit_is_hardened(unit: Path) -> None:
    settings = {key: values[-1] for key, values in unit_settings(unit).items()}
    expected = {"DynamicUser": "yes", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                "PrivateTmp": "yes", "PrivateDevices": "yes", "CapabilityBoundingSet": "", "UMask": "0077",
                "StateDirectoryMode": "0700", "LimitCORE": "0", "RestrictSUIDSGID": "yes"}
    assert {key: settings.get(key) for key in expected} == expected
    assert settings["StateDirectory"].startswith("ots-")
    argv = exec_argv(unit)
    data_dir = argv[argv.index("--data-dir") + 1]
    assert data_dir == "%S/" + settings["StateDirectory"]  # the only writable place
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    assert "--trust-proxy" in argv


def test_server_unit_command_line_starts(tmp_path: Path) -> None:
    _start_and_stop(UNITS / "ots-server.service", tmp_path, store=None)


def test_relay_unit_command_line_starts_on_redis(tmp_path: Path, redis_url: str) -> None:
    _start_and_stop(UNITS / "ots-relay@.service", tmp_path, store=redis_url)


def _start_and_stop(unit: Path, tmp_path: Path, store: str | None) -> None:
    argv = local_argv(unit, tmp_path / "state", store)
    service = Service(unit.stem, argv, env=dict(os.environ), log_dir=tmp_path)
    try:
        ready = json.loads(LineReader(service).next_line(timeout=30))
        assert ready["event"] == "ready", ready
        assert ready["public_url"] == "https://secrets.example.com"
        assert Path(ready["data_dir"]).is_relative_to(tmp_path / "state")
        with urllib.request.urlopen(ready["link_url"] + "/healthz", timeout=30) as answer:
            assert answer.status == 200
    finally:
        service.stop()
    assert service.proc.returncode == 0, service.log_text()


@pytest.mark.parametrize("unit", unit_files(), ids=lambda p: p.name)
def test_systemd_analyze_verify(unit: Path, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed; the unit is checked by the tests above")
    # The unit names /opt/ots-desktop/bin/ots; verify checks that it is executable, so point it here.
    name = unit.name.replace("@.", "@4081.")
    local = tmp_path / name
    local.write_text(unit.read_text("utf-8").replace("/opt/ots-desktop/bin/ots", str(OTS)), "utf-8")
    result = subprocess.run([analyze, "verify", str(local)], capture_output=True, text=True, timeout=120,
                            check=False)
    # verify only warns (exit 0) about unknown keys or bad values: any output is a finding.
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result
