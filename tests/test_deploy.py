"""The deployment files (deploy/): the compose stack, the Dockerfile and the Helm values for RasaHQ's
charts. None of it can run here (no Docker engine, no cluster, no helm), so these tests check what can
be checked without them:

  * compose: the file against the Compose Specification's JSON schema, as written and after variable
    interpolation done the way `docker compose config` does it; the references `docker compose config`
    resolves (services, networks, volumes, health checks); and the safety rules: no secret has a
    value or a default, CORS names the clinic, only nginx publishes ports, images are pinned, the HTTP
    API is off, the backing services have no route out. nginx accepts the configuration compose gives it.
  * Helm: every key set is a key of the chart version the values name (the lists below were transcribed
    from those versions' values.yaml, as neither the charts nor helm come from a package registry), and
    the same safety rules. The plain manifests, and the Kubernetes objects the values are placed into
    (a Deployment and an Ingress assembled here the way the charts' templates use the values), are
    checked against the Kubernetes API's schemas, strictly: an unknown field fails.

What they cannot tell: whether the images build and start (Dockerfile, entrypoints, read-only root
filesystems), whether the image tags exist, what `helm template` really renders (the rasa chart is only
on helm.rasa.com), and anything a cluster's admission would add (Pod Security, quotas).

Schemas, from package registries: the Compose Specification's compose-spec.json as shipped by the npm
package dclint (web/package.json; COMPOSE_SPEC_SCHEMA names another copy), and the Kubernetes API's
JSON schemas as shipped by the PyPI package kubernetes-validate (pyproject's `test` extra).
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

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / ".env.example"
DOCKERFILE = DEPLOY / "Dockerfile"
NGINX_TEMPLATE = DEPLOY / "nginx" / "knee-assistant.conf.template"
NGINX_COMPOSE = DEPLOY / "nginx" / "compose.conf"
HELM = DEPLOY / "helm"
RASA_VALUES = HELM / "rasa-values.yaml"
ACTION_VALUES = HELM / "rasa-action-server-values.yaml"
WEBHOOKS = HELM / "rasa-webhooks.yaml"
CRONJOB = HELM / "retention-cronjob.yaml"
DEFAULT_SCHEMA = ROOT / "web" / "node_modules" / "dclint" / "schemas" / "compose.schema.json"
# The newest Kubernetes version kubernetes-validate 1.28.0 has schemas for (later releases of it need a
# jsonschema newer than the one Rasa 3.6 allows).
KUBERNETES_VERSION = "1.28.0"

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
_VARIABLE = re.compile(r"\$(?:(?P<escaped>\$)"
                       r"|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<word>[^}]*))?\}"
                       r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")


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
    env.update(KNEE_IMAGE_TAG="0.1.0", CORS_ORIGINS="https://www.clinic.example", RETENTION_DAYS="30",
               TLS_CERT_DIR="/etc/knee-assistant/tls")
    return interpolate(compose, env)


@pytest.fixture(scope="module")
def services(resolved) -> Dict[str, Dict[str, Any]]:
    return resolved["services"]


@pytest.fixture(scope="module")
def compose_schema() -> Dict[str, Any]:
    path = Path(os.environ.get("COMPOSE_SPEC_SCHEMA", DEFAULT_SCHEMA))
    if not path.exists():
        pytest.fail(f"No Compose Specification schema at {path}: it comes from the npm package dclint, a "
                    f"devDependency of web/package.json (`make install` installs it).")
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
            f"  {'/'.join(map(str, error.absolute_path))}: {error.message}" for error in errors)


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
    defaults = {name: word for text in strings(compose) for name, op, word in variable_uses(text)
                if op == ":-" and word}
    assert not defaults, f"defaults in the compose file: {defaults}"


def test_env_example_documents_every_variable_and_holds_no_value(variables):
    example = env_example()
    assert set(example) == set(variables), (
        f"undocumented: {set(variables) - set(example)}; unused: {set(example) - set(variables)}")
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
                    f"{name}: {key} must take its password from a required variable")
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
            f"change this test")


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
    internal = {name for name, network in (resolved.get("networks") or {}).items()
                if (network or {}).get("internal")}
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
    return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?",
                  lambda m: env[m.group(1)] if m.group(1) in env else m.group(0), template)


def test_nginx_routes_socketio_by_session_and_webhooks_to_any_instance(services):
    site = render_template(NGINX_TEMPLATE.read_text(), environment(services["nginx"]))
    upstreams = dict(re.findall(r"upstream (\w+) \{(.*?)\}", site, re.S))
    for name in RASA_SERVICES:
        for upstream in ("rasa_socketio", "rasa_webhooks"):
            assert f"server {name}:5005 max_fails=0;" in upstreams[upstream]  # see the template on max_fails
    assert re.search(r"hash \$(\w+) consistent;", upstreams["rasa_socketio"])
    assert "hash" not in upstreams["rasa_webhooks"]
    assert re.search(r"map \$arg_knee_session \$\w+ \{\s*\"\"\s+\$remote_addr;", site)
    # The same parameter name the widget sends.
    assert "knee_session" in (ROOT / "web" / "widget" / "knee-chat.js").read_text()
    proxied = dict(re.findall(r"location ([^{]+?)\s*\{[^}]*?proxy_pass http://(\w+);", site))
    assert proxied.get("/socket.io/") == "rasa_socketio" and proxied.get("/webhooks/") == "rasa_webhooks"
    assert set(proxied) <= {"/socket.io/", "/webhooks/", "= /"}, f"nothing else is proxied: {proxied}"
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
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    tls = tmp_path / "tls"
    tls.mkdir()
    (tls / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tls / "privkey.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

    env = environment(services["nginx"])
    site = "\n".join(render_template(path.read_text(), env) for path in (NGINX_TEMPLATE, NGINX_COMPOSE))
    site = re.sub(r"\brasa-\d+:", "127.0.0.1:", site).replace("/etc/nginx/tls/", f"{tls}/")
    temps = "\n".join(f"{kind}_temp_path {tmp_path}/{kind};"
                      for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
                    f"http {{\n{temps}\n{site}\n}}\n")
    result = subprocess.run([nginx, "-t", "-q", "-e", "stderr", "-p", str(tmp_path), "-c", str(conf)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


# --- Dockerfile ------------------------------------------------------------------------------------

def dockerfile_instructions() -> List[Tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
            for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


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
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests"}
    assert packages <= copied, f"not in the image: {packages - copied}"
    assert {"domain", "endpoints.yml", "credentials.yml", "models/knee-assistant.tar.gz"} <= copied


def test_commands_name_modules_that_exist(services):
    for name, service in services.items():
        for module in re.findall(r"python -m ([\w.]+)", command(service)):
            assert (ROOT / (module.replace(".", "/") + ".py")).exists(), f"{name}: no module {module}"


# --- Helm ------------------------------------------------------------------------------------------

def _expand(*groups: str) -> Set[str]:
    """"a.{b,c} d" -> {"a.b", "a.c", "d"}."""
    keys: Set[str] = set()
    for group in groups:
        for item in group.split():
            match = re.fullmatch(r"(.*)\{(.*)\}", item)
            keys.update(f"{match[1]}{part}" for part in match[2].split(",")) if match else keys.add(item)
    return keys


_PROBE = ("httpGet.{path,port,scheme} "
          "{initialDelaySeconds,periodSeconds,successThreshold,timeoutSeconds,failureThreshold}")


def _probe(prefix: str) -> str:
    return " ".join(f"{prefix}.{item}" for item in _PROBE.split())


# rasa 1.17.3, charts/rasa/values.yaml. A key whose value is free-form (Kubernetes objects, maps of
# annotations or labels, lists) is a leaf here: anything under it is the user's.
RASA_CHART_KEYS = _expand(
    "nameOverride fullnameOverride registry replicaCount args extraArgs command extraEnv",
    "applicationSettings.{debugMode,initialModel,trainInitialModel,port,scheme,token,cors,enableAPI}",
    "applicationSettings.credentials.{enabled,additionalChannelCredentials}",
    "applicationSettings.telemetry.enabled",
    "applicationSettings.endpoints.models.{enabled,url,token,waitTimeBetweenPulls}",
    "applicationSettings.endpoints.models.useRasaXasModelServer.{enabled,tag}",
    "applicationSettings.endpoints.trackerStore.{enabled,type,dialect,url,port,username,password,db,login_db}",
    "applicationSettings.endpoints.lockStore.{enabled,type,url,port,password,db}",
    "applicationSettings.endpoints.eventBroker.{enabled,type,url,username,password,port,queues}",
    "applicationSettings.endpoints.action.endpointURL applicationSettings.endpoints.additionalEndpoints",
    "applicationSettings.rasaX.{enabled,token,url,useConfigEndpoint}",
    "networkPolicy.{enabled,denyAll}",
    "image.{name,tag,repository,pullPolicy,pullSecrets}",
    "serviceAccount.{create,annotations,name}",
    "podAnnotations podLabels deploymentAnnotations deploymentLabels podSecurityContext securityContext",
    "service.{type,port,annotations,nodePort,loadBalancerIP,externalTrafficPolicy}",
    "ingress.{enabled,annotations,labels,pathType,path,hostname,tls,extraPaths}",
    "resources autoscaling.{enabled,minReplicas,maxReplicas,targetCPUUtilizationPercentage}",
    "nodeSelector tolerations affinity strategy.type strategy.rollingUpdate.{maxSurge,maxUnavailable}",
    _probe("livenessProbe"), _probe("readinessProbe"),
    "initContainers extraContainers volumes volumeMounts",
    "global.postgresql.{postgresqlUsername,postgresqlPassword,existingSecret,postgresqlDatabase,servicePort}",
    "global.redis.password",
    "postgresql.install postgresql.external.{enabled,host}",
    "redis.install redis.replica.replicaCount redis.auth.password redis.external.{enabled,host}",
    "rabbitmq.install rabbitmq.auth.{username,password,existingPasswordSecret,erlangCookie}",
    "rabbitmq.external.{enabled,host}",
    "nginx.{enabled,port,resources,securityContext,customConfiguration} nginx.image.{name,tag}",
    _probe("nginx.livenessProbe"), _probe("nginx.readinessProbe"),
    "nginx.tls.{enabled,port,generateSelfSignedCert,certificateSecret}",
    "rasa-action-server.install rasa-action-server.external.{enabled,url}",
    "duckling.install duckling.external.{enabled,url}",
)

# rasa-action-server 1.0.2 (charts/rasa-action-server/values.yaml; 1.0.3's README lists the same keys).
ACTION_CHART_KEYS = _expand(
    "nameOverride fullnameOverride registry replicaCount args command extraEnv",
    "applicationSettings.{port,scheme}",
    "image.{name,tag,repository,pullPolicy,pullSecrets}",
    "serviceAccount.{create,annotations,name}",
    "podAnnotations podLabels deploymentAnnotations deploymentLabels podSecurityContext securityContext",
    "service.{type,port,annotations,nodePort,loadBalancerIP,externalTrafficPolicy}",
    "ingress.{enabled,annotations,labels,pathType,path,hostname,tls,extraPaths}",
    "resources autoscaling.{enabled,minReplicas,maxReplicas,targetCPUUtilizationPercentage}",
    "nodeSelector tolerations affinity strategy.type strategy.rollingUpdate.{maxSurge,maxUnavailable}",
    _probe("livenessProbe"), _probe("readinessProbe"),
    "initContainers volumes volumeMounts",
)

# Default secrets the rasa chart ships (rendered into its Secret, or subcharts' passwords), and the
# string its Secret holds for an empty one: none may appear in the values.
CHART_DEFAULT_SECRETS = {"rasaToken", "rasaXToken", "redis-password", "erlangCookie", "UNSET"}


def unknown_keys(values: Dict[str, Any], chart_keys: Set[str], prefix: str = "") -> List[str]:
    unknown = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if path in chart_keys:
            continue
        if isinstance(value, dict) and any(known.startswith(path + ".") for known in chart_keys):
            unknown += unknown_keys(value, chart_keys, path + ".")
        else:
            unknown.append(path)
    return unknown


@pytest.fixture(scope="module")
def kubernetes_schema():
    """validate(object): the object against the Kubernetes API's schema, unknown fields refused."""
    try:
        from kubernetes_validate import utils
    except ImportError:
        pytest.fail("kubernetes-validate, the Kubernetes API's JSON schemas, is a test dependency "
                    "(pyproject's `test` extra)")

    def validate(document: Dict[str, Any]) -> None:
        try:
            utils.validate(document, KUBERNETES_VERSION, strict=True)
            return
        except jsonschema.ValidationError as error:
            problem = f"{document['kind']} {'/'.join(map(str, error.absolute_path))}: {error.message}"
        pytest.fail(problem, pytrace=False)

    return validate


