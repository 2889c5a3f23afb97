"""Where audit entries are forwarded: the syslog and HTTP collector URLs, checked.

- syslog: ``tls://host:port`` (RFC 5425, the default port 6514), ``tcp://host:port`` (RFC 6587
  octet counting, 514), ``udp://host:port`` (RFC 5426, 514) and ``unix:///dev/log`` (the local
  daemon's socket);
- HTTP: ``https://`` (or ``http://``) URL of an event collector (Splunk HEC or JSON lines).

Plain transports (tcp, udp, http) are refused off this machine unless the user opts in
with ``audit_forward_plaintext = "any"``: an entry names who shared what with whom.
Nothing here opens a connection.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from urllib.parse import urlsplit

from ots_desktop.core.errors import InputError
from ots_desktop.core.hosts import is_loopback_host

SYSLOG_SCHEMES = {"tls": 6514, "tcp": 514, "udp": 514, "unix": 0}
PLAINTEXT_CHOICES = ("loopback", "any")
HTTP_FORMATS = ("hec", "jsonl")
_PLAIN = ("tcp", "udp", "http")


@dataclass(frozen=True)
class SyslogTarget:
    """A checked syslog destination."""

    scheme: str
    host: str = ""
    port: int = 0
    path: str = ""

    @property
    def url(self) -> str:
        """The destination as a URL, for messages and the status."""
        if self.scheme == "unix":
            return f"unix://{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


@dataclass(frozen=True)
class HttpTarget:
    """A checked HTTP event collector."""

    url: str
    format: str = "hec"

    @property
    def secure(self) -> bool:
        """Whether the URL is https."""
        return self.url.lower().startswith("https://")


def _plaintext_allowed(scheme: str, host: str, plaintext: str, what: str) -> None:
    if scheme in _PLAIN and plaintext != "any" and not is_loopback_host(host):
        raise InputError(f"{what} {scheme}://{host} is not encrypted and not on this machine: anyone on the path "
                         f"could read and change the entries. Use tls:// or https://, or set "
                         f"audit_forward_plaintext = \"any\" to allow it")


def _port(parts: object, url: str, default: int) -> int:
    try:
        port = getattr(parts, "port", None)
    except ValueError:
        raise InputError(f"the port in {url!r} is not a number from 1 to 65535") from None
    return int(port) if port else default


def parse_syslog_url(url: str, *, plaintext: str = "loopback", platform: str = sys.platform) -> SyslogTarget:
    """Check a syslog URL (tls://, tcp://, udp://, unix://); InputError says what is wrong."""
    text = url.strip()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in SYSLOG_SCHEMES:
        raise InputError(f"a syslog destination starts with tls://, tcp://, udp:// or unix://, not {text[:80]!r}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise InputError("a syslog destination has no user name, password, query or fragment")
    if scheme == "unix":
        if platform == "win32":
            raise InputError("unix:// syslog destinations need Unix sockets, which Windows does not offer; use "
                             "tls://, tcp:// or udp://")
        path = parts.path
        if parts.netloc or not path.startswith("/"):
            raise InputError("a unix:// syslog destination names an absolute socket path, like unix:///dev/log")
        return SyslogTarget("unix", path=path)
    host = parts.hostname or ""
    if not host or parts.path not in ("", "/"):
        raise InputError(f"a {scheme}:// syslog destination is host:port, like {scheme}://logs.example.com:"
                         f"{SYSLOG_SCHEMES[scheme]}")
    _plaintext_allowed(scheme, host, plaintext, "the syslog destination")
    return SyslogTarget(scheme, host, _port(parts, text, SYSLOG_SCHEMES[scheme]))


def parse_http_url(url: str, *, fmt: str = "hec", plaintext: str = "loopback") -> HttpTarget:
    """Check an HTTP event collector URL; InputError says what is wrong."""
    text = url.strip()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.hostname:
        raise InputError(f"an HTTP event collector is an https:// URL, not {text[:80]!r}")
    if parts.username or parts.password:
        raise InputError("put the collector's token in the keychain (ots audit forward token), not in the URL")
    if fmt not in HTTP_FORMATS:
        raise InputError(f"audit_http_format must be one of {', '.join(HTTP_FORMATS)}")
    _port(parts, text, 443)
    _plaintext_allowed(scheme, parts.hostname, plaintext, "the event collector")
    return HttpTarget(text, fmt)
