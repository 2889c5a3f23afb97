"""``ots demo``: a self-contained, headless walk through the app's core on this machine.

It runs in a fresh temporary ``OTS_HOME`` so the user's own audit log is untouched.
Every step is real: the envelope is sealed and opened with the real crypto, the audit
log signs with keys kept in the OS keychain, and the export is verified offline with
only the public key.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import click

from ots_desktop.cli.context import audit_log, cli_state, handle_errors
from ots_desktop.cli.output import say
from ots_desktop.core import envelope, ids
from ots_desktop.core.audit.events import AuditEvent, Channel, EventType, Outcome, Reason
from ots_desktop.core.audit.export import export_log
from ots_desktop.core.audit.offline import verify_file
from ots_desktop.core.errors import EnvelopeError
from ots_desktop.core.secret import SecretBuffer


def _step(number: int, text: str) -> None:
    say(click.style(f"[{number}] ", bold=True) + text)


@click.command()
@click.option("--keep", is_flag=True, help="Keep the demo's OTS_HOME instead of deleting it.")
@handle_errors()
def demo(keep: bool) -> None:
    """Run a local demo: seal, open, audit, tamper-check and export, all offline."""
    home = Path(tempfile.mkdtemp(prefix="ots-demo-"))
    os.environ["OTS_HOME"] = str(home)
    say(f"Demo home: {home}")
    started = time.monotonic()
    with SecretBuffer(os.urandom(24).hex().encode("ascii")) as secret, audit_log(cli_state()) as log:
        share_id = ids.new_share_id()
        sid = ids.b64u_encode(share_id)
        with ids.new_fragment_key() as key:
            fingerprint = log.fingerprint(secret)
            log.append(AuditEvent(EventType.SHARE_CREATED, channel=Channel.LINK, label="demo API key",
                                  share_id=sid, fingerprint=fingerprint, kind="text", size_bytes=len(secret)))
            sealed = envelope.seal(secret, share_id=share_id, fragment_key=key, meta={"type": "text"})
            _step(1, f"Sealed a {len(secret)}-byte secret into a {len(sealed)}-byte AES-256-GCM envelope "
                     f"(share {sid}).")
            with envelope.open_envelope(sealed, share_id=share_id, fragment_key=key) as opened:
                same = opened.plaintext == secret
            _step(2, f"Opened it with the fragment key: {'identical' if same else 'DIFFERENT'} to the original.")
            log.append(AuditEvent(EventType.SECRET_RECEIVED, channel=Channel.LINK, share_id=sid,
                                  fingerprint=fingerprint, kind="text", size_bytes=len(secret)))
        damaged = bytearray(sealed)
        damaged[-1] ^= 1
        with ids.new_fragment_key() as key2:
            try:
                envelope.open_envelope(bytes(damaged), share_id=share_id, fragment_key=key2)
            except EnvelopeError as exc:
                _step(3, f"A damaged envelope is refused: {exc.message}")
                log.append(AuditEvent(EventType.RECEIVE_FAILED, outcome=Outcome.ALERT, reason=Reason.DAMAGED,
                                      channel=Channel.LINK, share_id=sid))
        matches = log.lookup(secret)
        _step(4, f"Lookup by keyed fingerprint finds {len(matches)} events for that secret "
                 "(the log never holds the secret itself).")
        report = log.verify()
        _step(5, f"Verified the audit log: {report.summary()}")
        out = home / "audit-export.jsonl"
        export_log(log, "jsonl", out)
        offline = verify_file(out, log.public_key)
        _step(6, f"Exported to {out.name} with a signed manifest; offline check with only the public key: "
                 f"{offline.summary()}")
    say(f"Done in {time.monotonic() - started:.2f} s.")
    if keep:
        say(f"Kept {home}")
    else:
        for path in sorted(home.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        home.rmdir()
