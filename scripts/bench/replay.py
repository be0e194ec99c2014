"""Audit replay speed on simulated play, in events per second (no Kafka: the pure replay).

    python -m scripts.bench.replay --events 20000 --players 500

Three numbers: the worker's decision path alone in micro-batches (the journal to compare
with), the replay (the same path plus choosing revisions, placing and comparing every
decision), and the replay with a what-if candidate (every event decided twice). Reading the
topics is not included: ``pitboss replay`` prints its end-to-end records/s when it ends.
Rates are per second of this process's CPU time, so a busy machine does not skew them.
"""

from __future__ import annotations

import argparse
import time

from app.audit.model import ReplayRange
from app.audit.offline import records_of, worker_journal
from app.audit.replay import replay_records
from app.audit.report import Report
from app.audit.revisions import Revision, RevisionBook
from app.core import Engine
from app.core.rules import Ruleset
from app.devtools.simulator import generate_events, make_players, player_profiles
from app.pipeline.collector import tune_for_batches
from app.pipeline.ingest import Ingest
from app.rules import compile_document, default_document
from app.rules.versioning import assign_versions
from app.settings import TopicNames
from scripts.bench.common import ERASURE_KEY

TOPICS = TopicNames.from_env({})
PARTITIONS = 3
START = 1_795_341_600_000  # 2026-11-22T10:00:00Z


def make_engine(ruleset: Ruleset) -> Engine:
    return Engine(ruleset, "UTC")


def doubled_natural_xp() -> dict:
    """The what-if candidate: the first natural of the day earns twice the XP."""
    doc = default_document()
    [rule] = [r for r in doc["rules"] if r["id"] == "first-natural-blackjack-of-day"]
    rule["reward"]["amount"] = 20
    return doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--players", type=int, default=500)
    parser.add_argument("--tables", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    tune_for_batches()  # as the worker runs

    players = make_players(args.players, seed=args.seed)
    events = generate_events(
        args.events, seed=args.seed, start_ms=START, players=args.players, tables=args.tables
    )
    ingest = Ingest(TOPICS, PARTITIONS, erasure_key=ERASURE_KEY)
    profiles = player_profiles(players, seed=args.seed, updated_at_ms=START)
    records = records_of(ingest, events, profiles, START - 1000)
    first = assign_versions(default_document(), None, 0, "bench")
    book = RevisionBook([Revision(1, 0, first)], make_engine)
    candidate = make_engine(
        compile_document(assign_versions(doubled_natural_xp(), first, 1, "bench"))
    )

    started = time.process_time()
    secrets: dict[str, bytes] = {}
    journal = worker_journal(ingest, records, lambda _t: book.engine(1), 500, secrets)
    worker_s = time.process_time() - started
    entries = sum(len(c) for c in journal.values())

    results: dict[str, tuple[float, Report]] = {}
    for name, what_if in (("replay", None), ("replay + what-if", candidate)):
        started = time.process_time()
        report = replay_records(
            Ingest(TOPICS, PARTITIONS, erasure_key=ERASURE_KEY),
            book,
            ReplayRange(),
            records,
            journal,
            secrets,
            what_if,
        )
        results[name] = (time.process_time() - started, report)
        assert report.mismatch_total == 0, report.mismatches[:3]

    played = results["replay"][1].events
    print(
        f"{len(records):,} records ({played:,} player events, {args.players:,} players, "
        f"{PARTITIONS} partitions), {entries:,} journal entries"
    )
    print(f"  {'worker path (journal)':<22} {played / worker_s:>9,.0f} events/s")
    for name, (seconds, report) in results.items():
        print(
            f"  {name:<22} {played / seconds:>9,.0f} events/s  "
            f"({report.matches:,} matches, {report.mismatch_total} mismatches, {seconds:.2f} s CPU)"
        )


if __name__ == "__main__":
    main()
