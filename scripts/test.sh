#!/usr/bin/env bash
# Every test of the project (`make test` runs this after install and train).
set -euo pipefail
cd "$(dirname "$0")/.."
export RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1

echo "== 1/3 training data: rasa data validate"
.venv/bin/python -m scripts.build_self_check_domain --check
.venv/bin/python -m scripts.validate_data

echo "== 2/3 dialogue: test stories (rasa test core --fail-on-prediction-errors)"
.venv/bin/rasa test core --stories tests/stories --model models/knee-assistant.tar.gz \
  --fail-on-prediction-errors --out var/test-results/stories > var/test-results.log 2>&1 \
  || { tail -50 var/test-results.log; echo "test stories: FAILED (var/test-results/stories)"; exit 1; }
echo "test stories: all passed"

echo "== 3/3 pytest: unit, content, held-out NLU, end-to-end"
.venv/bin/pytest
