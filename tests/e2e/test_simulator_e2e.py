"""The studio simulator reaches Kafka: round trips, wall-clock pacing, a clean stop, and a
missing topic refused (the simulator's model: tests/unit/devtools/test_simulator.py)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import NewTopic
from aiokafka.partitioner import murmur2

from app.audit.source import ReplayOptions, run_replay
from app.contract.codec import AvroCodec
from app.devtools.deployment import Deployment, wait_for
from app.devtools.simulator import StudioConfig, StudioSimulator
from app.devtools.simulator.producer import RunOptions, make_producer, produce_events, run
from app.operations.admin import AdminError, admin_client, list_topics
from app.rules import DEFAULT_RULESET_PATH
from app.rules.publish import push
from app.settings import Settings
from tests.support.factories import ms

pytestmark = pytest.mark.broker

START = ms("2026-11-22T06:00:00Z")
_CREATED: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def _delete_test_topics(broker: Settings) -> Iterator[None]:
    """Leave the shared broker as we found it (noida-db keeps every topic in one file)."""
    yield
    if not _CREATED:
        return

    async def delete() -> None:
        async with admin_client(broker) as client:
            present = set(await client.list_topics())
            doomed = [n for n in _CREATED if n in present]
            if doomed:
                await client.delete_topics(doomed)

    with contextlib.suppress(Exception):
        asyncio.run(delete())


async def _create_topic(settings: Settings, partitions: int = 2) -> str:
    name = f"sim-test-{uuid.uuid4().hex[:10]}"
    _CREATED.append(name)
    async with admin_client(settings) as client:
        await client.create_topics([NewTopic(name, partitions, 1)])
        for _ in range(50):
            if name in await client.list_topics():
                break
            await asyncio.sleep(0.1)
    return name


async def _read_all(settings: Settings, topic: str, expected: int, timeout: float = 20.0) -> list:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records = []
    try:
        deadline = time.monotonic() + timeout
        while len(records) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for msgs in batch.values():
                records.extend(msgs)
    finally:
        await consumer.stop()
    return records


def _check_round_trip(sent: list[dict], records: list, partitions: int, name: str) -> None:
    codec = AvroCodec(name)
    decoded = [codec.decode(r.value) for r in records]
    assert len(decoded) == len(sent)
    key_field = "player_id" if name == "PlayerProfile" else "event_id"
    assert sorted(decoded, key=lambda d: d[key_field]) == sorted(sent, key=lambda d: d[key_field])
    by_partition: dict[int, list] = defaultdict(list)
    for r, d in zip(records, decoded, strict=True):
        owner = d["player_id"] or d["table_id"]
        assert r.key == owner.encode()  # keyed by player, table-level events by table
        assert r.partition == (murmur2(r.key) & 0x7FFFFFFF) % partitions  # Kafka's partitioner
        by_partition[r.partition].append(d)
    assert len(by_partition) == partitions
    if name != "PlayerProfile":  # per-partition order is the stream's order
        order = {e["event_id"]: i for i, e in enumerate(sent)}
        for evs in by_partition.values():
            idx = [order[e["event_id"]] for e in evs]
            assert idx == sorted(idx)


def test_preload_round_trips_through_kafka(broker):
    """Table events, the players' account events and their profiles, each on its topic."""
    sim = StudioSimulator(StudioConfig(tables=6, players=60, accounts=True), 21, START)
    expected: dict[str, list[dict]] = defaultdict(list)
    for name, record in itertools.islice(sim.records(), 3_000):
        expected[name].append(record)
    assert 0 < len(expected["AccountEvent"]) < 300  # the first sessions: logins, KYC, deposits

    async def go():
        events_topic, accounts_topic, profiles_topic = [
            await _create_topic(broker) for _ in range(3)
        ]
        options = RunOptions(
            rate=0,
            tables=6,
            players=60,
            seed=21,
            count=3_000,
            realtime_clock=False,
            start_ms=START,
            topic=events_topic,
            profiles_topic=profiles_topic,
            accounts=True,  # a preload sends none unless asked
            accounts_topic=accounts_topic,
        )
        stats = await run(options, broker)
        events = await _read_all(broker, events_topic, len(expected["TableEvent"]))
        accounts = await _read_all(broker, accounts_topic, len(expected["AccountEvent"]))
        profiles = await _read_all(broker, profiles_topic, 60)
        return stats, events, accounts, profiles

    stats, events, accounts, profiles = asyncio.run(go())
    assert (stats.sent, stats.acked, stats.failed, stats.profiles) == (3_000, 3_000, 0, 60)
    assert stats.accounts == len(expected["AccountEvent"])
    assert stats.describe().startswith("produced 3,000 events (")
    assert f"{stats.accounts} of them account events" in stats.describe()
    _check_round_trip(expected["TableEvent"], events, 2, "TableEvent")
    _check_round_trip(expected["AccountEvent"], accounts, 2, "AccountEvent")
    _check_round_trip(sim.profiles(START), profiles, 2, "PlayerProfile")


