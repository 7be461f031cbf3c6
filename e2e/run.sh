#!/usr/bin/env bash
# Runs the Playwright browser tests (arguments go to `playwright test`).
# Tests must send traffic only to this machine: where we can (root, unshare, ip), they run
# inside a fresh network namespace that has nothing but loopback, which also makes them
# hermetic. Otherwise they run directly and say why. TABRING_E2E_NETNS=off skips the namespace.
set -euo pipefail
cd "$(dirname "$0")/.."
playwright="$PWD/node_modules/.bin/playwright" # not npx: nothing may touch the registry

why=""
if [ "${TABRING_E2E_NETNS:-on}" = "off" ]; then
  why="TABRING_E2E_NETNS=off"
elif [ "$(id -u)" != "0" ]; then
  why="not root"
elif ! command -v unshare >/dev/null || ! command -v ip >/dev/null; then
  why="unshare or ip (iproute2) is missing"
elif ! unshare -n true 2>/dev/null; then
  why="unshare -n is not permitted here"
fi

if [ -z "$why" ]; then
  echo "e2e: running in a loopback-only network namespace" >&2
  export TABRING_E2E_NETNS=inside
  exec unshare -n -- bash -c 'ip link set lo up && exec "$0" test "$@"' "$playwright" "$@"
fi
echo "e2e: running WITHOUT a loopback-only network namespace ($why)" >&2
exec "$playwright" test "$@"
