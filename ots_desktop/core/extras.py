"""Optional parts of the install: which extra brings which packages, and a sentence when one is missing."""

from __future__ import annotations

import importlib.util

from ots_desktop.core.errors import ConfigError

#: Each extra of pyproject.toml that code checks for, and the modules it must bring.
EXTRAS: dict[str, tuple[str, ...]] = {
    "desktop": ("PySide6", "qasync"),
}


class MissingExtraError(ConfigError):
    """An optional package this command needs is not installed; the message names the extra."""

    def __init__(self, message: str, *, extra: str, module: str) -> None:
        super().__init__(message)
        self.extra = extra
        self.module = module


def require_extra(extra: str, what: str) -> None:
    """Raise MissingExtraError unless every module of ``extra`` can be imported; ``what`` needs them."""
    for module in EXTRAS[extra]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise MissingExtraError(
                f"{what} needs the {extra} extra, and {module} is not installed: "
                f"pip install 'ots-desktop[{extra}]'", extra=extra, module=module)