def test_live_run_paces_on_the_wall_clock(broker):
    """With the real-time clock an event leaves when its occurred_at comes, at the rate."""

    async def go():
        topic = await _create_topic(broker)
        options = RunOptions(
            rate=400,
            tables=12,
            players=300,
            seed=22,
            count=800,
            profiles=False,
            realtime_clock=True,
            topic=topic,
            accounts=False,  # the table events' pacing alone
        )
        t0 = time.monotonic()
        stats = await run(options, broker)
        return stats, time.monotonic() - t0, await _read_all(broker, topic, 800)

    stats, seconds, records = asyncio.run(go())
    assert stats.sent == stats.acked == 800
    assert 0.8 < seconds < 6.0, seconds  # 800 events at 400/s: ~2 s, bursty rounds allowed
    codec = AvroCodec("TableEvent")
    for r in records:
        e = codec.decode(r.value)
        # the record timestamp is the producer's wall clock at send time
        assert -50 <= r.timestamp - e["occurred_at"] < 1_500, (r.timestamp, e["occurred_at"])


def test_steady_rate_and_clean_stop(broker):
    async def go():
        topic = await _create_topic(broker)
        producer = make_producer(broker)
        await producer.start()
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(1.5, stop.set)
        try:
            stats = await produce_events(
                producer, topic, StudioSimulator(StudioConfig(), 23, START), rate=500, stop=stop
            )
        finally:
            await producer.stop()
        return stats, await _read_all(broker, topic, stats.sent)

    stats, records = asyncio.run(go())
    # Paced: never faster than 500/s over the run (an unpaced producer sends thousands).
    # How close it gets to 500/s depends on the machine's load, so that is the benchmark's.
    elapsed = stats.finished - stats.started
    assert 0 < stats.sent <= 500 * elapsed + 50, (stats.sent, elapsed)
    assert stats.acked == stats.sent == len(records) and stats.failed == 0  # a clean stop


def test_missing_topic_is_refused_not_created(broker):
    name = f"sim-test-missing-{uuid.uuid4().hex[:10]}"
    with pytest.raises(AdminError, match="do not exist"):
        asyncio.run(
            run(
                RunOptions(count=10, rate=0, realtime_clock=False, topic=name, profiles=False),
                broker,
            )
        )
    assert name not in asyncio.run(list_topics(broker))


@pytest.mark.slow
def test_a_worker_decides_the_simulated_account_events_and_the_replay_agrees(dep: Deployment):
    """A live run, as `make run` sends it (paced on the wall clock, rounds about 25x a real
    studio's pace): every account event decided (none a dead letter), each KYC status
    journaled, rewards still issued, and the replay of table and account events together,
    merged by Kafka time, finds nothing that the worker decided in another order."""
    asyncio.run(push(dep.settings, DEFAULT_RULESET_PATH))
    dep.start_worker()
    wait_for(lambda: dep.view("/pitboss/rules/")["revision"] >= 1, what="rules live")
    options = RunOptions(rate=40, tables=4, players=40, seed=31, count=800)
    stats = asyncio.run(run(options, dep.settings))
    assert stats.failed == 0 and 0 < stats.accounts < stats.sent == 800
    topics = dep.settings.topics
    dep.wait_caught_up(topics.table_events, topics.account_events)
    dep.wait_quiet()
    assert dep.read_all(topics.dead_letters, timeout=2) == []
    accounts = dep.consume(topics.account_events, "AccountEvent", lambda rs: bool(rs))
    assert len(accounts) == stats.accounts
    journal = dep.consume(topics.journal, "JournalEntry", lambda es: bool(es))
    kyc = [e for e in journal if e["decision"] == "ACCOUNT_EVENT"]
    assert len(kyc) == sum(a["type"] == "KYC_STATUS_CHANGED" for a in accounts) > 10
    assert any(e["decision"] == "REWARD_ISSUED" for e in journal)
    replayed = asyncio.run(asyncio.wait_for(run_replay(dep.settings, ReplayOptions()), 120))
    report = replayed.report
    assert report.mismatch_total == 0 and report.ambiguous_count == 0, report.mismatches[:3]
    assert report.journaled == len(journal)
