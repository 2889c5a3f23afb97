"""A wormhole code as people read it: the number, then the words, one group at a time."""

from __future__ import annotations

from ots_desktop.core.codes import code_uri

SEPARATOR = " · "


def code_groups(code: str) -> list[str]:
    """``7-crossover-clockwork-tiger`` -> ``["7", "crossover", "clockwork", "tiger"]``."""
    return [part for part in code.strip().split("-") if part]


def display_code(code: str) -> str:
    """The code with its groups set apart, for a large label: ``7 · crossover · clockwork · tiger``."""
    return SEPARATOR.join(code_groups(code))


def qr_uri(code: str, mailbox_url: str | None = None) -> str:
    """The URI wormhole apps on phones scan to fill in the code (and find a self-hosted mailbox)."""
    return code_uri(code, mailbox_url)
