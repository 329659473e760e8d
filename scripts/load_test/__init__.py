"""Load test: N simulated patients talking to the assistant at once, and a check of what was stored.

What it measures. For each bot (this knee assistant, and the stock `rasa init` bot for comparison), each
setup (1 Rasa instance, or 2 instances sharing PostgreSQL and Redis), each channel (REST, socket.io)
and each number of patients N (50, 200): N simulated patients, all at once, each one multi-turn
conversation sent as fast as the replies come (a closed loop; `--think` adds a pause between a reply
and the next message). The knee patients are the scripted conversations of harness/patients.py (the
full self-check answered with its buttons' payloads, an emergency in the middle of the self-check,
questions only), the stock patients three conversations from the stock bot's own stories and rules.
Both setups run behind nginx (deploy/nginx/knee-assistant.conf.template) with one or two upstreams,
each bot on a fresh cluster of its own (harness/services.py: PostgreSQL, Redis, nginx, Rasa servers),
started once per bot and setup and reused for both channels and both N.

Reported per run: messages, wall time, throughput (answered messages per second), latency p50/p95/p99
per message, errors (HTTP errors, timeouts, connection failures, turns with no reply, the knee guard's
service replies: empty / too long / slow down / unavailable), busy replies (the guard's "busy, send it
again" beyond MAX_TURNS_IN_FLIGHT: not errors; the patient sends the same text again 0.5-1.5 s later)
and the storage check. Latency:
  * REST: request sent -> response received (the response holds the whole turn).
  * socket.io: message emitted -> FIRST bot_uttered, and -> LAST bot_uttered of the turn. A socket.io
    turn has no end marker (1..n bot_uttered events), so the client waits until no reply has come for
    `--quiet` seconds and then asks PostgreSQL whether the turn is stored (Rasa saves a turn after
    sending all its replies): once the turn's user event and its closing action_listen are stored and
    the client holds as many replies as were stored, the turn is over and the next message goes
    out. "Last reply" is the arrival of the last reply, not the end of the quiet window. (Quiet time
    alone would cut slow turns in two under load.) The quiet window and the look-up sit between the
    turns of one patient, so socket.io offers less load than REST: compare latencies, not msg/s.
Storage check, after each run, for every conversation, from the events PostgreSQL holds: every message
sent (metadata {"patient": id, "turn": n} on each) is stored once, in the order sent, with its text
(the knee bot stores it redacted: compared with privacy.redaction.redact of what was sent) and its
metadata; no user event of another patient in the conversation and none of ours under another
conversation; every turn ends with action_listen before the next user event; and the bot replies
stored for each turn are the ones the client received (compared message by message, after Rasa's
split of a text on blank lines; the guard's own replies are not stored and are left out).

Setup notes (also in the report):
  * The knee servers run with RATE_LIMIT="100000/60": the default per-patient limit (30/60;10/5) is
    for people, and patients that answer instantly would hit it.
  * The stock bot: its project is copied from Rasa's `rasa init` template and trained once per run with
    a cold cache (or `--stock-model` reuses a model). Its endpoints.yml gets Rasa's own SQL tracker
    store (the same PostgreSQL) and RedisLockStore (the same Redis); its credentials.yml gets the
    socketio channel with session_persistence: false, because stock Rasa 3.6's socketio channel never
    awaits `enter_room` (a coroutine in python-socketio 5.18), so a persistent session gets no reply;
    its conversation id is then the socket's sid. Its action server runs (the Cluster starts one per
    instance) but is idle: the stock endpoints.yml names none.
  * socket.io clients use long polling (channel "socketio") or a WebSocket from the start (channel
    "websocket") and add `knee_session=<id>` to the URL, so nginx spreads them over the instances (the
    stock clients too: nginx only hashes the query, stock Rasa ignores it).

Usage:  .venv/bin/python -m scripts.load_test [--patients 50 200] [--channels rest socketio websocket]
            [--setups 1 2] [--bots knee stock] [--think 0] [--stock-model PATH] [--timeout 120]
            [--env SANIC_BACKLOG=1024 ...]   (extra environment for both bots' Rasa servers)
Defaults are the whole matrix (about 20-30 minutes on 2 cores). Writes reports/load_test.json and
reports/load_test.md. This is a measurement: it asserts nothing about speed. It exits 1 when the
storage check finds a knee-assistant message lost, duplicated, out of order, altered, attributed to
another patient, or a turn left incomplete (2 when a cluster could not be run, 130 on Ctrl-C).
"""
