"""Create tokens: a closed relay parks secrets only for clients that present one.

The operator lists the tokens in a file (``--create-token-file``), one per line; blank lines
and lines starting with ``#`` are skipped, so tokens can be rotated by adding the new one,
moving clients over, then removing the old one and restarting. The relay keeps only their
SHA-256 and compares a presented token's digest with every one of them in constant time.
A token never appears in argv, a log line or an error message.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from ots_desktop.server.link_policy import ApiError

MIN_TOKEN_LEN = 20
MAX_TOKEN_LEN = 512


class CreateTokenError(ValueError):
    """The token file cannot be used (the message names the file and line, never a token)."""


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii")).digest()


class CreateTokens:
    """The digests of the tokens that may create links."""

    def __init__(self, digests: tuple[bytes, ...]) -> None:
        if not digests:
            raise CreateTokenError("no create tokens given")
        self._digests = digests

    @classmethod
    def load(cls, path: Path) -> CreateTokens:
        """Read a token file; raise :class:`CreateTokenError` if it is unusable."""
        try:
            text = path.read_text("ascii")
        except UnicodeDecodeError:
            raise CreateTokenError(f"{path} holds characters other than ASCII") from None
        except OSError as exc:
            raise CreateTokenError(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
        digests = []
        for number, line in enumerate(text.splitlines(), 1):
            token = line.strip()
            if not token or token.startswith("#"):
                continue
            if not MIN_TOKEN_LEN <= len(token) <= MAX_TOKEN_LEN or not token.isprintable() or " " in token:
                raise CreateTokenError(f"{path}, line {number}: a token is {MIN_TOKEN_LEN} to {MAX_TOKEN_LEN} "
                                       "printable characters without spaces (e.g. from `openssl rand -base64 32`)")
            digests.append(_digest(token))
        if not digests:
            raise CreateTokenError(f"{path} holds no token")
        return cls(tuple(digests))

    def check(self, authorization: str | None) -> None:
        """Pass a request whose ``Authorization: Bearer`` carries a listed token; refuse any other with a 401."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "create_token_required", "this relay creates links only for clients with a create "
                           "token: send it as 'Authorization: Bearer <token>'", www_authenticate='Bearer realm="ots"')
        try:
            presented = _digest(token)
        except UnicodeEncodeError:
            presented = b""
        matched = False
        for digest in self._digests:  # every one, whatever matched: the time says nothing
            matched |= hmac.compare_digest(digest, presented)
        if not matched:
            raise ApiError(401, "wrong_create_token", "this relay does not accept that create token",
                           www_authenticate='Bearer realm="ots", error="invalid_token"')
