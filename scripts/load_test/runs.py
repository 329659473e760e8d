"""One run, one cluster, the matrix of bots, setups, channels and patient counts; CPU accounting and the stock bot."""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import resource
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from harness.servers import RASA
from harness.services import Cluster
from scripts.benchmark import percentile, rss_mib, stock_project
from scripts.load_test.records import (
    KNEE_ENV,
    KNEE_PATIENTS,
    STOCK_PATIENTS,
    STORAGE_VIOLATIONS,
    Conversation,
)
from scripts.load_test.report import fmt, save
from scripts.load_test.storage_check import (
    check_run,
)
from scripts.load_test.store import (
    Store,
)
from scripts.load_test.traffic import (
    TRANSPORT_REASONS,
    run_rest,
    run_socketio,
)


def summarise(
    bot: str,
    setup: int,
    channel: str,
    n: int,
    conversations: List[Conversation],
    wall: float,
    connect_s: float,
    cpu_s: float,
    checked: collections.Counter,
    examples: List[str],
    settle_s: float,
    rss: List[float],
    load: Tuple[float, float, float],
) -> Dict[str, Any]:
    messages = [m for c in conversations for m in c.messages]
    # Every message that got a reply: its answer, or the guard's "busy, send it again" (then the patient
    # sends it again, as a new message). Throughput and latency count answers; "reply_ms" counts both.
    replied = [m for m in messages if not m.error]
    busy = [m for m in replied if m.busy]
    answered = [m for m in replied if not m.busy]
    errors = collections.Counter(m.error for m in messages if m.error)
    errors.update("empty_reply" for m in answered if m.empty)
    errors.update(f"service:{m.service}" for m in answered if m.service)
    errors.update("connect_failed" for c in conversations if c.failed)
    errors.update("gave_up" for c in conversations if c.gave_up)

    def stats(values: List[float]) -> Dict[str, Optional[float]]:
        if not values:
            return {"p50": None, "p95": None, "p99": None, "max": None}
        return {
            "p50": percentile(values, 0.50),
            "p95": percentile(values, 0.95),
            "p99": percentile(values, 0.99),
            "max": max(values),
        }

    return {
        "bot": bot,
        "setup": setup,
        "channel": channel,
        "patients": n,
        "conversations": len(conversations),
        "conversations_finished": sum(
            1 for c in conversations if not c.failed and not c.gave_up and c.messages and not c.messages[-1].error
        ),
        "messages": len(messages),
        "answered": len(answered),
        "wall_s": wall,
        "connect_s": connect_s,
        "throughput_msgs_per_s": len(answered) / wall if wall else 0.0,
        "busy_replies": len(busy),
        "latency_ms": stats([m.last_ms for m in answered if m.last_ms is not None]),
        "reply_ms": stats([m.last_ms for m in replied if m.last_ms is not None]),
        "first_reply_ms": stats([m.first_ms for m in answered if m.first_ms is not None]),
        "turn_done_ms": stats([m.done_ms for m in answered if m.done_ms is not None]),
        "to_user_event_ms": stats([m.to_user_event_ms for m in answered if m.to_user_event_ms is not None]),
        "dialogue_ms": stats([m.dialogue_ms for m in answered if m.dialogue_ms is not None]),
        "errors": dict(errors),
        "error_total": sum(errors.values()),
        "storage": {kind: checked.get(kind, 0) for kind in STORAGE_VIOLATIONS},
        "storage_violations": sum(checked.get(kind, 0) for kind in STORAGE_VIOLATIONS),
        "reply_mismatch": checked.get("reply_mismatch", 0),
        "not_stored_after_error": checked.get("not_stored_after_error", 0),
        "stray_replies": sum(c.stray for c in conversations),
        "connections_dropped": sum(1 for c in conversations if c.dropped),
        "examples": examples,
        "settle_s": settle_s,
        "client_cpu_s": cpu_s,
        "rasa_rss_mib": rss,
        "loadavg_before": load,
    }


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def servers_cpu_s(cluster: Cluster) -> List[float]:
    """Each instance's Rasa server CPU seconds so far (shows how nginx spread the load)."""
    return [process_cpu_s(instance.rasa.proc.pid) if instance.rasa else 0.0 for instance in cluster.instances]


