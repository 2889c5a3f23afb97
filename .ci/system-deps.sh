#!/usr/bin/env bash
# Installs the Debian packages that ots-desktop's tests and demo use.
# Idempotent: when every package is already present it does nothing.
set -euo pipefail

PACKAGES=(
  # Secret Service for keyring tests and the real app
  dbus dbus-x11 gnome-keyring libsecret-tools
  # relay scale-out store
  redis-server
  # Qt under a virtual X server, tray host, and the libraries Qt's xcb plugin loads
  xvfb xauth trayer x11-utils
  # the desktop tests read CLIPBOARD and PRIMARY from another X client, and type real keys
  xclip xdotool
  # a real notification service (org.freedesktop.Notifications) for the tray's notifications
  dunst
  libegl1 libgl1 libfontconfig1 libxkbcommon0 libdbus-1-3
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0
  libxkbcommon-x11-0 libxcb-shape0 libxcb-randr0 libxcb-xinerama0 libxcb-xkb1
  # browser tests of the reveal page
  chromium chromium-driver
  # packaging validators
  desktop-file-utils appstream
  # the relay throughput benchmark's load generator (a C program, scripted in Lua)
  wrk
  # a real syslog collector (imtcp, with the gtls driver for RFC 5425) for the audit forwarding tests
  rsyslog rsyslog-gnutls
  # docs test commands (curl) and unit checks (systemd-analyze)
  curl systemd
  # the accessibility tests: the AT-SPI bus (at-spi-bus-launcher, registry) and a pyatspi client
  at-spi2-core python3-pyatspi
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "system-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
