"""One-time links and relay URLs: ``{base}/s/{id}#{key}``, parsed strictly.

``id`` is the 16-byte share id (22 base64url characters), ``key`` the 32-byte fragment
key (43 characters). The key travels only in the fragment, which browsers never send.
Error messages never repeat the text they were given: it may hold a key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from ots_desktop.core.errors import InputError
from ots_desktop.core.hosts import is_loopback_host
from ots_desktop.core.ids import FRAGMENT_KEY_LEN, SHARE_ID_LEN, b64u_decode, b64u_encode
from ots_desktop.core.secret import SecretBuffer

SHARE_ID_CHARS = 22
KEY_CHARS = 43
_B64U = re.compile(r"[A-Za-z0-9_-]+")
_LINK_SHAPE = "a link looks like https://HOST/s/ID#KEY"


def _split(text: str, what: str) -> SplitResult:
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"no {what} given")
    if any(ch.isspace() for ch in text.strip()):
        raise InputError(f"the {what} holds spaces or line breaks")
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        raise InputError(f"the {what} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"the {what} must start with https:// (or http://) and a host name")
    if port == 0:
        raise InputError(f"the {what} has an invalid port")
    return parts


def relay_base(url: str) -> str:
    """Check and normalise a relay URL: ``http(s)://host[:port][/prefix]``, no trailing slash."""
    parts = _split(url, "relay URL")
    if parts.query or parts.fragment or "#" in url or "?" in url:
        raise InputError("the relay URL must not have a query ('?') or a fragment ('#')")
    path = parts.path.rstrip("/")
    if "//" in path:
        raise InputError("the relay URL's path is malformed")
    return f"{parts.scheme}://{parts.netloc}{path}"


def require_secure(base: str) -> str:
    """``base`` if it is https, or plain http to a loopback host; otherwise an InputError saying why."""
    parts = urlsplit(base)
    if parts.scheme == "http" and not is_loopback_host(parts.hostname or ""):
        raise InputError(f"refusing the plain-http relay {display_url(base)}: on plain HTTP anyone on the path "
                         "can read the key or swap the page. Use https:// (plain http is only allowed for "
                         "localhost, 127.0.0.0/8 and ::1)")
    return base


def display_url(base: str) -> str:
    """``base`` without any ``user:password@`` part, for messages."""
    parts = urlsplit(base)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}"


def is_link(text: str) -> bool:
    """Whether ``text`` is meant as a link (rather than a wormhole code or a bare share id).

    Anything URL-shaped counts, so that a link with a wrong scheme gets the link's error
    message rather than the wormhole's.
    """
    candidate = text.strip().lower()
    return "://" in candidate or "/s/" in candidate or "#" in candidate


def check_share_id(share_id: str) -> str:
    """Return ``share_id`` if it is 22 base64url characters naming 16 bytes."""
    if len(share_id) != SHARE_ID_CHARS or not _B64U.fullmatch(share_id):
        raise InputError(f"a share id is {SHARE_ID_CHARS} characters of A-Z, a-z, 0-9, '-' and '_'")
    try:
        raw = b64u_decode(share_id)
    except InputError:
        raise InputError("the share id is damaged (its last character is wrong)") from None
    if len(raw) != SHARE_ID_LEN:
        raise InputError("the share id is damaged")
    return share_id


@dataclass(frozen=True)
class ParsedLink:
    """A link taken apart. The caller closes ``key`` (a wipeable buffer)."""

    base_url: str
    share_id: str
    key: SecretBuffer

    @property
    def share_id_bytes(self) -> bytes:
        """The share id's 16 bytes, as bound into the envelope."""
        return b64u_decode(self.share_id)

    def close(self) -> None:
        """Wipe the key."""
        self.key.close()


def _base_and_id(parts: SplitResult) -> tuple[str, str]:
    if parts.query:
        raise InputError(f"the link has a query ('?') part; {_LINK_SHAPE}")
    prefix, marker, share_id = parts.path.rpartition("/s/")
    if not marker:
        raise InputError(f"this is not an ots link: its path does not end in /s/ID; {_LINK_SHAPE}")
    if "//" in prefix:
        raise InputError(f"the link's path is malformed; {_LINK_SHAPE}")
    try:
        check_share_id(share_id)
    except InputError as exc:
        raise InputError(f"the link's id (after /s/) is damaged: {exc.message}") from None
    return f"{parts.scheme}://{parts.netloc}{prefix}", share_id


def parse_link(text: str) -> ParsedLink:
    """Parse a whole link, key included; raise :class:`InputError` with a clear message otherwise."""
    parts = _split(text, "link")
    base, share_id = _base_and_id(parts)
    fragment = parts.fragment
    if not fragment:
        raise InputError("the link has no key: the part after '#' is missing. Copy the whole link, including "
                         "everything after '#'.")
    if len(fragment) != KEY_CHARS or not _B64U.fullmatch(fragment):
        raise InputError(f"the link's key (after '#') is damaged: it must be {KEY_CHARS} characters of A-Z, "
                         f"a-z, 0-9, '-' and '_' (this one has {len(fragment)}). Copy the whole link again.")
    try:
        raw = b64u_decode(fragment)
    except InputError:
        raise InputError("the link's key (after '#') is damaged: its last character is wrong. Copy the whole "
                         "link again.") from None
    if len(raw) != FRAGMENT_KEY_LEN:
        raise InputError("the link's key (after '#') is damaged")
    # The decoded bytes are transient; the key lives on only in the wipeable buffer.
    return ParsedLink(base, share_id, SecretBuffer(raw))


def parse_share_ref(text: str) -> tuple[str | None, str]:
    """A share named by its id or by its link (any key is ignored): ``(base URL or None, id)``."""
    candidate = text.strip() if isinstance(text, str) else ""
    if not candidate:
        raise InputError("no link or share id given")
    if not is_link(candidate):
        try:
            return None, check_share_id(candidate)
        except InputError as exc:
            raise InputError(f"not a link or a share id: {exc.message}") from None
    base, share_id = _base_and_id(_split(candidate, "link"))
    return base, share_id


def make_link(base_url: str, share_id: str, key: SecretBuffer) -> str:
    """The link to hand to the recipient. It holds the key: print it, never log it."""
    return f"{base_url}/s/{share_id}#{b64u_encode(key)}"
