"""The archive on the real broker and PostgreSQL, next to a real worker.

One deployment goes through the archive's life: PostgreSQL unreachable (it waits and
commits nothing), the right URL (it catches up, one row per record), a forced re-delivery
of everything (still one row each), the timeline and export views, and an erasure.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import sys
import time
import urllib.request
import uuid

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from app.contract.codec import AvroCodec
from app.core.ids import pseudonym
from app.delivery.lifecycle import step
from app.devtools.deployment import Deployment, wait_for
from app.devtools.localbroker import free_port
from app.devtools.supervise import Child, spawn
from app.operations.privacy import request_erasure
from app.security.erasure_key import erasure_key
from app.security.player_keys import player_pseudonym
from tests.support.factories import losing_burst, natural, table_event
from tests.unit.archive.test_archive import URL, pg  # noqa: F401  (the fixture: PostgreSQL or a clear failure)

pytestmark = [pytest.mark.broker, pytest.mark.slow]

CAUGHT_UP = re.compile(
    r"archive caught up with the topics; in total: "
    r"records ([\d,]+), new ([\d,]+), duplicates ([\d,]+)"
)
HOLDING = r"holding [1-9][\d,]* records with their offsets uncommitted"
KINDS = {"journal": "entry_id", "rewards": "reward_id", "cooldowns": "cooldown_id"}


def start_archive(dep: Deployment, url: str, *args: str) -> Child:
    command = (sys.executable, "-m", "faust", "-A", "app.main", "-l", "info", "archive", *args)
    env = {**dep.env, "PITBOSS_ARCHIVE_URL": url, "PITBOSS_WORKER_ID": "archive-1"}
    return spawn("archive", command, env, dep.settings.state_dir / "archive-1.log")


def new_lines(child: Child, before: int) -> str:
    return child.log()[before:]


def caught_up(child: Child, before: int, records: int) -> tuple[int, int, int] | None:
    """(records, new, duplicates) of the first caught-up report covering ``records``."""
    for match in CAUGHT_UP.finditer(new_lines(child, before)):
        numbers = tuple(int(n.replace(",", "")) for n in match.groups())
        if numbers[0] >= records:
            return numbers
    assert child.alive(), child.tail()
    return None


def topic_records(dep: Deployment) -> dict[str, list[dict]]:
    """Every record on the journal, rewards and cool-downs topics, decoded."""
    topics = dep.settings.topics
    schemas = {
        topics.journal: "JournalEntry",
        topics.rewards: "Reward",
        topics.cooldowns: "CoolDown",
    }
    found = {}
    for kind, (topic, schema) in zip(KINDS, schemas.items(), strict=True):
        total = sum(asyncio.run(offsets(dep, "end", [topic])).values())
        found[kind] = dep.consume(topic, schema, lambda rs, n=total: len(rs) >= n)
    return found


async def offsets(dep: Deployment, which: str, topics: list[str]) -> dict[TopicPartition, int]:
    """The ``end`` offsets of the topics, or the archive group's ``committed`` ones."""
    servers = dep.settings.bootstrap_servers
    if which == "committed":
        admin = AIOKafkaAdminClient(bootstrap_servers=servers)
        await admin.start()
        try:
            group = f"{dep.settings.app_id}-archive"
            answer = await admin.list_consumer_group_offsets(group)
        finally:
            await admin.close()
        return {tp: meta.offset for tp, meta in answer.items() if meta.offset >= 0}
    consumer = AIOKafkaConsumer(bootstrap_servers=servers)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(dep.settings.partitions)]
        return await consumer.end_offsets(tps)
    finally:
        await consumer.stop()


def archived(schema: str) -> dict[str, list[tuple]]:
    """(id, player) of every row of each table."""
    with psycopg.connect(URL) as conn:
        return {
            table: conn.execute(f"SELECT {key}, player_id FROM {schema}.{table}").fetchall()
            for table, key in KINDS.items()
        }


def get(dep: Deployment, path: str) -> tuple[int, bytes]:
    request = urllib.request.Request(
        dep.web_url + path, headers={"Authorization": f"Bearer {dep.token('auditor')}"}
    )
    with urllib.request.urlopen(request) as response:
        return response.status, response.read()


