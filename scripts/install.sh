#!/usr/bin/env bash
# Create .venv and install the pinned lock into it.
#
# Rasa 3.6.21 declares Python <3.11, so `pip install rasa` on 3.11 silently resolves Rasa 1.10. The lock
# is resolved as for Python 3.10 (`make lock`) and installed without pip re-resolving it: every pinned
# package has a 3.11 wheel (matplotlib is overridden to 3.6.x for that reason). Works on 3.10 as well.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
case "$version" in
  3.10|3.11) ;;
  *) echo "install: Python 3.10 or 3.11 is needed, $PYTHON is $version" >&2; exit 1 ;;
esac

if [ ! -x .venv/bin/python ]; then
  echo "install: creating .venv with Python $version"
  "$PYTHON" -m venv .venv
fi

echo "install: installing requirements/lock.txt into .venv (quick when nothing changed)"
mkdir -p var
# The machine's pip configuration names local mirrors that may not exist: those warnings are noise.
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
  --no-deps --ignore-requires-python -r requirements/lock.txt \
  2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
echo "install: done"
