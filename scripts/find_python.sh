#!/usr/bin/env bash
# Print the Python that .venv is made with: 3.10 when the machine has one (Rasa 3.6.21 and rasa-sdk
# 3.6.2 declare Python <3.11; on 3.10 Sanic 21.12 serves the widget's WebSockets), else python3 (3.11
# works too, with the lock installed as scripts/install.sh explains).
#
# A pyenv shim named python3.10 exists even when 3.10 is not pyenv's selected version, and then it
# fails, so each candidate is run, not just looked up. It must also have `venv` and `ensurepip`
# (Debian packages them apart, as python3.10-venv).
set -uo pipefail

usable() {
  "$1" -c 'import sys, ensurepip, venv; sys.exit(sys.version_info[:2] != (3, 10))' >/dev/null 2>&1
}

pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
# Newest 3.10 of pyenv's first (version sort), then the one on PATH.
for candidate in $(ls -d "$pyenv_root"/versions/3.10.*/bin/python3.10 2>/dev/null | sort -rV) python3.10; do
  if usable "$candidate"; then
    echo "$candidate"
    exit 0
  fi
done
echo python3
