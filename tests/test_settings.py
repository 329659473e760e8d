"""One place for the environment's defaults (settings/): the product reads them from there, and every
file that mirrors a default (Makefile, scripts/run.sh, compose, Helm) agrees with it."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, Iterator, Tuple

import pytest
import yaml

import settings
from tests.conftest import ROOT
from tests.test_deploy_helm import env_entries

PRODUCT = ["actions", "channels", "clinical", "components", "nlp", "privacy", "staff_inbox", "stores"]
LAUNCHERS = ["scripts/rasa_server.py", "scripts/action_server.py"]
# Environment variables the product reads that are not ours to default.
NOT_OURS = {"MALLOC_MMAP_THRESHOLD_": "glibc's own setting; scripts/rasa_server.py only checks it is unset"}
# Where make run sets a value other than the default on purpose.
LAUNCHER_CHOICES = {"CORS_ORIGINS": "make run serves the demo clinic page from WEB_PORT, another origin"}
# Where a deployment file sets a value other than the default on purpose.
DEPLOYMENT_CHOICES = {
    "RASA_INTERFACE": "a container listens on its own network interface, 0.0.0.0",
    "ACTIONS_INTERFACE": "a container listens on its own network interface, 0.0.0.0",
    "STAFF_INBOX_INTERFACE": "a container listens on its own network interface, 0.0.0.0",
    "ACTIONS_URL": "the action server's service name in compose or Kubernetes",
    "CORS_ORIGINS": "the clinic's website",
    "TWILIO_WEBHOOK_URL": "the public address of the clinic's server",
    "TELEGRAM_WEBHOOK_URL": "the public address of the clinic's server",
    "DATABASE_URL": "PostgreSQL in production",
    "REDIS_URL": "Redis in production",
}
# Variables the deployment files pass that are for the containers, not for our code.
DEPLOYMENT_ONLY = {
    "KNEE_IMAGE_TAG",
    "TLS_CERT_DIR",
    "POSTGRES_PASSWORD",
    "REDIS_PASSWORD",
    "RASA_SERVERS",
    "RASA_WEBHOOK_SERVERS",
    "NGINX_LISTEN",
    "STAFF_INBOX_SERVERS",
    "STAFF_INBOX_ALLOW",
    "POSTGRES_USER",
    "POSTGRES_DB",
    "POSTGRES_INITDB_ARGS",
    "TZ",
}


def product_files() -> Iterator[Path]:
    for package in PRODUCT:
        yield from sorted((ROOT / package).rglob("*.py"))
    for launcher in LAUNCHERS:
        yield ROOT / launcher


def environment_reads(path: Path) -> Iterator[Tuple[int, str]]:
    """(line, how) of every read of the process environment in a module: os.environ.get(...),
    os.getenv(...), os.environ[...] as a value, and `"NAME" in os.environ`."""

    def is_environ(node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Attribute)
            and node.attr == "environ"
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        )

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "get" and is_environ(node.func.value):
                yield node.lineno, ast.unparse(node)
            elif node.func.attr == "getenv":
                yield node.lineno, ast.unparse(node)
        elif isinstance(node, ast.Subscript) and is_environ(node.value) and isinstance(node.ctx, ast.Load):
            yield node.lineno, ast.unparse(node)
        elif isinstance(node, ast.Compare) and any(is_environ(c) for c in node.comparators):
            yield node.lineno, ast.unparse(node)


def test_the_product_reads_the_environment_only_through_settings():
    stray = [
        f"{path.relative_to(ROOT)}:{line}: {how}"
        for path in product_files()
        for line, how in environment_reads(path)
        if not any(name in how for name in NOT_OURS)
    ]
    assert stray == []


def test_the_check_finds_environment_reads(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        'import os\na = os.environ.get("A", "1")\nb = os.getenv("B")\nc = os.environ["C"]\n'
        'd = "D" in os.environ\nos.environ["E"] = "5"\n'
    )
    assert [line for line, _ in environment_reads(module)] == [2, 3, 4, 5]


def test_every_default_is_valid_for_its_reader():
    for name in ("MAX_MESSAGE_CHARS", "RASA_PORT", "ACTIONS_PORT"):
        assert settings.integer(name, {}) > 0
    for name in (
        "TURN_DEADLINE_SECONDS",
        "ACTION_TIMEOUT_SECONDS",
        "DB_RETRY_SECONDS",
        "REDIS_RETRY_SECONDS",
        "LOCK_POLL_SECONDS",
        "RETENTION_DAYS",
    ):
        assert settings.seconds(name, {}) > 0
    assert settings.SETTINGS["ACTIONS_URL"].default == f"http://127.0.0.1:{settings.text('ACTIONS_PORT', {})}/webhook"


def test_a_value_in_the_environment_wins_and_empty_means_unset():
    assert settings.text("RASA_PORT", {"RASA_PORT": "6000"}) == "6000"
    assert settings.text("RASA_PORT", {"RASA_PORT": "  "}) == "5005"
    assert settings.optional("REDIS_URL", {}) is None
    assert settings.optional("REDIS_URL", {"REDIS_URL": "redis://r:6379/0"}) == "redis://r:6379/0"
    with pytest.raises(KeyError):
        settings.text("REDIS_URL", {})
    with pytest.raises(KeyError):
        settings.text("NOT_A_SETTING", {})


def test_secrets_have_no_default():
    assert [s.name for s in settings.SETTINGS.values() if s.secret and s.default is not None] == []


# ---------------------------------------------------------------------------------------------------
# The mirrors
# ---------------------------------------------------------------------------------------------------
def makefile_defaults() -> Dict[str, str]:
    text = (ROOT / "Makefile").read_text()
    return dict(re.findall(r"^export (\w+)\s*\?=\s*(.+?)\s*$", text, flags=re.M))


def run_sh_defaults() -> Dict[str, str]:
    text = (ROOT / "scripts" / "run.sh").read_text()
    return dict(re.findall(r'"\$\{(\w+):=([^}"]*)\}"', text))


def resolved(value: str, mirror: Dict[str, str]) -> str:
    """$(NAME) (make) or $NAME (shell) replaced by the mirror's own value of NAME."""
    return re.sub(r"\$\(?(\w+)\)?", lambda m: mirror.get(m.group(1), m.group(0)), value)


