"""Install the built wheel as each kind of user would, each in a fresh venv, and run its entry points.

    python3 .ci/install_check.py [--lock requirements/lock-py3.11.txt | --no-lock] [--work build/install-check]

- relay host (``pip install ots-desktop``): no Qt is installed; ``ots --version`` and
  ``ots server --help`` work, ``ots server`` really starts and answers /healthz, and
  ``ots-desktop`` says in one sentence which extra to install (exit 5);
- desktop user (``pip install 'ots-desktop[desktop]'``): ``ots-desktop --version`` and
  ``ots --version``, and the app's modules import.

Every install takes this Python's lock file as constraints, so it resolves what CI tested. Standard
library only; prints one line per step and exits 1 at the first failure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class CheckFailed(Exception):
    pass


def run(argv: list[str], *, expect: int = 0, env: dict[str, str] | None = None, timeout: float = 900) -> str:
    """Run a command; its stdout+stderr, or CheckFailed when the exit code is not ``expect``."""
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout,  # noqa: S603
                          check=False)
    output = done.stdout + done.stderr
    if done.returncode != expect:
        raise CheckFailed(f"{' '.join(argv)} exited {done.returncode}, expected {expect}:\n{output[-3000:]}")
    return output


def step(text: str) -> None:
    print(f"install-check: {text}", flush=True)


def build_wheel(work: Path) -> Path:
    dist = work / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dist), str(ROOT)])
    wheels = sorted(dist.glob("ots_desktop-*.whl"))
    if len(wheels) != 1:
        raise CheckFailed(f"expected one wheel in {dist}, found {wheels}")
    return wheels[0]


def fresh_venv(path: Path, requirement: str, lock: Path | None) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    run([sys.executable, "-m", "venv", str(path)])
    constraints = ["-c", str(lock)] if lock is not None else []
    run([str(path / "bin/python"), "-m", "pip", "install", "--quiet", *constraints, requirement])
    return path / "bin"


def clean_env(home: Path) -> dict[str, str]:
    """No display and a throwaway home: nothing of the developer's leaks in."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "PYTHONPATH")}
    env.update(HOME=str(home), OTS_HOME=str(home / "ots"), XDG_CONFIG_HOME=str(home / ".config"))
    return env


def serve_once(bin_dir: Path, env: dict[str, str], data: Path) -> None:
    """Start ``ots server`` on ports the OS hands out, wait for its ready line, ask /healthz, stop it by PID."""
    argv = [str(bin_dir / "ots"), "server", "--port", "0", "--transit-port", "0", "--link-port", "0",
            "--data-dir", str(data), "--json"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,  # noqa: S603
                          env=env) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()  # the ready line, or "" when it died
            if not line:
                raise CheckFailed(f"ots server exited {proc.wait(30)} before it was ready:\n"
                                  f"{proc.stderr.read() if proc.stderr else ''}")
            ready = json.loads(line)
            with urllib.request.urlopen(f"{ready['link_url']}/healthz", timeout=30) as reply:  # noqa: S310
                if reply.status != 200:
                    raise CheckFailed(f"/healthz answered {reply.status}")
            if not ready.get("mailbox_url", "").startswith("ws://"):
                raise CheckFailed(f"no mailbox in the ready line: {line}")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def relay_host(wheel: Path, work: Path, lock: Path | None, home: Path) -> None:
    step("base install (the CLI and the relay, no Qt)")
    bin_dir = fresh_venv(work / "venv-base", str(wheel), lock)
    env = clean_env(home)
    run([str(bin_dir / "python"), "-c", "import importlib.util as u, sys; "
         "sys.exit(any(u.find_spec(m) for m in ('PySide6', 'shiboken6', 'qasync')))"])
    step("  no PySide6, shiboken6 or qasync in it")
    version = run([str(bin_dir / "ots"), "--version"], env=env)
    step(f"  ots --version: {version.strip()}")
    run([str(bin_dir / "ots"), "server", "--help"], env=env)
    step("  ots server --help: ok")
    serve_once(bin_dir, env, home / "server")
    step("  ots server: started, /healthz answered, mailbox listening")
    said = run([str(bin_dir / "ots-desktop")], expect=5, env=env)
    if "pip install 'ots-desktop[desktop]'" not in said or "Traceback" in said:
        raise CheckFailed(f"ots-desktop without the desktop extra said:\n{said}")
    step(f"  ots-desktop: {said.strip()}")


def desktop_user(wheel: Path, work: Path, lock: Path | None, home: Path) -> None:
    step("desktop install (pip install 'ots-desktop[desktop]')")
    bin_dir = fresh_venv(work / "venv-desktop", f"ots-desktop[desktop] @ {wheel.as_uri()}", lock)
    env = clean_env(home)
    step(f"  ots-desktop --version: {run([str(bin_dir / 'ots-desktop'), '--version'], env=env).strip()}")
    step(f"  ots --version: {run([str(bin_dir / 'ots'), '--version'], env=env).strip()}")
    env["QT_QPA_PLATFORM"] = "offscreen"
    said = run([str(bin_dir / "python"), "-c", "import ots_desktop.ui.app, ots_desktop.ui.main_window\n"
                "from ots_desktop.ui.send.speech import QTextToSpeech, Speaker\n"
                "from PySide6.QtWidgets import QApplication\n"
                "app = QApplication([])\n"
                "print('speech module:', QTextToSpeech is not None, 'speaker:', Speaker().available)"], env=env)
    if "speech module: False speaker: False" not in said:
        raise CheckFailed(f"the desktop extra alone should leave speech out (it is the speech extra):\n{said}")
    step("  the app's modules import (PySide6, qasync); no speech without the speech extra")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    locks = parser.add_mutually_exclusive_group()
    this_python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    locks.add_argument("--lock", type=Path, default=ROOT / f"requirements/lock-py{this_python}.txt")
    locks.add_argument("--no-lock", action="store_true", help="resolve the newest allowed versions")
    parser.add_argument("--work", type=Path, default=ROOT / "build/install-check")
    args = parser.parse_args(argv)
    lock = None if args.no_lock else args.lock
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        wheel = build_wheel(args.work)
        step(f"built {wheel.name}")
        with tempfile.TemporaryDirectory(prefix="ots-install-") as home:
            relay_host(wheel, args.work, lock, Path(home))
            desktop_user(wheel, args.work, lock, Path(home))
    except (CheckFailed, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as exc:
        print(f"install-check: FAILED: {exc}", file=sys.stderr)
        return 1
    step(f"passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
