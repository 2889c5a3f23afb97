"""Which certificates an https relay or a TLS log collector is checked against.

With a CA file, only that file's CAs. Otherwise the system's trust store, through the system's own
verifier on macOS and Windows (``truststore``): python.org's macOS builds ship no CA file, so
``ssl.create_default_context()`` there trusts nothing, and corporate roots pushed by policy live in the
Keychain or the Windows certificate store, not in a PEM file. Linux keeps OpenSSL's system paths.
Either way TLS 1.2 is the minimum.
"""

from __future__ import annotations

import ssl
import sys
from pathlib import Path


def verifying_context(ca_file: str | Path | None = None, *, platform: str = sys.platform) -> ssl.SSLContext:
    """A client context that verifies the server (ssl errors from a bad ``ca_file`` go to the caller)."""
    context: ssl.SSLContext
    if ca_file is not None:
        context = ssl.create_default_context(cafile=str(ca_file))
    elif platform in ("darwin", "win32"):
        import truststore

        context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    else:
        context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
