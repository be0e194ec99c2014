"""The Pitboss phases of ``scripts/bench/``: throughput (4, 5), state, latency and recovery.

Every phase but state runs real workers (``faust -A app.main worker``, as ``make run``
does) in an isolated stage, with the ruleset pushed to ``crm-rules`` before the worker
starts, so what is measured is what a deployment does, down to the ruleset feed. The state
phase needs no broker: the worker's decision code decides the workload in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import time
from datetime import datetime
from pathlib import Path

import yaml

from app.contract.codec import AvroCodec
from app.core import Engine, PlayerState
from app.devtools.deployment import Deployment  # its read_all: a topic to its end offsets
from app.devtools.simulator.producer import ProduceStats, RunOptions, run
from app.devtools.supervise import Child, spawn_worker
from app.operations.admin import ensure_topics
from app.operations.topics import TopicSpec
from app.pipeline.batch import BatchDecider
from app.pipeline.ingest import Ingest, RawRecord, key_partition
from app.pipeline.store import DictStore
from app.rules import DEFAULT_RULESET_PATH, default_ruleset
from app.rules.policy import load_policies, runtime_view
from app.rules.publish import push
from app.settings import Settings
from scripts.bench.baselines import PhaseResult, stop
from scripts.bench.common import (
    ERASURE_KEY,
    Offsets,
    Stage,
    Workload,
    poll_json,
    produce_raw,
    wait_caught_up,
)
from scripts.bench.measure import LatencyMeter, dir_bytes, measure, percentile

WORKER_ID = "bench-worker"
STREAK_RULE = "loss-streak-5"
#: how long the latency and push phases wait, once the load stops, for what it asked for
DRAIN_LIMIT_S = 20.0


def streak_only_ruleset(path: Path) -> Path:
    """The shipped ruleset with only its loss-streak-5 rule (protection cannot be switched
    off: its detectors run in every ruleset), written to ``path``."""
    doc = yaml.safe_load(DEFAULT_RULESET_PATH.read_text())
    doc["rules"] = [r for r in doc["rules"] if r["id"] == STREAK_RULE]
    doc.pop("leaderboards", None)
    doc["description"] = "scripts/bench/: only loss-streak-5"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


async def deploy(stage: Stage, ruleset: Path) -> None:
    """Pitboss's topics, and the ruleset live on crm-rules before any worker starts."""
    await ensure_topics(stage.settings)
    await push(stage.settings, ruleset, source="scripts/bench/")


async def start_worker(stage: Stage, timeout: float = 120.0) -> Child:
    """A worker that has logged Ready (stopped again if it does not)."""
    worker = spawn_worker(stage.env, WORKER_ID, stage.root)
    try:
        await asyncio.to_thread(worker.wait_ready, timeout)
    except BaseException:
        await asyncio.to_thread(stop, worker)
        raise
    return worker


def stats_url(stage: Stage) -> str:
    return f"http://127.0.0.1:{stage.settings.web_port}/pitboss/stats/"


def profiles_taken(stats: dict | None) -> int:
    return stats["totals"]["profiles"] if stats else 0


def handled(totals: dict) -> int:
    """Input records a worker is done with (decided, table-level, dead-lettered, skipped)."""
    return sum(totals[k] for k in ("events", "table_level", "dead_letters", "redelivered"))


