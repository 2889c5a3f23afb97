"""``python -m ots_desktop.ui``: the desktop app."""

import sys

from ots_desktop.ui.app import main

sys.exit(main())
