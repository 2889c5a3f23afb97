"""ots-desktop: hand a secret to one person, once."""

from __future__ import annotations

__version__ = "0.1.0"
