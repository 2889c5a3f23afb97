"""The relay's JSON answers, checked field by field: a missing or mistyped field is a bad answer."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ots_desktop.channels import link_errors as errors
from ots_desktop.core.errors import InputError
from ots_desktop.core.ids import b64u_decode

Json = dict[str, Any]


class Answer:
    """Typed access to a JSON answer; a missing or mistyped field is a bad answer."""

    def __init__(self, url: str, body: object) -> None:
        if not isinstance(body, dict):
            raise errors.bad_answer(url, "not a JSON object")
        self.url = url
        self.body: Json = body

    def get(self, name: str, kind: type | tuple[type, ...], *, optional: bool = False) -> Any:
        value = self.body.get(name)
        if value is None and optional:
            return None
        if isinstance(value, bool) and kind is not bool:
            raise errors.bad_answer(self.url, f"field {name!r} is invalid")
        if not isinstance(value, kind):
            raise errors.bad_answer(self.url, f"field {name!r} is missing or invalid")
        return value

    def count(self, name: str) -> int:
        value = self.get(name, int)
        if value < 0:
            raise errors.bad_answer(self.url, f"field {name!r} is negative")
        return int(value)

    def b64u(self, name: str) -> bytes:
        text = self.get(name, str)
        try:
            return b64u_decode(text)
        except InputError:
            raise errors.bad_answer(self.url, f"field {name!r} is not base64url") from None

    def code(self) -> str | None:
        value = self.body.get("code")
        return value if isinstance(value, str) and value.replace("_", "").isalnum() and len(value) < 40 else None


def retry_after_of(headers: Mapping[str, str]) -> int | None:
    """The Retry-After header in whole seconds, if the relay sent one."""
    value = headers.get("Retry-After", "")
    return int(value) if value.isdigit() else None


def parse_answer(url: str, status: int, raw: bytes) -> Answer:
    """The JSON object in ``raw``; a body that is not one is a server error, a redirect or a bad answer."""
    try:
        parsed = json.loads(raw) if raw else None
    except (ValueError, RecursionError):
        parsed = None
    if parsed is None or not isinstance(parsed, dict):
        if status >= 500:
            raise errors.server_error(url, status)
        if 300 <= status < 400:
            raise errors.bad_answer(url, f"a redirect (HTTP {status}); check the relay URL")
        raise errors.bad_answer(url, f"HTTP {status} without a JSON body")
    return Answer(url, parsed)
