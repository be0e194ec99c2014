"""An A/B test on the real broker and PostgreSQL: a worker decides a rule with two arms and a
holdout (every firing journaled EXPOSED, the held-out granted nothing), the operator's
outcomes go to ``player-outcomes``, the archive keeps both, and ``pitboss experiments
report`` finds arm B's lift over the holdout and calls it the winner."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psycopg
import pytest
import yaml

from app.contract.codec import AvroCodec
from app.devtools.deployment import Deployment, wait_for
from app.rules import default_document
from app.rules.publish import push
from tests.e2e.test_archive_e2e import start_archive
from tests.support.factories import table_event
from tests.unit.archive.test_archive import URL, pg  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.broker, pytest.mark.slow]
PLAYERS = [f"p-ab-{i:03d}" for i in range(90)]
RULE = {
    "id": "join-ab",
    "events": ["PLAYER_JOINED"],
    "once_per": "day",
    "holdout": 0.3,
    "reward": {"kind": "XP", "amount": 10},
    "variants": [{"name": "A"}, {"name": "B", "reward": {"amount": 20}}],
}


def count(schema: str, query: str) -> int | None:
    """The count, or None before the archive has made its tables."""
    with psycopg.connect(URL) as conn:
        try:
            return conn.execute(query.format(schema=schema)).fetchone()[0]
        except psycopg.errors.UndefinedTable:
            return None


def test_a_worker_exposes_the_arms_and_the_report_finds_b_beating_the_holdout(
    dep: Deployment,
    tmp_path: Path,
    pg: str,  # noqa: F811
):
    schema = f"test_experiments_e2e_{uuid.uuid4().hex[:8]}"
    doc = default_document()
    doc["rules"].append(RULE)
    rules = tmp_path / "ab.yaml"
    rules.write_text(yaml.safe_dump(doc, sort_keys=False))
    published, _ = asyncio.run(push(dep.settings, rules))
    dep.start_worker()
    wait_for(lambda: dep.view("/pitboss/rules/")["revision"] == published["revision"], what="live")

    now = int(time.time() * 1000) - 60_000
    joins = [
        table_event(event_type="PLAYER_JOINED", bet=None, player_id=p, occurred_at=now)
        for p in PLAYERS
    ]
    dep.produce_events(joins)
    journal = dep.consume(
        dep.settings.topics.journal,
        "JournalEntry",
        lambda rs: sum(r["decision"] == "EXPOSED" for r in rs) >= len(PLAYERS),
        timeout=60,
    )
    exposed = [r for r in journal if r["decision"] == "EXPOSED"]
    arms = {r["player_id"]: r["details"]["arm"] for r in exposed}  # by pseudonym
    assert sorted(set(arms.values())) == ["A", "B", "holdout"]
    issued = {r["reward_id"] for r in journal if r["decision"] == "REWARD_ISSUED"}
    for entry in exposed:  # the held-out were granted nothing; every other arm was
        granted = entry["details"]["granted"] == "true"
        assert granted == (entry["details"]["arm"] != "holdout") == (entry["reward_id"] in issued)

    # the operator's figures: B's players bring in 10 % more GGR a day, the rest the same
    by_player = {dep.named(p): p for p in PLAYERS}
    arm_of = {by_player[name]: arm for name, arm in arms.items()}
    day0 = datetime.fromtimestamp(now / 1000, UTC).date()
    rng = random.Random(14)
    codec = AvroCodec("PlayerOutcome")
    outcomes = [
        {
            "player_id": p,
            "day": (day0 + timedelta(d)).isoformat(),
            "deposits_minor": 5000,
            "ggr_minor": round(rng.gauss(1000, 20) * (1.1 if arm_of[p] == "B" else 1.0)),
            "currency": "EUR",
            "occurred_at": now,
        }
        for p in PLAYERS
        for d in range(3)
    ]
    dep.produce(
        dep.settings.topics.player_outcomes,
        [(o["player_id"].encode(), codec.encode(o), None) for o in outcomes],
    )

    dep.env["PITBOSS_ARCHIVE_SCHEMA"] = schema
    archive = start_archive(dep, URL)
    try:
        wait_for(
            lambda: (
                count(schema, "SELECT count(*) FROM {schema}.player_outcomes") == len(outcomes)
                and count(
                    schema, "SELECT count(*) FROM {schema}.journal WHERE decision = 'EXPOSED'"
                )
                == len(exposed)
            ),
            what="the archive to keep the outcomes and the exposures",
            timeout=90,
        )
    finally:
        archive.stop()

    env = {**dep.env, "PITBOSS_ARCHIVE_URL": URL, "PITBOSS_ARCHIVE_SCHEMA": schema}
    command = [str(Path(sys.executable).with_name("pitboss")), "experiments", "report"]
    try:
        done = subprocess.run(
            [*command, "join-ab", "--days", "3", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        with psycopg.connect(URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    assert done.returncode == 0, done.stderr
    report = orjson.loads(done.stdout)
    players = {a["arm"]: a["players"] for a in report["arms"]}
    assert players == {arm: list(arm_of.values()).count(arm) for arm in ("A", "B", "holdout")}
    [b_ggr] = [c for c in report["comparisons"] if (c["arm"], c["metric"]) == ("B", "ggr")]
    assert b_ggr["relative"]["low"] < 0.10 < b_ggr["relative"]["high"]
    assert b_ggr["verdict"] == "better" and report["winner"] == "B"
    [a_ggr] = [c for c in report["comparisons"] if (c["arm"], c["metric"]) == ("A", "ggr")]
    assert a_ggr["verdict"] == "not yet"
