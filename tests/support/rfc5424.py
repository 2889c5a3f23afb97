"""A strict RFC 5424 parser for what a collector wrote: header, structured data (with escapes) and MSG."""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADER = re.compile(
    rb"^<(?P<pri>\d{1,3})>(?P<version>[1-9]\d{0,2}) "
    rb"(?P<timestamp>-|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})) "
    rb"(?P<hostname>[\x21-\x7e]{1,255}) (?P<app>[\x21-\x7e]{1,48}) (?P<procid>[\x21-\x7e]{1,128}) "
    rb"(?P<msgid>[\x21-\x7e]{1,32}) ")
_NAME = rb"[\x21-\x7e]{1,32}"


@dataclass(frozen=True)
class Message:
    """One parsed message."""

    pri: int
    version: int
    timestamp: str
    hostname: str
    app_name: str
    procid: str
    msgid: str
    sd: dict[str, dict[str, str]]
    msg: bytes

    @property
    def facility(self) -> int:
        return self.pri // 8

    @property
    def severity(self) -> int:
        return self.pri % 8


def _sd(data: bytes, at: int) -> tuple[dict[str, dict[str, str]], int]:
    elements: dict[str, dict[str, str]] = {}
    if data[at:at + 1] == b"-":
        return elements, at + 1
    while data[at:at + 1] == b"[":
        match = re.compile(_NAME.replace(rb"\x21-\x7e", rb"\x21-\x3c\x3e-\x5c\x5e-\x7e")).match(data, at + 1)
        if match is None:
            raise ValueError(f"bad SD-ID at {at}")
        sd_id = match.group().decode()
        at = match.end()
        params: dict[str, str] = {}
        while data[at:at + 1] == b" ":
            name = re.compile(rb"[\x21\x23-\x3c\x3e-\x5c\x5e-\x7e]{1,32}").match(data, at + 1)
            if name is None or data[name.end():name.end() + 2] != b'="':
                raise ValueError(f"bad SD-PARAM at {at}")
            at = name.end() + 2
            value = bytearray()
            while True:
                ch = data[at:at + 1]
                if not ch:
                    raise ValueError("unterminated PARAM-VALUE")
                if ch == b"\\" and data[at + 1:at + 2] in (b'"', b"\\", b"]"):
                    value += data[at + 1:at + 2]
                    at += 2
                    continue
                if ch in (b'"', b"]"):
                    break
                value += ch
                at += 1
            if data[at:at + 1] != b'"':
                raise ValueError(f"an unescaped ] inside a PARAM-VALUE at {at}")
            params[name.group().decode()] = value.decode("utf-8")
            at += 1
        if data[at:at + 1] != b"]":
            raise ValueError(f"SD-ELEMENT not closed at {at}")
        elements[sd_id] = params
        at += 1
    if not elements:
        raise ValueError("no structured data")
    return elements, at


def parse(data: bytes) -> Message:
    """Parse one message; ValueError names what breaks RFC 5424."""
    header = _HEADER.match(data)
    if header is None:
        raise ValueError(f"not an RFC 5424 header: {data[:120]!r}")
    sd, at = _sd(data, header.end())
    if at < len(data) and data[at:at + 1] != b" ":
        raise ValueError("MSG must follow the structured data after one space")
    msg = data[at + 1:] if at < len(data) else b""
    pri = int(header["pri"])
    if pri > 191:
        raise ValueError(f"PRI {pri} is out of range")
    return Message(pri, int(header["version"]), header["timestamp"].decode(), header["hostname"].decode(),
                   header["app"].decode(), header["procid"].decode(), header["msgid"].decode(), sd, msg)
