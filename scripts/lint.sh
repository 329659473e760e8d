#!/usr/bin/env bash
# `make lint`, and the first step of `make test`: the code's style and types, the pattern files' layout.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== lint: ruff check (pyflakes, pycodestyle, import order, bugbear)"
.venv/bin/ruff check .
echo "== lint: ruff format --check"
.venv/bin/ruff format --check .
echo "== lint: mypy (every function of clinical/, settings/ and staff_inbox/ typed)"
.venv/bin/mypy
echo "== lint: the pattern files a clinician reviews are laid out (scripts/format_patterns.py)"
.venv/bin/python -m scripts.format_patterns --check
echo "lint: clean"
