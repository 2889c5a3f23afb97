"""``python -m ots_desktop.ui``: the desktop app."""

import sys

from ots_desktop.desktop import main

sys.exit(main())