@pytest.mark.parametrize("mirror", [makefile_defaults, run_sh_defaults], ids=["Makefile", "scripts/run.sh"])
def test_the_launchers_mirror_the_defaults(mirror):
    defaults = mirror()
    ours = {
        name: resolved(value, defaults)
        for name, value in defaults.items()
        if name in settings.SETTINGS and name not in LAUNCHER_CHOICES
    }
    assert {"RASA_PORT", "ACTIONS_PORT", "TRACKER_DB"} <= set(ours)
    assert ours == {name: settings.SETTINGS[name].default for name in ours}


def compose_environments() -> Iterator[Tuple[str, str, str]]:
    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
    for service, spec in compose["services"].items():
        for name, value in (spec.get("environment") or {}).items():
            yield f"compose {service}", name, str(value)


def helm_environments() -> Iterator[Tuple[str, str, str]]:
    for path in sorted((ROOT / "deploy" / "helm").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            for entry in env_entries(document):
                yield path.name, entry["name"], str(entry["value"]) if "value" in entry else "<from a secret>"


def deployment_environments():
    return [*compose_environments(), *helm_environments()]


def test_the_deployment_files_name_only_known_settings():
    unknown = sorted(
        {
            (where, name)
            for where, name, _ in deployment_environments()
            if name not in settings.SETTINGS and name not in DEPLOYMENT_ONLY
        }
    )
    assert unknown == []


def test_the_deployment_files_keep_the_defaults_or_say_why_not():
    found = deployment_environments()
    assert {"RASA_PORT", "ACTIONS_PORT", "MODEL", "RETENTION_DAYS"} <= {name for _, name, _ in found}
    differing = sorted(
        (where, name, value)
        for where, name, value in found
        if name in settings.SETTINGS
        and name not in DEPLOYMENT_CHOICES
        and not value.startswith("${")
        and value != "<from a secret>"
        and value != settings.SETTINGS[name].default
    )
    assert differing == []
