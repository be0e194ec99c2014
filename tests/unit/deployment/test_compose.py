"""docker/compose.yaml: a valid Compose file (the compose-spec JSON schema, offline: no
Docker engine or compose client runs here) that runs Pitboss past one worker: each worker
advertises a URL the other can reach, every port is bound to loopback, Kafka replicates with
``min.insync.replicas`` below the replication factor, PostgreSQL and the archive, Prometheus
and Grafana are there, and the image is built once."""

from __future__ import annotations

import importlib.resources
import json
import re
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from app.security.https import advertised_url
from app.security.settings import WebSettings
from app.settings import Settings
from tests.unit.deployment.conftest import docker_path

COMPOSE = yaml.safe_load(docker_path("compose.yaml").read_text())
SERVICES: dict[str, dict] = COMPOSE["services"]
IMAGE = "pitboss:local"
PITBOSS = {name: s for name, s in SERVICES.items() if s.get("image") == IMAGE}
WORKERS = {name: s for name, s in PITBOSS.items() if name.startswith("worker-")}
KAFKA = {name: s for name, s in SERVICES.items() if s.get("image", "").startswith("apache/kafka")}


def interpolated(value: object) -> str:
    """``value`` as Compose gives it to a container run without those variables set:
    ``${NAME:-default}`` is its default, ``$$`` a dollar."""
    text = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value))
    assert not re.search(r"\$(?!\$)", text.replace("$$", "")), f"unset variable in {value!r}"
    return text.replace("$$", "$")


def environment(service: dict) -> dict[str, str]:
    return {name: interpolated(value) for name, value in service.get("environment", {}).items()}


def published(service: dict) -> dict[int, str]:
    """Container port -> the host address it is published on."""
    ports = {}
    for spec in service.get("ports", []):
        host_ip, _, container_port = str(spec).split(":")
        ports[int(container_port)] = host_ip
    return ports


def test_the_file_is_valid_against_the_compose_specification():
    schema_file = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads((schema_file / "compose-spec.json").read_text())
    # the schema names draft 07 by an address jsonschema does not know (https, no #)
    validator = jsonschema.Draft7Validator(schema)
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(COMPOSE)
    ]
    assert errors == []


def test_every_reference_names_a_service_or_volume_the_file_declares():
    volumes = set(COMPOSE["volumes"])
    for name, service in SERVICES.items():
        assert set(service.get("depends_on", ())) <= set(SERVICES), name
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            assert source.startswith(".") or source in volumes, (name, source)


def test_every_port_is_published_on_loopback_only():
    bound = {name: published(s) for name, s in SERVICES.items() if s.get("ports")}
    assert {"worker-1", "worker-2", "prometheus", "grafana"} <= set(bound)
    assert {name: set(ips.values()) for name, ips in bound.items()} == {
        name: {"127.0.0.1"} for name in bound
    }


def test_the_image_is_built_once_and_every_pitboss_service_runs_it():
    builders = [name for name, s in SERVICES.items() if "build" in s]
    assert builders == ["topics"]
    assert SERVICES["topics"]["build"]["dockerfile"] == "docker/Dockerfile"
    assert {name: s["pull_policy"] for name, s in PITBOSS.items() if name != "topics"} == {
        name: "never" for name in PITBOSS if name != "topics"
    }
    assert {"topics", "worker-1", "worker-2", "archive", "metrics-token"} <= set(PITBOSS)


def test_pitboss_services_set_only_settings_pitboss_reads(settings_read):
    for name, service in PITBOSS.items():
        assert set(environment(service)) - settings_read == set(), name


def test_each_worker_advertises_a_url_the_other_workers_and_prometheus_reach():
    prometheus = yaml.safe_load(docker_path("prometheus.yml").read_text())
    (job,) = prometheus["scrape_configs"]
    targets = {t for group in job["static_configs"] for t in group["targets"]}
    ids, urls = set(), set()
    for name, service in WORKERS.items():
        env = environment(service)
        settings, web = Settings.from_env(env), WebSettings.from_env(env)
        url = urlsplit(advertised_url(web, settings.web_host, settings.web_port))
        # the host name other containers resolve on the compose network, the port it serves
        assert url.hostname == service["hostname"] == name
        assert url.port == settings.web_port and settings.web_port in published(service)
        assert web.bind == "0.0.0.0"
        assert f"{url.hostname}:{url.port}" in targets
        ids.add(settings.worker_id)
        urls.add(url.geturl())
    assert len(WORKERS) == len(ids) == len(urls) == 2


def test_kafka_replicates_and_acknowledges_a_write_only_once_two_brokers_have_it():
    assert len(KAFKA) == 3
    env = environment(PITBOSS["worker-1"])
    settings = Settings.from_env(env)
    assert sorted(s.split(":")[0] for s in settings.bootstrap_servers) == sorted(KAFKA)
    node_ids = set()
    for name, node in KAFKA.items():
        kafka = environment(node)
        node_ids.add(kafka["KAFKA_NODE_ID"])
        assert f"{kafka['KAFKA_NODE_ID']}@{name}:9093" in kafka["KAFKA_CONTROLLER_QUORUM_VOTERS"]
        assert f"PLAINTEXT://{name}:9092" in kafka["KAFKA_ADVERTISED_LISTENERS"]
        assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
        min_isr = int(kafka["KAFKA_MIN_INSYNC_REPLICAS"])
        # one broker may be down and writes still succeed, none acknowledged by one alone
        assert 2 <= min_isr < settings.replication_factor <= len(KAFKA)
        assert int(kafka["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"]) == len(KAFKA)
    assert len(node_ids) == len(KAFKA)


def test_the_archive_writes_to_the_compose_postgresql_under_its_own_id():
    archive, postgres = PITBOSS["archive"], SERVICES["postgres"]
    assert archive["command"] == ["archive"]
    env = environment(archive)
    settings = Settings.from_env(env)
    url = urlsplit(settings.archive_url)
    db = environment(postgres)
    assert (url.hostname, url.username, url.path) == ("postgres", db["POSTGRES_USER"], "/pitboss")
    assert env["PGPASSWORD"] == db["POSTGRES_PASSWORD"]
    assert archive["depends_on"]["postgres"]["condition"] == "service_healthy"
    worker_ids = {Settings.from_env(environment(s)).worker_id for s in WORKERS.values()}
    assert settings.worker_id not in worker_ids
    # the workers' timeline views read the same database
    for service in WORKERS.values():
        assert Settings.from_env(environment(service)).archive_url == settings.archive_url


@pytest.mark.parametrize("name", ["prometheus", "grafana"])
def test_prometheus_and_grafana_run_with_the_shipped_configuration(name):
    mounts = [m.split(":")[0] for m in SERVICES[name]["volumes"]]
    for source in mounts:
        if source.startswith("."):
            assert docker_path(source).exists(), source


def test_a_stopping_worker_gets_longer_than_its_shutdown_bound():
    for service in WORKERS.values():
        shutdown = Settings.from_env(environment(service)).shutdown_timeout
        assert int(service["stop_grace_period"].rstrip("s")) > shutdown