def chart_deployment(values: Dict[str, Any]) -> Dict[str, Any]:
    """Where the charts' deployment template puts these values (the chart's own env, volumes and labels
    left out). The probes are partial: the chart merges them into its own."""
    container = {
        "name": "app", "image": f"{values['image']['repository']}:{values['image']['tag']}",
        "imagePullPolicy": values["image"]["pullPolicy"], "command": values["command"], "args": values["args"],
        "ports": [{"name": "http", "containerPort": values["applicationSettings"]["port"], "protocol": "TCP"}],
        "env": values.get("extraEnv", []), "resources": values["resources"],
        "securityContext": values["securityContext"], "volumeMounts": values.get("volumeMounts", []),
        **{probe: values[probe] for probe in ("livenessProbe", "readinessProbe") if probe in values},
    }
    pod = {"securityContext": values["podSecurityContext"], "containers": [container],
           "volumes": values.get("volumes", [])}
    if "affinity" in values:
        pod["affinity"] = values["affinity"]
    labels = {"app.kubernetes.io/name": "app"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app"},
            "spec": {"replicas": values["replicaCount"], "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": pod}}}


def chart_ingress(values: Dict[str, Any]) -> Dict[str, Any]:
    """The rasa chart's ingress template, with these values."""
    ingress = values["ingress"]
    path = {"path": ingress["path"], "pathType": ingress["pathType"],
            "backend": {"service": {"name": "knee-assistant-rasa", "port": {"name": "http"}}}}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "knee-assistant-rasa-api", "annotations": ingress["annotations"]},
            "spec": {"tls": ingress["tls"],
                     "rules": [{"host": ingress["hostname"], "http": {"paths": [path]}}]}}


