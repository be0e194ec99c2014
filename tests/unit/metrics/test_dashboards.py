"""The compose file's Prometheus and Grafana agree with the code: Prometheus scrapes every
worker the compose file runs, with a bearer token, and every dashboard queries only metrics a
worker exports (``docker compose config`` cannot run here: no container engine)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry, generate_latest

from app.metrics.consumer import ConsumerCollector, ConsumerState
from app.metrics.definitions import REGISTRY

DOCKER = Path(__file__).resolve().parents[3] / "docker"
DASHBOARDS = sorted((DOCKER / "grafana" / "dashboards").glob("*.json"))


def exported() -> set[str]:
    """Every sample name a worker's /metrics can carry."""
    consumer = CollectorRegistry()
    consumer.register(ConsumerCollector(lambda: ConsumerState(lag={("t", 0): 1})))
    text = (generate_latest(REGISTRY) + generate_latest(consumer)).decode()
    # the text format names a counter's family with its _total already
    names = {
        (name.removesuffix("_total"), kind)
        for name, kind in re.findall(r"^# TYPE (\w+) (\w+)", text, re.M)
    }
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    return {name + s for name, kind in names for s in suffixes[kind]}


def test_the_four_dashboards_query_only_exported_metrics():
    assert {p.stem for p in DASHBOARDS} == {"overview", "rules", "responsible-gaming", "workers"}
    known = exported()
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        exprs = [t["expr"] for p in board["panels"] for t in p["targets"]]
        used = {m for e in exprs for m in re.findall(r"pitboss_\w+", e)}
        assert used and used <= known, (path.name, used - known)


def test_prometheus_scrapes_every_worker_with_a_token_and_compose_loads_it():
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = compose["services"]
    workers = {
        f"{s['hostname']}:{s['environment']['PITBOSS_WEB_PORT']}"
        for name, s in services.items()
        if name.startswith("worker-")
    }
    config = yaml.safe_load((DOCKER / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics" and job["authorization"]["type"] == "Bearer"
    assert {t for c in job["static_configs"] for t in c["targets"]} == workers
    token_dir = str(Path(job["authorization"]["credentials_file"]).parent)
    mounts = services["prometheus"]["volumes"]
    assert "./prometheus.yml:/etc/prometheus/prometheus.yml:ro" in mounts
    assert any(m.split(":")[1] == token_dir for m in mounts)
    for name in ("prometheus", "grafana"):
        assert all(p.startswith("127.0.0.1:") for p in services[name]["ports"]), name
