"""Run Briefcase with the offline overrides from ``briefcase.toml`` added as ``-C key=value``.

    python packaging/briefcase_offline.py create linux system
    python packaging/briefcase_offline.py --dry-run package linux appimage
    python packaging/briefcase_offline.py --config /srv/airgap/briefcase.toml build

Briefcase's ``-C``/``--config`` takes ``KEY=VALUE`` where VALUE is a TOML value (a quoted string,
a list, a boolean) and KEY a single app setting. This script picks the sections of
``briefcase.toml`` that apply to the command's target, skips empty values, makes paths absolute,
and puts the ``-C`` options right after the command and its target, before any ``--`` that hands
the rest to the app. Standard library only; Briefcase itself runs as ``python -m briefcase``.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "briefcase.toml"

FORMATS = {
    "android": ("gradle",),
    "iOS": ("xcode",),
    "linux": ("system", "appimage", "flatpak"),
    "macOS": ("app", "xcode"),
    "web": ("static",),
    "windows": ("app", "visualstudio"),
}
"""Briefcase's platforms and their output formats; the first one is the default."""

NO_TARGET = frozenset({"dev", "new", "convert", "upgrade"})
"""Commands that build no platform target: only [all] applies to them."""

PATH_KEYS = frozenset({"template", "support_package", "stub_binary", "wheelhouse"})
"""Keys whose value is a local path (when it is not a URL)."""


class OverrideError(ValueError):
    """briefcase.toml holds something Briefcase could not take as an override."""


def host_platform() -> str:
    """Briefcase's name for the platform this runs on."""
    return {"Darwin": "macOS", "Windows": "windows"}.get(platform.system(), "linux")


def target(args: list[str]) -> tuple[str, str, int]:
    """(platform, format, index after the command and its target) for a Briefcase argument list.

    Platform and format are empty for a command that builds no target (``dev``, ``new``, ...).
    """
    name, output = host_platform(), FORMATS[host_platform()][0]
    if not args or args[0].startswith("-"):
        return name, output, 0
    if args[0] in NO_TARGET:
        return "", "", 1
    index = 1
    if len(args) > index and args[index] in FORMATS:  # the platform, then maybe the format
        name, output = args[index], FORMATS[args[index]][0]
        index += 1
        if len(args) > index and args[index] in FORMATS[name]:
            output = args[index]
            index += 1
    return name, output, index


def toml_value(value: object) -> str:
    """``value`` written as a TOML value, so that ``tomllib.loads(f"k={result}")`` gives it back."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        out = []
        for char in value:
            if char in ('"', "\\"):
                out.append("\\" + char)
            elif ord(char) < 0x20 or ord(char) == 0x7F:
                out.append(f"\\u{ord(char):04x}")
            else:
                out.append(char)
        return '"' + "".join(out) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise OverrideError(f"cannot pass a {type(value).__name__} to Briefcase: {value!r}")


def _is_url(value: str) -> bool:
    return "://" in value or value.startswith("git@")


def _path(value: str, base: Path) -> str:
    if _is_url(value):
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


def settings(config: Mapping[str, Any], name: str, output: str, base: Path) -> dict[str, object]:
    """The non-empty settings that apply to ``name``/``output``: [all], then [name.output]."""
    merged: dict[str, object] = {}
    sections: list[Mapping[str, Any]] = [config.get("all", {})]
    platform_section = config.get(name, {})
    sections.append(platform_section.get(output, {}) if isinstance(platform_section, Mapping) else {})
    for section in sections:
        for key, value in section.items():
            if isinstance(value, Mapping):
                continue  # a nested section for another target
            if "." in key or key == "app_name":
                raise OverrideError(f"{key!r} cannot be overridden with -C (Briefcase takes single app settings)")
            if value in ("", []):
                continue
            merged[key] = _path(value, base) if key in PATH_KEYS and isinstance(value, str) else value
    wheelhouse = merged.pop("wheelhouse", None)
    if wheelhouse is not None:
        merged["requirement_installer_args"] = ["--no-index", "--find-links", str(wheelhouse)]
    return merged


def overrides(config: Mapping[str, Any], args: list[str], base: Path) -> list[str]:
    """The ``-C key=value`` arguments for a Briefcase command line."""
    name, output, _ = target(args)
    out: list[str] = []
    for key, value in settings(config, name, output, base).items():
        out += ["-C", f"{key}={toml_value(value)}"]
    return out


def command(config_path: Path, args: list[str]) -> list[str]:
    """The full command line: Briefcase, the command and its target, the overrides, the rest."""
    with config_path.open("rb") as handle:
        config = tomllib.load(handle)
    _, _, index = target(args)
    return [sys.executable, "-m", "briefcase", *args[:index], *overrides(config, args, config_path.parent),
            *args[index:]]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Run Briefcase with the overrides from briefcase.toml.")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="overrides file (default: %(default)s)")
    parser.add_argument("--dry-run", action="store_true", help="print the command instead of running it")
    parser.add_argument("briefcase_args", nargs=argparse.REMAINDER, help="the Briefcase command, as you would type it")
    args = parser.parse_args(argv)
    if not args.briefcase_args:
        parser.error("give a Briefcase command, e.g. `create linux system`")
    try:
        line = command(args.config, args.briefcase_args)
    except (OSError, tomllib.TOMLDecodeError, OverrideError) as exc:
        print(f"briefcase_offline: {args.config}: {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(shlex.join(line))
        return 0
    return subprocess.run(line, cwd=ROOT, check=False).returncode  # noqa: S603 - the user's own command


if __name__ == "__main__":
    sys.exit(main())
