"""PostgreSQL, Redis and nginx from Debian's packages, started on loopback for the tests and the load
test (scripts/install_services.sh installs them), and a cluster of assistants behind nginx.

Each server runs in the foreground in a directory of its own, on a free port, and is stopped and
restarted by the tests (the fault tests restart PostgreSQL and Redis under a conversation).
PostgreSQL refuses to run as root; as root, it runs as the `postgres` user the package creates.
"""

from __future__ import annotations

import glob
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

import requests

from harness.servers import ROOT, Assistant, Process, free_port

NGINX_TEMPLATE = ROOT / "deploy" / "nginx" / "knee-assistant.conf.template"


def _as_service_user(args: List[str], user: str = "postgres") -> List[str]:
    # setpriv execs the server itself (runuser would stay as its parent and not pass on SIGINT).
    return ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", *args] if os.geteuid() == 0 else args


def _wait(ready, what: str, process: Process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.proc.poll() is not None:
            raise RuntimeError(f"{what} exited:\n{process.log()[-3000:]}")
        if ready():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} not ready:\n{process.log()[-3000:]}")


class PostgreSQL:
    """A throwaway cluster with a password-protected user, as in production."""

    def __init__(self, workdir: Path) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
        if not bins:
            raise FileNotFoundError("PostgreSQL is not installed: run scripts/install_services.sh")
        self.bin = Path(bins[-1]).parent
        # Under /tmp, not pytest's tmp_path: the postgres user must be able to reach it.
        self.data = Path(tempfile.mkdtemp(prefix="knee-pg-"))
        self.workdir = workdir
        self.port = free_port()
        self.password = secrets.token_hex(12)
        self.process: Optional[Process] = None
        pwfile = self.data / "pw"
        pwfile.write_text(self.password)
        if os.geteuid() == 0:
            shutil.chown(self.data, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        subprocess.run(
            _as_service_user(
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.data / "db"),
                    "-U",
                    "knee",
                    "--pwfile",
                    str(pwfile),
                    "--auth=scram-sha-256",
                    "-E",
                    "UTF8",
                ]
            ),
            check=True,
            capture_output=True,
        )
        pwfile.unlink()

    @property
    def url(self) -> str:
        return f"postgresql://knee:{self.password}@127.0.0.1:{self.port}/postgres"

    def start(self) -> "PostgreSQL":
        # fsync off: a test database need not survive a power cut, and it saves seconds per test.
        self.process = Process(
            "postgresql",
            _as_service_user(
                [
                    str(self.bin / "postgres"),
                    "-D",
                    str(self.data / "db"),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.data),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=200",
                ]
            ),
            dict(os.environ),
            self.workdir,
            cwd=self.data,
        )
        _wait(self.ready, "PostgreSQL", self.process)
        return self

    def ready(self) -> bool:
        return (
            subprocess.run([str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]).returncode
            == 0
        )

    def stop(self) -> None:
        if self.process:
            self.process.proc.send_signal(signal.SIGINT)  # "fast" shutdown: drops the clients' connections
            self.process.stop()

    def restart(self) -> None:
        self.stop()
        self.start()

    def query(self, sql: str, *params) -> list:
        import psycopg2

        with psycopg2.connect(self.url) as connection, connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.data, ignore_errors=True)


