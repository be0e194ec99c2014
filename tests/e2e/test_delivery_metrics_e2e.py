"""``pitboss webhooks``' metrics on the real broker, against a real receiver this test runs:
``/metrics`` (on its own port, for a monitoring token only) counts the deliveries per endpoint
and outcome, the retries, the dead letters, and shows each partition's lag; its OpenAPI
document fuzzed finds no 500."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import requests
import schemathesis
from schemathesis.generation.modes import GenerationMode

from app.devtools.deployment import Deployment, wait_for
from app.devtools.localbroker import free_port
from tests.e2e.test_delivery_e2e import (  # noqa: F401  (the fixtures)
    PLAYERS,
    Receiver,
    give_secrets,
    produce,
    receiver,
    reward,
    start,
)
from tests.e2e.test_metrics_e2e import samples, total
from tests.support.fuzz import fuzz

pytestmark = [pytest.mark.broker, pytest.mark.slow]

OPENAPI = Path(__file__).resolve().parents[2] / "app" / "delivery" / "openapi.yaml"


def test_webhooks_metrics_count_deliveries_retries_and_dead_letters(
    dep: Deployment,
    receiver: Receiver,  # noqa: F811
    tmp_path: Path,
):
    port = free_port()
    dep.env["PITBOSS_WEBHOOKS_METRICS_PORT"] = str(port)
    players = PLAYERS[:2]
    give_secrets(dep, players)
    rewards = [
        reward(p, n, "CASHBACK_OFFER" if n == 1 else "POINTS") for p in players for n in range(3)
    ]
    child = start(
        dep,
        tmp_path,
        "webhooks",
        f"""\
endpoints:
  crm:
    url: {receiver.url("/flaky")}
    topics: [rewards]
    retry: {{attempts: 5, first_delay: 0.05, max_delay: 0.2}}
  bonus-desk:
    url: {receiver.url("/hang")}
    topics: [rewards]
    filter: {{kinds: [CASHBACK_OFFER]}}
    timeout: 0.3
    retry: {{attempts: 2, first_delay: 0.05, max_delay: 0.1}}
""",
        "webhooks.log",
    )
    url = f"http://127.0.0.1:{port}/metrics"

    def scrape(token: str | None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(url, headers=headers, timeout=10)

    try:
        assert requests.get(f"http://127.0.0.1:{port}/health", timeout=10).ok
        document = schemathesis.openapi.from_path(OPENAPI)
        for operation in document.get_all_operations():
            for token in (dep.token("monitoring"), "forged"):
                headers = {"Authorization": f"Bearer {token}"}
                fuzz(
                    operation.ok(), GenerationMode.POSITIVE, f"http://127.0.0.1:{port}", headers, {}
                )
        assert scrape(None).status_code == 401
        assert scrape(dep.token("support")).status_code == 403
        produce(dep, dep.settings.topics.rewards, "Reward", rewards, "player_id")

        def counted() -> dict | None:
            found = samples(scrape(dep.token("monitoring")).text)
            name = "pitboss_delivery_deliveries_total"
            done = total(found, name, endpoint="crm", outcome="delivered") == len(rewards)
            lettered = total(found, name, endpoint="bonus-desk", outcome="dead_lettered")
            return found if done and lettered == len(players) else None

        found = wait_for(counted, 120, what="the deliveries counted")
    finally:
        assert child.stop(signal.SIGTERM, timeout=30) < 30
    # /flaky refuses each id twice; /hang is tried twice per cash-back
    assert total(found, "pitboss_delivery_retries_total", endpoint="crm") == 2 * len(rewards)
    assert total(found, "pitboss_delivery_retries_total", endpoint="bonus-desk") == len(players)
    assert total(found, "pitboss_delivery_dead_letters_total", use="webhooks") == len(players)
    lag = [v for (n, _), v in found.items() if n == "pitboss_delivery_lag"]
    assert lag and all(v == 0 for v in lag)
