"""Benchmark this assistant against the stock `rasa init` bot, in one run, on this machine.

For each bot: training time (a cold `rasa train`, fresh cache), model load time (server start until
it answers), server memory (resident set size of the Rasa server, and of the action server, after the
load), and per-message latency p50/p95 through the REST channel with 1 and with 20 concurrent
conversations. Prints a table and the ratios, and writes them to reports/benchmark.json.

Usage: .venv/bin/python -m scripts.benchmark [--messages 200]   (or: make benchmark)
This is a measurement, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import aiohttp

from harness.servers import RASA, ROOT, Assistant

OUR_MESSAGES = [
    "hello",
    "what causes knee pain?",
    "how much does stem cell therapy cost",
    "is it safe?",
    "what is knee osteoarthritis",
    "does it work for late stage arthritis",
    "thanks",
    "bye",
]
STOCK_MESSAGES = ["hello", "I am feeling great", "are you a bot?", "I am sad", "yes", "no", "bye", "thanks"]


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children, in MiB (from /proc)."""
    total = 0
    pids = [pid]
    try:
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        pids += [int(child) for child in children]
    except FileNotFoundError:
        pass
    for one in pids:
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


def percentile(values: List[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(fraction * (len(ordered) - 1)))))
    return ordered[index]


async def drive(url: str, messages: List[str], conversations: int, total: int) -> List[float]:
    """`conversations` patients in parallel, each sending its messages in turn, `total` in all."""
    latencies: List[float] = []
    per_conversation = max(1, total // conversations)

    async def patient(index: int, session: aiohttp.ClientSession) -> None:
        sender = f"bench-{conversations}-{index}-{time.monotonic_ns()}"
        for turn in range(per_conversation):
            started = time.perf_counter()
            async with session.post(url, json={"sender": sender, "message": messages[turn % len(messages)]}) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(f"HTTP {r.status}")
            latencies.append((time.perf_counter() - started) * 1000)

    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(patient(i, session) for i in range(conversations)))
    return latencies


def measure(
    name: str, project: Path, domain: str, messages: List[str], with_actions: bool, total: int, workdir: Path
) -> Dict:
    env = dict(
        os.environ, RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2", SQLALCHEMY_SILENCE_UBER_WARNING="1"
    )
    print(f"[{name}] training (cold cache) ...", flush=True)
    models = workdir / f"{name}-models"
    train_env = dict(env, TRACKER_DB=str(workdir / f"{name}.db"), ACTIONS_PORT="1")
    # A cold cache, so both bots pay for every component.
    cache = workdir / f"{name}-cache"
    train_env["RASA_CACHE_DIRECTORY"] = str(cache)
    started = time.perf_counter()
    subprocess.run(
        [RASA, "train", "--domain", domain, "--out", str(models), "--fixed-model-name", name],
        cwd=project,
        env=train_env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    train_s = time.perf_counter() - started

    assistant = Assistant(workdir / name, model=models / f"{name}.tar.gz", project=project)
    assistant.workdir.mkdir()
    if with_actions:
        assistant.start_actions()
    started = time.perf_counter()
    assistant.start_rasa()  # returns once the server answers, i.e. the model is loaded
    load_s = time.perf_counter() - started
    try:
        url = assistant.url + "/webhooks/rest/webhook"
        asyncio.run(drive(url, messages, 1, 10))  # warm-up
        assert assistant.rasa is not None
        result: Dict[str, Any] = {
            "train_s": train_s,
            "load_s": load_s,
            "rasa_rss_mib": rss_mib(assistant.rasa.proc.pid),
            "actions_rss_mib": rss_mib(assistant.actions.proc.pid) if assistant.actions else 0.0,
        }
        for conversations in (1, 20):
            print(f"[{name}] {total} messages at {conversations} concurrent conversation(s) ...", flush=True)
            latencies = asyncio.run(drive(url, messages, conversations, total))
            result[f"c{conversations}"] = {
                "messages": len(latencies),
                "p50_ms": statistics.median(latencies),
                "p95_ms": percentile(latencies, 0.95),
            }
        return result
    finally:
        assistant.stop()


def stock_project(workdir: Path) -> Path:
    """The files `rasa init` lays down (Rasa's own initial_project template), without the training
    `rasa init` would also do: this script times its own training run."""
    import rasa.cli

    project = workdir / "stock"
    shutil.copytree(Path(rasa.cli.__file__).parent / "initial_project", project)
    return project


def main(argv: Optional[List[str]] = None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200, help="messages per load level")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="knee-bench-"))
    print(f"benchmark work folder: {workdir}")
    results = {
        "knee-assistant": measure("knee-assistant", ROOT, "domain", OUR_MESSAGES, True, args.messages, workdir),
        "rasa-init": measure(
            "rasa-init", stock_project(workdir), "domain.yml", STOCK_MESSAGES, False, args.messages, workdir
        ),
    }
    ours, stock = results["knee-assistant"], results["rasa-init"]
    rows = [
        ("training time (s)", ours["train_s"], stock["train_s"]),
        ("model load time (s)", ours["load_s"], stock["load_s"]),
        ("Rasa server RSS (MiB)", ours["rasa_rss_mib"], stock["rasa_rss_mib"]),
        ("action server RSS (MiB)", ours["actions_rss_mib"], stock["actions_rss_mib"]),
        ("p50 latency, 1 conversation (ms)", ours["c1"]["p50_ms"], stock["c1"]["p50_ms"]),
        ("p95 latency, 1 conversation (ms)", ours["c1"]["p95_ms"], stock["c1"]["p95_ms"]),
        ("p50 latency, 20 conversations (ms)", ours["c20"]["p50_ms"], stock["c20"]["p50_ms"]),
        ("p95 latency, 20 conversations (ms)", ours["c20"]["p95_ms"], stock["c20"]["p95_ms"]),
    ]
    print(f"\n{'measure':38s} {'knee-assistant':>15s} {'rasa init':>12s} {'ratio':>7s}")
    for label, mine, theirs in rows:
        ratio = f"{mine / theirs:.2f}" if theirs else "-"
        print(f"{label:38s} {mine:15.1f} {theirs:12.1f} {ratio:>7s}")
    results["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    out = ROOT / "reports" / "benchmark.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {out.relative_to(ROOT)}")
    return results


if __name__ == "__main__":
    main()
