"""Probes and metrics against a real worker: ``/readyz`` answers 503 from the moment the web
server listens until the tables are recovered and the partitions assigned, then 200; a
scrape with the monitoring role's token shows the decisions, the latency and the consumer."""

from __future__ import annotations

import contextlib
import shutil
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.devtools.deployment import Deployment, wait_for
from app.devtools.supervise import Child
from tests.support.factories import natural, settled

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def get(dep: Deployment, path: str, token: str | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(dep.web_url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(found: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in found.items() if n == name and want <= ls)


def poll_ready(dep: Deployment, worker: Child) -> list[int]:
    """``/readyz`` from the worker's start until it answers 200: the statuses seen."""
    seen: list[int] = []
    deadline = time.monotonic() + 90
    while not seen or seen[-1] != 200:
        assert time.monotonic() < deadline and worker.alive(), (seen[-5:], worker.tail())
        with contextlib.suppress(OSError):  # not listening yet
            seen.append(get(dep, "/readyz")[0])
        time.sleep(0.02)
    assert 503 in seen and seen.index(503) < seen.index(200), seen
    return seen


def test_readiness_then_metrics_that_move_when_the_worker_decides(dep: Deployment):
    poll_ready(dep, dep.start_worker(wait=False))
    assert get(dep, "/livez")[0] == 200

    status, body = get(dep, "/metrics")
    assert status == 401, body
    assert get(dep, "/metrics", dep.token("support"))[0] == 403

    now = int(time.time() * 1000) - 5_000
    events = [natural(player_id="p-metrics-1", occurred_at=now)]
    events += [
        settled("LOSS", player_id="p-metrics-2", occurred_at=now + i * 100) for i in range(6)
    ]
    dep.produce_events(events)
    wait_for(
        lambda: dep.view("/pitboss/stats/")["totals"]["events"] >= len(events),
        what="the worker to decide every event",
    )
    status, body = get(dep, "/metrics", dep.token("monitoring"))
    assert status == 200
    found = samples(body.decode())
    assert total(found, "pitboss_decisions_total", outcome="issued") > 0
    assert total(found, "pitboss_amount_issued_total") > 0
    assert total(found, "pitboss_events_total") >= len(events)
    assert total(found, "pitboss_decision_latency_seconds_count") > 0
    assert total(found, "pitboss_batch_records_count") > 0
    assert found[("pitboss_ready", frozenset())] == 1
    lags = {ls for (n, ls), _ in found.items() if n == "pitboss_consumer_lag"}
    topics = {dict(ls)["topic"] for ls in lags}
    assert dep.settings.topics.table_events in topics, topics
    assert total(found, "pitboss_rebalances_total") >= 1


def test_a_worker_recovering_its_tables_is_not_ready_until_they_hold_the_state(dep: Deployment):
    worker = dep.start_worker()
    now = int(time.time() * 1000) - 5_000
    players = [f"p-recover-{n}" for n in range(40)]
    dep.produce_events(natural(player_id=p, occurred_at=now) for p in players)
    wait_for(
        lambda: dep.view("/pitboss/stats/")["totals"]["events"] >= len(players),
        what="the worker to decide every event",
    )
    dep.wait_quiet()
    worker.stop()
    # without its RocksDB the worker must read every state back from the changelog
    shutil.rmtree(dep.settings.state_dir / "workers" / "worker-1")
    poll_ready(dep, dep.start_worker(wait=False))
    # ready means recovered: every state is there at the first 200
    views = [dep.view(f"/pitboss/players/{p}/") for p in players]
    assert all(v["known"] and v["state"]["xp"] > 0 for v in views)
    status, body = get(dep, "/metrics", dep.token("monitoring"))
    assert status == 200
    found = samples(body.decode())
    assert found[("pitboss_recovery_remaining", frozenset({("tables", "active")}))] == 0
