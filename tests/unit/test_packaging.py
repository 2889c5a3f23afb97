"""Packaging: Briefcase settings, the offline overrides, desktop metadata and the icon set (no Qt here)."""

from __future__ import annotations

import importlib.util
import itertools
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"


def _load(name: str, as_name: str) -> ModuleType:
    """A script from packaging/ (not a package: the directory must not shadow PyPA's `packaging`)."""
    if as_name in sys.modules:
        return sys.modules[as_name]
    spec = importlib.util.spec_from_file_location(as_name, PACKAGING / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[as_name] = module
    spec.loader.exec_module(module)
    return module


layout = _load("icon_layout", "icon_layout")  # the names check.py imports them by
pins = _load("pins", "pins")
check = _load("check", "ots_packaging_check")
offline = _load("briefcase_offline", "ots_packaging_briefcase_offline")


def _briefcase_parse(argv: list[str]) -> dict[str, Any]:
    """What Briefcase 0.4 makes of the -C options: KEY=VALUE, a single key, VALUE parsed as TOML."""
    values: dict[str, Any] = {}
    for flag, override in itertools.pairwise(argv):
        if flag != "-C":
            continue
        key, _ = override.split("=", 1)
        assert "." not in key and key != "app_name"
        values.update(tomllib.loads(override))
    return values


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------ offline overrides (briefcase.toml -> argv)


@given(st.text())
def test_any_string_survives_the_trip_through_a_toml_override(value: str) -> None:
    assert tomllib.loads(f"key={offline.toml_value(value)}")["key"] == value


@pytest.mark.parametrize("value", [True, False, 0, 42, [], ["--no-index", "--find-links", 'C:\\wheel "house"']])
def test_other_values_survive_the_trip(value: object) -> None:
    assert tomllib.loads(f"key={offline.toml_value(value)}")["key"] == value


def test_a_value_toml_cannot_carry_is_refused() -> None:
    with pytest.raises(offline.OverrideError, match="float"):
        offline.toml_value(1.5)


CONFIG = """
[all]
wheelhouse = "wheels/with space"

[linux.system]
template = "~/templates/briefcase-linux-system-template"
template_branch = "v0.4.7"
support_package = ""

[linux.appimage]
support_package = "https://mirror.internal/cpython.tar.gz"
stub_binary = 'odd "quoted" \\ name.zip'

[macOS.app]
template = "/abs/macOS template"
"""


def test_the_overrides_for_a_linux_system_build(tmp_path: Path) -> None:
    config = _write(tmp_path / "cfg" / "briefcase.toml", CONFIG)
    argv = offline.command(config, ["create", "linux", "system", "--no-input"])
    assert argv[:5] == [sys.executable, "-m", "briefcase", "create", "linux"]
    assert argv[5] == "system"
    assert argv[-1] == "--no-input"  # the -C options sit right after the target
    assert _briefcase_parse(argv) == {
        "template": str(Path.home() / "templates" / "briefcase-linux-system-template"),
        "template_branch": "v0.4.7",
        "requirement_installer_args": ["--no-index", "--find-links", str(tmp_path / "cfg" / "wheels" / "with space")],
    }  # support_package is empty, so Briefcase picks its own; other targets' settings stay out


def test_quotes_and_backslashes_reach_briefcase_intact(tmp_path: Path) -> None:
    config = _write(tmp_path / "briefcase.toml", CONFIG)
    values = _briefcase_parse(offline.command(config, ["package", "linux", "appimage"]))
    assert values["support_package"] == "https://mirror.internal/cpython.tar.gz"  # a URL is not made a path
    assert values["stub_binary"] == str(tmp_path / 'odd "quoted" \\ name.zip')


def test_a_command_without_a_target_gets_only_the_common_settings(tmp_path: Path) -> None:
    config = _write(tmp_path / "briefcase.toml", CONFIG)
    argv = offline.command(config, ["dev", "--test", "--", "-k", "audit"])
    assert set(_briefcase_parse(argv)) == {"requirement_installer_args"}
    assert argv.index("-C") < argv.index("--")  # never handed to the app


def test_the_platform_default_format_is_used_when_none_is_given(tmp_path: Path) -> None:
    config = _write(tmp_path / "briefcase.toml", CONFIG)
    assert _briefcase_parse(offline.command(config, ["create", "macOS"]))["template"] == "/abs/macOS template"
    assert "template" not in _briefcase_parse(offline.command(config, ["create", "macOS", "xcode"]))


def test_dry_run_prints_a_shell_line_that_splits_back_into_the_command(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _write(tmp_path / "briefcase.toml", CONFIG)
    args = ["create", "linux", "system"]
    assert offline.main(["--config", str(config), "--dry-run", *args]) == 0
    assert shlex.split(capsys.readouterr().out) == offline.command(config, args)


@pytest.mark.parametrize(("text", "message"), [
    ('[all]\n"support.package" = "x"\n', "cannot be overridden"),
    ("[all]\napp_name = 'other'\n", "cannot be overridden"),
    ("[all]\nretries = 1.5\n", "float"),
    ("[all\n", "Expected"),
])
def test_a_broken_overrides_file_gets_a_readable_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       text: str, message: str) -> None:
    config = _write(tmp_path / "briefcase.toml", text)
    assert offline.main(["--config", str(config), "--dry-run", "create", "linux", "system"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_the_shipped_overrides_are_empty_and_name_real_targets() -> None:
    config = tomllib.loads((ROOT / "briefcase.toml").read_text(encoding="utf-8"))
    for name, section in config.items():
        if name == "all":
            continue
        assert name in offline.FORMATS, name
        assert set(section) <= set(offline.FORMATS[name]), (name, section)
    for name, formats in offline.FORMATS.items():
        for output in formats:
            assert offline.settings(config, name, output, ROOT) == {}  # networked builds use Briefcase's defaults


# ------------------------------------------------------------------ Briefcase settings in pyproject.toml


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_briefcase_app_matches_the_desktop_id_and_ships_its_sources() -> None:
    briefcase = _pyproject()["tool"]["briefcase"]
    (name, app), = briefcase["app"].items()
    assert f"{briefcase['bundle']}.{name}" == layout.APP_ID
    for source in app["sources"] + app["test_sources"]:
        assert (ROOT / source / "__init__.py").is_file(), source
    assert (ROOT / "tests" / "ots_desktop.py").is_file()  # what `briefcase dev --test` runs
    assert app["icon"] == layout.BRIEFCASE_ICON


def test_every_linux_system_target_names_the_xcb_cursor_library_and_a_keychain() -> None:
    linux = _pyproject()["tool"]["briefcase"]["app"]["ots-desktop"]["linux"]
    for vendor in ("debian", "rhel", "suse", "arch"):
        runtime = linux["system"][vendor]["system_runtime_requires"]
        assert any("cursor" in package for package in runtime), vendor
        assert "gnome-keyring" in runtime, vendor
    assert linux["appimage"]["manylinux"] == "manylinux_2_34"  # PySide6 6.12's wheels
    assert linux["flatpak"]["finish_arg"]["talk-name=org.freedesktop.secrets"] is True


def test_the_repository_packaging_metadata_is_consistent() -> None:
    assert check.metadata_problems(ROOT) == []
    assert check.icon_problems(ROOT) == []


# ------------------------------------------------------------------ desktop metadata validators


@pytest.mark.parametrize("command", [
    ["desktop-file-validate", f"packaging/linux/{layout.APP_ID}.desktop"],
    ["appstreamcli", "validate", "--no-net", "--pedantic", f"packaging/linux/{layout.APP_ID}.metainfo.xml"],
])
def test_the_freedesktop_validators_accept_the_files(command: list[str]) -> None:
    assert shutil.which(command[0]), f"{command[0]} is missing: run `make system-deps`"
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_desktop_validator_would_catch_a_broken_file(tmp_path: Path) -> None:
    broken = _write(tmp_path / "broken.desktop", "[Desktop Entry]\nType=Application\nExec=ots-desktop %F\n")
    result = subprocess.run(["desktop-file-validate", str(broken)], capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "Name" in result.stdout


# ------------------------------------------------------------------ the packaging check itself


def _copy_of_the_repository(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for part in ("resources", "packaging/linux", "ots_desktop/ui/assets", "requirements"):
        shutil.copytree(ROOT / part, root / part)
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    shots = root / "docs" / "screenshots"
    shots.mkdir(parents=True)
    for url in check.screenshot_names(root / check.METAINFO_FILE):
        shutil.copy(ROOT / "resources/icons/ots-desktop-16.png", shots / url.rsplit("/", 1)[1])
    return root


def test_png_size_reads_the_header_and_rejects_other_files(tmp_path: Path) -> None:
    assert check.png_size(ROOT / "resources/icons/ots-desktop-48.png") == (48, 48)
    assert check.png_size(_write(tmp_path / "fake.png", "not a png")) is None
    assert check.png_size(tmp_path / "absent.png") is None


def test_a_complete_copy_passes_and_each_gap_is_named(tmp_path: Path) -> None:
    root = _copy_of_the_repository(tmp_path)
    assert check.icon_problems(root) == []
    assert check.screenshot_problems(root) == []
    assert check.metadata_problems(root) == []

    shutil.copy(root / "resources/icons/ots-desktop-16.png", root / "resources/icons/tray/tray-alert-22.png")
    (root / "resources/icons/ots-desktop.ico").unlink()
    (root / "docs/screenshots/app-activity.png").unlink()
    problems = check.icon_problems(root) + check.screenshot_problems(root)
    assert problems == [
        "resources/icons/tray/tray-alert-22.png: 16x16 px, expected 22x22",
        "resources/icons/ots-desktop.ico: missing or not an ICO file",
        f"docs/screenshots/app-activity.png: missing or not a PNG (named in {check.METAINFO_FILE})",
    ]


def test_a_screenshot_outside_the_project_site_is_reported(tmp_path: Path) -> None:
    root = _copy_of_the_repository(tmp_path)
    meta = root / check.METAINFO_FILE
    meta.write_text(meta.read_text(encoding="utf-8").replace(check.SCREENSHOT_BASE + "app-send.png",
                                                             "https://elsewhere.example/app-send.png"),
                    encoding="utf-8")
    assert check.screenshot_problems(root) == [
        f"{check.METAINFO_FILE}: screenshot 'https://elsewhere.example/app-send.png' is not under "
        f"{check.SCREENSHOT_BASE}"]


def test_metadata_drift_is_reported(tmp_path: Path) -> None:
    root = _copy_of_the_repository(tmp_path)
    desktop = root / check.DESKTOP_FILE
    desktop.write_text(desktop.read_text(encoding="utf-8").replace("StartupWMClass=ots-desktop",
                                                                   "StartupWMClass=OtsDesktop"), encoding="utf-8")
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text(encoding="utf-8").replace('version = "0.1.0"', 'version = "0.2.0"'),
                         encoding="utf-8")
    problems = check.metadata_problems(root)
    assert f"{check.DESKTOP_FILE}: StartupWMClass=OtsDesktop, expected ots-desktop" in problems
    assert f"{check.METAINFO_FILE}: newest release is ['0.1.0'], expected 0.2.0" in problems


def test_the_minimum_versions_follow_every_lower_bound(tmp_path: Path) -> None:
    root = _copy_of_the_repository(tmp_path)
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    assert '"PyNaCl>=1.5,<2"' in text and '"segno>=1.6,<2"' in text
    pyproject.write_text(text.replace('"PyNaCl>=1.5,<2"', '"PyNaCl>=1.6,<2"').replace('"segno>=1.6,<2"', '"segno<2"')
                         .replace('"click>=8.1,<9",', '"click>=8.1,<9", "humanize>=4",'), encoding="utf-8")
    minimum = root / pins.MINIMUM_FILE
    minimum.write_text(minimum.read_text(encoding="utf-8") + "six==1.16.0\n", encoding="utf-8")
    assert pins.pin_problems(root, tomllib.loads(pyproject.read_text(encoding="utf-8"))) == [
        f"{pins.MINIMUM_FILE}: humanize is missing (its lower bound is 4)",
        f"{pins.MINIMUM_FILE}: pynacl==1.5.0 but pyproject.toml's lower bound is 1.6",
        "pyproject.toml: segno has no lower bound (>=)",
        f"{pins.MINIMUM_FILE}: six is not a direct dependency",
    ]


def test_the_briefcase_app_requires_exactly_the_desktop_extra(tmp_path: Path) -> None:
    root = _copy_of_the_repository(tmp_path)
    pyproject = root / "pyproject.toml"
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    desktop = data["project"]["optional-dependencies"]["desktop"]
    assert data["tool"]["briefcase"]["app"]["ots-desktop"]["requires"] == desktop
    assert not any(r.lower().startswith(("pyside6", "qasync")) for r in data["project"]["dependencies"])
    text = pyproject.read_text(encoding="utf-8")
    app_table = text.index("[tool.briefcase.app.ots-desktop]")
    pyproject.write_text(text[:app_table] + text[app_table:].replace('"qasync>=0.28,<0.29",\n', "", 1),
                         encoding="utf-8")
    assert check.metadata_problems(root) == [
        f"pyproject.toml: [tool.briefcase.app.ots-desktop] requires should be exactly the desktop extra {desktop}"]


# ------------------------------------------------------------------ Briefcase's test-mode entry point


@pytest.mark.parametrize(("args", "code"), [(["tests/unit/test_secret.py", "-q"], 0),
                                            (["tests/unit/test_secret.py", "-q", "-k", "no_such_test_zz"], 5)])
def test_the_briefcase_test_entry_reports_pytest_exit_code(args: list[str], code: int) -> None:
    result = subprocess.run([sys.executable, "-m", "tests.ots_desktop", *args], cwd=ROOT,
                            capture_output=True, text=True, check=False, timeout=240)
    assert result.returncode == code, result.stdout + result.stderr
    assert result.stdout.rstrip().splitlines()[-1] == f">>>>>>>>>> EXIT {code} <<<<<<<<<<"