@pytest.fixture(scope="module")
def rasa_values() -> Dict[str, Any]:
    return load_yaml(RASA_VALUES)


@pytest.fixture(scope="module")
def action_values() -> Dict[str, Any]:
    return load_yaml(ACTION_VALUES)


def env_list(values: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    return {item["name"]: item for item in values.get("extraEnv") or []}


@pytest.mark.parametrize("path,keys", [(RASA_VALUES, RASA_CHART_KEYS), (ACTION_VALUES, ACTION_CHART_KEYS)],
                         ids=["rasa", "rasa-action-server"])
def test_helm_values_only_set_keys_the_chart_has(path, keys):
    assert unknown_keys(load_yaml(path), keys) == [], f"{path.name}: not keys of the chart (helm ignores them)"


def test_helm_chart_tokens_are_emptied_and_unused(rasa_values):
    """The chart's own Secret takes these from values, defaulting to well-known strings."""
    settings = rasa_values["applicationSettings"]
    assert settings["token"] == settings["rasaX"]["token"] == settings["endpoints"]["models"]["token"] == ""
    uncommented = "\n".join(line.split("#")[0] for line in RASA_VALUES.read_text().splitlines())
    for default in CHART_DEFAULT_SECRETS:
        assert default not in uncommented, f"chart default {default!r} in the values"
    # Our command line, not the chart's (which passes $(RASA_TOKEN) and $(JWT_SECRET)).
    assert rasa_values["args"] and rasa_values["command"]
    cmd = " ".join(rasa_values["command"] + rasa_values["args"])
    assert cmd == "python -m scripts.rasa_server"
    assert not re.search(r"enable-api|auth-token|jwt-secret|\$\(", cmd)


def test_helm_http_api_is_off_and_cors_names_the_clinic(rasa_values):
    settings, env = rasa_values["applicationSettings"], env_list(rasa_values)
    assert settings["enableAPI"] is False
    assert not {"RASA_API_TOKEN", "RASA_JWT_SECRET"} & set(env), "the API is meant to be off"
    origins = env["CORS_ORIGINS"]["value"].split()
    assert origins and all(re.fullmatch(r"https://[a-z0-9.-]+(:\d+)?", origin) for origin in origins)
    assert settings["cors"] != "*" and "*" not in origins


@pytest.mark.parametrize("path", [RASA_VALUES, ACTION_VALUES, CRONJOB], ids=lambda p: p.name)
def test_helm_secrets_come_from_kubernetes_secrets(path):
    for document in yaml.safe_load_all(path.read_text()):
        for env in _env_entries(document):
            if SECRET_NAME.search(env["name"]) or env["name"] in {"DATABASE_URL", "REDIS_URL"}:
                assert "value" not in env, f"{path.name}: {env['name']} is a literal"
                assert env["valueFrom"]["secretKeyRef"]["name"] == "knee-assistant"


def _env_entries(node: Any) -> Iterator[Dict[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in {"env", "extraEnv"} and isinstance(value, list):
                yield from value
            else:
                yield from _env_entries(value)
    elif isinstance(node, list):
        for item in node:
            yield from _env_entries(item)


def test_helm_uses_external_stores_and_no_subcharts(rasa_values):
    for subchart in ("postgresql", "redis", "rabbitmq"):
        assert rasa_values[subchart]["install"] is False
    assert rasa_values["applicationSettings"]["initialModel"] == "", "the chart would download a demo model"
    assert rasa_values["nginx"]["enabled"] is False
    env = env_list(rasa_values)
    assert {"DATABASE_URL", "REDIS_URL"} <= set(env)


def test_helm_replicas_resources_and_security(rasa_values, action_values):
    assert rasa_values["replicaCount"] >= 2 and action_values["replicaCount"] >= 1
    memory = {"Mi": 1, "Gi": 1024}
    limit = rasa_values["resources"]["limits"]["memory"]
    assert int(limit[:-2]) * memory[limit[-2:]] >= 1.3 * 0.9 * 1024, "measured RSS is about 0.9 GiB"
    for values in (rasa_values, action_values):
        assert values["resources"]["requests"] and values["resources"]["limits"]
        assert values["securityContext"]["readOnlyRootFilesystem"] is True
        assert values["securityContext"]["allowPrivilegeEscalation"] is False
        assert values["podSecurityContext"]["runAsNonRoot"] is True
        assert {"name": "tmp", "mountPath": "/tmp"} in values["volumeMounts"]


def test_helm_images_are_pinned_and_the_same(rasa_values, action_values):
    images = {f"{values['image']['repository']}:{values['image']['tag']}"
              for values in (rasa_values, action_values)}
    cron = yaml.safe_load(CRONJOB.read_text())
    images.add(cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"])
    assert len(images) == 1, images
    assert re.fullmatch(r"[\w./-]+:\d+(\.\d+)+", images.pop())


def test_helm_ingress_hashes_socketio_sessions(rasa_values):
    ingress = rasa_values["ingress"]
    assert ingress["enabled"] and ingress["path"] == "/socket.io"
    assert ingress["annotations"]["nginx.ingress.kubernetes.io/upstream-hash-by"] == "$arg_knee_session"
    assert ingress["tls"]


def test_helm_webhooks_go_round_robin_to_the_same_pods(rasa_values):
    service, ingress = yaml.safe_load_all(WEBHOOKS.read_text())
    # The chart's selector labels: its name (no nameOverride) and the release name of the install command.
    assert "nameOverride" not in rasa_values
    release = re.search(r"helm install (\S+) rasa/rasa ", RASA_VALUES.read_text())[1]
    selector = service["spec"]["selector"]
    assert selector == {"app.kubernetes.io/name": "rasa", "app.kubernetes.io/instance": release}
    [spread] = rasa_values["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert spread["podAffinityTerm"]["labelSelector"]["matchLabels"] == selector
    assert not any("upstream-hash-by" in key for key in ingress["metadata"].get("annotations", {}))
    [rule] = ingress["spec"]["rules"]
    assert rule["host"] == rasa_values["ingress"]["hostname"]
    paths = {item["path"]: item["backend"]["service"]["name"] for item in rule["http"]["paths"]}
    assert paths == {"/webhooks/": service["metadata"]["name"]}


def test_helm_rasa_finds_the_action_server(rasa_values, action_values):
    url = env_list(rasa_values)["ACTIONS_URL"]["value"]
    assert url == f"http://{action_values['fullnameOverride']}/webhook"  # the chart's Service listens on 80
    assert " ".join(action_values["command"] + action_values["args"]) == "python -m scripts.action_server"
    assert {"name": "ACTIONS_PORT", "value": "5055"} in action_values["extraEnv"]
    assert action_values["applicationSettings"]["port"] == 5055


def test_helm_retention_runs_daily():
    cron = yaml.safe_load(CRONJOB.read_text())
    minute, hour, *rest = cron["spec"]["schedule"].split()
    assert minute.isdigit() and hour.isdigit() and rest == ["*", "*", "*"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    container = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", "privacy.retention"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_kubernetes_accepts_the_objects(kubernetes_schema, rasa_values, action_values):
    for values in (rasa_values, action_values):
        kubernetes_schema(chart_deployment(values))
    kubernetes_schema(chart_ingress(rasa_values))
    for manifest in (WEBHOOKS, CRONJOB):
        for document in yaml.safe_load_all(manifest.read_text()):
            kubernetes_schema(document)
