"""The audit replay against a real worker's journal on the real broker: simulated play
replays with zero mismatches, a tampered journal entry is caught, a what-if sees a doubling,
and a stopped replay resumes to the same result."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from app.audit.model import ReplayRange
from app.audit.source import ReplayOptions, run_replay
from app.contract.codec import AvroCodec
from app.devtools.deployment import Deployment, wait_for
from app.devtools.simulator import generate_events, make_players, player_profiles
from app.pipeline.ingest import PLAYER_EVENT_TYPES
from app.rules import DEFAULT_RULESET_PATH
from app.rules.publish import push
from tests.support.factories import natural

pytestmark = [pytest.mark.broker, pytest.mark.slow]

PLAYERS = 15


def replay(dep: Deployment, **options) -> object:
    return asyncio.run(asyncio.wait_for(run_replay(dep.settings, ReplayOptions(**options)), 120))


def totals(dep: Deployment) -> dict:
    return dep.view("/pitboss/stats/")["totals"]


def test_replay_matches_the_journal_and_catches_tampering_and_what_if(tmp_path: Path):
    dep = Deployment.create(tmp_path, partitions=2)
    try:
        published, _ = asyncio.run(push(dep.settings, DEFAULT_RULESET_PATH))
        assert published["revision"] == 1
        dep.start_worker()
        wait_for(lambda: dep.view("/pitboss/rules/")["revision"] == 1, what="revision 1 live")

        now = int(time.time() * 1000)
        players = make_players(PLAYERS, seed=11)
        profile_codec = AvroCodec("PlayerProfile")
        dep.produce(
            dep.settings.topics.player_profiles,
            [
                (p["player_id"].encode(), profile_codec.encode(p), None)
                for p in player_profiles(players, seed=11, updated_at_ms=now - 3_600_000)
            ],
        )
        wait_for(lambda: totals(dep)["profiles"] >= PLAYERS, what="profiles stored")
        events = generate_events(
            400, seed=11, start_ms=now - 30 * 60_000, players=PLAYERS, tables=3
        )
        events += [  # sure first naturals of the day for three players
            natural(player_id=p.player_id, occurred_at=now - 60_000 + i)
            for i, p in enumerate(players[:3])
        ]
        dep.produce_events(events)
        played = sum(e["event_type"] in PLAYER_EVENT_TYPES for e in events)
        wait_for(lambda: totals(dep)["events"] >= played, 60, what="every event decided")

        # An unchanged deployment: every decision replays exactly.
        outcome = replay(dep)
        report = outcome.report
        assert not outcome.stopped
        assert report.mismatch_total == 0 and report.ambiguous_count == 0, report.mismatches[:3]
        assert report.in_range == played and report.revisions == {"revision 1": played}
        assert report.decisions == report.journaled == report.matches == totals(dep)["journal"]
        assert report.in_force["first-natural-blackjack-of-day"].rewards >= 3

        # A deliberately altered copy of one journal entry.
        journal_codec = AvroCodec("JournalEntry")
        journal = dep.consume(
            dep.settings.topics.journal, "JournalEntry", lambda es: len(es) >= report.journaled
        )
        original = next(
            e
            for e in journal
            if e["decision"] == "REWARD_ISSUED" and e["rule_id"] == "wager-points"
        )
        altered = {**original, "details": {**original["details"], "amount": "999999"}}
        # on the player's partition, as the worker writes it (the key is their pseudonym)
        [where] = {
            r.partition
            for r in dep.read_all(dep.settings.topics.journal)
            if journal_codec.decode(r.value)["entry_id"] == original["entry_id"]
        }
        dep.produce(
            dep.settings.topics.journal,
            [(original["player_id"].encode(), journal_codec.encode(altered), where)],
        )
        tampered = replay(dep).report
        assert tampered.mismatch_counts == {"differs": 1}
        [mismatch] = tampered.mismatches
        assert mismatch.entry_id == original["entry_id"]
        assert mismatch.fields == {"details.amount": [original["details"]["amount"], "999999"]}
        assert tampered.matches == report.matches - 1

        # What-if: the first natural of the day pays 20 XP instead of 10.
        candidate = tmp_path / "candidate.yaml"
        text = DEFAULT_RULESET_PATH.read_text()
        assert text.count("amount: 10\n") == 1
        candidate.write_text(text.replace("amount: 10\n", "amount: 20\n"))
        what_if = replay(dep, what_if=candidate).report
        before = what_if.in_force["first-natural-blackjack-of-day"]
        after = what_if.candidate["first-natural-blackjack-of-day"]
        assert after.rewards == before.rewards >= 3
        assert after.amounts == {"XP": 2 * before.amounts["XP"]} and after.players == before.players
        assert (
            what_if.candidate["wager-points"].to_json()
            == what_if.in_force["wager-points"].to_json()
        )

        # Stopped after the first partition, then resumed: the same report.
        checkpoint = tmp_path / "replay.checkpoint"
        stop = asyncio.Event()
        first = replay(
            dep,
            checkpoint=checkpoint,
            stop=stop,
            progress=lambda p: p.partition > 0 and stop.set(),
            progress_every=0.0,
        )
        assert first.stopped and first.report.partitions_done == [0] and checkpoint.exists()
        resumed = replay(dep, checkpoint=checkpoint, resume=True).report
        assert sorted(resumed.partitions_done) == [0, 1] and not checkpoint.exists()
        assert (resumed.in_range, resumed.matches, resumed.mismatch_counts) == (
            tampered.in_range,
            tampered.matches,
            tampered.mismatch_counts,
        )

        # A range by event time: the rest is warm-up, and still nothing disagrees.
        middle = sorted(e["occurred_at"] for e in events)[len(events) // 2]
        ranged = replay(dep, window=ReplayRange(from_ms=middle)).report
        assert 0 < ranged.in_range < played and ranged.warmup_before > 0
        assert ranged.mismatch_counts in ({}, {"differs": 1})  # the tampered entry, if in range
    finally:
        dep.stop_all()