def test_the_archive_waits_for_postgresql_catches_up_once_and_serves_the_timeline(tmp_path, pg):  # noqa: F811
    schema = f"test_archive_e2e_{uuid.uuid4().hex[:8]}"
    dep = Deployment.create(tmp_path, PITBOSS_ARCHIVE_SCHEMA=schema)
    archive: Child | None = None
    try:
        dep.start_worker()
        now = int(time.time() * 1000) - 60_000
        loser, winner = "p-arch-loser", "p-arch-winner"
        # eight losses: a suppressed loss-streak cashback and a rapid-loss cool-down
        events = losing_burst(loser, now)
        events += [
            natural(player_id=winner, occurred_at=now),
            table_event(player_id=winner, occurred_at=now + 1000),
        ]
        dep.produce_events(events)
        wait_for(
            lambda: dep.view("/pitboss/stats/")["totals"]["events"] >= len(events),
            what="the worker to decide every event",
        )
        on_topics = topic_records(dep)
        # the winner's reward credited by `pitboss fulfil`: its steps on reward-lifecycle
        paid = next(r for r in on_topics["rewards"] if r["player_id"] == winner)
        lifecycle_topic = dep.settings.topics.reward_lifecycle
        codec = AvroCodec("RewardLifecycle")
        dep.produce(
            lifecycle_topic,
            [
                (winner.encode(), codec.encode(step(paid, "wallet", status, now + n)), None)
                for n, status in enumerate(("PENDING", "CREDITED"))
            ],
        )
        # the archive also copies the access log, which the views above have written to, and
        # the players' pseudonyms (player-keys)
        access_log, player_keys = dep.settings.topics.access_log, dep.settings.topics.player_keys
        followed = [access_log, player_keys, lifecycle_topic]
        accesses = sum(asyncio.run(offsets(dep, "end", followed)).values())
        total = sum(len(records) for records in on_topics.values()) + accesses
        assert on_topics["cooldowns"] and on_topics["rewards"]

        # 1. PostgreSQL unreachable: the archive holds the records and commits nothing
        archive = start_archive(dep, f"postgresql://127.0.0.1:{free_port()}/test")
        wait_for(
            lambda: re.search(HOLDING, archive.log()),
            what="the archive to wait for PostgreSQL",
        )
        assert archive.alive()
        assert asyncio.run(offsets(dep, "committed", [])) == {}
        assert archive.stop() < 10

        # 2. the right URL: it catches up, one row per record, and commits after the rows
        before = len(archive.log())
        archive = start_archive(dep, URL)
        _, new, duplicates = wait_for(
            lambda: caught_up(archive, before, total), what="the archive to catch up"
        )
        assert (new, duplicates) == (total, 0)
        rows = archived(schema)
        for kind, key in KINDS.items():
            ids = [row[0] for row in rows[kind]]
            assert sorted(ids) == sorted({r[key] for r in on_topics[kind]}), kind
        topics = [dep.settings.topics.journal, dep.settings.topics.rewards]
        topics += [dep.settings.topics.cooldowns, access_log, player_keys, lifecycle_topic]
        ends = {tp: n for tp, n in asyncio.run(offsets(dep, "end", topics)).items() if n}
        assert asyncio.run(offsets(dep, "committed", [])) == ends

        # 3. a forced re-delivery of everything: still exactly one row per id
        assert archive.stop() < 10
        before = len(archive.log())
        archive = start_archive(dep, URL, "--from-beginning")
        records, new, duplicates = wait_for(
            lambda: caught_up(archive, before, total), what="the archive to re-read everything"
        )
        assert (records, new, duplicates) == (total, 0, total)
        assert archived(schema) == rows

        # 4. the timeline and the export, from the worker's web views (the journal names the
        # player by the pseudonym of their secret; the archive files it under the id)
        secret = {r.key: r.value for r in dep.read_all(player_keys)}[loser.encode()]
        named = player_pseudonym(loser, secret)
        mine = sorted((r for r in on_topics["journal"] if r["player_id"] == named),
                      key=lambda r: (r["event_time"], r["entry_id"]))  # fmt: skip
        timeline = dep.view(f"/pitboss/timeline/{loser}/?limit=500")
        assert [i["entry_id"] for i in timeline["items"]] == [r["entry_id"] for r in mine][::-1]
        assert timeline["next"] is None and not timeline["erased"]
        [started] = dep.view(f"/pitboss/timeline/{loser}/?decision=COOLDOWN_STARTED")["items"]
        assert started["cooldown"]["reason"] == on_topics["cooldowns"][0]["reason"]
        page = dep.view(f"/pitboss/timeline/{winner}/?limit=1")
        assert page["count"] == 1 and page["items"][0]["reward"] is not None
        [credited] = [
            i
            for i in dep.view(f"/pitboss/timeline/{winner}/?decision=REWARD_ISSUED")["items"]
            if i["reward_id"] == paid["reward_id"]
        ]
        assert (credited["lifecycle"]["status"], credited["lifecycle"]["adapter"]) == (
            "CREDITED",
            "wallet",
        )
        status, body = get(dep, f"/pitboss/timeline/{loser}/export?format=csv")
        exported = list(csv.DictReader(io.StringIO(body.decode())))
        assert status == 200 and [r["entry_id"] for r in exported] == [r["entry_id"] for r in mine]

        # 5. erasure: the player's rows go, only the marker's hash stays
        asyncio.run(request_erasure(dep.settings, winner, "test"))
        hashed = pseudonym(winner, erasure_key(dep.settings))

        def erased() -> bool:
            rows = archived(schema)
            players = {kind: {row[1] for row in rows[kind]} for kind in KINDS}
            return winner not in players["journal"] | players["rewards"] and (
                hashed in players["journal"]
            )

        wait_for(erased, what="the archive to erase the player")
        assert dep.view(f"/pitboss/timeline/{winner}/") == {
            "player_id": winner, "erased": True, "count": 0, "items": [], "next": None
        }  # fmt: skip
    finally:
        if archive is not None:
            archive.stop()
        dep.stop_all()
        with psycopg.connect(URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
