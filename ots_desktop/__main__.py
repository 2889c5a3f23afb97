"""``python -m ots_desktop`` starts the desktop app (this is what Briefcase runs)."""

from __future__ import annotations

import sys

from ots_desktop.desktop import main

sys.exit(main())
