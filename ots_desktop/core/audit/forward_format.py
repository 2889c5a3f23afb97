"""How forwarded audit entries and checkpoints look on the wire: RFC 5424 syslog, Splunk HEC, JSON lines.

A syslog message is ``<PRI>1 TIMESTAMP HOSTNAME ots-desktop - MSGID [ots@32473 ...] MSG``:

- PRI: facility authpriv (10); severity warning (4) for an alert, error (3) for an alert that
  says someone else got at a share (``already_consumed``, ``crowded``), info (6) otherwise;
- TIMESTAMP: the entry's own ``ts_utc``; MSGID: the event type (``checkpoint`` for a checkpoint);
- structured data ``ots@32473`` carries ``seq``, ``log_id``, ``entry_hash``, ``prev_hash`` and
  every field of the entry; for a checkpoint its log id, seq, head, epoch, key id and signature;
- MSG: the entry's canonical JSON body exactly as it was hashed, so a collector can recompute
  ``entry_hash = SHA-256("ots-desktop audit entry v2\\n" + prev_hash + "\\n" + MSG)`` and check the
  chain; for a checkpoint, the checkpoint's JSON, whose signature ``ots audit verify`` checks.

The HTTP collector gets the same content as JSON: ``{"kind": "entry", "seq", "log_id",
"entry_hash", "prev_hash", "entry": {...}}`` (``canonical_json(entry)`` is the hashed body) or
``{"kind": "checkpoint", "checkpoint": {...}}``; in the Splunk HEC shape each is the ``event`` of
``{"time", "host", "source": "ots-desktop", "sourcetype": "ots:audit", "event"}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ots_desktop.core.times import parse_rfc3339, utc_now_ms

APP_NAME = "ots-desktop"
SD_ID = "ots@32473"
FACILITY = 10  # authpriv: security and authorisation messages kept from general readers
ERROR, WARNING, INFO = 3, 4, 6
SOURCETYPE = "ots:audit"
TEST_MSGID = "test_event"
_SERIOUS = frozenset({"already_consumed", "crowded"})
_HEC_DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode


@dataclass(frozen=True)
class Outgoing:
    """One item to forward: an entry (its canonical body and hashes), a checkpoint, or a test event."""

    kind: str  # "entry", "checkpoint" or "test"
    log_id: str
    seq: int
    payload: str  # the entry's canonical JSON body, the checkpoint's JSON, or the test event's JSON
    prev_hash: str = ""
    entry_hash: str = ""

    def fields(self) -> dict[str, Any]:
        """The payload, parsed."""
        value = json.loads(self.payload)
        return value if isinstance(value, dict) else {}


def test_event(log_id: str, host: str) -> Outgoing:
    """A test message: recognisable, never part of the log (seq 0)."""
    body = json.dumps({"event_type": TEST_MSGID, "host": host, "log_id": log_id, "ts_utc": utc_now_ms()},
                      sort_keys=True, separators=(",", ":"))
    return Outgoing("test", log_id, 0, body)


def severity(fields: dict[str, Any]) -> int:
    """Warning or error for alerts, info for everything else."""
    if fields.get("outcome") == "alert" or fields.get("event_type") == "alert":
        return ERROR if fields.get("reason") in _SERIOUS else WARNING
    return INFO


def _printable(text: str, limit: int) -> str:
    cleaned = "".join(ch if 33 <= ord(ch) <= 126 else "-" for ch in text)[:limit]
    return cleaned or "-"


def sd_escape(value: object) -> str:
    """An SD-PARAM value: backslash, double quote and closing bracket escaped (RFC 5424 6.3.3)."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")
    return "".join(ch if ord(ch) >= 0x20 else " " for ch in text)


def rfc5424(*, severity_level: int, timestamp: str, hostname: str, app_name: str, msgid: str,
            params: Iterable[tuple[str, object]], message: str, sd_id: str = SD_ID, procid: str = "-",
            facility: int = FACILITY) -> bytes:
    """One RFC 5424 message (without transport framing)."""
    sd = " ".join(f'{_printable(name, 32)}="{sd_escape(value)}"' for name, value in params)
    header = (f"<{facility * 8 + severity_level}>1 {_printable(timestamp, 64)} {_printable(hostname, 255)} "
              f"{_printable(app_name, 48)} {_printable(procid, 128)} {_printable(msgid, 32)}")
    return f"{header} [{_printable(sd_id, 32)} {sd}] {message}".encode()


def syslog_message(item: Outgoing, hostname: str) -> bytes:
    """The RFC 5424 message for ``item``; ``hostname`` is used when the item names no host."""
    fields = item.fields()
    if item.kind == "checkpoint":
        params: list[tuple[str, object]] = [(k, fields[k]) for k in ("seq", "log_id", "head", "epoch", "key_id",
                                                                     "ts_utc", "signature") if k in fields]
        return rfc5424(severity_level=INFO, timestamp=str(fields.get("ts_utc", "-")), hostname=hostname,
                       app_name=APP_NAME, msgid="checkpoint", params=params, message=item.payload)
    params = [("seq", item.seq), ("log_id", item.log_id)]
    if item.kind == "entry":
        params += [("entry_hash", item.entry_hash), ("prev_hash", item.prev_hash)]
    params += [(k, v) for k, v in sorted(fields.items()) if k not in ("seq", "log_id")]
    return rfc5424(severity_level=severity(fields), timestamp=str(fields.get("ts_utc", "-")),
                   hostname=str(fields.get("host") or hostname), app_name=APP_NAME,
                   msgid=str(fields.get("event_type", "-")), params=params, message=item.payload)


def octet_counted(message: bytes) -> bytes:
    """RFC 6587 octet-counting framing (also RFC 5425's): ``LEN SP MSG``."""
    return b"%d %s" % (len(message), message)


def event_object(item: Outgoing) -> dict[str, Any]:
    """The JSON object a JSON collector gets for ``item``."""
    if item.kind == "checkpoint":
        return {"kind": "checkpoint", "seq": item.seq, "log_id": item.log_id, "checkpoint": item.fields()}
    out: dict[str, Any] = {"kind": item.kind, "seq": item.seq, "log_id": item.log_id}
    if item.kind == "entry":
        out.update(entry_hash=item.entry_hash, prev_hash=item.prev_hash)
    out["entry"] = item.fields()
    return out


def _epoch(ts: object) -> float | None:
    try:
        return round(parse_rfc3339(str(ts)).timestamp(), 3)
    except ValueError:
        return None


def hec_event(item: Outgoing, hostname: str) -> dict[str, Any]:
    """``item`` in the Splunk HTTP Event Collector's event shape."""
    fields = item.fields()
    out: dict[str, Any] = {"host": str(fields.get("host") or hostname), "source": APP_NAME,
                           "sourcetype": SOURCETYPE, "event": event_object(item)}
    when = _epoch(fields.get("ts_utc"))
    if when is not None:
        out["time"] = when
    return out


def http_body(items: Sequence[Outgoing], fmt: str, hostname: str) -> bytes:
    """One POST body: HEC events one after another, or JSON lines."""
    if fmt == "hec":
        return "\n".join(_HEC_DUMPS(hec_event(item, hostname)) for item in items).encode()
    return "".join(_HEC_DUMPS(event_object(item)) + "\n" for item in items).encode()
