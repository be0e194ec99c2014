"""What every phase of ``scripts/bench/`` shares: the workload, isolation, Kafka helpers.

The phases must do the same work on the same input to be comparable, so the simulated
events are generated and Avro-encoded once (``Workload``) and every phase gets the very
same bytes; the loss-streak logic the baselines run is one function (``loss_streak``),
checked against Pitboss's ``loss-streak-5`` rule by the offers each phase reports.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import signal
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson
from aiokafka import TopicPartition
from aiokafka.partitioner import murmur2

from app.contract.codec import AvroCodec
from app.devtools.localbroker import free_port
from app.devtools.simulator import StudioConfig, StudioSimulator, event_rate
from app.operations.admin import admin_client, ensure_topics
from app.operations.topics import TopicSpec
from app.security import kafka_clients
from app.security.dev_identity import ensure_dev_identity
from app.settings import PROJECT_ROOT, Settings

#: the loss-streak-5 rule of app/rules/default.yaml: the length and the cashback share
STREAK_LENGTH = 5
#: a fixed erasure key for every phase and the pure replay: the bench measures, it erases no one
ERASURE_KEY = b"bench-erasure-key-0123456789abcdef"
CASHBACK_PERCENT = 10


def machine() -> dict:
    """Where the numbers come from, so runs on different machines are not mixed up."""
    model = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


# -- the work ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """What one event does to a player's loss streak."""

    #: the new (losses in a row, their stakes in minor units); None: no streak any more
    streak: tuple[int, int] | None
    #: the cashback (minor units) when this loss made the streak reach the length
    offer: int | None = None


def loss_streak(streak: Sequence[int] | None, event: dict) -> Step | None:
    """The baselines' version of Pitboss's loss-streak-5: consecutive losing main bets
    (``BET_SETTLED``); a push neither extends nor breaks the streak, a win breaks it; one
    offer when it reaches 5 (once per streak). None: the event leaves the state alone."""
    if event["event_type"] != "BET_SETTLED" or not event["player_id"]:
        return None
    outcome = event["settlement"]["outcome"] if event["settlement"] else None
    if outcome == "WIN":
        return Step(None) if streak else None
    if outcome != "LOSS":
        return None
    count, stakes = streak or (0, 0)
    count += 1
    stakes += event["bet"]["stake_minor"] if event["bet"] else 0
    offer = stakes * CASHBACK_PERCENT // 100 if count == STREAK_LENGTH else None
    return Step((count, stakes), offer)


def offer_value(event: dict, amount: int) -> bytes:
    """The record a baseline publishes for an offer (JSON: they need no schema)."""
    return orjson.dumps(
        {
            "player_id": event["player_id"],
            "rule_id": "loss-streak-5",
            "amount_minor": amount,
            "currency": event["bet"]["currency"] if event["bet"] else None,
            "trigger_event_id": event["event_id"],
        }
    )


class Tally:
    """Counts a baseline's records and offers; once it has consumed ``expect`` records it
    writes when it saw the first and the last to ``path`` (the bench waits for the file)."""

    def __init__(self, expect: int, path: Path | None = None) -> None:
        self.expect, self.path = expect, path
        self.count = self.offers = 0
        self.first = self.last = 0.0

    def seen(self, offered: bool) -> bool:
        """Count one consumed record; True when it was the last one expected."""
        if not self.count:
            self.first = time.time()
        self.count += 1
        self.offers += offered
        if self.count != self.expect:
            return False
        self.last = time.time()
        if self.path is not None:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_bytes(orjson.dumps(self.result()))
            tmp.rename(self.path)  # the bench never reads half a file
        return True

    def result(self) -> dict:
        return {"count": self.count, "offers": self.offers, "first": self.first, "last": self.last}


@dataclass(frozen=True)
class Workload:
    """N simulator events (key, Avro ``TableEvent``) and the players' profiles, made once."""

    events: list[tuple[bytes, bytes]]
    profiles: list[tuple[bytes, bytes]]
    players: int
    tables: int
    seed: int
    #: the offers ``loss_streak`` makes on these events: what every baseline must report
    expected_offers: int
    seconds_to_make: float


