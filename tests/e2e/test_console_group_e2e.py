"""The console across two workers on the real broker: the overview on either worker shows each
worker's figures and the group's total, and names a worker that stopped answering; a push
request filed on one worker is listed and approved on the other, and published once even when
two people approve it at the same moment on the two workers; a what-if started on one worker
is followed to its result on the other (the archive's PostgreSQL holds requests and jobs)."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from app.archive import store
from app.archive.migrate import migrate
from app.devtools.deployment import Deployment, get_json, wait_for
from app.devtools.localbroker import free_port
from app.rules import DEFAULT_RULESET_PATH
from tests.browser.driver import Browser
from tests.e2e.test_console_browser_e2e import log_in
from tests.e2e.test_console_rules_e2e import post
from tests.support.console import console_deployment
from tests.support.factories import natural
from tests.unit.archive.test_archive import URL, pg  # noqa: F401  (PostgreSQL or a clear failure)

pytestmark = [pytest.mark.broker, pytest.mark.slow]

EVENTS = 40


def migrated(schema: str) -> None:
    """The archive's tables now (its process creates them too, a little later)."""

    async def go() -> None:
        conn = await store.connect(URL, schema)
        try:
            await migrate(conn, schema)
        finally:
            await conn.close()

    asyncio.run(go())


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory, pg: str) -> Iterator[tuple[Deployment, ...]]:  # noqa: F811
    with console_deployment(tmp_path_factory.mktemp("console-group"), "console_group") as dep:
        migrated(dep.settings.archive_schema)
        other = dep.with_env(PITBOSS_WEB_PORT=str(free_port()))
        other.start_worker("worker-2")
        yield dep, other


def group(dep: Deployment, token: str) -> dict:
    return get_json(dep.web_url + "/console/api/overview/group", token)


def test_the_overview_shows_every_worker_and_the_total(two):
    one, other = two
    token = one.token("crm_manager", subject="group-crm")

    def both_listed() -> dict | None:
        found = group(one, token)
        return found if len(found["workers"]) == 2 and not found["unanswered"] else None

    wait_for(both_listed, timeout=60, what="worker-1's overview to list both workers")
    now = int(time.time() * 1000)
    one.produce_events([natural(player_id=f"p-group-{i}", occurred_at=now) for i in range(EVENTS)])

    def all_decided() -> dict | None:
        found = group(one, token)
        return found if found["total"]["totals"]["events"] >= EVENTS else None

    found = wait_for(all_decided, timeout=60, what="the group to decide every event")
    workers = {w["worker_id"]: w for w in found["workers"]}
    assert set(workers) == {"worker-1", "worker-2"} and found["served_by"] == "worker-1"
    # both decided some (the players spread over the four partitions), and the total adds up
    assert all(w["totals"]["events"] > 0 for w in workers.values()), workers
    assert found["total"]["totals"]["events"] == sum(
        w["totals"]["events"] for w in workers.values()
    )
    assert found["total"]["rewards_by_rule"]["first-natural-blackjack-of-day"] == EVENTS
    assert sorted(p["partition"] for p in found["total"]["lag"] if p["topic"].endswith("events"))
    # the page shows both workers' lines and the group's total
    with Browser() as person:
        log_in(person, one.web_url + "/console/", token)
        person.wait_until(
            "() => document.querySelectorAll('#workers tr[data-worker]').length === 2"
        )
        shown = int(person.text("#total-events").replace(",", ""))
        assert shown >= found["total"]["totals"]["events"]
        person.wait_until("() => document.getElementById('rate-events').textContent !== '-'")
        person.screenshot("console-overview-group")
    # the other worker serves the same group, and each entry is that worker's own figures
    seen_from_two = group(other, token)
    assert seen_from_two["served_by"] == "worker-2"
    assert seen_from_two["total"]["totals"] == found["total"]["totals"]
    assert (
        get_json(other.web_url + "/console/api/overview", token)["totals"]
        == (workers["worker-2"]["totals"])
    )
    # what a viewer waits for (two workers on a shared two-core machine)
    for path in ("/console/api/overview", "/console/api/overview/group"):
        took = []
        for _ in range(20):
            started = time.perf_counter()
            get_json(one.web_url + path, token)
            took.append((time.perf_counter() - started) * 1000)
        print(
            f"\n{path} (2 workers): median {statistics.median(took):.1f} ms, "
            f"max {max(took):.1f} ms over 20 calls"
        )
    # without the viewer's credentials nothing is asked: the door answers first
    with pytest.raises(urllib.error.HTTPError) as refused:
        get_json(one.web_url + "/console/api/overview/group", one.token("support"))
    assert refused.value.code == 403