def listen_overflows() -> int:
    """The kernel's count of connections dropped because a listening socket's accept queue was full
    (TcpExt ListenOverflows; machine-wide): Rasa's Sanic listens with a backlog of SANIC_BACKLOG=100."""
    try:
        lines = [
            line.split() for line in Path("/proc/net/netstat").read_text().splitlines() if line.startswith("TcpExt:")
        ]
        return int(dict(zip(lines[0][1:], lines[1][1:]))["ListenOverflows"])
    except (OSError, KeyError, IndexError, ValueError):
        return 0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def progress(label: str, conversations: List[Conversation], total: int) -> None:
    started = time.perf_counter()
    while True:
        await asyncio.sleep(10)
        messages = [m for c in conversations for m in c.messages]
        done = sum(1 for m in messages if m.done_ms is not None or m.error)
        errors = sum(1 for m in messages if m.error or (m.service and not m.busy) or m.empty)
        print(
            f"    {label}: {time.perf_counter() - started:5.0f} s, {done} messages answered, {errors} errors",
            flush=True,
        )


def one_run(
    cluster: Cluster, bot: str, setup: int, channel: str, n: int, args: argparse.Namespace, store: Store
) -> Dict[str, Any]:
    tag = uuid.uuid4().hex[:6]
    scripts = KNEE_PATIENTS if bot == "knee" else STOCK_PATIENTS
    plan = []
    for index in range(n):
        patient = scripts[index % len(scripts)]
        pid = f"lt{tag}_{bot}{setup}{channel[0]}{n}_{index}"
        plan.append((patient, Conversation(pid, patient.name, sender=pid if channel == "rest" else None)))
    conversations = [c for _, c in plan]
    label = f"{bot} x{setup} {channel} N={n}"
    print(f"  {label}: running ...", flush=True)
    load = os.getloadavg()
    TRANSPORT_REASONS.counts.clear()
    overflows = listen_overflows()
    cpu = cpu_seconds()
    server_cpu = servers_cpu_s(cluster)

    async def go() -> Tuple[float, float]:
        ticker = asyncio.ensure_future(progress(label, conversations, n))
        try:
            if channel == "rest":
                started = time.perf_counter()
                await run_rest(cluster.url, plan, args.think, args.timeout)
                return time.perf_counter() - started, 0.0
            connect_s, talk_s = await run_socketio(
                cluster.url,
                plan,
                bot == "knee",
                store,
                args.think,
                args.timeout,
                args.quiet,
                args.settle,
                transport="websocket" if channel == "websocket" else "polling",
            )
            return talk_s, connect_s
        finally:
            ticker.cancel()

    wall, connect_s = asyncio.run(go())
    cpu = cpu_seconds() - cpu
    settle_s = store.settle()
    server_cpu = [round(after - before, 1) for before, after in zip(server_cpu, servers_cpu_s(cluster))]
    # "websocket" is the socketio channel over another transport.
    checked, examples = check_run(
        store, conversations, channel if channel == "rest" else "socketio", redacted=bot == "knee"
    )
    rss = [round(rss_mib(instance.rasa.proc.pid), 1) for instance in cluster.instances if instance.rasa]
    result = summarise(
        bot, setup, channel, n, conversations, wall, connect_s, cpu, checked, examples, settle_s, rss, load
    )
    result["rasa_cpu_s"] = server_cpu
    result["transport_warnings"] = dict(TRANSPORT_REASONS.counts)
    result["listen_overflows"] = listen_overflows() - overflows
    lat = result["latency_ms"]
    print(
        f"  {label}: {result['answered']}/{result['messages']} messages in {wall:.1f} s = "
        f"{result['throughput_msgs_per_s']:.1f} msg/s; p50/p95/p99 {fmt(lat['p50'])}/{fmt(lat['p95'])}/"
        f"{fmt(lat['p99'])} ms; errors {result['errors'] or 0}; storage violations "
        f"{result['storage_violations']}; reply mismatches {result['reply_mismatch']}",
        flush=True,
    )
    for example in examples[:5]:
        print(f"      {example}", flush=True)
    return result


