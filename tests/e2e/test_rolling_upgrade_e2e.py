"""A rolling upgrade loses and doubles nothing: two workers, each stopped with SIGTERM and
started again with a changed setting (a new version, as a StatefulSet's rolling update does
it), in turn, while the studio simulator plays.

Afterwards the journal holds exactly what the pure core makes of the records (the offline
reference and the audit replay agree, nothing missing), each entry once: a graceful stop
hands nothing to its successor to decide again. How long deciding paused around each step is
printed (``pytest -s``) and kept in docs/operations.md ("Rolling upgrades").
"""

from __future__ import annotations

import signal
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

import pytest

from app.contract.codec import AvroCodec
from app.devtools.deployment import Deployment, wait_for
from app.devtools.localbroker import free_port
from app.devtools.simulator import StudioConfig, StudioSimulator
from app.devtools.supervise import Child, spawn
from tests.e2e.test_crash_recovery_e2e import assert_replays_exactly
from tests.support.factories import losing_burst
from tests.support.reference import Stream, settle_and_compare, start_with_profiles

pytestmark = [pytest.mark.broker, pytest.mark.slow]

TABLES, PLAYERS, SEED = 4, 40, 7
#: events per second from the simulator: steady traffic on every partition
RATE = 120
JOURNAL = AvroCodec("JournalEntry")


@dataclass(frozen=True)
class Step:
    """One worker's upgrade: when SIGTERM went out, how long the exit took, when the new
    version was ready (wall-clock seconds)."""

    worker_id: str
    stopped_at: float
    exit_took: float
    ready_at: float


def journal_times(dep: Deployment) -> dict[int, list[float]]:
    """When each journal entry was recorded (epoch seconds), by partition."""
    times: dict[int, list[float]] = {}
    for record in dep.read_all(dep.settings.topics.journal):
        recorded = seconds(JOURNAL.decode(record.value)["recorded_at"])
        times.setdefault(record.partition, []).append(recorded)
    return times


def wait_deciding_everywhere(dep: Deployment, since: float) -> None:
    """Wait until every partition has journaled a decision after ``since``: the traffic
    reaches them all, and a restarted worker's partitions are being decided again."""

    def everywhere() -> bool:
        times = journal_times(dep)
        return len(times) == dep.settings.partitions and all(max(t) > since for t in times.values())

    wait_for(everywhere, 90, "every partition deciding")


def play(dep: Deployment, start_ms: int) -> Child:
    """The studio simulator at ``RATE`` events/s, event time from ``start_ms`` at the studio's
    pace (hours ago, so every cool-down is over when the result is compared), no profiles:
    the test gave them to the workers first; no account events: the reference decides the
    table events (Kafka does not order the two topics against each other)."""
    command = [
        sys.executable,
        "scripts/simulate.py",
        f"--rate={RATE}",
        f"--tables={TABLES}",
        f"--players={PLAYERS}",
        f"--seed={SEED}",
        f"--start={start_ms}",
        "--no-realtime-clock",
        "--no-profiles",
        "--no-accounts",
    ]
    return spawn("simulator", command, dep.env, dep.settings.state_dir / "simulator.log")


def upgrade(old: Child, new_version: Deployment, worker_id: str) -> Step:
    """SIGTERM the worker, then start the new version under the same id and wait until it
    is ready, as a StatefulSet replaces one pod."""
    stopped_at = time.time()
    took = old.stop(signal.SIGTERM)
    new_version.start_worker(worker_id)
    return Step(worker_id, stopped_at, took, time.time())


def largest_gap(times: list[float], start: float, end: float) -> float:
    """The longest stretch without a journal entry that overlaps ``[start, end]``."""
    return max((b - a for a, b in pairwise(sorted(times)) if b >= start and a <= end), default=0)


def seconds(stamp: datetime | int) -> float:
    """A decoded ``timestamp-millis`` as epoch seconds."""
    return stamp.timestamp() if isinstance(stamp, datetime) else stamp / 1000


def pauses(dep: Deployment, steps: list[Step]) -> list[str]:
    """Per step: the longest stretch without a decision on any one partition (the stopped
    worker's, in practice) and in the whole journal, between SIGTERM and the new version's
    readiness."""
    by_partition = journal_times(dep)
    everything = [t for times in by_partition.values() for t in times]
    lines = []
    for step in steps:
        worst = max(largest_gap(ts, step.stopped_at, step.ready_at) for ts in by_partition.values())
        overall = largest_gap(everything, step.stopped_at, step.ready_at)
        lines.append(
            f"{step.worker_id}: exit {step.exit_took:.1f} s, SIGTERM to ready "
            f"{step.ready_at - step.stopped_at:.1f} s, longest pause on a partition "
            f"{worst:.1f} s, in the whole journal {overall:.1f} s"
        )
    return lines


def test_a_rolling_upgrade_under_load_decides_every_event_exactly_once(tmp_path):
    dep = Deployment.create(tmp_path, PITBOSS_BATCH_MAX="200")
    # the second worker, on a web port of its own
    other = dep.with_env(PITBOSS_WEB_PORT=str(free_port()))
    # the new version: a changed setting (batches are cut elsewhere; decisions must not move)
    upgraded = {"PITBOSS_BATCH_MAX": "50", "PITBOSS_SHUTDOWN_TIMEOUT": "15"}
    simulator: Child | None = None
    try:
        start_ms = int((time.time() - 3 * 3600) * 1000)
        sim = StudioSimulator(StudioConfig(tables=TABLES, players=PLAYERS), SEED, start_ms)
        start_with_profiles(dep, Stream(sim.profiles(start_ms), []), "worker-a")
        other.start_worker("worker-b")
        # losing bursts at the start of event time: cool-downs that the simulator's play then
        # ends, whichever worker holds their partitions by then (simulated players seldom trip
        # the shipped detectors at the simulator's pace)
        dep.produce_events(
            [e for i in range(3) for e in losing_burst(f"p-upgrade-burst-{i}", start_ms + i)]
        )
        since = time.time()
        simulator = play(dep, start_ms)

        # one step at a time, each once every partition is being decided again (so each
        # pause measured is its own step's)
        steps = []
        for view, worker_id in ((dep, "worker-a"), (other, "worker-b")):
            wait_deciding_everywhere(dep, since)
            worker = next(w for w in dep.workers if w.name.endswith(worker_id) and w.alive())
            steps.append(upgrade(worker, view.with_env(**upgraded), worker_id))
            since = steps[-1].ready_at
        wait_deciding_everywhere(dep, since)
        assert simulator.alive(), simulator.tail()
        simulator.stop()

        outcome = settle_and_compare(dep)
        assert outcome.players > PLAYERS // 2 and outcome.distinct_entries > 500, outcome
        assert outcome.redelivered == 0, f"decided twice after a graceful stop: {outcome}"
        assert_replays_exactly(dep, least=500)  # as many as its distinct entries, above
        report = pauses(dep, steps)
        print("\nrolling upgrade, " + "; ".join(report))
    finally:
        if simulator is not None and simulator.alive():
            simulator.proc.kill()
        dep.stop_all()
