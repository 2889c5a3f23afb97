"""ots-desktop: hand a secret to one person, once."""

from __future__ import annotations

import os
import sys


def _installed_version() -> str:
    """The version pyproject.toml gave the installed package (the one version string).

    Read from the name of its ``.dist-info`` folder, which pip, ``briefcase dev`` and Briefcase's
    bundles all write: a directory listing, where ``importlib.metadata`` would cost every start of
    the app and of each command some 20 ms of imports.
    """
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.startswith("ots_desktop-") and name.endswith(".dist-info"):
                return name[len("ots_desktop-"):-len(".dist-info")]
    from importlib import metadata

    try:
        return metadata.version("ots-desktop")
    except metadata.PackageNotFoundError:  # a source tree on sys.path, never installed
        return "0+unknown"


__version__ = _installed_version()
