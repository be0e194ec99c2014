"""A tournament on two real workers, played as a backfill (its whole schedule is in the past
by the wall clock): bets scored by the core, standings kept by the board's owner, closed by
the event time of its partition's score records (a later play on another tournament whose
board shares the partition), not by the wall clock; the owner is SIGKILLed as its prize
records come out and restarted; each prize is decided
once on its winner's partition (one REWARD_ISSUED journal entry and reward per prize id, or
REWARD_SUPPRESSED where a guard holds it back at payout), equal to what the pure
``finalise`` makes of the same score records; the kept TOURNAMENT_FINISHED entry names no
player; the replay reproduces the prize decisions; a forgotten winner is named by no kept
topic."""

from __future__ import annotations

import asyncio
import signal
import time
import urllib.error
from datetime import UTC, datetime

import orjson
import pytest
import yaml

from app.audit.source import ReplayOptions, run_replay
from app.contract.codec import AvroCodec
from app.core.compile import compile_ruleset
from app.core.tournaments import finalise
from app.devtools.deployment import Deployment, wait_for
from app.devtools.localbroker import free_port
from app.leaderboards.board import Board, parse_score
from app.pipeline.ingest import partition_for
from app.rules import DEFAULT_RULESET_PATH
from app.rules.publish import push
from app.security.player_keys import is_player_pseudonym
from app.settings import Settings
from tests.e2e.test_privacy_e2e import pitboss, topics_naming
from tests.support.factories import profile, table_event

pytestmark = [pytest.mark.broker, pytest.mark.slow]

BOARD = "final-table:ALL:once"
REWARD = AvroCodec("Reward")
JOURNAL = AvroCodec("JournalEntry")
RULE = "tournament:final-table"
PRIZES = AvroCodec("TournamentPrize")
#: the tournament ended this long before the test starts: a wall-clock close would come at
#: once, before its play is in
ENDED_S_AGO = 300


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def tournament_yaml(start_ms: int, end_ms: int, closer: str) -> str:
    """final-table, and a tournament that runs after it: its board shares final-table's
    partition, so a play on it moves that partition's event time past final-table's end."""
    return f"""
tournaments:
  - id: final-table
    schedule: {{from: "{iso(start_ms)}", until: "{iso(end_ms)}"}}
    score: {{kind: POINTS}}
    min_bet: 1000
    grace: 2s
    prizes:
      - {{ranks: 1, kind: POINTS, amount: 500}}
      - {{ranks: 2-3, kind: WHEEL_SPIN, amount: 1}}
  - id: {closer}
    schedule: {{from: "{iso(end_ms)}", until: "{iso(end_ms + 3_600_000)}"}}
    score: {{kind: POINTS}}
    prizes: [{{ranks: 1, kind: POINTS, amount: 1}}]
"""


def sharing_partition(partitions: int) -> str:
    """A tournament id whose board lands on final-table's board's partition."""
    return next(
        name
        for i in range(1000)
        if partition_for(f"{(name := f'after-party-{i}')}:ALL:once", partitions)
        == partition_for(BOARD, partitions)
    )


