"""The Helm values for RasaHQ's charts and the plain Kubernetes manifests (deploy/helm/). No cluster and
no helm run here, so these tests check what can be checked without them:

  * every key set is a key of the chart version the values name (the lists below were transcribed
    from those versions' values.yaml, as neither the charts nor helm come from a package registry),
    and the safety rules: secrets from Kubernetes secrets, the HTTP API off, CORS naming the clinic;
  * the plain manifests, and the Kubernetes objects the values are placed into (a Deployment and an
    Ingress assembled here the way the charts' templates use the values), against the Kubernetes
    API's schemas, strictly: an unknown field fails.

What they cannot tell: what `helm template` really renders (the rasa chart is only on helm.rasa.com),
and anything a cluster's admission would add (Pod Security, quotas). The Kubernetes API's JSON schemas
come from the PyPI package kubernetes-validate (pyproject's `test` extra).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Set

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
HELM = ROOT / "deploy" / "helm"
RASA_VALUES = HELM / "rasa-values.yaml"
ACTION_VALUES = HELM / "rasa-action-server-values.yaml"
WEBHOOKS = HELM / "rasa-webhooks.yaml"
CRONJOB = HELM / "retention-cronjob.yaml"
STAFF_INBOX = HELM / "staff-inbox.yaml"
# The newest Kubernetes version kubernetes-validate 1.28.0 has schemas for (later releases of it need a
# jsonschema newer than the one Rasa 3.6 allows).
KUBERNETES_VERSION = "1.28.0"
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|_KEY$|_SID$")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


# --- Helm ------------------------------------------------------------------------------------------


def _expand(*groups: str) -> Set[str]:
    """ "a.{b,c} d" -> {"a.b", "a.c", "d"}."""
    keys: Set[str] = set()
    for group in groups:
        for item in group.split():
            match = re.fullmatch(r"(.*)\{(.*)\}", item)
            keys.update(f"{match[1]}{part}" for part in match[2].split(",")) if match else keys.add(item)
    return keys


_PROBE = (
    "httpGet.{path,port,scheme} {initialDelaySeconds,periodSeconds,successThreshold,timeoutSeconds,failureThreshold}"
)


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
    _probe("livenessProbe"),
    _probe("readinessProbe"),
    "initContainers extraContainers volumes volumeMounts",
    "global.postgresql.{postgresqlUsername,postgresqlPassword,existingSecret,postgresqlDatabase,servicePort}",
    "global.redis.password",
    "postgresql.install postgresql.external.{enabled,host}",
    "redis.install redis.replica.replicaCount redis.auth.password redis.external.{enabled,host}",
    "rabbitmq.install rabbitmq.auth.{username,password,existingPasswordSecret,erlangCookie}",
    "rabbitmq.external.{enabled,host}",
    "nginx.{enabled,port,resources,securityContext,customConfiguration} nginx.image.{name,tag}",
    _probe("nginx.livenessProbe"),
    _probe("nginx.readinessProbe"),
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
    _probe("livenessProbe"),
    _probe("readinessProbe"),
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
    """problems(object): what is wrong with the object against the Kubernetes API's schema (unknown
    fields refused); None when nothing is."""
    try:
        from kubernetes_validate import utils
    except ImportError:
        pytest.fail(
            "kubernetes-validate, the Kubernetes API's JSON schemas, is a test dependency (pyproject's `test` extra)"
        )

    def problems(document: Dict[str, Any]) -> Optional[str]:
        try:
            utils.validate(document, KUBERNETES_VERSION, strict=True)
        except jsonschema.ValidationError as error:
            return f"{document['kind']} {'/'.join(map(str, error.absolute_path))}: {error.message}"
        return None

    return problems


def chart_deployment(values: Dict[str, Any]) -> Dict[str, Any]:
    """Where the charts' deployment template puts these values (the chart's own env, volumes and labels
    left out). The probes are partial: the chart merges them into its own."""
    container: Dict[str, Any] = {
        "name": "app",
        "image": f"{values['image']['repository']}:{values['image']['tag']}",
        "imagePullPolicy": values["image"]["pullPolicy"],
        "command": values["command"],
        "args": values["args"],
        "ports": [{"name": "http", "containerPort": values["applicationSettings"]["port"], "protocol": "TCP"}],
        "env": values.get("extraEnv", []),
        "resources": values["resources"],
        "securityContext": values["securityContext"],
        "volumeMounts": values.get("volumeMounts", []),
        **{probe: values[probe] for probe in ("livenessProbe", "readinessProbe") if probe in values},
    }
    pod = {
        "securityContext": values["podSecurityContext"],
        "containers": [container],
        "volumes": values.get("volumes", []),
    }
    if "affinity" in values:
        pod["affinity"] = values["affinity"]
    labels = {"app.kubernetes.io/name": "app"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "app"},
        "spec": {
            "replicas": values["replicaCount"],
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }


def chart_ingress(values: Dict[str, Any]) -> Dict[str, Any]:
    """The rasa chart's ingress template, with these values."""
    ingress = values["ingress"]
    path = {
        "path": ingress["path"],
        "pathType": ingress["pathType"],
        "backend": {"service": {"name": "knee-assistant-rasa", "port": {"name": "http"}}},
    }
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "knee-assistant-rasa-api", "annotations": ingress["annotations"]},
        "spec": {"tls": ingress["tls"], "rules": [{"host": ingress["hostname"], "http": {"paths": [path]}}]},
    }


