#!/usr/bin/env bash
# Runs a command with a real, unlocked Secret Service (gnome-keyring) so the
# keyring tests exercise the real thing. Usage: scripts/with-keyring.sh CMD [ARGS...]
#
# - No session bus: re-exec under a private one (dbus-run-session) and start a
#   throwaway gnome-keyring there. Its keyring files live in a temp dir, so a
#   developer's own keyring is never read, unlocked or written.
# - A session bus already exists (a desktop session): use whatever Secret
#   Service it offers and start nothing. To force the throwaway keyring:
#   env -u DBUS_SESSION_BUS_ADDRESS scripts/with-keyring.sh ...
# - Tools missing: run the command as is; keyring tests then skip and say why.
set -euo pipefail

if [[ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]] && command -v dbus-run-session >/dev/null 2>&1; then
  export LATCHKEY_PRIVATE_BUS=1
  exec dbus-run-session -- bash "$0" "$@"
fi

if [[ "${LATCHKEY_PRIVATE_BUS:-}" == 1 ]] && command -v gnome-keyring-daemon >/dev/null 2>&1; then
  unset LATCHKEY_PRIVATE_BUS
  keyring_tmp="$(mktemp -d "${TMPDIR:-/tmp}/latchkey-keyring.XXXXXX")"
  trap 'rm -rf "$keyring_tmp"' EXIT
  mkdir -m 700 "$keyring_tmp/data" "$keyring_tmp/run" "$keyring_tmp/cache" "$keyring_tmp/config"
  # --unlock reads the password on stdin and creates the 'login' collection with
  # it. Without it the daemon (even when D-Bus activates it) has no default
  # collection and every write fails with "no result found"; a login keyring
  # that exists but is locked fails with "unlock prompt was dismissed" (no GUI).
  # XDG_* only for the daemon: its files, control socket and dconf cache go to the temp dir.
  pw="latchkey-test"
  daemon_env="$(echo -n "$pw" | XDG_DATA_HOME="$keyring_tmp/data" XDG_RUNTIME_DIR="$keyring_tmp/run" \
    XDG_CACHE_HOME="$keyring_tmp/cache" XDG_CONFIG_HOME="$keyring_tmp/config" \
    gnome-keyring-daemon --unlock --components=secrets)"
  # It prints variables such as GNOME_KEYRING_CONTROL only when they differ from
  # the defaults under XDG_RUNTIME_DIR (so usually nothing here); export any.
  while IFS='=' read -r name value; do
    if [[ "$name" =~ ^[A-Z_]+$ ]]; then export "$name=$value"; fi
  done <<<"$daemon_env"
  # The daemon forks; wait (bounded) until it owns org.freedesktop.secrets.
  for _ in $(seq 1 50); do
    if dbus-send --session --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.NameHasOwner \
      string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'; then
      break
    fi
    sleep 0.1
  done
  # Not exec: the trap must remove the temp keyring when the command ends.
  "$@"
  exit $?
fi

unset LATCHKEY_PRIVATE_BUS
exec "$@"
