#!/usr/bin/env bash
# Create .venv and install the pinned lock into it.
#
# The Python: $PYTHON if given (`make install PYTHON=python3.11`), else 3.10 when the machine has it
# (scripts/find_python.sh), else python3. Rasa 3.6.21 supports 3.8-3.10; on 3.10 the widget gets
# WebSockets from Sanic 21.12 as it is.
# On 3.11: Rasa 3.6.21 declares Python <3.11, so `pip install rasa` there silently resolves Rasa 1.10.
# The lock is resolved as for Python 3.10 (`make lock`) and installed without pip re-resolving it:
# every pinned package has a 3.11 wheel (matplotlib is overridden to 3.6.x for that reason), and
# channels/sanic_websockets.py backports the Sanic fix its WebSockets need there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${PYTHON:-}" ]; then
  reason="as asked (PYTHON=$PYTHON)"
else
  PYTHON=$(scripts/find_python.sh)
  if [ "$PYTHON" = python3 ]; then reason="no Python 3.10 found, so python3"; else reason="3.10, which Rasa 3.6 supports"; fi
fi
version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
case "$version" in
  3.10|3.11) ;;
  *) echo "install: Python 3.10 or 3.11 is needed, $PYTHON is $version" >&2; exit 1 ;;
esac
echo "install: Python $version ($PYTHON): $reason"

# A .venv made with another Python (say 3.11, before 3.10 was installed) is made again.
if [ -x .venv/bin/python ]; then
  current=$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  if [ "$current" != "$version" ]; then
    echo "install: .venv has Python $current; making it again with $version"
    rm -rf .venv
  fi
fi
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
