#!/usr/bin/env bash
# Start the action server, the Rasa server (REST, socket.io and the messaging channels), the demo
# clinic page with the web widget and the staff inbox, and keep them in the foreground. Ctrl-C stops
# them all. Ports come from ACTIONS_PORT, RASA_PORT, WEB_PORT and STAFF_INBOX_PORT. The defaults below mirror settings/__init__.py
# (tests/test_settings.py checks they agree).
set -euo pipefail
cd "$(dirname "$0")/.."

: "${RASA_PORT:=5005}" "${ACTIONS_PORT:=5055}" "${WEB_PORT:=8080}" "${TRACKER_DB:=var/trackers.db}"
: "${STAFF_INBOX_PORT:=5010}"
: "${ACTIONS_URL:=http://127.0.0.1:$ACTIONS_PORT/webhook}"
# The demo page is served from WEB_PORT, another origin than the Rasa server.
: "${CORS_ORIGINS:=http://127.0.0.1:$WEB_PORT http://localhost:$WEB_PORT}"
export RASA_PORT ACTIONS_PORT ACTIONS_URL WEB_PORT TRACKER_DB CORS_ORIGINS STAFF_INBOX_PORT RASA_TELEMETRY_ENABLED=false
mkdir -p "$(dirname "$TRACKER_DB")" var/log

pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "run: stopping the assistant"
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

# Minimum retention: conversations quiet for more than RETENTION_DAYS (default 30) are deleted at
# every start (a deployment runs it daily: deploy/).
.venv/bin/python -m privacy.retention

.venv/bin/python -m scripts.action_server &
pids+=($!)
# Stores, CORS and the HTTP API come from the environment (scripts/rasa_server.py, endpoints.yml):
# by default SQLite, one instance, API off.
.venv/bin/python -m scripts.rasa_server &
pids+=($!)
# The staff inbox, on the same database (make staff-account USERNAME=... makes an account).
.venv/bin/python -m staff_inbox &
pids+=($!)
.venv/bin/python -m http.server "$WEB_PORT" --bind 127.0.0.1 --directory build/web >/dev/null 2>&1 &
pids+=($!)

# The Rasa server opens its port only once the model is loaded.
for _ in $(seq 1 180); do
  if curl -sf "http://127.0.0.1:$RASA_PORT/" >/dev/null; then break; fi
  sleep 1
done
curl -sf "http://127.0.0.1:$RASA_PORT/" >/dev/null || { echo "run: the Rasa server did not start (see above)" >&2; exit 1; }

cat <<MSG

  The knee-pain assistant is running.
    Web chat (demo clinic page): http://127.0.0.1:$WEB_PORT/?server=http://127.0.0.1:$RASA_PORT
    Chat in this terminal:  make shell        (in a second terminal)
    REST channel:           curl -s -XPOST http://127.0.0.1:$RASA_PORT/webhooks/rest/webhook \\
                              -H 'Content-Type: application/json' \\
                              -d '{"sender": "me", "message": "How much does stem cell therapy cost?"}'
    Action server:          http://127.0.0.1:$ACTIONS_PORT/health
    Staff inbox:            http://127.0.0.1:$STAFF_INBOX_PORT/staff/   (an account: make staff-account USERNAME=you)
  Press Ctrl-C to stop.

MSG
wait -n "${pids[@]}"
