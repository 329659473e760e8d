"""The reports: reports/load_test.json and reports/load_test.md."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

from harness.servers import ROOT
from scripts.load_test.records import (
    STORAGE_VIOLATIONS,
)


def fmt(value: Optional[float], digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def side_by_side(runs: List[Dict[str, Any]]) -> List[str]:
    index = {(r["bot"], r["setup"], r["channel"], r["patients"]): r for r in runs}
    keys = sorted({(r["setup"], r["channel"], r["patients"]) for r in runs})
    lines = [
        "| setup | channel | N | msgs knee / stock | msg/s knee / stock | p50 ms knee / stock | "
        "p95 ms knee / stock | p99 ms knee / stock | first reply p50 knee / stock | errors knee / stock | "
        "busy replies knee / stock | any reply p99 ms knee / stock | storage violations knee / stock |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def pair(key, get) -> str:
        rows = [index.get((bot,) + tuple(key)) for bot in ("knee", "stock")]
        return " / ".join(get(row) if row is not None else "n/a" for row in rows)

    for key in keys:
        setup, channel, n = key
        lines.append(
            "| "
            + " | ".join(
                [
                    f"{setup} instance{'s' if setup > 1 else ''}",
                    channel,
                    str(n),
                    pair(key, lambda r: str(r["answered"])),
                    pair(key, lambda r: fmt(r["throughput_msgs_per_s"], 1)),
                    pair(key, lambda r: fmt(r["latency_ms"]["p50"])),
                    pair(key, lambda r: fmt(r["latency_ms"]["p95"])),
                    pair(key, lambda r: fmt(r["latency_ms"]["p99"])),
                    pair(key, lambda r: fmt(r["first_reply_ms"]["p50"])),
                    pair(key, lambda r: str(r["error_total"])),
                    pair(key, lambda r: str(r.get("busy_replies", 0))),
                    pair(key, lambda r: fmt(r.get("reply_ms", {}).get("p99"))),
                    pair(key, lambda r: str(r["storage_violations"])),
                ]
            )
            + " |"
        )
    return lines


def detail_table(runs: List[Dict[str, Any]]) -> List[str]:
    lines = [
        "| bot | setup | channel | N | conv. done | msgs | wall s | msg/s | p50 | p95 | p99 | max | "
        "first p50/p95/p99 | to user event p50/p99 | dialogue p50/p99 | errors | "
        "storage (lost/dup/order/altered/misattr/incomplete/refused stored) | busy replies | reply mismatch | "
        "stray | dropped sockets | "
        "listen overflows | client CPU s | Rasa CPU s | Rasa RSS MiB |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|---|"
        "---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in runs:
        lat, first = r["latency_ms"], r["first_reply_ms"]
        before, dialogue = r.get("to_user_event_ms", {}), r.get("dialogue_ms", {})
        errors = ", ".join(f"{k} {v}" for k, v in sorted(r["errors"].items())) or "0"
        storage = "/".join(str(r["storage"][k]) for k in STORAGE_VIOLATIONS)
        lines.append(
            f"| {r['bot']} | {r['setup']} | {r['channel']} | {r['patients']} | "
            f"{r['conversations_finished']}/{r['conversations']} | {r['answered']}/{r['messages']} | "
            f"{r['wall_s']:.1f} | {r['throughput_msgs_per_s']:.1f} | {fmt(lat['p50'])} | {fmt(lat['p95'])} | "
            f"{fmt(lat['p99'])} | {fmt(lat['max'])} | "
            f"{fmt(first['p50'])}/{fmt(first['p95'])}/{fmt(first['p99'])} | "
            f"{fmt(before.get('p50'))}/{fmt(before.get('p99'))} | "
            f"{fmt(dialogue.get('p50'))}/{fmt(dialogue.get('p99'))} | "
            f"{errors} | {storage} | {r.get('busy_replies', 0)} | "
            f"{r['reply_mismatch']} | {r['stray_replies']} | {r.get('connections_dropped', 0)} | "
            f"{r.get('listen_overflows', 0)} | {r['client_cpu_s']:.1f} | "
            f"{', '.join(str(x) for x in r.get('rasa_cpu_s', []))} | "
            f"{', '.join(str(x) for x in r['rasa_rss_mib'])} |"
        )
    return lines


NOTES = """\
How to read this:
* Each patient is one conversation, all N at once, each message sent as soon as the previous turn is over
  (think time {think} s). Knee patients: harness/patients.py (full self-check with button payloads, an
  emergency in the self-check, questions); stock patients: 6-turn conversations from the `rasa init` data.
* "1 instance" and "2 instances" are both behind nginx (deploy/nginx template), with one or two upstreams.
  Each bot runs on a fresh cluster of its own (PostgreSQL, Redis, nginx, Rasa servers, one action server
  per instance; the stock one is idle), reused for both channels and both N.
