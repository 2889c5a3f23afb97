"""``ots demo``: a self-contained, headless walk through the app's core on this machine.

It runs in a fresh temporary ``OTS_HOME`` so the user's own audit log is untouched.
Every step is real: the envelope is sealed and opened with the real crypto, the audit
log signs with keys kept in the OS keychain, and the export is verified offline with
only the public key.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import click

from ots_desktop.cli.context import audit_log, cli_state, handle_errors
from ots_desktop.cli.output import emit_json, say
from ots_desktop.core import envelope, ids
from ots_desktop.core.audit.events import AuditEvent, Channel, EventType, Outcome, Reason
from ots_desktop.core.audit.export import export_log
from ots_desktop.core.audit.offline import verify_file
from ots_desktop.core.errors import EnvelopeError
from ots_desktop.core.secret import SecretBuffer


class _Steps:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.number = 0

    def __call__(self, text: str) -> None:
        self.number += 1
        if self.as_json:
            emit_json({"event": "step", "step": self.number, "text": text})
        else:
            say(click.style(f"[{self.number}] ", bold=True) + text)


@click.command()
@click.option("--keep", is_flag=True, help="Keep the demo's OTS_HOME instead of deleting it.")
@click.option("--json", "as_json", is_flag=True, help="Print each step as a JSON line.")
@handle_errors()
def demo(keep: bool, as_json: bool) -> None:
    """Run a local demo: seal, open, audit, tamper-check and export, all offline."""
    home = Path(tempfile.mkdtemp(prefix="ots-demo-"))
    os.environ["OTS_HOME"] = str(home)
    step = _Steps(as_json)
    if not as_json:
        say(f"Demo home: {home}")
    started = time.monotonic()
    try:
        with SecretBuffer(os.urandom(24).hex().encode("ascii")) as secret, audit_log(cli_state()) as log:
            share_id = ids.new_share_id()
            sid = ids.b64u_encode(share_id)
            with ids.new_fragment_key() as key:
                fingerprint = log.fingerprint(secret)
                log.append(AuditEvent(EventType.SHARE_CREATED, channel=Channel.LINK, label="demo API key",
                                      share_id=sid, fingerprint=fingerprint, kind="text", size_bytes=len(secret)))
                sealed = envelope.seal(secret, share_id=share_id, fragment_key=key, meta={"type": "text"})
                step(f"Sealed a {len(secret)}-byte secret into a {len(sealed)}-byte AES-256-GCM envelope "
                     f"(share {sid}).")
                with envelope.open_envelope(sealed, share_id=share_id, fragment_key=key) as opened:
                    same = opened.plaintext == secret
                step(f"Opened it with the fragment key: {'identical' if same else 'DIFFERENT'} to the original.")
                log.append(AuditEvent(EventType.SECRET_RECEIVED, channel=Channel.LINK, share_id=sid,
                                      fingerprint=fingerprint, kind="text", size_bytes=len(secret)))
                damaged = bytearray(sealed)
                damaged[-1] ^= 1
                try:
                    envelope.open_envelope(damaged, share_id=share_id, fragment_key=key).close()
                    step("A damaged envelope was NOT refused.")
                except EnvelopeError as exc:
                    step(f"One flipped bit and the same key: refused ({exc.message}).")
                    log.append(AuditEvent(EventType.RECEIVE_FAILED, outcome=Outcome.ALERT, reason=Reason.DAMAGED,
                                          channel=Channel.LINK, share_id=sid))
            matches = log.lookup(secret)
            step(f"Lookup by keyed fingerprint finds {len(matches)} events for that secret "
                 "(the log never holds the secret itself).")
            report = log.verify()
            step(f"Verified the audit log: {report.summary()}")
            out = home / "audit-export.jsonl"
            export_log(log, "jsonl", out)
            offline = verify_file(out, log.public_key)
            step(f"Exported to {out.name} with a signed manifest; offline check with only the public key: "
                 f"{offline.summary()}")
    finally:
        if not keep:
            shutil.rmtree(home, ignore_errors=True)
    elapsed = time.monotonic() - started
    if as_json:
        emit_json({"event": "done", "seconds": round(elapsed, 3), "home": str(home) if keep else None})
    else:
        say(f"Done in {elapsed:.2f} s." + (f" Kept {home}" if keep else ""))
