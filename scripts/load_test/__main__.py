"""The command line: `python -m scripts.load_test` (the package docstring says what it measures)."""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import scripts.load_test
from harness.servers import MODEL
from scripts.load_test.records import (
    KNEE_ENV,
)
from scripts.load_test.report import (
    detail_table,
    save,
    side_by_side,
)
from scripts.load_test.runs import (
    run_matrix,
)


def main(argv: Optional[List[str]] = None) -> int:
    import rasa

    parser = argparse.ArgumentParser(
        prog="python -m scripts.load_test",
        description=(scripts.load_test.__doc__ or "").splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--patients", type=int, nargs="+", default=[50, 200], help="numbers of simulated patients")
    # socketio: the widget's channel over long polling; websocket: the same channel over WebSocket.
    parser.add_argument(
        "--channels", nargs="+", default=["rest", "socketio", "websocket"], choices=["rest", "socketio", "websocket"]
    )
    parser.add_argument(
        "--setups", type=int, nargs="+", default=[1, 2], choices=[1, 2], help="Rasa instances behind nginx"
    )
    parser.add_argument("--bots", nargs="+", default=["knee", "stock"], choices=["knee", "stock"])
    parser.add_argument("--think", type=float, default=0.0, help="seconds between a reply and the next message")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds a message may wait for its reply")
    parser.add_argument(
        "--quiet",
        type=float,
        default=0.25,
        help="socket.io: seconds without a reply before asking the store whether the turn is over",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=15.0,
        help="socket.io: seconds without a reply after which an unstored turn is an error",
    )
    parser.add_argument(
        "--env",
        nargs="*",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for both bots' Rasa servers, e.g. SANIC_BACKLOG=1024",
    )
    parser.add_argument("--knee-model", type=Path, default=MODEL)
    parser.add_argument("--stock-model", type=Path, help="a trained stock model to reuse instead of training")
    parser.add_argument("--workdir", type=Path, help="where logs and the stock project go (default: a new temp dir)")
    args = parser.parse_args(argv)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="knee-load-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"load test work folder (server logs): {workdir}", flush=True)
    results: Dict[str, Any] = {
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
        "arguments": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "rasa": rasa.__version__},
        "knee_env": KNEE_ENV,
        "workdir": str(workdir),
        "runs": [],
        "failures": [],
    }

    def interrupted(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    started = time.perf_counter()
    code = 0
    try:
        run_matrix(args, workdir, results)
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped, partial report written", flush=True)
        results["failures"].append("interrupted")
        code = 130
    finally:
        results["elapsed_s"] = time.perf_counter() - started
        save(results)
    runs = results["runs"]
    print("\n" + "\n".join(side_by_side(runs)))
    print("\n" + "\n".join(detail_table(runs)))
    print(f"\ntook {results['elapsed_s']:.0f} s; written to reports/load_test.json and reports/load_test.md")
    knee_bad = sum(r["storage_violations"] for r in runs if r["bot"] == "knee")
    stock_bad = sum(r["storage_violations"] for r in runs if r["bot"] == "stock")
    if stock_bad:
        print(f"stock bot: {stock_bad} storage violation(s) (see the report)")
    if knee_bad:
        print(f"KNEE ASSISTANT: {knee_bad} storage violation(s): messages lost, out of order or misattributed")
        return 1
    if code:
        return code
    return 2 if results["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