@pytest.mark.deployment(PITBOSS_TOURNAMENT_CLOSE_SECONDS="0.5")
def test_a_tournament_finishes_across_a_sigkill_and_pays_one_set_of_prizes(dep, tmp_path):
    now = int(time.time() * 1000)
    end = now - ENDED_S_AGO * 1000
    closer = sharing_partition(dep.settings.partitions)
    text = DEFAULT_RULESET_PATH.read_text() + tournament_yaml(now - 3_600_000, end, closer)
    rules = tmp_path / "tournament.yaml"
    rules.write_text(text)
    asyncio.run(push(dep.settings, rules))

    port = str(free_port())
    other = Deployment(
        {**dep.env, "PITBOSS_WEB_PORT": port},
        Settings.from_env({**dep.env, "PITBOSS_WEB_PORT": port}),
    )
    try:
        # p-bo gave no marketing consent: the spin it wins is held back at payout (the
        # profiles are in long before the prizes are)
        players = ("p-ana", "p-bo", "p-cy", "p-dee", "p-eve")
        dep.produce_profiles(
            profile(p, country="GB", consents=[] if p == "p-bo" else profile()["consents"])
            for p in players
        )
        dep.start_worker("tw-1")
        other.start_worker("tw-2")
        # five players, stakes in euros (a point per euro); two tie at 40: the first there leads
        t0 = now - 600_000
        plays = {
            "p-ana": [30, 30],
            "p-bo": [40],
            "p-cy": [20, 20],
            "p-dee": [5, 5, 5],  # under the minimum bet (10.00): never scores
            "p-eve": [100],
        }
        events = [
            table_event(
                player_id=player,
                occurred_at=t0 + 1000 * i + j,
                bet={"bet_type": "main", "stake_minor": euros * 100, "currency": "EUR"},
            )
            for i, (player, stakes) in enumerate(plays.items())
            for j, euros in enumerate(stakes)
        ]
        dep.produce_events(events)

        def standings() -> dict | None:
            try:
                body = dep.view(f"/pitboss/leaderboards/{BOARD}/")
            except urllib.error.HTTPError:  # 404 until its first score
                return None
            return body if len(body["top"]) == 4 else None

        running = wait_for(standings, 60, "the standings of all four scoring players")
        assert not running["final"]
        assert [(r["player_id"], r["total"]) for r in running["top"]] == [
            ("p-eve", 100),
            ("p-ana", 60),
            ("p-bo", 40),  # reached 40 at its first bet, before p-cy's second
            ("p-cy", 40),
        ]

        # the worker that keeps the board: the one listing it
        owner = next(
            (w, via)
            for w, via in ((dep.workers[0], dep), (other.workers[0], other))
            if BOARD in via.view("/pitboss/leaderboards/")["boards"]
        )
        worker, via = owner
        # long past end + grace by the wall clock, the board stays open: its partition's
        # event time has not reached it (and the partition was not quiet for the idle 60 s)
        time.sleep(2)
        assert not via.view(f"/pitboss/leaderboards/{BOARD}/")["final"]

        # a play after the end (on the other tournament) closes it by event time; kill the
        # owner the moment its first prize record is out, then bring it back
        dep.produce_events(
            [
                table_event(
                    player_id="p-dee",
                    occurred_at=end + 2000,
                    bet={"bet_type": "main", "stake_minor": 500, "currency": "EUR"},
                )
            ]
        )
        topics = dep.settings.topics
        dep.consume(topics.tournament_prizes, "TournamentPrize", bool, timeout=60)
        worker.stop(signal.SIGKILL)
        restarted = via.start_worker(worker.name)
        final = wait_for(
            lambda: (b := via.view(f"/pitboss/leaderboards/{BOARD}/"))["final"] and b,
            60,
            "the board marked final after the restart",
        )
        assert [r["player_id"] for r in final["top"]] == ["p-eve", "p-ana", "p-bo", "p-cy"]
        reference = reference_prizes(dep, text, end)
        assert [(p["player_id"], p["rank"], p["kind"], p["amount"]) for p in reference] == [
            ("p-eve", 1, "POINTS", 500),
            ("p-ana", 2, "WHEEL_SPIN", 1),
            ("p-bo", 3, "WHEEL_SPIN", 1),
        ]
        ids = {p["prize_id"]: p for p in reference}
        # the keeper published each prize (again after the crash: the same content)
        published = [PRIZES.decode(r.value) for r in dep.read_all(topics.tournament_prizes)]
        assert {p["prize_id"] for p in published} == set(ids)
        for copy in published:
            assert summary(copy) == summary(ids[copy["prize_id"]])

        def decided(entries: list) -> list:
            return [e for e in entries if e["reward_id"] in ids]

        dep.consume(topics.journal, "JournalEntry", lambda es: len(decided(es)) >= 3, timeout=60)
        time.sleep(3)  # a few more close intervals: a final board is never paid again
        assert restarted.alive()
        dep.wait_quiet()

        # each prize decided once, on its winner's partition, named by pseudonym only
        n = dep.settings.partitions
        entries = {}
        for record in dep.read_all(topics.journal):
            entry = JOURNAL.decode(record.value)
            if entry["reward_id"] in ids:
                winner = ids[entry["reward_id"]]["player_id"]
                assert record.partition == partition_for(winner, n)
                assert entry["player_id"] != winner and is_player_pseudonym(entry["player_id"])
                entries.setdefault(entry["reward_id"], set()).add(
                    (entry["entry_id"], entry["decision"], entry["reason"])
                )
        assert {
            ids[r]["player_id"]: sorted(d for _e, d, _r in es) for r, es in entries.items()
        } == {
            "p-eve": ["REWARD_ISSUED"],
            "p-ana": ["REWARD_ISSUED"],
            "p-bo": ["REWARD_SUPPRESSED"],
        }
        [held] = entries[ids_of(reference, "p-bo")]
        assert held[2] == "no_consent"
        paid = [REWARD.decode(r.value) for r in dep.read_all(topics.rewards)]
        paid = [r for r in paid if r["rule_id"] == RULE]
        assert {r["reward_id"]: (r["player_id"], r["kind"], r["amount"]) for r in paid} == {
            ids_of(reference, "p-eve"): ("p-eve", "POINTS", 500),
            ids_of(reference, "p-ana"): ("p-ana", "WHEEL_SPIN", 1),
        }

        finished = [
            e
            for e in dep.consume(
                topics.journal,
                "JournalEntry",
                lambda es: any(e["decision"] == "TOURNAMENT_FINISHED" for e in es),
            )
            if e["decision"] == "TOURNAMENT_FINISHED"
        ]
        assert len({e["entry_id"] for e in finished}) == 1
        standings_entry = orjson.loads(finished[0]["details"]["standings"])
        assert [(row["rank"], row.get("reward_id")) for row in standings_entry] == [
            (p["rank"], p["prize_id"]) for p in reference
        ] + [(4, None)]
        assert "p-" not in finished[0]["details"]["standings"]

        outcome = asyncio.run(asyncio.wait_for(run_replay(dep.settings, ReplayOptions()), 120))
        report = outcome.report
        assert report.mismatch_total == 0 and report.ambiguous_count == 0, report.mismatches[:3]
        assert report.matches == report.decisions >= 3

        # forgotten, a winner is named by no kept topic: not the kept TOURNAMENT_FINISHED
        # entry, nor the final board's latest changelog value (taken off it, still final)
        forgot = pitboss(dep, "forget", "p-eve", "--yes")
        assert forgot.returncode == 0, forgot.stderr
        after = wait_for(
            lambda: "p-eve" not in str(b := via.view(f"/pitboss/leaderboards/{BOARD}/")) and b,
            60,
            "the final board to drop the forgotten winner",
        )
        assert after["final"] and [r["player_id"] for r in after["top"]] == [
            "p-ana",
            "p-bo",
            "p-cy",
        ]
        dep.wait_quiet()
        assert topics_naming(dep, {b"p-eve"}) == {}
    finally:
        other.stop_all()


def summary(prize: dict) -> tuple:
    """A prize record but for when it was finalised (a re-publication's clock is later)."""
    return tuple(v for k, v in prize.items() if k != "awarded_at")


def ids_of(reference: list[dict], player: str) -> str:
    return next(p["prize_id"] for p in reference if p["player_id"] == player)


def reference_prizes(dep: Deployment, text: str, end: int) -> list[dict]:
    """The pure reference: every score record of the board, applied in order, finalised."""
    tournament = compile_ruleset(yaml.safe_load(text)).tournaments[0]
    updates = []
    for record in dep.read_all(dep.settings.topics.leaderboard_scores):
        if record.key == BOARD.encode():
            updates.append(parse_score(record.key, record.value)[1])
    assert partition_for(BOARD, dep.settings.partitions) >= 0 and updates
    board = Board(tournament.top).updated(updates)
    return finalise(board, tournament, "once", end).prizes
