"""The compose stack, its nginx and the Dockerfile (deploy/). No Docker engine runs here, so these tests
check what can be checked without one:

  * the compose file against the Compose Specification's JSON schema, as written and after variable
    interpolation done the way `docker compose config` does it; the references `docker compose config`
    resolves (services, networks, volumes, health checks); and the safety rules: no secret has a
    value or a default, CORS names the clinic, only nginx publishes ports, images are pinned, the HTTP
    API is off, the backing services have no route out. nginx accepts the configuration compose gives it.
  * the Dockerfile: its base, its user, and that the image holds every product package and the model.
The Helm values are tests/test_deploy_helm.py's.

What they cannot tell: whether the images build and start (entrypoints, read-only root filesystems)
and whether the image tags exist.

The Compose Specification's compose-spec.json comes from the npm package dclint (web/package.json;
COMPOSE_SPEC_SCHEMA names another copy).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

import jsonschema
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

import settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / ".env.example"
DOCKERFILE = DEPLOY / "Dockerfile"
NGINX_TEMPLATE = DEPLOY / "nginx" / "knee-assistant.conf.template"
NGINX_COMPOSE = DEPLOY / "nginx" / "compose.conf"
DEFAULT_SCHEMA = ROOT / "web" / "node_modules" / "dclint" / "schemas" / "compose.schema.json"

RASA_SERVICES = ("rasa-1", "rasa-2")
# Settings that must never be optional: without them there is no safe default to fall back on.
MUST_BE_REQUIRED = {"CORS_ORIGINS", "POSTGRES_PASSWORD", "REDIS_PASSWORD"}
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|_KEY$|_SID$")
SECRET_REFERENCE = re.compile(r"^\$\{[A-Z][A-Z0-9_]*(:\?[^}]*|:-)\}$")
URL_PASSWORD = re.compile(r"://[^:@/\s]*:(?P<password>\$\{[^}]*\}|[^@\s]*)@")


# --- Compose variable interpolation ----------------------------------------------------------------


class MissingVariable(Exception):
    pass


# $$, ${NAME}, ${NAME<op>word} with op one of :- - :? ? :+ +, and bare $NAME: the Compose Specification's
# interpolation (no nesting, which the file does not use).
_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<word>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def variable_uses(text: str) -> Iterator[Tuple[str, Optional[str], str]]:
    """(name, operator, word) of every variable in a string; $$ is not one."""
    for match in _VARIABLE.finditer(text):
        if not match["escaped"]:
            yield match["name"] or match["bare"], match["op"], match["word"] or ""


def interpolate(value: Any, env: Dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: "re.Match[str]") -> str:
        if match["escaped"]:
            return "$"
        name = match["name"] or match["bare"]
        op, word, current = match["op"], match["word"] or "", env.get(name)
        if op in (":?", "?") and (current is None or (op == ":?" and current == "")):
            raise MissingVariable(f"{name}: {word}")
        if op == ":-":
            return current or word
        if op == "-":
            return word if current is None else current
        if op == ":+":
            return word if current else ""
        if op == "+":
            return "" if current is None else word
        return current or ""

    return _VARIABLE.sub(substitute, value)


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str):
        yield value


# --- Fixtures --------------------------------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="module")
def compose() -> Dict[str, Any]:
    return load_yaml(COMPOSE_FILE)


@pytest.fixture(scope="module")
def variables(compose) -> Dict[str, Set[Optional[str]]]:
    """Every variable the compose file uses, with the operators it is used with."""
    found: Dict[str, Set[Optional[str]]] = {}
    for text in strings(compose):
        for name, op, _ in variable_uses(text):
            found.setdefault(name, set()).add(op)
    return found


@pytest.fixture(scope="module")
def required(variables) -> Set[str]:
    return {name for name, ops in variables.items() if ":?" in ops}


@pytest.fixture(scope="module")
def resolved(compose, required) -> Dict[str, Any]:
    """The model `docker compose config` would print, with made-up values for the required variables."""
    env = {name: f"test-{name.lower()}" for name in required}
    env.update(
        KNEE_IMAGE_TAG="0.1.0",
        CORS_ORIGINS="https://www.clinic.example",
        RETENTION_DAYS="30",
        TLS_CERT_DIR="/etc/knee-assistant/tls",
        STAFF_INBOX_ALLOW="allow 10.1.0.0/16; deny all;",
    )
    return interpolate(compose, env)


@pytest.fixture(scope="module")
def services(resolved) -> Dict[str, Dict[str, Any]]:
    return resolved["services"]


@pytest.fixture(scope="module")
def compose_schema() -> Dict[str, Any]:
    path = Path(os.environ.get("COMPOSE_SPEC_SCHEMA", DEFAULT_SCHEMA))
    if not path.exists():
        pytest.fail(
            f"No Compose Specification schema at {path}: it comes from the npm package dclint, a "
            f"devDependency of web/package.json (`make install` installs it)."
        )
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema.get("title") == "Compose Specification", f"{path} is not the Compose Specification schema"
    return schema


def env_example() -> Dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def environment(service: Dict[str, Any]) -> Dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def command(service: Dict[str, Any]) -> str:
    value = service.get("command") or ""
    return " ".join(value) if isinstance(value, list) else value


# --- Compose: schema and references ----------------------------------------------------------------


def test_compose_file_matches_the_compose_specification(compose, resolved, compose_schema):
    validator = jsonschema.Draft7Validator(compose_schema)
    for name, document in (("as written", compose), ("interpolated", resolved)):
        errors = sorted(validator.iter_errors(document), key=lambda error: list(error.absolute_path))
        assert not errors, f"{name}:\n" + "\n".join(
            f"  {'/'.join(map(str, error.absolute_path))}: {error.message}" for error in errors
        )


def test_compose_references_resolve(resolved, services):
    """What `docker compose config` refuses beyond the schema: a dependency, network or volume that is not
    declared, a `service_healthy` dependency without a health check."""
    networks, volumes = set(resolved.get("networks") or {}), set(resolved.get("volumes") or {})
    for name, service in services.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            if condition.get("condition") == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits for {dependency}'s health check"
        assert set(service.get("networks") or []) <= networks, f"{name}: undeclared network"
        for mount in service.get("volumes") or []:
            source = mount.split(":")[0] if isinstance(mount, str) else mount.get("source", "")
            if not source.startswith(("/", ".", "$")):
                assert source in volumes, f"{name}: undeclared volume {source}"
            elif source.startswith("."):
                assert (COMPOSE_FILE.parent / source).exists(), f"{name}: {source} does not exist"


def test_compose_refuses_to_start_without_each_required_variable(compose, required):
    assert MUST_BE_REQUIRED <= required, f"optional but must be required: {MUST_BE_REQUIRED - required}"
    full = {name: "x" for name in required}
    interpolate(compose, full)
    for name in sorted(required):
        with pytest.raises(MissingVariable, match=name):
            interpolate(compose, {**full, name: ""})


def test_compose_variables_have_no_defaults(compose, variables):
    """A variable is either required (${VAR:?...}) or optional with an empty default (${VAR:-}): a value
    written into the file, secret or not, would run in production unnoticed."""
    for name, ops in variables.items():
        assert ops <= {":?", ":-"}, f"${{{name}}} is used with {ops}: use :? or an empty :-"
    defaults = {
        name: word for text in strings(compose) for name, op, word in variable_uses(text) if op == ":-" and word
    }
    assert not defaults, f"defaults in the compose file: {defaults}"


def test_env_example_documents_every_variable_and_holds_no_value(variables):
    example = env_example()
    assert set(example) == set(variables), (
        f"undocumented: {set(variables) - set(example)}; unused: {set(example) - set(variables)}"
    )
    filled = {name: value for name, value in example.items() if value}
    assert not filled, f".env.example must only have empty values: {filled}"
    assert ".env" in (DEPLOY / ".gitignore").read_text().split(), "deploy/.env must be git-ignored"


# --- Compose: safety -------------------------------------------------------------------------------


def test_no_literal_secrets_in_compose(compose):
    for name, service in compose["services"].items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key):
                assert SECRET_REFERENCE.match(value), f"{name}: {key} must be a variable, not a value"
            for match in URL_PASSWORD.finditer(value):
                password = match["password"]
                assert SECRET_REFERENCE.match(password) and ":?" in password, (
                    f"{name}: {key} must take its password from a required variable"
                )
        for option in re.finditer(r"--requirepass\s+\"?(\S+?)\"?(\s|$)", command(service)):
            reference = re.fullmatch(r"\$\$\{?([A-Z_]+)\}?", option[1])
            assert reference, f"{name}: --requirepass takes a literal"
            assert ":?" in environment(service).get(reference[1], ""), f"{name}: {reference[1]} not required"


def test_cors_is_the_clinics_origin(compose, services):
    for name in RASA_SERVICES:
        written = environment(compose["services"][name])["CORS_ORIGINS"]
        assert re.fullmatch(r"\$\{CORS_ORIGINS:\?[^}]+\}", written), f"{name}: CORS_ORIGINS must be required"
        assert "*" not in environment(services[name])["CORS_ORIGINS"]


def test_http_api_is_off(services):
    for name in RASA_SERVICES:
        env, cmd = environment(services[name]), command(services[name])
        assert "--enable-api" not in cmd and "rasa run" not in cmd, f"{name} must start scripts/rasa_server"
        assert "scripts.rasa_server" in cmd
        assert not {"RASA_API_TOKEN", "RASA_JWT_SECRET"} & set(env), (
            f"{name}: the HTTP API is meant to be off; if it is turned on, give it a required token and "
            f"change this test"
        )


def test_only_nginx_publishes_ports(services):
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"nginx"}
    for port in services["nginx"]["ports"]:
        assert str(port).split(":")[-1] in {"8080", "8443"}


def test_images_are_pinned(compose, services):
    for name, service in services.items():
        image = service["image"]
        if re.search(r"@sha256:[0-9a-f]{64}$", image):
            continue
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest", f"{name}: {image}"
        written_tag = compose["services"][name]["image"].split(":", 1)[1]
        if "$" in written_tag:
            assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", written_tag), f"{name}: the tag must be required"
        else:
            assert re.fullmatch(r"\d+(\.\d+)+(-[a-z0-9.]+)*", written_tag), f"{name}: pin a version: {image}"


def test_backing_services_have_no_route_out(resolved, services):
    internal = {name for name, network in (resolved.get("networks") or {}).items() if (network or {}).get("internal")}
    assert internal, "no internal network"
    for name in ("postgres", "redis", "actions", "retention"):
        assert set(services[name]["networks"]) <= internal, f"{name} must be on internal networks only"


def test_rasa_instances_share_the_stores(services):
    first, second = (environment(services[name]) for name in RASA_SERVICES)
    assert first == second and services["rasa-1"]["image"] == services["rasa-2"]["image"]
    assert first["DATABASE_URL"].startswith("postgresql://") and "@postgres:" in first["DATABASE_URL"]
    assert first["REDIS_URL"].startswith("redis://") and "@redis:" in first["REDIS_URL"]
    assert first["ACTIONS_URL"] == "http://actions:5055/webhook"
    assert ipaddress.ip_address(first["RASA_INTERFACE"]).is_unspecified


def test_long_running_services_restart_and_report_health(services):
    for name, service in services.items():
        assert service.get("restart") in {"unless-stopped", "always"}, f"{name}: restart policy"
        if name != "retention":  # a loop with nothing to ask; its failures are in its log
            assert service.get("healthcheck", {}).get("test"), f"{name}: health check"


def test_our_containers_are_unprivileged_and_read_only(services):
    for name in (*RASA_SERVICES, "actions", "retention", "nginx", "redis"):
        service = services[name]
        assert service.get("read_only") is True, f"{name}: read-only root filesystem"
        assert "ALL" in (service.get("cap_drop") or []), f"{name}: capabilities"
        assert "no-new-privileges:true" in (service.get("security_opt") or []), name
    for name in (*RASA_SERVICES, "actions", "retention"):
        assert services[name]["user"].split(":")[0] not in {"0", "root"}


def test_retention_runs_daily(services):
    cmd = command(services["retention"])
    assert "python -m privacy.retention" in cmd and "sleep 86400" in cmd
    assert environment(services["retention"])["RETENTION_DAYS"].isdigit()


def test_redis_keeps_nothing_on_disk(services):
    cmd = command(services["redis"])
    assert "--save ''" in cmd and "--appendonly no" in cmd


# --- nginx -----------------------------------------------------------------------------------------


def render_template(template: str, env: Dict[str, str]) -> str:
    """As the nginx image's envsubst step: names defined in the environment are replaced, nginx's own
    $names are left."""
    return re.sub(
        r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: env[m.group(1)] if m.group(1) in env else m.group(0), template
    )


def test_nginx_routes_socketio_by_session_and_webhooks_to_any_instance(services):
    site = render_template(NGINX_TEMPLATE.read_text(), environment(services["nginx"]))
    upstreams = dict(re.findall(r"upstream (\w+) \{(.*?)\}", site, re.S))
    from harness.services import WEBHOOK_CONNECTIONS

    # Webhook requests at one instance at once: above the guard's bound, and what the tests run with.
    assert WEBHOOK_CONNECTIONS > settings.integer("MAX_TURNS_IN_FLIGHT", env={})
    for name in RASA_SERVICES:  # see the template on max_fails and max_conns
        assert f"server {name}:5005 max_fails=0;" in upstreams["rasa_socketio"]
        assert f"server {name}:5005 max_fails=0 max_conns={WEBHOOK_CONNECTIONS};" in upstreams["rasa_webhooks"]
    assert "zone rasa_webhooks" in upstreams["rasa_webhooks"]  # one count for all workers
    assert re.search(r"hash \$(\w+) consistent;", upstreams["rasa_socketio"])
    assert "hash" not in upstreams["rasa_webhooks"]
    assert re.search(r"map \$arg_knee_session \$\w+ \{\s*\"\"\s+\$remote_addr;", site)
    # The same parameter name the widget sends.
    assert "knee_session" in (ROOT / "web" / "widget" / "knee-chat.js").read_text()
    proxied = dict(re.findall(r"location ([^{]+?)\s*\{[^}]*?proxy_pass http://(\w+);", site))
    assert proxied.get("/socket.io/") == "rasa_socketio" and proxied.get("/webhooks/") == "rasa_webhooks"
    assert proxied.get("/staff/") == "staff_inbox" and "server inbox:5010;" in upstreams["staff_inbox"]
    assert proxied.get("= /staff/sign-in") == "staff_inbox"
    allowed = set(proxied) <= {"/socket.io/", "/webhooks/", "/staff/", "= /staff/sign-in", "= /"}
    assert allowed, f"nothing else is proxied: {proxied}"
    # Every way into the inbox is limited to the networks the deployment names.
    for block in re.findall(r"location [^{]*/staff/[^{]*\{[^}]*\}", NGINX_TEMPLATE.read_text()):
        assert "${STAFF_INBOX_ALLOW}" in block, block
    assert environment(services["nginx"])["NGINX_LISTEN"].endswith(" ssl")


def test_nginx_accepts_the_compose_configuration(tmp_path, services):
    """`nginx -t` on what the nginx container gets. Two substitutions, for this machine: the upstream
    names (Docker's DNS) become 127.0.0.1, and the certificate is a throwaway one."""
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not nginx:
        pytest.skip("nginx is not installed (scripts/install_services.sh installs it)")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "chat.clinic.example")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    tls = tmp_path / "tls"
    tls.mkdir()
    (tls / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tls / "privkey.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )

    env = environment(services["nginx"])
    site = "\n".join(render_template(path.read_text(), env) for path in (NGINX_TEMPLATE, NGINX_COMPOSE))
    site = re.sub(r"\b(rasa-\d+|inbox):", "127.0.0.1:", site).replace("/etc/nginx/tls/", f"{tls}/")
    temps = "\n".join(
        f"{kind}_temp_path {tmp_path}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\nhttp {{\n{temps}\n{site}\n}}\n")
    result = subprocess.run(
        [nginx, "-t", "-q", "-e", "stderr", "-p", str(tmp_path), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr


# --- Dockerfile ------------------------------------------------------------------------------------


def dockerfile_instructions() -> List[Tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def test_dockerfile_base_and_user():
    instructions = dockerfile_instructions()
    bases = [argument for instruction, argument in instructions if instruction == "FROM"]
    assert len(bases) == 1, bases
    assert re.fullmatch(r"python:3\.10\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", bases[0]), bases
    user = [argument for instruction, argument in instructions if instruction == "USER"][-1]
    assert user.split(":")[0] not in {"0", "root"}
    workdir = [argument for instruction, argument in instructions if instruction == "WORKDIR"][-1]
    assert not workdir.startswith("/app"), "the rasa chart mounts its own files over /app/"
    install = " ".join(argument for instruction, argument in instructions if instruction == "RUN")
    assert "pip install --no-deps" in install and "requirements/lock.txt" in install


def test_image_holds_every_package_and_the_model():
    copied = set()
    for instruction, argument in dockerfile_instructions():
        if instruction == "COPY":
            copied.update(argument.split()[:-1])
    # tests/ and harness/ (what tests and tools share) are not the product.
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests", "harness"}
    assert packages <= copied, f"not in the image: {packages - copied}"
    assert {"domain", "endpoints.yml", "credentials.yml", "models/knee-assistant.tar.gz"} <= copied


def test_commands_name_modules_that_exist(services):
    for name, service in services.items():
        for module in re.findall(r"python -m ([\w.]+)", command(service)):
            path = ROOT / module.replace(".", "/")
            assert path.with_suffix(".py").exists() or (path / "__main__.py").exists(), f"{name}: no module {module}"
