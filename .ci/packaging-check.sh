#!/usr/bin/env bash
# Checks the desktop packaging: the freedesktop validators on the .desktop and AppStream files,
# then packaging/check.py (icons at every size, ICO/ICNS, screenshots, ids and versions agree)
# and packaging/render_icons.py --check (every rendered icon matches its SVG source).
# Run from the repository root; `make system-deps` installs the validators.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
APP_ID="dev.otsdesktop.ots-desktop"

for tool in desktop-file-validate appstreamcli; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "packaging-check: $tool is missing (Debian packages desktop-file-utils and appstream: make system-deps)" >&2
    exit 1
  fi
done

# Every step runs, so one run reports every problem.
status=0
desktop-file-validate "packaging/linux/$APP_ID.desktop" || status=1
appstreamcli validate --no-net --pedantic "packaging/linux/$APP_ID.metainfo.xml" || status=1
"$PYTHON" packaging/check.py || status=1
QT_QPA_PLATFORM=offscreen "$PYTHON" packaging/render_icons.py --check || status=1
if [ "$status" -ne 0 ]; then
  echo "packaging-check: FAILED" >&2
  exit 1
fi
echo "packaging-check: ok"
