"""``ots server``: host a Magic Wormhole mailbox server, transit relay and one-time link relay."""

from __future__ import annotations

import ipaddress
import logging
import sys
from pathlib import Path

import click

from ots_desktop.cli.output import emit_json, say, warn
from ots_desktop.cli.state import handle_errors
from ots_desktop.core.audit.forward_targets import SyslogTarget, parse_syslog_url
from ots_desktop.core.errors import InputError
from ots_desktop.core.paths import app_paths
from ots_desktop.core.sizes import format_size, parse_size
from ots_desktop.runtime import run_main
from ots_desktop.server.app import LinkOptions, ServerInfo, serve
from ots_desktop.server.create_tokens import CreateTokenError, CreateTokens
from ots_desktop.server.geoip import CountryDatabase, GeoIPError
from ots_desktop.server.link_api import RelaySettings
from ots_desktop.server.link_model import DEFAULT_MAX_SIZE
from ots_desktop.server.log_format import ServerLogFormatter
from ots_desktop.server.ratelimit import Rate
from ots_desktop.server.security_events import SecurityEvents, id_key
from ots_desktop.server.stores import check_store_url, describe_store
from ots_desktop.server.tls import TLSConfigError, server_context
from ots_desktop.server.wormhole_services import is_loopback

_WILDCARDS = ("0.0.0.0", "::")  # noqa: S104 - names we recognise, not an address we bind by default
MAX_MAX_SIZE = 16 * 1024**3  # large envelopes are streamed to disk (server/stream_api.py)


def default_data_dir() -> Path:
    """Where the server keeps its channel database unless ``--data-dir`` says otherwise."""
    return app_paths().state_dir / "server"


