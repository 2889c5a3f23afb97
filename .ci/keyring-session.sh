#!/usr/bin/env bash
# Runs a command with a Secret Service available.
# Inside a desktop session the existing one is used. On a headless machine a private
# D-Bus session with a throwaway, unlocked gnome-keyring is started for the command
# and disappears with it.
set -euo pipefail

if [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] || [ $# -eq 0 ]; then
  exec "$@"
fi

keyring_home="$(mktemp -d -t ots-keyring-XXXXXX)"
trap 'rm -rf "$keyring_home"' EXIT
export OTS_KEYRING_HOME="$keyring_home"
dbus-run-session -- bash -c '
  set -euo pipefail
  head -c 24 /dev/urandom | od -An -tx1 | tr -d " \n" \
    | XDG_DATA_HOME="$OTS_KEYRING_HOME" gnome-keyring-daemon --unlock --components=secrets >/dev/null
  "$@"
' ots-keyring-session "$@"