def test_a_push_asked_on_one_worker_is_approved_on_the_other_once(two):
    one, other = two
    alice = one.token("crm_manager", subject="alice")
    candidate = DEFAULT_RULESET_PATH.read_text(encoding="utf-8").replace(
        "amount: 10\n", "amount: 20\n", 1
    )
    status, asked = post(one.web_url + "/console/api/rules/push", {"yaml": candidate}, alice)
    assert (status, asked["status"]) == (202, "pending"), asked
    request_id = asked["request_id"]
    # the other worker's Rules page lists it
    listing = urllib.request.Request(
        other.web_url + "/console/rules/",
        headers={"Authorization": f"Bearer {other.token('crm_manager', subject='bob')}"},
    )
    with urllib.request.urlopen(listing, timeout=30) as response:
        assert request_id in response.read().decode()
    # bob on worker-2 and carol on worker-1 approve at the same moment
    approve = f"/console/api/rules/pushes/{request_id}/approve"
    answers: dict[str, tuple[int, dict]] = {}

    def approve_as(name: str, dep: Deployment) -> None:
        answers[name] = post(dep.web_url + approve, {}, dep.token("crm_manager", subject=name))

    threads = [
        threading.Thread(target=approve_as, args=("bob", other)),
        threading.Thread(target=approve_as, args=("carol", one)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(status for status, _ in answers.values())
    assert statuses[0] == 200 and statuses[1] in (404, 409), answers
    [(winner, (_, pushed))] = [(n, a) for n, a in answers.items() if a[0] == 200]
    assert (pushed["status"], pushed["revision"]) == ("pushed", 1)
    # published once: one record on crm-rules, by the one who won
    records = one.read_all(one.settings.topics.crm_rules)
    assert len(records) == 1, records
    assert f"console by alice, approved by {winner}".encode() in records[0].value
    # and the request is gone from every worker
    status, again = post(one.web_url + approve, {}, one.token("crm_manager", subject="dave"))
    assert status == 404, again


def test_a_what_if_started_on_one_worker_is_followed_on_the_other(two):
    one, other = two
    token = one.token("crm_manager", subject="alice")
    candidate = DEFAULT_RULESET_PATH.read_text(encoding="utf-8").replace(
        "amount: 10\n", "amount: 30\n", 1
    )
    status, job = post(one.web_url + "/console/api/rules/whatif", {"yaml": candidate}, token)
    assert status == 202, job
    path = f"/console/api/rules/whatif/{job['job_id']}"

    def finished() -> dict | None:
        found = get_json(other.web_url + path, token)
        return found if found["state"] != "running" else None

    found = wait_for(finished, timeout=120, what="the what-if to finish, seen from worker-2")
    assert found["state"] == "done", found
    assert found["result"] == get_json(one.web_url + path, token)["result"]
    assert found["result"]["events_in_range"] >= EVENTS


def test_a_worker_that_stops_answering_is_named(two):
    one, other = two
    token = one.token("crm_manager", subject="group-crm")
    wait_for(lambda: len(group(one, token)["workers"]) == 2, what="both workers to answer")
    [worker_two] = [w for w in one.workers if w.name.endswith("worker-2")]
    worker_two.proc.kill()
    worker_two.proc.wait()
    found = wait_for(
        lambda: (g := group(one, token))["unanswered"] and g, timeout=30, what="a silent worker"
    )
    [silent] = found["unanswered"]
    assert silent["worker_id"] == "worker-2" and silent["url"].startswith(other.web_url)
    assert silent["problem"].startswith(f"worker worker-2 at {silent['url']} did not answer")
    assert [w["worker_id"] for w in found["workers"]] == ["worker-1"]
    # the overview page says so, above the figures, and keeps the worker's line
    with Browser() as person:
        log_in(person, one.web_url + "/console/", token)
        said = person.wait_until(
            "() => { const n = document.getElementById('unanswered');"
            " return !n.hidden && n.textContent; }"
        )
        assert said.startswith("worker worker-2 at ") and "did not answer" in said
        assert person.count("#workers tr.unanswered[data-worker='worker-2']") == 1
        assert person.count("#workers tr[data-worker='worker-1']:not(.unanswered)") == 1
        person.screenshot("console-overview-worker-silent")