def make_workload(count: int, players: int, tables: int, seed: int) -> Workload:
    """Events of ``players`` at ``tables``, in the past (ingest refuses event times ahead
    of the clock) and ending a few minutes ago (well within its 7-day limit)."""
    started = time.monotonic()
    config = StudioConfig(tables=tables, players=players)
    span_ms = count / event_rate(config, seed) * 1000
    start_ms = int(time.time() * 1000 - span_ms * 1.2 - 300_000)
    sim = StudioSimulator(config, seed, start_ms)
    encode = AvroCodec("TableEvent").encode
    events, streaks, offers = [], {}, 0
    for event in sim.take(count):
        key = (event["player_id"] or event["table_id"]).encode()
        events.append((key, encode(event)))
        step = loss_streak(streaks.get(key), event)
        if step is not None:
            streaks[key] = step.streak
            offers += step.offer is not None
    encode_profile = AvroCodec("PlayerProfile").encode
    profiles = [(p["player_id"].encode(), encode_profile(p)) for p in sim.profiles(start_ms)]
    return Workload(events, profiles, players, tables, seed, offers, time.monotonic() - started)


# -- isolation --------------------------------------------------------------------------


@dataclass
class Stage:
    """One phase's corner of the broker: its own topic prefix, app (group) id and state
    directory, as app/devtools/deployment.py's Deployment makes them. Every topic it creates, and
    every topic a framework creates for it, carries its tag, so ``cleanup`` finds them all:
    the local broker rewrites one JSON file of all its data, and what is left behind slows
    every later run."""

    name: str
    tag: str
    root: Path
    env: dict[str, str]
    settings: Settings
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def create(cls, name: str, run_dir: Path, broker_url: str, partitions: int) -> Stage:
        tag = uuid.uuid4().hex[:6]
        root = run_dir / name
        root.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "PITBOSS_BROKER_URL": broker_url,
            "PITBOSS_TOPIC_PREFIX": f"b{tag}-",
            "PITBOSS_APP_ID": f"bench-{name}-{tag}",
            "PITBOSS_STATE_DIR": str(root),
            "PITBOSS_PARTITIONS": str(partitions),
            "PITBOSS_WEB_PORT": str(free_port()),
            "PITBOSS_DEV_IDENTITY": str(root / "dev-identity"),
            # the private broker is not the local one, where a worker would make a key itself
            "PITBOSS_ERASURE_KEY": os.environ.get("PITBOSS_ERASURE_KEY") or ERASURE_KEY.decode(),
        }
        return cls(name, tag, root, env, Settings.from_env(env))

    @property
    def token(self) -> str:
        """A fresh auditor token for the stage's worker views (its development identity)."""
        identity = ensure_dev_identity(self.env["PITBOSS_DEV_IDENTITY"])
        return identity.mint("bench", ["auditor"])

    @property
    def partitions(self) -> int:
        return self.settings.partitions

    def topic(self, name: str) -> str:
        return f"b{self.tag}-{name}"

    async def create_topics(self, *names: str) -> None:
        """The baselines' own topics (Pitboss's come from ``ensure_topics(settings)``)."""
        specs = [TopicSpec(n, self.partitions, {}, "bench") for n in names]
        await ensure_topics(self.settings, specs)

    async def cleanup(self) -> None:
        """Delete every topic carrying the tag, and the local state (RocksDB) under root;
        logs stay."""
        async with admin_client(self.settings) as client:
            mine = [t for t in await client.list_topics() if self.tag in t]
            if mine:
                await client.delete_topics(mine)
        for path in (self.root / "workers", self.root / "data"):
            shutil.rmtree(path, ignore_errors=True)


# -- Kafka helpers ----------------------------------------------------------------------


