#!/usr/bin/env bash
# The servers the tests and the load test start on loopback (harness/services.py): PostgreSQL, Redis and
# nginx, from Debian's packages. Installs what is missing; starts nothing (the tests start their own,
# in throwaway directories, and the packages' own services stay stopped).
set -euo pipefail
missing=()
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -eq 0 ]; then
  echo "services: PostgreSQL, Redis and nginx are installed"
  exit 0
fi
echo "services: installing ${missing[*]} (Debian packages)"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
# policy-rc.d 101: the packages' post-install scripts must not start system-wide services.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null && $SUDO chmod +x "$policy"
  trap '$SUDO rm -f "$policy"' EXIT
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "services: installed ${missing[*]}"
