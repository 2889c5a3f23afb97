"""What keeps the package portable, checked over its source on every run.

- every ``os.open`` goes through core/private_files.py (binary, private, no link followed), except the
  terminal module's probe of the console;
- only cli/terminal.py names ``/dev/tty`` or the Windows console;
- a module that exists only on POSIX or only on Windows is imported where its absence is handled: under
  a ``sys.platform`` / ``os.name`` test, or in a ``try`` that catches ImportError.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "ots_desktop"
OS_OPEN_ALLOWED = {"core/private_files.py", "cli/terminal.py"}
# safe_files.py names CONIN$ and CONOUT$ only as file names a sender may not use.
CONSOLE_ALLOWED = {"cli/terminal.py", "channels/safe_files.py"}
PLATFORM_ONLY = {"fcntl", "termios", "tty", "pty", "pwd", "grp", "resource", "posix", "syslog", "msvcrt", "winreg",
                 "winsound", "_winapi", "nt"}


def _modules() -> list[tuple[str, ast.Module]]:
    return [(path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text(encoding="utf-8")))
            for path in sorted(PACKAGE.rglob("*.py"))]


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        parent = parents[node]
        if isinstance(parent, ast.If) and any(isinstance(n, ast.Attribute) and n.attr in ("platform", "name")
                                              for n in ast.walk(parent.test)):
            return True
        if isinstance(parent, ast.Try) and node in parent.body and any(
                h.type is None or any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError")
                                      for n in ast.walk(h.type)) for h in parent.handlers):
            return True
        node = parent
    return False


def test_files_are_opened_through_the_private_files_helper() -> None:
    found = [f"{name}:{node.lineno}" for name, tree in _modules() if name not in OS_OPEN_ALLOWED
             for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "open"
             and isinstance(node.func.value, ast.Name) and node.func.value.id == "os"]
    assert found == [], "use ots_desktop.core.private_files (binary on Windows, 0600, no link followed)"


def test_only_the_terminal_module_names_the_terminal_device() -> None:
    found = [f"{name}:{node.lineno}" for name, tree in _modules() if name not in CONSOLE_ALLOWED
             for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and isinstance(node.value, str)
             and any(device in node.value for device in ("/dev/tty", "CONIN$", "CONOUT$"))]
    assert found == [], "ask through ots_desktop.cli.terminal, which knows each system's terminal"


def test_platform_only_modules_are_imported_behind_a_guard() -> None:
    found = []
    for name, tree in _modules():
        parents = _parents(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module.split(".")[0]]
            else:
                continue
            if any(m in PLATFORM_ONLY for m in modules) and not _guarded(node, parents):
                found.append(f"{name}:{node.lineno} imports {modules}")
    assert found == []


def test_the_contract_checks_catch_what_they_look_for() -> None:
    bad = ast.parse("import os, fcntl\nos.open('/dev/tty', 0)\n")
    parents = _parents(bad)
    imports = [n for n in ast.walk(bad) if isinstance(n, ast.Import)]
    assert not _guarded(imports[0], parents)
    good = ast.parse("import sys\nif sys.platform != 'win32':\n    import fcntl\ntry:\n    import msvcrt\n"
                     "except ImportError:\n    msvcrt = None\n")
    parents = _parents(good)
    assert all(_guarded(n, parents) for n in ast.walk(good) if isinstance(n, ast.Import) and n.names[0].name != "sys")