async def produce_raw(
    settings: Settings, topic: str, records: Iterable[tuple[bytes, bytes]], partitions: int
) -> int:
    """Send (key, value) records to their murmur2 partitions in full record batches and
    wait until the broker has them all: a preload several times faster than ``send()``."""
    producer = kafka_clients.producer(
        settings,
        acks=1,
        linger_ms=50,
        max_batch_size=1024 * 1024,
        request_timeout_ms=120_000,
    )
    await producer.start()
    sent = 0
    try:
        builders: dict[int, object] = {}
        pending: list[asyncio.Future] = []
        for key, value in records:
            partition = (murmur2(key) & 0x7FFFFFFF) % partitions
            builder = builders.get(partition)
            if builder is None:
                builder = builders[partition] = producer.create_batch()
            if builder.append(key=key, value=value, timestamp=None) is None:
                pending.append(await producer.send_batch(builder, topic, partition=partition))
                builder = builders[partition] = producer.create_batch()
                builder.append(key=key, value=value, timestamp=None)
            sent += 1
        for partition, builder in builders.items():
            if builder.record_count():
                pending.append(await producer.send_batch(builder, topic, partition=partition))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent


class Offsets:
    """End offsets and a group's committed offsets, with clients kept open for polling."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._consumer = kafka_clients.consumer(settings, enable_auto_commit=False)
        self._admin = admin_client(settings)

    async def __aenter__(self) -> Offsets:
        await self._consumer.start()
        self.client = await self._admin.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._admin.__aexit__(*exc)
        await self._consumer.stop()

    async def lag(self, group: str, topic: str) -> int:
        """Records on ``topic`` that ``group`` has not committed (all of them: no group)."""
        await self._consumer.topics()  # all topics' metadata: asking for one would create it
        tps = [TopicPartition(topic, p) for p in self._consumer.partitions_for_topic(topic) or ()]
        ends = await self._consumer.end_offsets(tps)
        done = await self.client.list_consumer_group_offsets(group)
        return sum(end - max(done[tp].offset, 0) if tp in done else end for tp, end in ends.items())


async def wait_caught_up(offsets: Offsets, group: str, topic: str, timeout: float) -> float:
    """Seconds until ``group`` has committed all of ``topic``; raises after ``timeout``."""
    started = time.monotonic()
    while (lag := await offsets.lag(group, topic)) > 0:
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{group} still {lag:,} records behind on {topic}")
        await asyncio.sleep(0.25)
    return time.monotonic() - started


def get_json(url: str, token: str, timeout: float = 5.0) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return orjson.loads(response.read())


async def poll_json(url: str, token: str) -> dict | None:
    """A worker view's JSON, or None while its web server is not up (yet)."""
    try:
        return await asyncio.to_thread(get_json, url, token)
    except OSError:
        return None


def run_standalone(
    name: str,
    args: argparse.Namespace,
    bench: Callable[[Stage], Awaitable[dict]],
    render: Callable[[dict], str],
) -> int:
    """Run one stand-alone benchmark (``python -m scripts.bench.NAME``) on a stage of its own,
    on ``--broker-url`` or a private broker: its children are stopped on SIGINT/SIGTERM, the
    report printed, and written to ``--json`` if given."""
    from scripts.bench.__main__ import broker_for  # the run's private broker, as make bench

    run_dir = PROJECT_ROOT / ".state" / "bench" / time.strftime(f"{name}-%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    url, broker = broker_for(args, run_dir)
    stage = Stage.create(name, run_dir, url, args.partitions)

    async def run() -> dict:
        stopping = asyncio.current_task()
        assert stopping is not None
        for sig in (signal.SIGINT, signal.SIGTERM):  # the children are stopped on the way out
            asyncio.get_running_loop().add_signal_handler(sig, stopping.cancel)
        try:
            return await bench(stage)
        finally:
            await stage.cleanup()

    try:
        report = asyncio.run(run())
    finally:
        if broker is not None:
            broker.stop()
            shutil.rmtree(broker.data_dir, ignore_errors=True)
    print("\n" + render(report))
    if args.json:
        args.json.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    return 0
