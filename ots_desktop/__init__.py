"""ots-desktop: hand a secret to one person, once."""

from __future__ import annotations

from importlib import metadata

try:
    # pyproject.toml holds the one version string; pip, `briefcase dev` and Briefcase's bundles
    # all install the metadata that carries it.
    __version__ = metadata.version("ots-desktop")
except metadata.PackageNotFoundError:  # a source tree on sys.path, never installed
    __version__ = "0+unknown"
