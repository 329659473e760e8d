"""Start the real action server and Rasa server for end-to-end tests, on free loopback ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import requests

ROOT = Path(__file__).resolve().parent.parent
RASA = str(Path(sys.executable).with_name("rasa"))
MODEL = ROOT / "models" / "knee-assistant.tar.gz"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """A server process whose output goes to a log file the test can read."""

    def __init__(self, name: str, args: List[str], env: Dict[str, str], log_dir: Path, cwd: Path = ROOT) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_for(url: str, process: Process, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.proc.poll() is not None:
            raise RuntimeError(f"{process.name} exited early:\n{process.log()[-3000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{process.name} not ready at {url}:\n{process.log()[-3000:]}")


class Assistant:
    """The assistant as `make run` starts it: action server + Rasa server with the REST channel.
    With another `project` (its own endpoints.yml and credentials.yml), any Rasa bot."""

    def __init__(
        self, workdir: Path, model: Path = MODEL, project: Path = ROOT, extra_env: Optional[Dict[str, str]] = None
    ) -> None:
        if not model.exists():
            raise FileNotFoundError(f"{model} does not exist: run `make train` first")
        self.model = model
        self.project = project
        self.workdir = workdir
        self.rasa_port = free_port()
        self.actions_port = free_port()
        self.tracker_db = workdir / "trackers.db"
        self.env = dict(
            os.environ,
            RASA_PORT=str(self.rasa_port),
            ACTIONS_PORT=str(self.actions_port),
            ACTIONS_URL=f"http://127.0.0.1:{self.actions_port}/webhook",
            MODEL=str(model),
            TRACKER_DB=str(self.tracker_db),
            RASA_TELEMETRY_ENABLED="false",
            TF_CPP_MIN_LOG_LEVEL="2",
            SQLALCHEMY_SILENCE_UBER_WARNING="1",
            # Tests talk faster than people: the per-patient rate limit is for people, and the tests
            # that check it set it themselves.
            RATE_LIMIT="1000/60",
        )
        # The messaging channels, the HTTP API, PostgreSQL and Redis stay off unless a test turns them on.
        for name in (
            "TWILIO_ACCOUNT_SID",
            "TWILIO_AUTH_TOKEN",
            "TWILIO_NUMBER",
            "TWILIO_WEBHOOK_URL",
            "TELEGRAM_TOKEN",
            "TELEGRAM_WEBHOOK_URL",
            "TELEGRAM_API_URL",
            "RASA_API_TOKEN",
            "RASA_JWT_SECRET",
            "CORS_ORIGINS",
            "DATABASE_URL",
            "REDIS_URL",
            "SOCKETIO_JWT_KEY",
        ):
            self.env.pop(name, None)
        self.env.update(extra_env or {})
        self.actions: Optional[Process] = None
        self.rasa: Optional[Process] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    def start_actions(self) -> None:
        self.actions = Process(
            "actions",
            # ours (scripts/action_server.py) for this project; another bot's, as stock Rasa starts it
            [sys.executable, "-m", "scripts.action_server"]
            if self.project == ROOT
            else [RASA, "run", "actions", "--actions", "actions", "--port", str(self.actions_port)],
            self.env,
            self.workdir,
            cwd=self.project,
        )
        wait_for(f"http://127.0.0.1:{self.actions_port}/health", self.actions)

    def start_rasa(self) -> None:
        self.launch_rasa()
        self.wait_for_rasa()

    def wait_for_rasa(self) -> None:
        assert self.rasa is not None, "launch_rasa first"
        wait_for(self.url + "/", self.rasa)

    def launch_rasa(self) -> None:
        if self.project == ROOT:  # as `make run` and the deployment start it: scripts/rasa_server.py
            args = [sys.executable, "-m", "scripts.rasa_server"]
        else:  # another bot (the benchmark's stock bot), started as stock Rasa starts
            args = [
                RASA,
                "run",
                "--model",
                str(self.model),
                "--endpoints",
                "endpoints.yml",
                "--credentials",
                "credentials.yml",
                "--port",
                str(self.rasa_port),
                "--interface",
                "127.0.0.1",
            ]
        self.rasa = Process("rasa", args, self.env, self.workdir, cwd=self.project)

    def start(self) -> "Assistant":
        self.start_actions()
        self.start_rasa()
        return self

    def stop(self) -> None:
        for process in (self.rasa, self.actions):
            if process:
                process.stop()

    def say(self, sender: str, message: str, timeout: float = 30) -> List[dict]:
        response = requests.post(
            self.url + "/webhooks/rest/webhook",
            json={"sender": sender, "message": message},
            timeout=timeout,
        )
        response.raise_for_status()
        return response.json()


class StaffInbox:
    """The staff inbox (python -m staff_inbox) on a free loopback port, on the database of
    `tracker_db` (SQLite) or `database_url`."""

    def __init__(
        self,
        workdir: Path,
        tracker_db: Path,
        database_url: Optional[str] = None,
        extra_env: Optional[Dict[str, str]] = None,
    ) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.env = dict(os.environ, STAFF_INBOX_PORT=str(self.port), TRACKER_DB=str(tracker_db))
        self.env.pop("DATABASE_URL", None)
        if database_url:
            self.env["DATABASE_URL"] = database_url
        self.env.update(extra_env or {})
        self.process: Optional[Process] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/staff"

    def create_account(self, username: str, password: str, role: str = "staff") -> str:
        done = subprocess.run(
            [sys.executable, "-m", "staff_inbox.accounts", "create", username, "--role", role, "--password-stdin"],
            input=password + "\n",
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise RuntimeError(f"creating {username} failed: {done.stderr}")
        return done.stdout

    def start(self) -> "StaffInbox":
        self.process = Process("staff-inbox", [sys.executable, "-m", "staff_inbox"], self.env, self.workdir)
        wait_for(self.url + "/health", self.process, timeout=60)
        return self

    def stop(self) -> None:
        if self.process:
            self.process.stop()


@contextmanager
def tarpit() -> Iterator[str]:
    """An action server that accepts connections and never answers: yields its webhook URL."""
    server = socket.socket()
    server.bind(("127.0.0.1", free_port()))
    server.listen(64)
    held: List[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/webhook"
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        server.close()
