"""An HTTP event collector for tests (aiohttp), in a process of its own: Splunk HEC or JSON lines.

``python -m tests.support.hec_collector --port N --token-file F --out DIR [--format hec|jsonl]``
prints ``READY <port>`` once listening. It checks the token (``Authorization: Splunk <token>``
for HEC, ``Bearer <token>`` for JSON lines; 401 otherwise, as Splunk answers) and the JSON shape
of every event (400 otherwise), then appends each accepted event to ``DIR/events.jsonl`` and
each request body as received to ``DIR/bodies.raw``. Stopped by PID.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.processes import Service

HEC_PATH = "/services/collector/event"
JSONL_PATH = "/ingest"
READY_TIMEOUT_S = 20.0


def check_event(event: object, fmt: str) -> dict[str, Any]:
    """The inner event object, or ValueError saying what is wrong with its shape."""
    if not isinstance(event, dict):
        raise ValueError("an event is not an object")
    if fmt == "hec":
        if event.get("source") != "ots-desktop" or event.get("sourcetype") != "ots:audit":
            raise ValueError("source / sourcetype")
        if not isinstance(event.get("host"), str) or not isinstance(event.get("time", 0.0), int | float):
            raise ValueError("host / time")
        event = event.get("event")
        if not isinstance(event, dict):
            raise ValueError("no event")
    kind = event.get("kind")
    if kind not in ("entry", "checkpoint", "test") or not isinstance(event.get("seq"), int):
        raise ValueError("kind / seq")
    if not isinstance(event.get("log_id"), str):
        raise ValueError("log_id")
    if kind == "entry" and not (isinstance(event.get("entry"), dict) and len(str(event.get("entry_hash"))) == 64
                                and len(str(event.get("prev_hash"))) == 64):
        raise ValueError("entry fields")
    if kind == "checkpoint" and not isinstance(event.get("checkpoint"), dict):
        raise ValueError("checkpoint")
    return event


def _split(body: bytes) -> list[object]:
    decoder, text, at, out = json.JSONDecoder(), body.decode("utf-8"), 0, []
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return out
        value, at = decoder.raw_decode(text, at)
        out.append(value)


def main(argv: list[str] | None = None) -> int:
    from aiohttp import web

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token-file", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--format", choices=("hec", "jsonl"), default="hec")
    args = parser.parse_args(argv)
    token = args.token_file.read_text().strip()
    scheme = "Splunk" if args.format == "hec" else "Bearer"
    events_file = (args.out / "events.jsonl").open("a", encoding="utf-8")
    bodies = (args.out / "bodies.raw").open("ab")

    async def ingest(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"{scheme} {token}":
            return web.json_response({"text": "Invalid token", "code": 4}, status=401)
        body = await request.read()
        bodies.write(body + b"\n")
        bodies.flush()
        try:
            events = [check_event(e, args.format) for e in _split(body)]
        except (ValueError, UnicodeDecodeError) as exc:
            return web.json_response({"text": f"Invalid data format ({exc})", "code": 6}, status=400)
        for event in events:
            events_file.write(json.dumps(event, sort_keys=True) + "\n")
        events_file.flush()
        return web.json_response({"text": "Success", "code": 0})

    async def ready(runner: web.AppRunner) -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", args.port, reuse_address=True)
        await site.start()
        port = runner.addresses[0][1]
        print(f"READY {port}", flush=True)

    import asyncio

    app = web.Application()
    app.router.add_post(HEC_PATH if args.format == "hec" else JSONL_PATH, ingest)
    runner = web.AppRunner(app, access_log=None)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(ready(runner))
    try:
        loop.run_forever()
    finally:
        loop.run_until_complete(runner.cleanup())
    return 0


@dataclass
class HecCollector:
    """A running collector process."""

    service: Service
    root: Path
    port: int
    fmt: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{HEC_PATH if self.fmt == 'hec' else JSONL_PATH}"

    def events(self) -> list[dict[str, Any]]:
        path = self.root / "events.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]

    def bodies(self) -> bytes:
        path = self.root / "bodies.raw"
        return path.read_bytes() if path.exists() else b""

    def stop(self) -> None:
        self.service.stop()


def start_collector(root: Path, token: str, *, port: int = 0, fmt: str = "hec") -> HecCollector:
    """Start the collector process; returns once it listens."""
    import select

    root.mkdir(parents=True, exist_ok=True)
    token_file = root / "token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    service = Service("hec-collector", [sys.executable, "-m", "tests.support.hec_collector", "--port", str(port),
                                        "--token-file", str(token_file), "--out", str(root), "--format", fmt],
                      log_dir=root, cwd=Path(__file__).resolve().parents[2])
    assert service.proc.stdout is not None
    ready, _, _ = select.select([service.proc.stdout], [], [], READY_TIMEOUT_S)
    line = service.proc.stdout.readline() if ready else b""
    if not line.startswith(b"READY "):
        service.stop()
        raise RuntimeError(f"the collector did not start: {service.log_text()}")
    return HecCollector(service, root, int(line.split()[1]), fmt)


if __name__ == "__main__":
    sys.exit(main())
