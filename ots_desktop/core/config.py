"""The user's settings: a small TOML file plus ``OTS_*`` environment overrides.

The config never holds a secret. Unknown keys are refused rather than kept, so a
pasted token cannot hide in it.
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ots_desktop.core import private_files
from ots_desktop.core.codes import PUBLIC_MAILBOX_URL
from ots_desktop.core.durations import parse_duration
from ots_desktop.core.errors import ConfigError, InputError
from ots_desktop.core.policy import (
    CODE_DEFAULT_WORDS,
    CODE_MAX_WORDS,
    CODE_MIN_WORDS,
    LINK_DEFAULT_EXPIRY_S,
    LINK_DEFAULT_VIEWS,
    LINK_MAX_EXPIRY_S,
    LINK_MAX_VIEWS,
    LINK_MIN_EXPIRY_S,
    LINK_MIN_VIEWS,
)

PUBLIC_TRANSIT_HELPER = "tcp:transit.magic-wormhole.io:4001"
MIN_CODE_LENGTH = CODE_MIN_WORDS
MAX_CODE_LENGTH = CODE_MAX_WORDS
KEYSTORES = ("keychain", "file")


@dataclass(frozen=True)
class Config:
    """Validated settings. Field names are the TOML keys and the ``OTS_<NAME>`` variables."""

    mailbox_url: str = PUBLIC_MAILBOX_URL
    transit_helper: str = PUBLIC_TRANSIT_HELPER
    relay_url: str = ""
    ca_file: str = ""
    code_length: int = CODE_DEFAULT_WORDS
    link_expiry_s: int = LINK_DEFAULT_EXPIRY_S
    link_max_views: int = LINK_DEFAULT_VIEWS
    clipboard_clear_s: int = 30
    keystore: str = "keychain"
    # Direct transit connections ("on": listen for the peer; "off": through the transit relay only).
    # Off on Windows, where the first listening socket makes Windows Defender Firewall ask for an
    # administrator; on elsewhere, where a direct connection on a LAN is faster and asks nothing.
    direct_connections: str = "off" if sys.platform == "win32" else "on"
    # Forwarding of audit entries to the organisation's collector (core/audit/forward_targets.py).
    audit_syslog: str = ""
    audit_syslog_ca_file: str = ""
    audit_http: str = ""
    audit_http_format: str = "hec"
    audit_http_ca_file: str = ""
    audit_forward_plaintext: str = "loopback"
    audit_forward_retry_max_s: int = 60

    def validate(self) -> Config:
        """Return self, or raise ConfigError naming the bad setting (message and ``.field``)."""
        for name, ok, rule in (
            ("code_length", MIN_CODE_LENGTH <= self.code_length <= MAX_CODE_LENGTH,
             f"must be {MIN_CODE_LENGTH} to {MAX_CODE_LENGTH} words"),
            ("link_expiry_s", LINK_MIN_EXPIRY_S <= self.link_expiry_s <= LINK_MAX_EXPIRY_S,
             "must be between 5 minutes and 30 days"),
            ("link_max_views", LINK_MIN_VIEWS <= self.link_max_views <= LINK_MAX_VIEWS,
             f"must be {LINK_MIN_VIEWS} to {LINK_MAX_VIEWS}"),
            ("clipboard_clear_s", 0 <= self.clipboard_clear_s <= 3600, "must be 0 (never) to 3600 seconds"),
            ("keystore", self.keystore in KEYSTORES, f"must be one of {', '.join(KEYSTORES)}"),
            ("direct_connections", self.direct_connections in ("on", "off"), 'must be "on" or "off"'),
            ("mailbox_url", _is_mailbox_url(self.mailbox_url), "must start with wss:// (or ws://) and a host name"),
            ("transit_helper", bool(self.transit_helper), "is empty; it looks like tcp:HOST:PORT"),
        ):
            if not ok:
                raise ConfigError(f"{name} {rule}", field=name)
        for name in ("mailbox_url", "transit_helper", "relay_url"):
            value = getattr(self, name)
            if any(c.isspace() for c in value):
                raise ConfigError(f"{name} must not contain spaces", field=name)
        _check_forwarding(self)
        return self


def _check_forwarding(config: Config) -> None:
    from ots_desktop.core.audit.forward_targets import (
        HTTP_FORMATS,
        PLAINTEXT_CHOICES,
        parse_http_url,
        parse_syslog_url,
    )

    for name, choices in (("audit_forward_plaintext", PLAINTEXT_CHOICES), ("audit_http_format", HTTP_FORMATS)):
        if getattr(config, name) not in choices:
            raise ConfigError(f"{name} must be one of {', '.join(choices)}", field=name)
    if not 1 <= config.audit_forward_retry_max_s <= 3600:
        raise ConfigError("audit_forward_retry_max_s must be 1 to 3600 seconds", field="audit_forward_retry_max_s")
    for name, check in (("audit_syslog", lambda url: parse_syslog_url(url, plaintext=config.audit_forward_plaintext)),
                        ("audit_http", lambda url: parse_http_url(url, fmt=config.audit_http_format,
                                                                  plaintext=config.audit_forward_plaintext))):
        value = getattr(config, name)
        if value:
            try:
                check(value)
            except InputError as exc:
                raise ConfigError(f"{name}: {exc.message}", field=name) from None


def _is_mailbox_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme.lower() in ("ws", "wss") and bool(parts.hostname)


_FIELD_TYPES: dict[str, type] = {f.name: (int if f.type in ("int", int) else str) for f in fields(Config)}


def _coerce(name: str, raw: Any, source: str) -> Any:
    kind = _FIELD_TYPES[name]
    if kind is int:
        if isinstance(raw, bool):
            raise ConfigError(f"{name} in {source} must be a number")
        if isinstance(raw, int):
            return raw
        if isinstance(raw, str):
            try:
                return parse_duration(raw) if name.endswith("_s") else int(raw)
            except (ValueError, InputError):
                raise ConfigError(f"{name} in {source} must be a number, not {raw!r}") from None
        raise ConfigError(f"{name} in {source} must be a number")
    if not isinstance(raw, str):
        raise ConfigError(f"{name} in {source} must be text")
    return raw.strip()


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read ``path`` (missing is fine), then apply ``OTS_*`` overrides, then validate."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    if path.exists():
        try:
            with path.open("rb") as handle:
                table = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from None
        for key, raw in table.items():
            if key not in _FIELD_TYPES:
                raise ConfigError(f"{path}: unknown setting {key!r}")
            values[key] = _coerce(key, raw, str(path))
    for key in _FIELD_TYPES:
        var = env_variable(key)
        if var in env:
            values[key] = _coerce(key, env[var], var)
    return Config(**values).validate()


def env_variable(name: str) -> str:
    """The environment variable that overrides setting ``name``."""
    return f"OTS_{name.upper()}"


def settings_from_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each setting an ``OTS_*`` variable overrides, with the variable's name."""
    env = os.environ if environ is None else environ
    return {key: env_variable(key) for key in _FIELD_TYPES if env_variable(key) in env}


def load_user_config() -> Config:
    """This installation's settings: its config file (under ``OTS_HOME`` when set) with ``OTS_*`` overrides."""
    from ots_desktop.core.paths import app_paths

    return load_config(app_paths().config_file)


def _toml_value(value: object) -> str:
    if isinstance(value, int):
        return str(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def save_config(path: Path, config: Config) -> None:
    """Write the settings that differ from the defaults, atomically, readable by the owner only."""
    config.validate()
    defaults = asdict(Config())
    lines = ["# ots-desktop settings. Secrets never go here.\n"]
    for key, value in asdict(config).items():
        if value != defaults[key]:
            lines.append(f"{key} = {_toml_value(value)}\n")
    private_files.replace_text(path, "".join(lines))


def with_overrides(config: Config, **changes: Any) -> Config:
    """A copy of ``config`` with ``changes`` applied and validated."""
    return replace(config, **changes).validate()
