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
  # Wait for the daemon to own its name. Asking org.freedesktop.secrets itself before then
  # would D-Bus-activate a second gnome-keyring with no password and no login keyring.
  for _ in $(seq 100); do
    dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
      org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets | grep -q "boolean true" && break
    sleep 0.1
  done
  if ! dbus-send --session --print-reply --dest=org.freedesktop.secrets /org/freedesktop/secrets \
      org.freedesktop.DBus.Properties.Get string:org.freedesktop.Secret.Service string:Collections \
      | grep -q "/collection/login"; then
    echo "keyring-session: gnome-keyring started without an unlocked login keyring" >&2
    exit 1
  fi
  "$@"
' ots-keyring-session "$@"
