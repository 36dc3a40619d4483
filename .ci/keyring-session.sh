#!/usr/bin/env bash
# Runs a command against a real OS keychain: inside a throwaway D-Bus
# session bus with an unlocked gnome-keyring (the Secret Service), and with
# GOFLYTE_TEST_KEYCHAIN=1 exported so that the keychain tests run (and fail,
# rather than skip, if the keychain cannot be reached).
#
#   bash .ci/keyring-session.sh make test
#   bash .ci/keyring-session.sh go test -race -v -run Keychain ./secretsbackends/
#
# Needs dbus-run-session, dbus-send and gnome-keyring-daemon:
#   apt-get install -y --no-install-recommends dbus gnome-keyring
# (never dbus-x11: with it, every D-Bus client started without a session bus
# autolaunches a stray dbus-daemon).
#
# Nothing of yours is touched: the keyring lives in a temporary
# XDG_DATA_HOME (a leftover login keyring with another password would stay
# locked even though --unlock exits 0), the daemon's sockets in a temporary
# XDG_RUNTIME_DIR, and both are removed afterwards. HOME is kept, because the
# Go build and module caches live there.
set -euo pipefail

if [[ $# -eq 0 ]]; then
	echo "usage: $0 COMMAND [ARG...]" >&2
	exit 2
fi
for tool in dbus-run-session dbus-send gnome-keyring-daemon; do
	if ! command -v "$tool" >/dev/null; then
		echo "$0: $tool is missing: apt-get install -y --no-install-recommends dbus gnome-keyring" >&2
		exit 1
	fi
done

if [[ "${GOFLYTE_KEYRING_SESSION:-}" != inside ]]; then
	# Outside the session: make the throwaway directories, then run this
	# script again inside a new session bus, which dbus-run-session stops
	# when the script ends.
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/goflyte-keyring.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	mkdir -m 700 "$tmp/data" "$tmp/run"
	status=0
	GOFLYTE_KEYRING_SESSION=inside XDG_DATA_HOME="$tmp/data" XDG_RUNTIME_DIR="$tmp/run" \
		dbus-run-session -- bash "$0" "$@" || status=$?
	exit "$status"
fi

# Inside the session. A fresh login keyring is created with this password
# and left unlocked.
password=$(head -c 24 /dev/urandom | base64)
printf %s "$password" | gnome-keyring-daemon --unlock --components=secrets >/dev/null

# --unlock returns before the daemon owns org.freedesktop.secrets; a client
# that asks too early makes D-Bus activate a second daemon. Wait, bounded.
owned() {
	dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'
}
for _ in $(seq 100); do
	owned && break
	sleep 0.1
done
if ! owned; then
	echo "$0: gnome-keyring-daemon did not take org.freedesktop.secrets within 10 s" >&2
	exit 1
fi

# The daemon we started, by its pid on the bus, so that it is stopped when
# the command ends (dbus-run-session stops only the bus).
daemon=$(dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
	org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets | awk '/uint32/ {print $2}')
trap '[[ -n "$daemon" ]] && kill "$daemon" 2>/dev/null || true' EXIT

echo "keyring-session: Secret Service (gnome-keyring-daemon, pid $daemon) on $DBUS_SESSION_BUS_ADDRESS" >&2
export GOFLYTE_TEST_KEYCHAIN=1
status=0
"$@" || status=$?
exit "$status"
