"""The peers Pitboss is measured against, each doing the loss-streak work on the same input.

(1) a bare aiokafka ``getmany`` loop with a dict as state: the ceiling for one Python
process (decode, state, publish, nothing else); (2) a stock Faust agent writing a table per
event (``scripts/bench/faust_stock.py``); (3) a Quix Streams app with RocksDB state
(``scripts/bench/quix.py``). The frameworks run as worker processes of their own, as they
would in production; each reports when it consumed its first and last record.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from app.contract.codec import AvroCodec
from app.devtools.supervise import Child, spawn
from app.security import kafka_clients
from scripts.bench.common import (
    Offsets,
    Stage,
    Tally,
    Workload,
    loss_streak,
    offer_value,
    produce_raw,
    wait_caught_up,
)

INPUT, OUTPUT = "table-events", "offers"


@dataclass
class PhaseResult:
    """One throughput phase: ``events`` consumed in ``seconds`` (first to last)."""

    phase: str
    label: str
    events: int
    seconds: float
    offers: int | None
    detail: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


async def preload(stage: Stage, workload: Workload) -> tuple[str, str]:
    """Create the stage's input and output topics and fill the input with the workload."""
    source, sink = stage.topic(INPUT), stage.topic(OUTPUT)
    await stage.create_topics(source, sink)
    await produce_raw(stage.settings, source, workload.events, stage.partitions)
    return source, sink


async def bare(stage: Stage, workload: Workload, timeout: float) -> PhaseResult:
    """(1) The ceiling: consume, decode, keep state in a dict, publish offers, commit."""
    source, sink = await preload(stage, workload)
    group = stage.settings.app_id
    consumer = kafka_clients.consumer(
        stage.settings,
        source,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 2**20,
        fetch_max_bytes=32 * 2**20,
    )
    producer = kafka_clients.producer(stage.settings, acks=1, linger_ms=10)
    await producer.start()
    await consumer.start()
    decode = AvroCodec("TableEvent").decode
    streaks: dict[bytes, tuple[int, int]] = {}
    tally = Tally(len(workload.events))
    deadline = time.monotonic() + timeout
    try:
        while tally.count < tally.expect:
            if time.monotonic() > deadline:
                raise TimeoutError(f"consumed {tally.count:,} of {tally.expect:,}")
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    event = decode(record.value)
                    step = loss_streak(streaks.get(record.key), event)
                    if step is not None:
                        if step.streak is None:
                            del streaks[record.key]
                        else:
                            streaks[record.key] = step.streak
                        if step.offer is not None:
                            value = offer_value(event, step.offer)
                            await producer.send(sink, value, key=record.key)
                    tally.seen(step is not None and step.offer is not None)
        await producer.flush()
        await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()
    return PhaseResult(
        "bare",
        "(1) bare aiokafka loop + dict",
        tally.count,
        tally.last - tally.first,
        tally.offers,
    )


async def framework(
    stage: Stage,
    workload: Workload,
    *,
    phase: str,
    label: str,
    command: tuple[str, ...],
    timeout: float,
) -> PhaseResult:
    """(2), (3): start the framework's worker on the preloaded input, wait for its report,
    then for its group to commit everything (so its offers are all published)."""
    source, sink = await preload(stage, workload)
    result_path = stage.root / "result.json"
    result_path.unlink(missing_ok=True)
    env = {
        **stage.env,
        "BENCH_BROKER": stage.settings.kafka_url,
        "BENCH_APP_ID": stage.settings.app_id,
        "BENCH_INPUT": source,
        "BENCH_OUTPUT": sink,
        "BENCH_PARTITIONS": str(stage.partitions),
        "BENCH_DATA_DIR": str(stage.root / "data"),
        "BENCH_EXPECT": str(len(workload.events)),
        "BENCH_RESULT": str(result_path),
    }
    spawned_at = time.time()
    child = spawn(phase, command, env, stage.root / f"{phase}.log")
    try:
        report = await wait_for_report(child, result_path, timeout)
        async with Offsets(stage.settings) as offsets:
            commit_s = await wait_caught_up(offsets, stage.settings.app_id, source, 60)
    finally:
        await asyncio.to_thread(stop, child)
    return PhaseResult(
        phase,
        label,
        report["count"],
        report["last"] - report["first"],
        report["offers"],
        {
            "start_to_first_event_s": round(report["first"] - spawned_at, 2),
            "last_event_to_committed_s": round(commit_s, 2),
            "log": str(child.log_path),
        },
    )


async def wait_for_report(child: Child, path: Path, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if not child.alive():
            raise RuntimeError(f"{child.name} exited with {child.proc.returncode}:\n{child.tail()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{child.name} did not finish in {timeout:.0f} s:\n{child.tail()}")
        await asyncio.sleep(0.2)
    return orjson.loads(path.read_bytes())


def stop(child: Child) -> None:
    """SIGTERM, and SIGKILL if that is not enough within 30 s: the run must go on."""
    with contextlib.suppress(RuntimeError):  # Child.stop killed it
        child.stop(signal.SIGTERM, timeout=30)


def faust_command() -> tuple[str, ...]:
    return (
        sys.executable,
        "-m",
        "faust",
        "-A",
        "scripts.bench.faust_stock",
        "worker",
        "-l",
        "info",
    )


def quix_command() -> tuple[str, ...]:
    return (sys.executable, "-m", "scripts.bench.quix")