async def throughput(
    stage: Stage, workload: Workload, *, phase: str, label: str, ruleset: Path, timeout: float
) -> PhaseResult:
    """(4), (5): profiles first (so enrichment is real), the worker stopped, the events
    preloaded, the worker started again; timed from its first decided batch to its last.

    Stats are polled every 0.1 s: the rate is the events decided after the first poll that
    saw any, over the time from that poll to the one that saw them all, and ``seconds`` is
    the time all events take at that rate."""
    settings = stage.settings
    await deploy(stage, ruleset)
    await produce_raw(
        settings, settings.topics.player_profiles, workload.profiles, stage.partitions
    )
    worker = await start_worker(stage)
    try:
        deadline = time.monotonic() + 60
        while profiles_taken(await poll_json(stats_url(stage), stage.token)) < len(
            workload.profiles
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{phase}: the worker did not take the profiles in 60 s")
            await asyncio.sleep(0.2)
    finally:
        await asyncio.to_thread(stop, worker)
    await produce_raw(settings, settings.topics.table_events, workload.events, stage.partitions)
    worker = spawn_worker(stage.env, WORKER_ID, stage.root)
    try:
        started = time.monotonic()
        first: tuple[float, int] | None = None
        expect = len(workload.events)
        while True:
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{phase}: not done after {timeout:.0f} s:\n{worker.tail()}")
            if not worker.alive():
                raise RuntimeError(f"{phase}: the worker exited:\n{worker.tail()}")
            stats = await poll_json(stats_url(stage), stage.token)
            now = time.monotonic()
            done = handled(stats["totals"]) if stats else 0
            if first is None and done:
                first = (now, done)
            if done >= expect:
                break
            await asyncio.sleep(0.1)
        assert first is not None
        if done > first[1]:
            seconds = expect * (now - first[0]) / (done - first[1])
        else:  # all decided before the first poll saw any: too few events to time well
            seconds = now - started
        async with Offsets(settings) as offsets:
            commit_s = await wait_caught_up(
                offsets, settings.app_id, settings.topics.table_events, 60
            )
    finally:
        await asyncio.to_thread(stop, worker)
    totals = stats["totals"]
    fired = await streak_decisions(stage)
    return PhaseResult(
        phase,
        label,
        expect,
        seconds,
        sum(fired.values()),
        {
            "loss_streak_decisions": fired,
            "start_to_first_batch_s": round(first[0] - started, 2),
            "last_event_to_committed_s": round(commit_s, 2),
            "batches": totals["batches"],
            "mean_batch": round(handled(totals) / max(totals["batches"], 1)),
            **{k: totals[k] for k in ("rewards", "journal", "dead_letters", "duplicates")},
            "log": str(worker.log_path),
        },
    )


async def running(task: asyncio.Task, seconds: float) -> None:
    """Wait ``seconds`` while ``task`` (a load that runs until stopped) goes on; raise what
    stopped it if it ended."""
    await asyncio.wait({task}, timeout=seconds)
    if task.done():
        task.result()
        raise RuntimeError("the load ended by itself")


async def latency(
    stage: Stage,
    *,
    rate: float,
    seconds: float,
    warmup: float,
    players: int,
    tables: int,
    seed: int,
) -> dict:
    """A worker on the default ruleset, the simulator at a steady ``rate`` on the real-time
    clock, and scripts/bench/soak.py's meter: each decision's Kafka timestamp minus that of the
    event that triggered it (the journal's and rewards' records), for ``seconds`` after a
    ``warmup``: the simulator opens every table at once (a burst of joins and first
    rounds), and a fresh worker's first batches meet cold caches; that is the start of a
    deployment, not the latency a player at a table sees.

    Table events only, as phase (5) decides (its preload has no account events, and the
    simulator's live account events start with a burst of every player's registration,
    KYC and login): ``rate`` is in (5)'s currency. The warm-up starts with the first event
    (the profiles and the simulator's set-up come before); ``rate_sent`` is what was sent
    in the timed window, which the simulator paces on event time: a studio's rounds make
    it vary by a few per cent around ``rate``."""
    settings = stage.settings
    await deploy(stage, DEFAULT_RULESET_PATH)
    worker = await start_worker(stage)
    stop_sim = asyncio.Event()
    sent = ProduceStats()
    options = RunOptions(rate=rate, tables=tables, players=players, seed=seed, accounts=False)
    simulator = asyncio.create_task(run(options, settings, stop=stop_sim, stats=sent))
    measuring = None
    try:
        while not sent.sent:  # the profiles first
            await running(simulator, 0.05)
        meter = LatencyMeter(int((time.time() + warmup) * 1000))
        measuring = asyncio.create_task(measure(settings, meter))
        await running(simulator, warmup)
        window = sent.sent, time.monotonic()
        await running(simulator, seconds)
        timed_sent, timed_s = sent.sent - window[0], time.monotonic() - window[1]
        stop_sim.set()
        await simulator
        async with Offsets(settings) as offsets:
            group, topic = settings.app_id, settings.topics.table_events
            behind = await offsets.lag(group, topic)
            with contextlib.suppress(TimeoutError):  # then it could not keep up: say so
                await wait_caught_up(offsets, group, topic, DRAIN_LIMIT_S)
            left = await offsets.lag(group, topic)
        await asyncio.sleep(2)  # the last decisions' records reach the meter
        totals = ((await poll_json(stats_url(stage), stage.token)) or {}).get("totals")
    finally:
        stop_sim.set()
        for task in (simulator, measuring):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await asyncio.to_thread(stop, worker)
    timed = sorted(v for values in meter.by_minute.values() for v in values)
    return {
        "rate_asked": rate,
        "seconds": seconds,
        "warmup_s": warmup,
        "decisions_in_warmup": meter.warming_up,
        "events_sent": sent.sent,
        "events_sent_timed": timed_sent,
        "rate_sent": round(timed_sent / timed_s),
        "decisions_timed": len(timed),
        "mean_batch": round(handled(totals) / max(totals["batches"], 1)) if totals else None,
        "behind_at_stop": behind,
        "undecided_after_drain": left,
        "dead_letters": meter.dead_letters,
        "latency_ms": {
            name: percentile(timed, q) for name, q in (("p50", 0.5), ("p99", 0.99), ("max", 1.0))
        },
        "log": str(worker.log_path),
    }


async def streak_decisions(stage: Stage) -> dict[str, int]:
    """loss-streak-5's issued and suppressed offers (a cool-down, a missing consent or a
    jurisdiction holds some back): together, the streaks that reached 5, which the
    baselines' offers must equal."""
    records = await asyncio.to_thread(
        Deployment(stage.env, stage.settings).read_all, stage.settings.topics.journal, 120
    )
    decode = AvroCodec("JournalEntry").decode
    found: dict[str, str] = {}
    for record in records:
        entry = decode(record.value)
        if entry["rule_id"] == STREAK_RULE and entry["decision"].startswith("REWARD_"):
            found[entry["entry_id"]] = entry["decision"]
    return {d: list(found.values()).count(d) for d in ("REWARD_ISSUED", "REWARD_SUPPRESSED")}


def decided_states(workload: Workload, settings: Settings) -> list[bytes]:
    """Every active player's state (one with events) once the pure core has decided the
    workload with the default ruleset, as the worker does and stores them: the profiles,
    then the events, in micro-batches of ``PITBOSS_BATCH_MAX`` records through the worker's
    ``BatchDecider``, at the wall clock (the events end minutes ago, as in phase (5))."""
    ingest = Ingest(settings.topics, settings.partitions, erasure_key=ERASURE_KEY)
    policies = runtime_view(load_policies(settings.jurisdictions_path))
    engine = Engine(
        default_ruleset(), settings.operator_timezone, policies, settings.game_salt.encode()
    )
    now_ms = int(time.time() * 1000)
    offsets: dict[tuple[str, int], int] = {}
    records = []
    for topic, pairs in (
        (settings.topics.player_profiles, workload.profiles),
        (settings.topics.table_events, workload.events),
    ):
        for key, value in pairs:
            partition = key_partition(key, settings.partitions)
            offset = offsets[topic, partition] = offsets.get((topic, partition), -1) + 1
            records.append(RawRecord(topic, partition, offset, key, value, now_ms))
    states, profiles = DictStore(), DictStore()
    decider = BatchDecider(ingest, states, profiles)
    for start in range(0, len(records), settings.batch_max):
        result = decider.decide(records[start : start + settings.batch_max], now_ms, engine)
        profiles.apply(result.profiles)
        states.apply(result.states)
    active = {key for key, _value in workload.events}  # not those with only a profile
    return [
        value
        for table in states.partitions.values()
        for key, value in table.items()
        if key in active
    ]


def state_sizes(states: list[bytes], events: int, cpu_s: float) -> dict:
    """Bytes per player's state (mean, p99, max), and how many players have the parts that
    make a state rich: badges, missions (running or done), running boosts, a balance."""
    sizes = sorted(len(s) for s in states)
    decoded = [PlayerState.from_bytes(s) for s in states]
    return {
        "events": events,
        "players": len(states),
        "cpu_s": round(cpu_s, 2),
        "bytes": {
            "mean": round(sum(sizes) / len(sizes), 1) if sizes else float("nan"),
            "p99": percentile(sizes, 0.99),
            "max": percentile(sizes, 1.0),
        },
        "players_with": {
            "badges": sum(bool(p.badges) for p in decoded),
            "missions": sum(bool(p.missions or p.missions_done) for p in decoded),
            "boosts": sum(bool(p.boosts) for p in decoded),
            "balance": sum(p.balance > 0 for p in decoded),
        },
    }


async def recovery(stage: Stage, samples: list[bytes], players: int, timeout: float) -> dict:
    """Fill the player-state changelog with ``players`` states taken in turn from
    ``samples`` (``decided_states``: real players' states), start a worker with no local
    state and time it until it is Ready (Faust logs Ready only after every table is
    recovered); then the RocksDB size on disk per player."""
    settings = stage.settings
    await deploy(stage, DEFAULT_RULESET_PATH)
    changelog = f"{settings.app_id}-player-state-changelog"
    await ensure_topics(
        settings, [TopicSpec(changelog, stage.partitions, {"cleanup.policy": "compact"}, "")]
    )
    started = time.monotonic()
    keys = [f"r-{n:07d}".encode() for n in range(players)]
    records = ((key, samples[n % len(samples)]) for n, key in enumerate(keys))
    await produce_raw(settings, changelog, records, stage.partitions)
    fill_s = time.monotonic() - started
    quiet_s = await broker_quiet(stage.root.parent / "broker" / "kafka.json")
    started = time.monotonic()
    worker = spawn_worker(stage.env, WORKER_ID, stage.root)
    try:
        await asyncio.to_thread(worker.wait_ready, timeout)
        ready_s = time.monotonic() - started
        checked = await check_players(stage, keys, samples)
        data_dir = settings.workers_dir / WORKER_ID
        table_bytes = sum(dir_bytes(p) for p in data_dir.rglob("player-state-*") if p.is_dir())
        total_bytes = dir_bytes(data_dir)
    finally:
        await asyncio.to_thread(stop, worker)
    state_bytes = sum(len(samples[n % len(samples)]) for n in range(players))
    return {
        "players": players,
        "sample_states": len(samples),
        "fill_s": round(fill_s, 2),
        "broker_quiet_s": round(quiet_s, 2),
        "start_to_ready_s": round(ready_s, 2),
        "restore_s": restore_seconds(worker.log()),
        "players_checked": checked,
        "state_bytes_per_player": round(state_bytes / players, 1),
        "rocksdb_bytes_per_player": round(table_bytes / players, 1),
        "rocksdb_player_state_mb": round(table_bytes / 2**20, 1),
        "worker_data_mb": round(total_bytes / 2**20, 1),
        "log": str(worker.log_path),
    }


async def broker_quiet(data_file: Path, still_s: float = 2.0, limit_s: float = 120.0) -> float:
    """Wait until the private broker has not rewritten its data file for ``still_s``
    (noida-db rewrites its one data file after a change, and fetches stall while it does: a
    worker started during the rewrite after the fill would time the broker, not its own
    recovery); the seconds waited. Nothing to wait for on an external broker."""
    started = time.monotonic()
    while data_file.is_file() and time.monotonic() - started < limit_s:
        if time.time() - data_file.stat().st_mtime >= still_s:
            break
        await asyncio.sleep(0.25)
    return time.monotonic() - started


async def check_players(stage: Stage, keys: list[bytes], samples: list[bytes]) -> int:
    """A few recovered players, read back through the worker's player view."""
    picks = random.Random(0).sample(range(len(keys)), 5)
    for n in picks:
        url = f"http://127.0.0.1:{stage.settings.web_port}/pitboss/players/{keys[n].decode()}/"
        view = await poll_json(url, stage.token)
        want = len(samples[n % len(samples)])
        if not view or not view["known"] or view["state"]["bytes"] != want:
            raise AssertionError(f"player {keys[n].decode()} not recovered as written: {view}")
    return len(picks)


_LOG_TIME = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]")


def restore_seconds(log: str) -> float | None:
    """From Faust's 'Restoring state from changelog topics...' to 'Done reading from
    changelog topics' in the worker's log: the recovery alone, without start-up."""
    began = ended = None
    for line in log.splitlines():
        if began is None and "Restoring state from changelog topics" in line:
            began = _stamp(line)
        elif began is not None and "Done reading from changelog topics" in line:
            ended = _stamp(line)
    return round((ended - began).total_seconds(), 2) if began and ended else None


def _stamp(line: str) -> datetime | None:
    match = _LOG_TIME.match(line)
    return datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f") if match else None
