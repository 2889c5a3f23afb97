"""A malicious wormhole sender, for tests: it offers names and zips that must never land on disk.

Run as ``python -m tests.support.evil_sender --relay-url URL --transit-helper HINT --code CODE --kind KIND``.
It speaks the real file-transfer protocol v1 with the magic-wormhole library (like the
stock sender: a transit message, then the offer), prints what happened as JSON lines
on stdout, and always exits 0: the test judges the receiver, not this script. A hard
timeout ends it whatever happens, so it can never hang a test.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import stat
import sys
import zipfile
from typing import Any

APPID = "lothar.com/wormhole/text-or-file-xfer"
TRANSIT_KEY_PURPOSE = "lothar.com/wormhole/text-or-file-xfer/transit-key"
HARD_TIMEOUT_S = 30.0
RECORD_SIZE = 16 * 1024

FILE_NAMES = {
    "traversal-file": "../../evil.txt",
    "absolute-file": "/tmp/evil.txt",
    "dotdot-file": "..",
    "control-file": "evil\u202etxt.exe",
}
ZIP_KINDS = ("traversal-zip", "symlink-zip", "oversize-zip")
# Offers a receiver cannot take; it must say so to the sender instead of leaving it waiting.
BROKEN_OFFERS: dict[str, dict[str, Any]] = {
    "surrogate-text": {"message": "\ud800 a lone surrogate"},
    "bad-filesize": {"file": {"filename": "fine.txt", "filesize": "five"}},
    "negative-filesize": {"file": {"filename": "fine.txt", "filesize": -5}},
}
KINDS = (*FILE_NAMES, *ZIP_KINDS, *BROKEN_OFFERS)


def emit(**fields: Any) -> None:
    """One JSON line on stdout, flushed at once."""
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def build_zip(kind: str) -> tuple[bytes, int, int]:
    """The evil zip for ``kind``: (zip bytes, numbytes to announce, numfiles to announce)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        if kind == "traversal-zip":
            payload = b"escaped\n"
            zf.writestr(zipfile.ZipInfo("../escaped.txt"), payload)
            numbytes = len(payload)
        elif kind == "symlink-zip":
            info = zipfile.ZipInfo("link")
            info.create_system = 3  # unix, so external_attr carries the mode
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, b"/etc/passwd")
            numbytes = len(b"/etc/passwd")
        elif kind == "oversize-zip":
            # Announce 10 bytes, unpack to 100 KB.
            info = zipfile.ZipInfo("zeros.bin")
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, b"\0" * 100_000)
            numbytes = 10
        else:
            raise ValueError(kind)
    return buffer.getvalue(), numbytes, 1


def offer_for(kind: str) -> tuple[dict[str, Any], bytes | None]:
    """The offer message and, for a directory, the zip bytes that follow over transit."""
    if kind in FILE_NAMES:
        return {"offer": {"file": {"filename": FILE_NAMES[kind], "filesize": 5}}}, None
    if kind in BROKEN_OFFERS:
        return {"offer": BROKEN_OFFERS[kind]}, None
    data, numbytes, numfiles = build_zip(kind)
    offer = {"directory": {"mode": "zipfile/deflated", "dirname": "innocent", "zipsize": len(data),
                           "numbytes": numbytes, "numfiles": numfiles}}
    return {"offer": offer}, data


def main(reactor: Any, args: argparse.Namespace) -> Any:
    """The whole exchange, as one Deferred (for ``task.react``)."""
    from twisted.internet import defer

    @defer.inlineCallbacks
    def run() -> Any:
        import wormhole
        from wormhole.transit import TransitSender

        w = wormhole.create(APPID, args.relay_url, reactor, versions={}, stderr=io.StringIO())
        try:
            w.set_code(args.code)
            verifier = yield w.get_verifier()
            emit(event="connected", verifier=bytes(verifier).hex()[:8])
            ts = TransitSender(args.transit_helper, no_listen=True, reactor=reactor)
            ts.set_transit_key(w.derive_key(TRANSIT_KEY_PURPOSE, TransitSender.TRANSIT_KEY_LENGTH))
            hints = yield ts.get_connection_hints()
            w.send_message(json.dumps({"transit": {"abilities-v1": ts.get_connection_abilities(),
                                                   "hints-v1": hints}}).encode())
            offer, data = offer_for(args.kind)
            w.send_message(json.dumps(offer).encode())
            emit(event="offered", offer=offer)
            while True:
                raw = yield w.get_message()
                message = json.loads(raw)
                emit(event="message", message=message)
                if "transit" in message:
                    ts.add_connection_hints(message["transit"].get("hints-v1", []))
                    continue
                if "error" in message or "answer" in message:
                    break
            answer = message.get("answer", {})
            if data is not None and isinstance(answer, dict) and answer.get("file_ack") == "ok":
                pipe = yield ts.connect()
                emit(event="transit_connected")
                for start in range(0, len(data), RECORD_SIZE):
                    pipe.send_record(data[start:start + RECORD_SIZE])
                emit(event="sent", bytes=len(data))
                ack = yield pipe.receive_record()
                emit(event="ack", ack=json.loads(ack))
                pipe.close()
        except Exception as exc:  # the receiver may hang up on us at any point; that is its right
            emit(event="error", type=type(exc).__name__, detail=str(exc)[:300])
        finally:
            try:
                yield w.close()
            except Exception as exc:
                emit(event="close_error", type=type(exc).__name__)
        emit(event="done")

    return run()


def _hard_exit() -> None:
    emit(event="timeout")
    os._exit(0)


def parse(argv: list[str]) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--relay-url", required=True)
    parser.add_argument("--transit-helper", required=True)
    parser.add_argument("--code", required=True)
    parser.add_argument("--kind", required=True, choices=KINDS)
    parser.add_argument("--timeout", type=float, default=HARD_TIMEOUT_S)
    return parser.parse_args(argv)


def cli(argv: list[str] | None = None) -> None:
    """Entry point: run the exchange on the Twisted reactor and exit 0."""
    args = parse(sys.argv[1:] if argv is None else argv)
    from twisted.internet import reactor, task

    reactor.callLater(args.timeout, _hard_exit)  # type: ignore[attr-defined]
    try:
        task.react(lambda r: main(r, args))
    except SystemExit:
        pass
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    cli()
