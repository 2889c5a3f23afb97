"""``python -m ots_desktop.cli`` runs the ``ots`` command."""

from __future__ import annotations

from ots_desktop.cli.main import main

main()
