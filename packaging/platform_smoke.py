"""Round trips through the real ``ots`` on any OS: the check the Windows and macOS CI jobs run.

Starts ``ots server`` (mailbox, transit relay and link relay on ports the OS hands out), then, between
two installations (two OTS_HOME folders, the OS keychain of the user running it):

- a text with CRLF and LF line ends, by code;
- a random file, by code, compared by SHA-256;
- a folder (with a CRLF file inside), by code, compared file by file;
- a random file, by one-time link, compared by SHA-256;
- ``ots audit verify`` on both installations: intact.

Only the standard library and ``python -m ots_desktop.cli``: no shell, no ``select`` on pipes (which
Windows lacks), no fixed ports. Exits 0 when every step passed; prints one line per step.

    python packaging/platform_smoke.py [--size-mb 8] [--work DIR] [--gui]

``--gui`` also starts the desktop app and quits it once it is ready (``ots-desktop --exit-when-ready``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

OTS = [sys.executable, "-m", "ots_desktop.cli"]
TIMEOUT_S = 120


class Process:
    """A started command whose stdout lines are read on a thread (works the same on every OS)."""

    def __init__(self, argv: list[str], env: dict[str, str], stdin: bytes | None = None) -> None:
        self.argv = argv
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,  # noqa: S603 - our own argv
                                     stderr=subprocess.PIPE)
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self.stderr = b""
        threading.Thread(target=self._read_out, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()
        assert self.proc.stdin is not None
        if stdin is not None:
            self.proc.stdin.write(stdin)
        self.proc.stdin.close()

    def _read_out(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        self.stderr = self.proc.stderr.read()

    def event(self, name: str, timeout: float = TIMEOUT_S) -> dict[str, Any]:
        """The next JSON line whose "event" is ``name`` (other events are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise SystemExit(f"FAIL: no {name!r} event from {self.argv[3:5]} in {timeout:.0f} s") from None
            if line is None:
                self.proc.wait(timeout=10)
                raise SystemExit(f"FAIL: {self.argv[3:5]} exited {self.proc.returncode} before {name!r}: "
                                 f"{self.stderr.decode(errors='replace')[-2000:]}")
            if line.strip().startswith(b"{"):
                event = json.loads(line)
                if event.get("event") == name:
                    return event

    def wait(self, timeout: float = TIMEOUT_S) -> None:
        """Wait for a clean exit; fail with its stderr otherwise."""
        code = self.proc.wait(timeout=timeout)
        if code != 0:
            time.sleep(0.2)  # let the stderr thread finish reading
            raise SystemExit(f"FAIL: {self.argv[3:5]} exited {code}: {self.stderr.decode(errors='replace')[-2000:]}")

    def stop(self) -> None:
        """End the process (by its handle, never by name)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def random_file(path: Path, size: int) -> str:
    with path.open("wb") as out:
        left = size
        while left:
            chunk = os.urandom(min(left, 1 << 20))
            out.write(chunk)
            left -= len(chunk)
    return sha256_of(path)


def tree(root: Path) -> dict[str, bytes | None]:
    return {p.relative_to(root).as_posix(): (None if p.is_dir() else p.read_bytes()) for p in sorted(root.rglob("*"))}


class Smoke:
    """One run: a server and two installations under ``work``."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.base_env = {k: v for k, v in os.environ.items() if not k.startswith("OTS_")}
        self.server = Process([*OTS, "server", "--port", "0", "--transit-port", "0", "--link-port", "0",
                               "--data-dir", str(work / "server"), "--json"], self.base_env)
        ready = self.server.event("ready", timeout=60)
        self.wormhole = ["--mailbox-url", ready["mailbox_url"], "--transit-helper", ready["transit_helper"]]
        self.relay = ready["link_url"]

    def env(self, side: str) -> dict[str, str]:
        home = self.work / side
        home.mkdir(exist_ok=True)
        return {**self.base_env, "OTS_HOME": str(home)}

    def out(self, name: str) -> Path:
        folder = self.work / name
        folder.mkdir(exist_ok=True)
        return folder

    def by_code(self, *, stdin: bytes | None = None, file: Path | None = None, out: Path | None = None
                ) -> dict[str, Any]:
        send_argv = [*OTS, "send", "--json", *self.wormhole] + (["--file", str(file)] if file else [])
        sender = Process(send_argv, self.env("alice"), stdin=stdin)
        code = sender.event("code")["code"]
        receive_argv = [*OTS, "receive", code, "--json", "--accept-file", *self.wormhole]
        if out is not None:
            receive_argv += ["--out", str(out)]
        receiver = Process(receive_argv, self.env("bob"))
        received = receiver.event("received")
        receiver.wait()
        sender.wait()
        return received

    def by_link(self, file: Path, out: Path) -> dict[str, Any]:
        sender = Process([*OTS, "send", "--via", "link", "--relay", self.relay, "--file", str(file), "--json"],
                         self.env("alice"))
        link = sender.event("link")["link"]
        sender.wait()
        receiver = Process([*OTS, "receive", link, "--out", str(out), "--json"], self.env("bob"))
        received = receiver.event("received")
        receiver.wait()
        return received

    def verify(self, side: str) -> None:
        Process([*OTS, "audit", "verify", "--json"], self.env(side)).wait()

    def close(self) -> None:
        self.server.stop()


def check(name: str, ok: bool, detail: str = "") -> None:
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
    if not ok:
        raise SystemExit(1)


def run(work: Path, size: int, gui: bool) -> None:
    smoke = Smoke(work)
    try:
        text = "line one\r\nline two\nkey=\u00e9\u20ac\U0001f511"
        received = smoke.by_code(stdin=text.encode("utf-8") + b"\n")
        check("text by code keeps CRLF, LF and non-ASCII", received.get("text") == text)

        source = work / "payload.bin"
        digest = random_file(source, size)
        received = smoke.by_code(file=source, out=smoke.out("code-out"))
        got = Path(received["path"])
        check(f"{size} bytes by code", sha256_of(got) == digest, got.name)

        folder = work / "deploy"
        (folder / "keys").mkdir(parents=True)
        (folder / ".env").write_bytes(b"A=1\r\nB=2\n")
        (folder / "keys" / "id.pem").write_bytes(os.urandom(3000))
        received = smoke.by_code(file=folder, out=smoke.out("folder-out"))
        check("folder by code", tree(Path(received["path"])) == tree(folder))

        received = smoke.by_link(source, smoke.out("link-out"))
        got = Path(received["path"])
        check(f"{size} bytes by link", sha256_of(got) == digest, got.name)

        for side in ("alice", "bob"):
            smoke.verify(side)
            check(f"audit log of {side} intact", True)
    finally:
        smoke.close()
    if gui:
        app = subprocess.run([sys.executable, "-m", "ots_desktop.ui", "--exit-when-ready"],
                             env={**smoke.base_env, "OTS_HOME": str(work / "gui")}, timeout=TIMEOUT_S,
                             capture_output=True, check=False)
        check("desktop app starts and quits", app.returncode == 0, app.stderr.decode(errors="replace")[-500:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, default=8.0, help="size of the random file (MB)")
    parser.add_argument("--work", type=Path, default=None, help="keep everything in this folder")
    parser.add_argument("--gui", action="store_true", help="also start and quit the desktop app")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="ots-smoke-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        run(work, int(args.size_mb * 1_000_000), args.gui)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print("every step passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
