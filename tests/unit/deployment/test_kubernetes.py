"""docker/k8s/: valid Kubernetes objects (the API's JSON schemas, offline, strict) that run
Pitboss the way its code expects: the pod name as worker id, a volume per worker for its
RocksDB state, an advertised URL other workers can reach, probes on the routes the worker
serves without credentials, a grace period longer than the worker's shutdown bound, a
disruption budget, and settings that exist."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import kubernetes_validate
import pytest
import yaml

from app.security.https import advertised_url
from app.security.middleware import HEALTH_ROUTES
from app.security.settings import WebSettings
from app.settings import Settings
from tests.support.web import served_routes
from tests.unit.deployment.conftest import docker_path

K8S = docker_path("k8s")
KUSTOMIZATION = K8S / "kustomization.yaml"
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p != KUSTOMIZATION)
#: the oldest Kubernetes the manifests are meant for, and the newest schemas shipped
VERSIONS = ("1.30.0", kubernetes_validate.latest_version())


def documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def objects() -> list[dict]:
    return [doc for path in MANIFESTS for doc in documents(path)]


def one(kind: str, name: str | None = None) -> dict:
    found = [o for o in objects() if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    assert len(found) == 1, f"{len(found)} {kind} {name or ''}"
    return found[0]


def pod_specs() -> Iterator[tuple[str, dict]]:
    for obj in objects():
        if obj["kind"] in ("StatefulSet", "Deployment", "Job"):
            yield obj["metadata"]["name"], obj["spec"]["template"]["spec"]


def worker_container() -> dict:
    (container,) = one("StatefulSet")["spec"]["template"]["spec"]["containers"]
    return container


def config() -> dict[str, str]:
    return one("ConfigMap")["data"]


def pod_env(container: dict, pod_name: str, namespace: str) -> dict[str, str]:
    """The environment the kubelet gives ``container`` in pod ``pod_name``: the ConfigMap,
    then the container's own variables, with field references and ``$(NAME)`` expanded."""
    assert container["envFrom"] == [{"configMapRef": {"name": "pitboss-settings"}}]
    env = dict(config())
    fields = {"metadata.name": pod_name, "metadata.namespace": namespace}
    for var in container.get("env", []):
        source = var.get("valueFrom", {})
        if "fieldRef" in source:
            env[var["name"]] = fields[source["fieldRef"]["fieldPath"]]
        elif "value" in var:
            env[var["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], var["value"])
    return env


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_every_manifest_is_a_valid_kubernetes_object(path, version):
    for doc in documents(path):
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_kustomization_applies_every_manifest_with_one_image():
    kustomization = yaml.safe_load(KUSTOMIZATION.read_text())
    assert sorted(kustomization["resources"]) == [p.name for p in MANIFESTS]
    (image,) = kustomization["images"]
    for name, spec in pod_specs():
        assert [c["image"] for c in spec["containers"]] == [image["name"]], name


def test_no_secret_is_committed_and_every_referenced_one_is_documented():
    assert not [o for o in objects() if o["kind"] == "Secret"]
    referenced = set()
    for _, spec in pod_specs():
        referenced |= {v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v}
        for container in spec["containers"]:
            for var in container.get("env", []):
                if "secretKeyRef" in var.get("valueFrom", {}):
                    referenced.add(var["valueFrom"]["secretKeyRef"]["name"])
    assert referenced
    # docs/operations.md says how to create each one
    operations = docker_path("..", "docs", "operations.md").read_text()
    assert {s for s in referenced if f"secret generic {s} " not in operations} == set()


def test_every_variable_set_is_a_setting_pitboss_reads(settings_read):
    names = set(config())
    for _, spec in pod_specs():
        for container in spec["containers"]:
            names |= {var["name"] for var in container.get("env", [])}
    assert names - settings_read == set()


def test_every_file_the_settings_name_is_mounted_wherever_they_are_used():
    files = {v for v in config().values() if v.startswith("/etc/pitboss/")}
    assert files
    for name, spec in pod_specs():
        for container in spec["containers"]:
            env_files = {v["value"] for v in container.get("env", []) if "value" in v}
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            for path in files | {f for f in env_files if f.startswith("/etc/pitboss/")}:
                assert str(PurePosixPath(path).parent) in mounts, (name, path)


def test_the_pod_name_is_the_worker_id_and_its_advertised_url_reaches_it():
    statefulset, headless = one("StatefulSet"), one("Service", "pitboss-workers")
    assert headless["spec"]["clusterIP"] == "None"
    assert statefulset["spec"]["serviceName"] == "pitboss-workers"
    labels = statefulset["spec"]["template"]["metadata"]["labels"]
    assert headless["spec"]["selector"].items() <= labels.items()
    namespace = yaml.safe_load(KUSTOMIZATION.read_text())["namespace"]
    env = pod_env(worker_container(), "pitboss-worker-1", namespace)
    settings = Settings.from_env(env)
    assert settings.worker_id == "pitboss-worker-1"
    url = advertised_url(WebSettings.from_env(env), settings.web_host, settings.web_port)
    (port,) = headless["spec"]["ports"]
    assert port["port"] == settings.web_port
    assert url == f"http://pitboss-worker-1.pitboss-workers.{namespace}.svc.cluster.local:6066"
    # every interface of the pod: the kubelet and the other workers come from outside it
    assert WebSettings.from_env(env).bind == "0.0.0.0"


def test_each_worker_keeps_its_rocksdb_state_on_a_volume_of_its_own():
    statefulset = one("StatefulSet")
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in worker_container()["volumeMounts"]}
    settings = Settings.from_env(pod_env(worker_container(), "pitboss-worker-0", "pitboss"))
    state = Path(mounts[claim["metadata"]["name"]])
    assert settings.state_dir == state and settings.data_dir.is_relative_to(state)


def test_probes_ask_the_open_routes_the_worker_serves_on_its_web_port():
    container = worker_container()
    settings = Settings.from_env(pod_env(container, "pitboss-worker-0", "pitboss"))
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    served = served_routes()
    probes = {kind: container[kind]["httpGet"] for kind in ("livenessProbe", "readinessProbe")}
    assert probes["readinessProbe"]["path"] == "/readyz"
    assert probes["livenessProbe"]["path"] == "/livez"
    for probe in [*probes.values(), container["startupProbe"]["httpGet"]]:
        assert probe["path"] in served and probe["path"] in HEALTH_ROUTES
        assert ports[probe["port"]] == settings.web_port


def test_a_stopping_worker_gets_longer_than_its_shutdown_bound():
    shutdown = Settings.from_env(config()).shutdown_timeout
    for name, spec in pod_specs():
        if name != "pitboss-topics":
            assert spec["terminationGracePeriodSeconds"] > shutdown, name


def test_a_disruption_budget_keeps_all_but_one_worker_up():
    budget, statefulset = one("PodDisruptionBudget"), one("StatefulSet")
    assert budget["spec"]["maxUnavailable"] == 1
    labels = statefulset["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert statefulset["spec"]["updateStrategy"]["type"] == "RollingUpdate"


def test_the_archive_runs_once_under_a_fixed_id_and_topics_are_created_by_a_job():
    archive = one("Deployment", "pitboss-archive")
    assert archive["spec"]["replicas"] == 1
    # never two followers under one static-membership id
    assert archive["spec"]["strategy"]["type"] == "Recreate"
    (container,) = archive["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["archive"]
    assert Settings.from_env(pod_env(container, "any", "pitboss")).worker_id == "pitboss-archive"
    (job,) = one("Job")["spec"]["template"]["spec"]["containers"]
    assert job["args"] == ["topics", "create"]
    assert "PITBOSS_TOKEN_FILE" in {var["name"] for var in job["env"]}