@pytest.fixture(scope="module")
def rasa_values() -> Dict[str, Any]:
    return load_yaml(RASA_VALUES)


@pytest.fixture(scope="module")
def action_values() -> Dict[str, Any]:
    return load_yaml(ACTION_VALUES)


def env_list(values: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    return {item["name"]: item for item in values.get("extraEnv") or []}


@pytest.mark.parametrize(
    "path,keys",
    [(RASA_VALUES, RASA_CHART_KEYS), (ACTION_VALUES, ACTION_CHART_KEYS)],
    ids=["rasa", "rasa-action-server"],
)
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


# The secrets each file passes (the action server needs none).
HELM_SECRETS = {
    RASA_VALUES: {
        "DATABASE_URL",
        "REDIS_URL",
        "SOCKETIO_JWT_KEY",
        "TELEGRAM_TOKEN",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
    },
    ACTION_VALUES: set(),
    CRONJOB: {"DATABASE_URL"},
    STAFF_INBOX: {"DATABASE_URL"},
}


@pytest.mark.parametrize("path", list(HELM_SECRETS), ids=lambda p: p.name)
def test_helm_secrets_come_from_kubernetes_secrets(path):
    secrets = [
        env
        for document in yaml.safe_load_all(path.read_text())
        for env in env_entries(document)
        if SECRET_NAME.search(env["name"]) or env["name"] in {"DATABASE_URL", "REDIS_URL"}
    ]
    assert {env["name"] for env in secrets} == HELM_SECRETS[path]
    literal = [env["name"] for env in secrets if "value" in env]
    assert literal == []
    assert all(env["valueFrom"]["secretKeyRef"]["name"] == "knee-assistant" for env in secrets)


def env_entries(node: Any) -> Iterator[Dict[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in {"env", "extraEnv"} and isinstance(value, list):
                yield from value
            else:
                yield from env_entries(value)
    elif isinstance(node, list):
        for item in node:
            yield from env_entries(item)


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
    images = {f"{values['image']['repository']}:{values['image']['tag']}" for values in (rasa_values, action_values)}
    cron = yaml.safe_load(CRONJOB.read_text())
    images.add(cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"])
    inbox = next(yaml.safe_load_all(STAFF_INBOX.read_text()))
    images.add(inbox["spec"]["template"]["spec"]["containers"][0]["image"])
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
    objects = [chart_deployment(rasa_values), chart_deployment(action_values), chart_ingress(rasa_values)]
    objects += [
        document
        for manifest in (WEBHOOKS, CRONJOB, STAFF_INBOX)
        for document in yaml.safe_load_all(manifest.read_text())
    ]
    assert len(objects) >= 8
    assert [problem for problem in map(kubernetes_schema, objects) if problem] == []


def test_helm_staff_inbox_is_served_at_staff_and_locked_down():
    deployment, service, ingress = yaml.safe_load_all(STAFF_INBOX.read_text())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", "staff_inbox"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/staff/health"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    assert service["spec"]["selector"] == deployment["spec"]["template"]["metadata"]["labels"]
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/whitelist-source-range"]
    paths = [path for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]]
    assert [(p["path"], p["backend"]["service"]["name"]) for p in paths] == [("/staff/", service["metadata"]["name"])]
