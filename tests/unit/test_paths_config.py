from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from ots_desktop.core.config import PUBLIC_MAILBOX_URL, Config, load_config, save_config, with_overrides
from ots_desktop.core.durations import format_duration, parse_duration
from ots_desktop.core.errors import ConfigError, InputError
from ots_desktop.core.paths import app_paths


def test_ots_home_holds_every_directory(tmp_path: Path) -> None:
    paths = app_paths({"OTS_HOME": str(tmp_path / "h")}).ensure()
    for d in (paths.config_dir, paths.data_dir, paths.state_dir):
        assert d.is_relative_to(tmp_path / "h")
        assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert paths.audit_db.parent == paths.data_dir
    assert paths.config_file.parent == paths.config_dir


def test_without_ots_home_platform_dirs_are_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    paths = app_paths({})
    assert paths.data_dir == tmp_path / "xdg-data" / "ots-desktop"


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="the XDG directories are read on Linux and the BSDs")
@pytest.mark.parametrize("xdg", [
    {}, {"XDG_CONFIG_HOME": "/x/conf", "XDG_DATA_HOME": "/x/data", "XDG_STATE_HOME": "/x/st"},
    {"XDG_CONFIG_HOME": "", "XDG_STATE_HOME": "  "}])
def test_the_xdg_directories_are_the_ones_platformdirs_gives(
        xdg: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The start reads them itself (platformdirs costs the app's first paint some 7 ms); the answer must not change.
    import platformdirs

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in xdg.items():
        monkeypatch.setenv(name, value)
    paths = app_paths({})
    assert paths.config_dir == Path(platformdirs.user_config_dir("ots-desktop", appauthor=False))
    assert paths.data_dir == Path(platformdirs.user_data_dir("ots-desktop", appauthor=False))
    assert paths.state_dir == Path(platformdirs.user_state_dir("ots-desktop", appauthor=False))


def test_defaults() -> None:
    config = load_config(Path("/nonexistent/config.toml"), {})
    assert config.code_length == 3
    assert config.link_expiry_s == 3600
    assert config.clipboard_clear_s == 30
    assert config.mailbox_url == PUBLIC_MAILBOX_URL
    assert config.keystore == "keychain"


def test_file_then_environment_override(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('code_length = 4\nlink_expiry_s = "2h"\nrelay_url = "https://relay.example"\n')
    config = load_config(path, {"OTS_CODE_LENGTH": "5"})
    assert config.code_length == 5
    assert config.link_expiry_s == 7200
    assert config.relay_url == "https://relay.example"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("code_length = 9\n", "code_length must be 2 to 8"),
        ("code_length = 1\n", "code_length must be 2 to 8"),
        ("link_expiry_s = 60\n", "between 5 minutes and 30 days"),
        ("api_token = \"abc\"\n", "unknown setting 'api_token'"),
        ("code_length = \"three\"\n", "must be a number"),
        ("code_length = true\n", "must be a number"),
        ("keystore = \"plaintext\"\n", "keystore must be one of"),
        ("code_length = \n", "not valid TOML"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path, {})


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="OTS_CODE_LENGTH"):
        load_config(tmp_path / "none.toml", {"OTS_CODE_LENGTH": "lots"})


def test_save_round_trips_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "config.toml"
    config = with_overrides(Config(), code_length=6, relay_url='https://r.example/"q"')
    save_config(path, config)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_config(path, {}) == config
    assert "mailbox_url" not in path.read_text()  # defaults are not written


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("15m", 900), ("1h", 3600),
                                               ("7d", 604800), ("2w", 1209600), (" 3 H ", 10800)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


def test_bad_duration() -> None:
    with pytest.raises(InputError, match="not a duration"):
        parse_duration("soon")


def test_format_duration() -> None:
    assert format_duration(3600) == "1h"
    assert format_duration(90) == "90s"
    assert format_duration(86400 * 14) == "2w"


@pytest.mark.parametrize(("text", "field"), [('mailbox_url = "http://x"', "mailbox_url"),
                                             ('mailbox_url = "wss:///v1"', "mailbox_url"),
                                             ('transit_helper = ""', "transit_helper"),
                                             ("link_max_views = 11", "link_max_views")])
def test_a_bad_setting_names_its_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert info.value.field == field and info.value.message.startswith(field)
