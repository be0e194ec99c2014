"""Rolling out the version 3 player state with a way back: workers write version 2 (the JSON a
release before 3 reads), then switch to 3; the decisions are those of writing 3 all along."""

from __future__ import annotations

from app.core import PlayerState
from app.pipeline.batch import BatchDecider
from app.pipeline.ingest import Ingest, partition_for
from app.pipeline.store import DictStore
from tests.support.factories import ERASURE_KEY, ms, natural, settled
from tests.support.rulesets import default_engine
from tests.unit.pipeline.records import PARTITIONS, TOPICS, Log, player_on

T0 = ms("2026-11-24T12:00:00Z")
MIN = 60_000
NOW = 4_000_000_000_000
ENGINE = default_engine()
PLAYERS = [player_on(0, 0), player_on(0, 1), player_on(1, 0)]


def play() -> list:
    """Two days of losses (a cool-down) and naturals for each player."""
    log = Log()
    bet = {"bet_type": "main", "stake_minor": 18_750, "currency": "EUR"}
    for day in range(2):
        for player_id in PLAYERS:
            at = T0 + day * 86_400_000
            for i in range(4):
                log.event(settled("LOSS", player_id=player_id, occurred_at=at + i * MIN, bet=bet))
            log.event(natural(player_id=player_id, occurred_at=at + 5 * MIN))
    return log.records


RECORDS = play()  # once: the factories number their event ids


def run(versions: list[int]) -> tuple[list[dict], DictStore]:
    """Decide the records in one batch per entry of ``versions``, each written at that
    version: a deployment whose setting changes between batches."""
    records, states, profiles = RECORDS, DictStore(), DictStore()
    journal: list[dict] = []
    size = -(-len(records) // len(versions))
    for n, version in enumerate(versions):
        ingest = Ingest(TOPICS, PARTITIONS, erasure_key=ERASURE_KEY)
        decider = BatchDecider(ingest, states, profiles, version)
        result = decider.decide(records[n * size : (n + 1) * size], NOW, ENGINE)
        states.apply(result.states)
        profiles.apply(result.profiles)
        journal += result.decisions.journal
    return journal, states


def stored(states: DictStore) -> dict[str, bytes]:
    return {
        p: states.get_many(partition_for(p, PARTITIONS), [p.encode()])[p.encode()] for p in PLAYERS
    }


def test_writing_version_2_then_3_decides_as_writing_3_all_along():
    along, latest = run([3, 3])
    rolled, switched = run([2, 3])
    held, _ = run([2, 2])
    assert along and rolled == along == held
    assert {p: PlayerState.from_bytes(s) for p, s in stored(switched).items()} == {
        p: PlayerState.from_bytes(s) for p, s in stored(latest).items()
    }


def test_a_worker_set_to_version_2_leaves_only_json_states_a_release_before_3_reads():
    _, states = run([3, 2])  # a rollback prepared: the last batch rewrites every player
    assert all(data[:1] == b"{" for data in stored(states).values())
