#!/bin/sh
# Runs one desktop test in a throwaway session: a private D-Bus session bus,
# an unlocked gnome-keyring holding only test secrets, scratch HOME and XDG
# folders, and with --xvfb a virtual X server.  Nothing touches the user's
# session, display or keyring.  Exits 77 (skipped) when a tool is missing.
#
# Usage: run-desktop-test.sh [--xvfb] TEST [ARGS...]

use_xvfb=no
if [ "$1" = "--xvfb" ]; then
  use_xvfb=yes
  shift
fi

for tool in dbus-run-session gnome-keyring-daemon; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "# SKIP $tool is not installed"
    exit 77
  fi
done
if [ "$use_xvfb" = yes ] && ! command -v xvfb-run >/dev/null 2>&1; then
  echo "# SKIP xvfb-run is not installed"
  exit 77
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/swarm-desktop-test.XXXXXX") || exit 1
trap 'rm -rf "$scratch"' EXIT INT TERM
mkdir -p "$scratch/home" "$scratch/data" "$scratch/config" "$scratch/cache"
mkdir -m 700 "$scratch/runtime"

export HOME="$scratch/home"
export XDG_RUNTIME_DIR="$scratch/runtime"
export XDG_DATA_HOME="$scratch/data"
export XDG_CONFIG_HOME="$scratch/config"
export XDG_CACHE_HOME="$scratch/cache"
export GSETTINGS_BACKEND=memory
# GTK 4.8 would otherwise start the accessibility bus in the session.
export GTK_A11Y=none
unset DBUS_SESSION_BUS_ADDRESS

# The keyring daemon prompts for a password unless it is unlocked on start,
# and a test cannot answer a prompt.
inner='printf %s swarm-test-password | gnome-keyring-daemon --unlock --components=secrets \
  >/dev/null || exit 1; exec "$@"'

if [ "$use_xvfb" = yes ]; then
  exec xvfb-run -a -s "-screen 0 1280x1024x24" dbus-run-session -- sh -c "$inner" sh "$@"
fi
exec dbus-run-session -- sh -c "$inner" sh "$@"
