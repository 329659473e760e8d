#!/usr/bin/env bash
# Debian's chromium for the widget's browser tests (Playwright drives it; it downloads no browser).
set -euo pipefail
if command -v chromium >/dev/null; then exit 0; fi
if [ "$(id -u)" != "0" ] && ! command -v sudo >/dev/null; then
  echo "install_browser: chromium is missing; install Debian's 'chromium' package (root needed)" >&2; exit 1
fi
SUDO=""; [ "$(id -u)" = "0" ] || SUDO="sudo"
echo "install_browser: installing Debian's chromium"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
chromium --version
