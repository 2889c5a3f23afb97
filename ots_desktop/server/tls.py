"""TLS for the link relay: the server-side ``ssl.SSLContext`` built from ``--tls-cert`` and ``--tls-key``."""

from __future__ import annotations

import ssl
from pathlib import Path


class TLSConfigError(ValueError):
    """The certificate or key cannot be used; the message says which file and why."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


def _check_readable(path: Path, option: str) -> None:
    if not path.exists():
        raise TLSConfigError(option, f"{path} does not exist")
    if not path.is_file():
        raise TLSConfigError(option, f"{path} is not a file")
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise TLSConfigError(option, f"{path} cannot be read: {exc.strerror or exc}") from None


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """An HTTPS server context (TLS 1.2 or newer) holding the certificate chain and its private key."""
    _check_readable(cert, "--tls-cert")
    _check_readable(key, "--tls-key")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    except ssl.SSLError as exc:
        reason = exc.reason or str(exc)
        if "KEY_VALUES_MISMATCH" in reason.upper():
            raise TLSConfigError("--tls-key", f"{key} is not the private key of the certificate in {cert}") from None
        raise TLSConfigError("--tls-cert", f"cannot load the certificate {cert} with the key {key}: "
                             f"not a PEM certificate and matching private key ({reason})") from None
    return context
