"""The console's shared work in the real archive (PostgreSQL): a push request filed on one
worker is listed and approved on another, by a second person only, and two approvals at once
cannot both publish; a what-if's job is read from any worker, and one whose worker stopped
saving it reads as failed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
import pytest

from app.archive import store
from app.console import approvals
from app.console.approvals import ApprovalRefused
from app.console.limits import ConsoleLimits
from app.console.whatif import STALE_S, WhatIfJob, WhatIfRunner
from app.settings import Settings
from tests.unit.archive.test_archive import URL, pg, run  # noqa: F401  (fixtures)

RULESET = "default"
LINES = ["loss-streak-5 v1 -> v2"]


def test_a_push_request_needs_a_second_person_and_is_approved_once(run):  # noqa: F811
    async def scenario(conn: psycopg.AsyncConnection) -> None:
        asked = await approvals.add(conn, RULESET, "alice", "ruleset: default", 3, LINES)
        assert [r.to_json()["lines"] for r in await approvals.listed(conn, RULESET)] == [LINES]
        assert await approvals.listed(conn, "another-ruleset") == []
        with pytest.raises(ApprovalRefused) as own:
            await approvals.claim(conn, RULESET, asked.request_id, "alice")
        assert own.value.status == 403 and "second person" in str(own.value)
        with pytest.raises(ApprovalRefused) as unknown:
            await approvals.claim(conn, RULESET, "nope", "bob")
        assert unknown.value.status == 404
        # bob and carol approve at the same moment, on two connections: one of them claims it
        other = await store.connect(URL, await _schema(conn))
        try:
            outcomes = await asyncio.gather(
                approvals.claim(conn, RULESET, asked.request_id, "bob"),
                approvals.claim(other, RULESET, asked.request_id, "carol"),
                return_exceptions=True,
            )
        finally:
            await other.close()
        claimed = [o for o in outcomes if not isinstance(o, BaseException)]
        [refused] = [o for o in outcomes if isinstance(o, ApprovalRefused)]
        assert len(claimed) == 1 and claimed[0].text == "ruleset: default"
        assert claimed[0].live_revision == 3 and refused.status == 409
        assert "is approving this push request right now" in str(refused)
        # its publication could not be tried (Kafka down): it waits again, for anyone else
        await approvals.release(conn, asked.request_id)
        again = await approvals.claim(conn, RULESET, asked.request_id, "carol")
        await approvals.drop(conn, again.request_id)
        assert await approvals.listed(conn, RULESET) == []

    run(scenario)


async def _schema(conn: psycopg.AsyncConnection) -> str:
    row = await (await conn.execute("SELECT current_schema()")).fetchone()
    assert row is not None
    return row[0]


def test_a_what_if_is_followed_from_any_worker_and_a_lost_one_reads_failed(run):  # noqa: F811
    async def scenario(conn: psycopg.AsyncConnection) -> None:
        @asynccontextmanager
        async def archive() -> AsyncIterator[psycopg.AsyncConnection]:
            yield conn

        def worker(worker_id: str) -> WhatIfRunner:
            settings = Settings.from_env({"PITBOSS_WORKER_ID": worker_id})
            return WhatIfRunner(settings, ConsoleLimits(), archive)

        one, two = worker("worker-1"), worker("worker-2")
        job = WhatIfJob("job-1", "alice", 0, 1000, done=40, total=100)
        await one._save(job)
        seen = await two.find("job-1")
        assert seen is not None
        assert (seen["state"], seen["progress"]["records_done"]) == ("running", 40)
        job.state, job.result = "done", {"records": 100}
        await one._save(job)
        assert (await two.find("job-1"))["result"] == {"records": 100}
        # a running job its worker stopped saving (restarted meanwhile)
        await one._save(WhatIfJob("job-2", "alice", 0, 1000))
        await conn.execute(
            "UPDATE console_whatif_jobs SET updated_at = now() - make_interval(secs => %s)"
            " WHERE job_id = 'job-2'",
            (STALE_S + 1,),
        )
        lost = await worker("worker-1").find("job-2")
        assert lost is not None and lost["state"] == "failed"
        assert "worker worker-1, which ran this what-if, stopped" in lost["error"]
        assert await two.find("job-3") is None

    run(scenario)
