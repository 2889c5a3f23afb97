"""Where the app keeps its files.

When ``OTS_HOME`` is set, every file the app writes lives under it (tests and
scripts rely on this). Otherwise the platform's per-user directories are used: the
XDG base directories on Linux and the BSDs (read here, as the spec says, which keeps
platformdirs off every start there), platformdirs' choice on macOS and Windows.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath

APP_NAME = "ots-desktop"


@dataclass(frozen=True)
class AppPaths:
    """The directories of one installation."""

    config_dir: Path
    data_dir: Path
    state_dir: Path

    @property
    def config_file(self) -> Path:
        """The TOML config file."""
        return self.config_dir / "config.toml"

    @property
    def audit_db(self) -> Path:
        """The audit log database."""
        return self.data_dir / "audit.sqlite3"

    @property
    def shares_db(self) -> Path:
        """Local records of shares this installation made (ids and status tokens, no secrets)."""
        return self.data_dir / "shares.sqlite3"

    @property
    def keyfile(self) -> Path:
        """The passphrase-wrapped key file, used only when opted in instead of the keychain."""
        return self.data_dir / "audit-keys.json"

    def ensure(self) -> AppPaths:
        """Create the directories, readable by the owner only."""
        for d in (self.config_dir, self.data_dir, self.state_dir):
            d.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self


def app_paths(environ: Mapping[str, str] | None = None, *, platform: str = sys.platform) -> AppPaths:
    """The directories for this process, honouring ``OTS_HOME``."""
    env = os.environ if environ is None else environ
    home = env.get("OTS_HOME", "").strip()
    if home and platform == "win32" and PureWindowsPath(home).drive.startswith(("\\\\", "//")):
        # SQLite's write-ahead log (the audit log, the shares file) needs shared memory on a local disk;
        # on an SMB share it fails or, worse, two machines corrupt each other's log.
        from ots_desktop.core.errors import ConfigError

        raise ConfigError(f"OTS_HOME is on a network share ({PureWindowsPath(home).drive}); the audit log needs a "
                          "local disk: point OTS_HOME at a local folder (or a mapped drive that is local)",
                          field="OTS_HOME")
    if home:
        root = Path(home).expanduser().absolute()
        return AppPaths(config_dir=root / "config", data_dir=root / "data", state_dir=root / "state")
    if sys.platform not in ("win32", "darwin"):
        return AppPaths(config_dir=_xdg("XDG_CONFIG_HOME", ".config"),
                        data_dir=_xdg("XDG_DATA_HOME", ".local/share"),
                        state_dir=_xdg("XDG_STATE_HOME", ".local/state"))
    import platformdirs

    return AppPaths(
        config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        state_dir=Path(platformdirs.user_state_dir(APP_NAME, appauthor=False)),
    )


def _xdg(variable: str, default: str) -> Path:
    """``$variable/ots-desktop``, or ``~/default/ots-desktop`` when unset, empty or relative (as the spec says)."""
    value = os.environ.get(variable, "").strip()
    if value and os.path.isabs(value):
        return Path(value) / APP_NAME
    return Path(os.path.expanduser("~")) / default / APP_NAME