def write_stock_files(project: Path, cluster: Cluster) -> None:
    pg, red = cluster.postgres, cluster.redis
    (project / "endpoints.yml").write_text(
        "# Written by scripts/load_test.py: the same PostgreSQL and Redis as the knee assistant's cluster,\n"
        "# through stock Rasa's SQL tracker store and RedisLockStore.\n"
        f"tracker_store:\n  type: SQL\n  dialect: postgresql\n  url: 127.0.0.1\n  port: {pg.port}\n"
        f'  db: postgres\n  username: knee\n  password: "{pg.password}"\n'
        f'lock_store:\n  type: redis\n  url: 127.0.0.1\n  port: {red.port}\n  password: "{red.password}"\n  db: 0\n'
    )
    stock_credentials = project / "credentials.yml.stock"
    if not stock_credentials.exists():
        shutil.copy(project / "credentials.yml", stock_credentials)
    (project / "credentials.yml").write_text(
        stock_credentials.read_text()
        + "\n# Added by scripts/load_test.py. session_persistence: false because stock Rasa 3.6 never awaits\n"
        "# enter_room (a coroutine in python-socketio 5.x): a persistent session would get no reply.\n"
        "socketio:\n  user_message_evt: user_uttered\n  bot_message_evt: bot_uttered\n  session_persistence: false\n"
    )


def train_stock(workdir: Path, given: Optional[Path]) -> Tuple[Path, Path, Optional[float]]:
    project = stock_project(workdir)
    if given:
        return project, given.resolve(), None
    print("stock bot: training (cold cache) ...", flush=True)
    env = dict(
        os.environ,
        RASA_TELEMETRY_ENABLED="false",
        TF_CPP_MIN_LOG_LEVEL="2",
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
        RASA_CACHE_DIRECTORY=str(workdir / "stock-cache"),
    )
    started = time.perf_counter()
    with (workdir / "stock-train.log").open("wb") as log:
        subprocess.run(
            [
                RASA,
                "train",
                "--domain",
                "domain.yml",
                "--out",
                str(workdir / "stock-models"),
                "--fixed-model-name",
                "rasa-init",
            ],
            cwd=project,
            env=env,
            check=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    took = time.perf_counter() - started
    print(f"stock bot: trained in {took:.0f} s -> {workdir / 'stock-models' / 'rasa-init.tar.gz'}", flush=True)
    return project, workdir / "stock-models" / "rasa-init.tar.gz", took


def warm_up(cluster: Cluster, bot: str) -> None:
    """A few conversations per instance, directly, before measuring (Rasa loads lazily): not counted."""
    import requests

    scripts = KNEE_PATIENTS if bot == "knee" else STOCK_PATIENTS
    for instance in cluster.instances:
        for patient in scripts:
            sender = f"warmup-{uuid.uuid4().hex[:10]}"
            for text in patient.opening[:4]:
                requests.post(
                    instance.url + "/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=120
                )


def run_matrix(args: argparse.Namespace, workdir: Path, results: Dict[str, Any]) -> None:
    stock: Optional[Tuple[Path, Path]] = None
    if "stock" in args.bots:
        project, model, took = train_stock(workdir, args.stock_model)
        stock = (project, model)
        results["stock_model"] = str(model)
        results["stock_train_s"] = took
    for bot in args.bots:
        for setup in args.setups:
            name = f"{bot}-x{setup}"
            print(f"\n== {bot} bot, {setup} instance(s) behind nginx: starting a fresh cluster ...", flush=True)
            cluster_dir = workdir / name
            cluster_dir.mkdir()
            extra = dict(item.split("=", 1) for item in args.env)
            if bot == "knee":
                cluster = Cluster(cluster_dir, instances=setup, extra_env={**KNEE_ENV, **extra}, model=args.knee_model)
            else:
                assert stock is not None, "the stock bot is trained first"
                cluster = Cluster(cluster_dir, instances=setup, extra_env=extra, model=stock[1], project=stock[0])
                write_stock_files(stock[0], cluster)
            store = None
            try:
                started = time.perf_counter()
                cluster.start()
                print(
                    f"   cluster up in {time.perf_counter() - started:.0f} s ({cluster.url}); warming up ...",
                    flush=True,
                )
                warm_up(cluster, bot)
                store = Store(cluster.postgres.url)
                for channel in args.channels:
                    for n in args.patients:
                        results["runs"].append(one_run(cluster, bot, setup, channel, n, args, store))
                        save(results)
            except Exception as error:
                print(f"!! {name} failed: {type(error).__name__}: {error}"[:3000], flush=True)
                results["failures"].append(f"{name}: {type(error).__name__}: {str(error)[:500]}")
            finally:
                if store:
                    store.close()
                print(f"   stopping the {name} cluster ...", flush=True)
                cluster.stop()