* Latency: REST = request -> response (the whole turn). socket.io = message -> last bot_uttered of the turn
  (turn end: no reply for {quiet} s, then the turn found stored in PostgreSQL with as many replies as the
  client holds); "first reply" = message -> first bot_uttered. msg/s = answered messages / wall time
  (socket.io: after all clients connected). socket.io patients wait the quiet window and a look-up between
  turns, so their msg/s is not comparable with REST's.
* Where the time goes (from the stored events' timestamps, same clock): "to user event" = message sent ->
  the user event's timestamp (transport, queueing in nginx / the kernel's accept queue / Sanic / the event
  loop, the conversation lock, loading the tracker, NLU); "dialogue" = user event -> the turn's closing
  action_listen (policies, actions, sending the replies).
* Errors: transport errors (http_NNN, timeout after {timeout} s, connection, disconnected = the socket.io
  connection was dropped mid-conversation, unconfirmed = replies stopped and the turn was not found stored
  within {settle} s; a patient stops at such an error), empty_reply (a turn with no reply), service:<name>
  (the knee guard's replies: utter_unavailable = the turn failed or passed TURN_DEADLINE_SECONDS),
  busy replies are not errors: the guard's "busy, send it again" when MAX_TURNS_IN_FLIGHT turns were going
  (not stored; the patient sends the same text again 0.5-1.5 s later, as a new message). msg/s and
  latency count answers only; "any reply p99" counts the busy replies too (the bound a patient waits for
  some reply); gave_up (an error, per conversation): a patient who got 20 busy replies in a row and left,
  connect_failed (socket.io).
* Storage violations (from PostgreSQL, per conversation): lost (answered, not stored), duplicated,
  misordered, altered (stored text != sent, after the knee bot's redaction; or metadata), misattributed
  (a user event of another patient in the conversation, or ours in another conversation), incomplete_turn
  (a turn not ending with action_listen before the next message). reply mismatch: the replies stored for a
  turn are not those the client received. stray: socket.io replies that came after their turn was judged over.
* dropped sockets: socket.io connections lost mid-conversation (python-engineio gives up on a polling request
  that fails, e.g. a 502 from nginx). listen overflows: connections the kernel dropped during the run because
  a listening socket's accept queue was full (machine-wide counter; Rasa listens with SANIC_BACKLOG, default
  100, and a busy Rasa process accepts late).
* The knee servers run with RATE_LIMIT="100000/60" (the default 30/60;10/5 is per patient, for people);
  everything else is as deployed (TURN_DEADLINE_SECONDS 8, ACTION_TIMEOUT_SECONDS 4).
* The stock bot: Rasa's SQL tracker store and RedisLockStore on the same PostgreSQL/Redis; its socketio
  channel with session_persistence: false (stock Rasa 3.6 never awaits python-socketio 5.x's enter_room
  coroutine, so a persistent session gets no reply), conversation id = the socket's sid.
* The load generator shares the machine's CPUs with the servers (client CPU s is its own use; Rasa CPU s
  is each Rasa server's CPU time during the run, i.e. how nginx spread the work over the instances).
"""


def markdown(results: Dict[str, Any]) -> str:
    runs = results["runs"]
    args = results["arguments"]
    lines = [
        "# Load test: knee assistant vs stock `rasa init` bot",
        "",
        f"Run {results['started']} on {results['machine']['cpus']} CPUs, Python {results['machine']['python']}, "
        f"Rasa {results['machine']['rasa']}; took {fmt(results.get('elapsed_s'))} s. Matrix: bots {args['bots']}, "
        f"setups {args['setups']}, channels {args['channels']}, N {args['patients']}, think {args['think']} s"
        f"{', server environment ' + ' '.join(args['env']) if args.get('env') else ''}.",
        "",
    ]
    if results.get("stock_train_s"):
        lines += [f"Stock bot trained in this run (cold cache): {results['stock_train_s']:.0f} s.", ""]
    if results["failures"]:
        lines += ["**Failures:**", ""] + [f"* {f}" for f in results["failures"]] + [""]
    lines += ["## Side by side", ""] + side_by_side(runs) + ["", "## Every run", ""] + detail_table(runs)
    examples = [(r, e) for r in runs for e in r["examples"]]
    examples += [
        (r, f"socket.io client gave up {count}x: {why}")
        for r in runs
        for why, count in r.get("transport_warnings", {}).items()
    ]
    if examples:
        lines += ["", "## Check findings (first examples per run)", ""]
        lines += [f"* {r['bot']} x{r['setup']} {r['channel']} N={r['patients']}: {e}" for r, e in examples]
    lines += [
        "",
        NOTES.format(think=args["think"], quiet=args["quiet"], timeout=args["timeout"], settle=args["settle"]),
    ]
    return "\n".join(lines)


def save(results: Dict[str, Any]) -> None:
    out = ROOT / "reports"
    out.mkdir(exist_ok=True)
    (out / "load_test.json").write_text(json.dumps(results, indent=2, default=str))
    (out / "load_test.md").write_text(markdown(results) + "\n")