def _rate(ctx: click.Context, param: click.Parameter, value: str) -> Rate:
    try:
        return Rate.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _networks(ctx: click.Context, param: click.Parameter,
              value: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for text in value:
        try:
            networks.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError:
            raise click.BadParameter(f"{text!r} is not a network like 10.0.0.0/8 or 127.0.0.1/32") from None
    return tuple(networks)


def _size(ctx: click.Context, param: click.Parameter, value: str | None) -> int:
    if value is None:
        return DEFAULT_MAX_SIZE
    try:
        size = parse_size(value)
    except InputError as exc:
        raise click.BadParameter(str(exc)) from None
    if not 1024 <= size <= MAX_MAX_SIZE:
        raise click.BadParameter("must be between 1 KiB and 16 GiB")
    return size


MAX_QUOTA = 1 << 50  # 1 PiB: past any disk, and a typo's tell


def _quota(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        size = parse_size(value)
    except InputError as exc:
        raise click.BadParameter(str(exc)) from None
    if not 1024 <= size <= MAX_QUOTA:
        raise click.BadParameter("must be between 1 KiB and 1 PiB")
    return size


def _create_tokens(ctx: click.Context, param: click.Parameter, value: str | None) -> CreateTokens | None:
    if value is None:
        return None
    try:
        return CreateTokens.load(Path(value).expanduser())
    except CreateTokenError as exc:
        raise click.BadParameter(str(exc)) from None


def _country_database(ctx: click.Context, param: click.Parameter, value: str | None) -> CountryDatabase | None:
    if value is None:
        return None
    try:
        return CountryDatabase.open(Path(value))
    except GeoIPError as exc:
        raise click.BadParameter(str(exc)) from None


def _syslog(ctx: click.Context, param: click.Parameter, value: str | None) -> SyslogTarget | None:
    if value is None:
        return None
    try:
        return parse_syslog_url(value)
    except InputError as exc:
        if "not encrypted" in exc.message:
            raise click.BadParameter("plain tcp:// and udp:// go to this machine only (a local rsyslog that "
                                     "forwards over TLS); use tls://HOST:6514 for another") from None
        raise click.BadParameter(exc.message) from None


def _folder(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Path | None:
    # Taken as text: click's Path type would quietly turn "" into the current folder.
    if value is None:
        return None
    if not value.strip() or not value.isprintable():
        raise click.BadParameter("must name a folder")
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise click.BadParameter(f"{path} is a file, not a folder")
    return path


def _reuse_port(on: bool) -> bool:
    import socket

    if on and not hasattr(socket, "SO_REUSEPORT"):
        raise click.BadParameter("this system has no SO_REUSEPORT (Windows has no equivalent): run one relay "
                                 "process per port behind the proxy instead")
    return on


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback needs TLS (--tls-cert/--tls-key or a proxy in front).")
@click.option("--port", type=click.IntRange(0, 65535), default=4000, show_default=True,
              help="Mailbox (websocket) port; 0 picks any free port.")
@click.option("--transit-port", type=click.IntRange(0, 65535), default=4001, show_default=True,
              help="Transit relay port; 0 picks any free port.")
@click.option("--link-port", type=click.IntRange(0, 65535), default=4080, show_default=True,
              help="Link relay (HTTP) port; 0 picks any free port.")
@click.option("--store", "store_url", default="sqlite", show_default=True,
              help="Where links are kept: 'sqlite' (a file in the data directory), 'sqlite:///path', "
                   "'redis://host:port/db' or 'unix:///path/redis.sock?db=0'.")
@click.option("--max-size", callback=_size, default=None,
              help="Largest secret a link may carry, e.g. 10MiB (the default) or 512k.")
@click.option("--public-url", default=None,
              help="The base URL people's links start with, e.g. https://secrets.example.com "
                   "(default: the address the relay listens on).")
@click.option("--create-rate", default="120", show_default=True, callback=_rate,
              help="Links one client address may create per minute (N or N/BURST; 0 = unlimited).")
@click.option("--reveal-rate", default="60", show_default=True, callback=_rate,
              help="Reveal attempts one client address may make per minute (N or N/BURST; 0 = unlimited).")
@click.option("--trust-proxy", "trust_proxy", multiple=True, metavar="CIDR", callback=_networks,
              help="A network your reverse proxies connect from (repeatable), like 127.0.0.1/32: their header "
                   "(--proxy-header) is read from the right, and its first address outside these networks is "
                   "the client.")
@click.option("--proxy-header", type=click.Choice(["x-forwarded-for", "forwarded"]), default="x-forwarded-for",
              show_default=True, help="The header your proxies append the client's address to (X-Forwarded-For, "
                                      "or the standard Forwarded); only that one is read.")
@click.option("--storage-budget", callback=_quota, default=None, metavar="SIZE",
              help="The most the stored secrets (envelopes) may take in all, e.g. 20GiB; beyond it creates get "
                   "507 with Retry-After (default: no limit).")
@click.option("--in-flight-per-address", callback=_quota, default=None, metavar="SIZE",
              help="Request bytes one client address may have on their way at once; beyond it, 429 with "
                   "Retry-After (default: four of the largest create requests).")
@click.option("--upload-memory", callback=_quota, default=None, metavar="SIZE",
              help="Request bodies this process holds in memory at once; further large creates wait their turn "
                   "(default: two of the largest create requests, at least 32MiB).")
@click.option("--create-token-file", callback=_create_tokens, default=None, metavar="FILE",
              envvar="OTS_CREATE_TOKEN_FILE", show_envvar=True,
              help="Only clients presenting one of the tokens in FILE (one a line) may create links (401 "
                   "otherwise); clients send theirs from OTS_RELAY_TOKEN or the keychain.")
@click.option("--geoip-db", "geoip_db", callback=_country_database, default=None, metavar="FILE",
              help="A MaxMind-format country database (GeoLite2-Country or DB-IP's, .mmdb): links may then be "
                   "limited to countries (ots send --allow-country). Read again on SIGHUP or when the file is "
                   "replaced.")
@click.option("--syslog", "syslog", callback=_syslog, default=None, metavar="URL",
              help="Send the relay's security events (burned links, refused reveals, wrong passphrases, rate limits, "
                   "quotas, revokes) to syslog: tls://HOST:6514, tcp://127.0.0.1:514, udp://127.0.0.1:514 or "
                   "unix:///dev/log. Share ids appear only as a keyed hash.")
@click.option("--syslog-ca-file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Verify a tls:// syslog collector against this PEM CA bundle instead of the system's CAs.")
@click.option("--header-timeout", type=click.FloatRange(0.5, 3600), default=10.0, show_default=True,
              metavar="SECONDS", help="A connection that has not sent a whole request head this long after opening "
                                      "(or after its previous answer) is closed.")
@click.option("--body-timeout", type=click.FloatRange(0.5, 3600), default=30.0, show_default=True,
              metavar="SECONDS", help="A request body gets this long, plus 1 s per 64 KiB of it, to arrive; "
                                      "a slower one is answered 408 and its connection closed.")
@click.option("--tls-cert", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="PEM certificate (chain) for the link relay: it then serves HTTPS. Needs --tls-key.")
@click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="PEM private key of --tls-cert.")
@click.option("--reuse-port", is_flag=True, callback=lambda _ctx, _param, on: _reuse_port(on),
              help="Let several relay processes share --link-port (Linux SO_REUSEPORT), e.g. on one Redis.")
@click.option("--no-wormhole", is_flag=True, help="Run only the link relay (no mailbox, no transit relay).")
@click.option("--no-link", is_flag=True, help="Run only the wormhole mailbox and transit relay.")
@click.option("--data-dir", default=None, callback=_folder, metavar="DIRECTORY",
              help="Directory for the databases (default: 'server' in the app's state directory).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON 'ready' line once listening.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True, help="What goes to stderr: requests are logged at info, without ids or bodies.")
@handle_errors()
def server(host: str, port: int, transit_port: int, link_port: int, store_url: str, max_size: int,
           public_url: str | None, create_rate: Rate, reveal_rate: Rate,
           trust_proxy: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...], proxy_header: str,
           storage_budget: int | None, in_flight_per_address: int | None, upload_memory: int | None,
           create_token_file: CreateTokens | None, geoip_db: CountryDatabase | None, syslog: SyslogTarget | None,
           syslog_ca_file: Path | None, header_timeout: float,
           body_timeout: float,
           tls_cert: Path | None, tls_key: Path | None, reuse_port: bool,
           no_wormhole: bool, no_link: bool, data_dir: Path | None, as_json: bool, log_level: str) -> None:
    """Run the self-hosted services until stopped: a Magic Wormhole mailbox server and transit
    relay, and the one-time link relay.

    Stop it with Ctrl+C or SIGTERM.
    """
    if no_wormhole and no_link:
        raise click.UsageError("--no-wormhole and --no-link together leave nothing to run")
    if not host.strip() or any(not ch.isprintable() or ch.isspace() for ch in host):
        # An empty host would listen on every interface: say so with an explicit 0.0.0.0 or ::.
        raise click.BadParameter("give an address or host name (0.0.0.0 or :: to listen on every interface)",
                                 param_hint="--host")
    if not no_wormhole and port != 0 and port == transit_port:
        raise click.UsageError("--port and --transit-port must differ")
    if not no_wormhole and not no_link and link_port != 0 and link_port in (port, transit_port):
        raise click.UsageError("--link-port must differ from --port and --transit-port")
    if public_url is not None and not public_url.startswith(("http://", "https://")):
        raise click.BadParameter("must start with https:// (or http:// for local tests)", param_hint="--public-url")
    check_store_url(store_url)
    ssl_context = None
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together: give both or neither")
    if tls_cert is not None and tls_key is not None and not no_link:
        try:
            ssl_context = server_context(tls_cert, tls_key)
        except TLSConfigError as exc:
            raise click.UsageError(f"{exc.option}: {exc}") from None
    log_handler = logging.StreamHandler(sys.stderr)
    log_handler.setFormatter(ServerLogFormatter())
    logging.basicConfig(level=log_level.upper(), handlers=[log_handler])
    # The request log writes a line per request: skip what the format never shows (the caller's file
    # and line, thread, process), which logging would otherwise look up for every record.
    logging._srcfile = None  # the switch the logging HOWTO documents for this
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    if not is_loopback(host) and (ssl_context is None or not no_wormhole):
        plain = "ws:// and TCP" if ssl_context is not None or no_link else "plain HTTP, ws:// and TCP"
        if no_wormhole:
            plain = "plain HTTP"
        warn(f"ots: warning: listening on {host}, which is not a loopback address. These services speak {plain}; "
             "put a TLS proxy (https/wss) in front (or give the link relay --tls-cert/--tls-key) before clients "
             "on other machines use them.")
    directory = data_dir if data_dir is not None else default_data_dir()
    link = None
    events = SecurityEvents(syslog, id_key(directory), ca_file=syslog_ca_file) if syslog and not no_link else None
    if not no_link:
        settings = RelaySettings(public_url=(public_url or "").rstrip("/"), max_size=max_size,
                                 create_rate=create_rate, reveal_rate=reveal_rate, trust_proxy=trust_proxy,
                                 proxy_header=proxy_header, header_timeout=header_timeout,
                                 body_timeout=body_timeout, storage_budget=storage_budget,
                                 in_flight_per_address=in_flight_per_address, upload_memory=upload_memory,
                                 create_tokens=create_token_file, countries=geoip_db, security_events=events)
        link = LinkOptions(port=link_port, store_url=store_url, settings=settings, reuse_port=reuse_port,
                           ssl_context=ssl_context)

    def ready(info: ServerInfo) -> None:
        if as_json:
            emit_json({"event": "ready", "mailbox_url": info.mailbox_url, "transit_helper": info.transit_helper,
                       "mailbox_port": info.mailbox_port, "transit_port": info.transit_port,
                       "link_url": info.link_url, "link_port": info.link_port, "public_url": info.public_url,
                       "store": info.store, "max_size": max_size, "data_dir": str(info.data_dir),
                       "country_rules": geoip_db is not None and not no_link})
        else:
            _print_ready(info, store_url, max_size, geoip_db)

    try:
        run_main(lambda: serve(host, None if no_wormhole else port, transit_port, directory, ready, link=link),
                 quiet_library=False)
    finally:
        if events is not None:
            events.close()


def _print_ready(info: ServerInfo, store_url: str, max_size: int, countries: CountryDatabase | None) -> None:
    url, helper = info.mailbox_url, info.transit_helper
    if url is not None:
        say(f"Mailbox server:  {url}")
        say(f"Transit relay:   {helper}")
    if info.link_url is not None:
        say(f"Link relay:      {info.link_url} (links start with {info.public_url}/s/)")
        say(f"Link store:      {describe_store(store_url)}; secrets up to {format_size(max_size)}")
        if countries is not None:
            say(f"Country rules:   {countries.describe()} ({countries.path})")
    say(f"Data directory:  {info.data_dir}")
    if info.host in _WILDCARDS:
        say(f"(listening on every interface: clients use this machine's name or address instead of {info.host})")
    say("")
    say("Point clients at it:")
    if url is not None:
        say(f"  ots send --mailbox-url {url} --transit-helper {helper}")
        say(f"  wormhole --relay-url {url} --transit-helper {helper} send")
    if info.public_url is not None:
        say(f"  ots send --via link --relay {info.public_url}")
    env = [f"OTS_MAILBOX_URL={url} OTS_TRANSIT_HELPER={helper}" if url else "",
           f"OTS_RELAY_URL={info.public_url}" if info.public_url else ""]
    say(f"  export {' '.join(e for e in env if e)}")
    say("")
    say("Press Ctrl+C to stop.")
