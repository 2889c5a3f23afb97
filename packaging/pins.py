"""Check that the dependency lists agree with one another (run by ``packaging/check.py``).

- Briefcase's app ``requires`` is the ``desktop`` extra, spelled the same (Briefcase adds
  ``[project] dependencies`` itself but knows nothing of extras).
- ``requirements/minimum.txt`` pins each direct dependency of the base install and of the
  ``desktop`` extra at its lower bound, so ``make min-versions`` really tests those bounds. It may
  also pin a ``test`` extra requirement (one whose API the tests lean on), again at its bound.

Standard library only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

MINIMUM_FILE = "requirements/minimum.txt"
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*([^;#]*)(?:;([^#]*))?")


def canonical(name: str, marker: str | None = None) -> str:
    """A distribution name as pip compares them (PEP 503), with its environment marker if any."""
    key = re.sub(r"[-_.]+", "-", name).lower()
    if marker and marker.strip():
        key += "; " + re.sub(r"[\s'\"]+", "", marker)
    return key


def _release(version: str) -> tuple[int, ...]:
    parts = [int(p) for p in re.findall(r"\d+", version)]
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def lower_bounds(requirements: list[str]) -> dict[str, str | None]:
    """Each requirement's ``>=`` bound (None when it has none)."""
    bounds: dict[str, str | None] = {}
    for line in requirements:
        match = _REQUIREMENT.match(line)
        if match is None:
            continue
        found = re.search(r">=\s*([0-9][0-9A-Za-z.]*)", match.group(2))
        bounds[canonical(match.group(1), match.group(3))] = found.group(1) if found else None
    return bounds


def pinned(text: str) -> dict[str, str]:
    """``name==version[; marker]`` lines of a requirements file (comments and blank lines skipped)."""
    pins = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            requirement, _, marker = line.partition(";")
            name, _, version = requirement.partition("==")
            pins[canonical(name, marker)] = version.strip()
    return pins


def pin_problems(root: Path, pyproject: dict[str, Any]) -> list[str]:
    """Disagreements between pyproject.toml's dependency lists and requirements/minimum.txt."""
    problems = []
    project = pyproject.get("project", {})
    desktop = project.get("optional-dependencies", {}).get("desktop", [])
    apps = pyproject.get("tool", {}).get("briefcase", {}).get("app", {})
    for name, app in apps.items():
        if app.get("requires", []) != desktop:
            problems.append(f"pyproject.toml: [tool.briefcase.app.{name}] requires should be exactly the desktop "
                            f"extra {desktop}")
    speech = project.get("optional-dependencies", {}).get("speech", [])
    wanted = lower_bounds(list(project.get("dependencies", [])) + list(desktop) + list(speech))
    try:
        pins = pinned((root / MINIMUM_FILE).read_text(encoding="utf-8"))
    except OSError:
        return [*problems, f"{MINIMUM_FILE} is missing"]
    tests = lower_bounds(list(project.get("optional-dependencies", {}).get("test", [])))
    for name in sorted(set(pins) & set(tests) - set(wanted)):
        if tests[name] is None or _release(pins[name]) != _release(tests[name] or ""):
            problems.append(f"{MINIMUM_FILE}: {name}=={pins[name]} but pyproject.toml's test extra bound is "
                            f"{tests[name]}")
    for name, bound in sorted(wanted.items()):
        if bound is None:
            problems.append(f"pyproject.toml: {name} has no lower bound (>=)")
        elif name not in pins:
            problems.append(f"{MINIMUM_FILE}: {name} is missing (its lower bound is {bound})")
        elif _release(pins[name]) != _release(bound):
            problems.append(f"{MINIMUM_FILE}: {name}=={pins[name]} but pyproject.toml's lower bound is {bound}")
    problems.extend(f"{MINIMUM_FILE}: {name} is not a direct dependency"
                    for name in sorted(set(pins) - set(wanted) - set(tests)))
    return problems