class Redis:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.password = secrets.token_hex(12)
        self.process: Optional[Process] = None

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def start(self) -> "Redis":
        # Locks and rate counts only: nothing worth persisting to disk.
        self.process = Process(
            "redis",
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--requirepass",
                self.password,
            ],
            dict(os.environ),
            self.workdir,
        )
        _wait(self.ready, "Redis", self.process)
        return self

    def ready(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process:
            self.process.stop()

    def restart(self) -> None:
        self.stop()
        self.start()


def render_nginx(template: str, values: Dict[str, str]) -> str:
    """Fill ${UPPER_CASE} names as the nginx image's envsubst does; nginx's own $names stay."""
    return re.sub(r"\$\{([A-Z_]+)\}", lambda m: values[m.group(1)], template)


# Webhook requests nginx lets through to one instance at once (deploy/nginx's RASA_WEBHOOK_SERVERS, and
# deploy/docker-compose.yml): a little above the guard's MAX_TURNS_IN_FLIGHT.
WEBHOOK_CONNECTIONS = 32


class Nginx:
    """nginx from deploy/'s template: `upstreams` are the Rasa instances; `inbox` the staff inbox, if
    one runs (else /staff/ answers 502, as when the inbox is down)."""

    def __init__(
        self,
        workdir: Path,
        upstreams: List[str],
        inbox: Optional[str] = None,
        webhook_connections: int = WEBHOOK_CONNECTIONS,
    ) -> None:
        self.workdir = workdir / "nginx"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        temp = self.workdir / "temp"
        temp.mkdir(exist_ok=True)
        temp.chmod(0o777)  # the workers run as an unprivileged user
        site = render_nginx(
            NGINX_TEMPLATE.read_text(),
            {
                "RASA_SERVERS": " ".join(f"server {address} max_fails=0;" for address in upstreams),
                "RASA_WEBHOOK_SERVERS": " ".join(
                    f"server {address} max_fails=0 max_conns={webhook_connections};" for address in upstreams
                ),
                "NGINX_LISTEN": f"127.0.0.1:{self.port}",
                "STAFF_INBOX_SERVERS": f"server {inbox};" if inbox else "server 127.0.0.1:9 down;",
                "STAFF_INBOX_ALLOW": "allow 127.0.0.1; deny all;",
            },
        )
        temps = "\n".join(
            f"    {name}_temp_path {temp}/{name};" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        self.conf = self.workdir / "nginx.conf"
        self.conf.write_text(
            f"daemon off;\nworker_processes 2;\npid {self.workdir}/nginx.pid;\nerror_log stderr warn;\n"
            f"events {{ worker_connections 4096; }}\n"
            f"http {{\n{temps}\n{site}\n}}\n"
        )
        self.process: Optional[Process] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Nginx":
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.process = Process(
            "nginx",
            [nginx, "-e", "stderr", "-p", str(self.workdir), "-c", str(self.conf)],
            dict(os.environ),
            self.workdir,
        )
        _wait(lambda: self._answers(), "nginx", self.process)
        return self

    def _answers(self) -> bool:
        try:
            requests.get(self.url + "/", timeout=(2, 0.5))
            return True
        except requests.ReadTimeout:  # nginx took the connection; its upstream is slow to answer
            return True
        except requests.RequestException:
            return False

    def stop(self) -> None:
        if self.process:
            self.process.stop()


class Cluster:
    """PostgreSQL, Redis, `instances` × (action server + Rasa server) and nginx in front, all on
    loopback: the production layout (deploy/) on one machine."""

    def __init__(
        self,
        workdir: Path,
        instances: int = 2,
        extra_env: Optional[Dict[str, str]] = None,
        model: Optional[Path] = None,
        project: Path = ROOT,
    ) -> None:
        self.workdir = workdir
        self.postgres = PostgreSQL(workdir)
        self.redis = Redis(workdir)
        self.extra_env = extra_env or {}
        self.instances: List[Assistant] = []
        self.count = instances
        self.model = model
        self.project = project
        self.nginx: Optional[Nginx] = None

    def start(self) -> "Cluster":
        self.postgres.start()
        self.redis.start()
        env = {"DATABASE_URL": self.postgres.url, "REDIS_URL": self.redis.url, **self.extra_env}
        for number in range(self.count):
            workdir = self.workdir / f"instance-{number + 1}"
            workdir.mkdir(exist_ok=True)
            kwargs = {"model": self.model} if self.model else {}
            self.instances.append(Assistant(workdir, project=self.project, extra_env=env, **kwargs))
        for instance in self.instances:
            instance.start_actions()
        for instance in self.instances:  # loading a model takes a while: load them side by side
            instance.launch_rasa()
        for instance in self.instances:
            instance.wait_for_rasa()
        self.nginx = Nginx(self.workdir, [f"127.0.0.1:{i.rasa_port}" for i in self.instances]).start()
        return self

    @property
    def url(self) -> str:
        assert self.nginx is not None, "start the cluster first"
        return self.nginx.url

    def stop(self) -> None:
        if self.nginx:
            self.nginx.stop()
        for instance in self.instances:
            instance.stop()
        self.redis.stop()
        self.postgres.remove()

    def say(self, sender: str, message: str, timeout: float = 30, **extra) -> List[dict]:
        response = requests.post(
            self.url + "/webhooks/rest/webhook", json={"sender": sender, "message": message, **extra}, timeout=timeout
        )
        response.raise_for_status()
        return response.json()

    def stored_events(self, sender: str) -> List[dict]:
        """The conversation's events as PostgreSQL holds them, in order."""
        import json

        rows = self.postgres.query("SELECT data FROM events WHERE sender_id = %s ORDER BY id", sender)
        return [json.loads(data) for (data,) in rows]
