"""Tournament prizes on the winner's partition: a ``TournamentPrize`` record through ingest and
the batch procedure is paid once (the prize id is the reward id; a re-published record is a
duplicate), held back by the guards as of payout, journaled sealed, and replayed exactly."""

from __future__ import annotations

from app.audit.model import ReplayRange, ReplayRecord
from app.audit.offline import worker_journal
from app.audit.replay import replay_records
from app.audit.revisions import Revision, RevisionBook
from app.contract.codec import AvroCodec
from app.core import Engine
from app.core.compile import compile_ruleset
from app.core.tournaments import prize_id
from app.pipeline.batch import BatchDecider
from app.pipeline.ingest import Ingest
from app.pipeline.store import DictStore
from app.rules import default_document
from app.rules.policy import default_policies, runtime_view
from app.rules.versioning import assign_versions
from tests.support.factories import ERASURE_KEY, ms, natural, profile
from tests.unit.pipeline.records import PARTITIONS, TOPICS, Log, player_on

T0 = ms("2026-11-24T12:00:00Z")
MIN = 60_000
NOW = 4_000_000_000_000
POLICY = runtime_view(default_policies())
ENGINE = Engine(compile_ruleset(default_document()), "UTC", POLICY)
INGEST = Ingest(TOPICS, PARTITIONS, erasure_key=ERASURE_KEY)
PRIZES = AvroCodec("TournamentPrize")
X, Y = player_on(0, 0), player_on(1, 0)


def prize(log: Log, player_id: str, rank: int, awarded_at: int) -> str:
    """The prize record the board's keeper publishes, on the winner's partition."""
    record = {
        "prize_id": prize_id("final-table", "once", rank),
        "player_id": player_id,
        "tournament_id": "final-table",
        "tournament_version": 2,
        "occurrence": "once",
        "rank": rank,
        "score": 100 - rank,
        "kind": "POINTS",
        "amount": 50,
        "currency": None,
        "ended_at": T0,
        "awarded_at": awarded_at,
    }
    log._add(TOPICS.tournament_prizes, player_id, PRIZES.encode(record), awarded_at)
    return record["prize_id"]


def stream() -> tuple[Log, str, str]:
    log = Log()
    log.profile(X, profile(X), T0 - MIN)
    log.profile(Y, profile(Y, self_excluded=True), T0 - MIN)
    log.event(natural(player_id=X, occurred_at=T0 - MIN))
    first = prize(log, X, 1, T0 + MIN)
    prize(log, X, 1, T0 + 2 * MIN)  # re-published after the keeper's crash
    second = prize(log, Y, 2, T0 + MIN)
    return log, first, second


def test_a_prize_is_paid_once_on_the_winner_s_partition_and_guarded_at_payout():
    log, first, second = stream()
    decider = BatchDecider(INGEST, DictStore(), DictStore())
    result = decider.decide(log.records, NOW, ENGINE)
    paid = [r for r in result.decisions.rewards if r["rule_id"] == "tournament:final-table"]
    assert [(r["reward_id"], r["player_id"], r["amount"]) for r in paid] == [(first, X, 50)]
    issued = [e for e in result.journal if e["reward_id"] == first]
    assert [e["decision"] for e in issued] == ["REWARD_ISSUED"]
    held = [e for e in result.journal if e["reward_id"] == second]
    assert [(e["decision"], e["reason"], e["player_id"]) for e in held] == [
        ("REWARD_SUPPRESSED", "self_excluded", Y)
    ]
    assert result.decisions.duplicates == 1
    assert not result.dead_letters


def test_the_replay_reproduces_the_prize_decisions_exactly():
    log, first, second = stream()
    records = [
        ReplayRecord(r.topic, r.partition, r.offset, r.key, r.value, r.timestamp, r.headers)
        for r in log.records
    ]
    book = RevisionBook(
        [Revision(1, T0 - 2 * MIN, assign_versions(default_document(), None, 0, "test"))],
        lambda ruleset: Engine(ruleset, "UTC", POLICY),
    )
    secrets: dict[str, bytes] = {}
    journal = worker_journal(INGEST, records, lambda _t: book.engine(1), 2, secrets)
    entries = [e for copies in journal.values() for _o, e in copies]
    prizes = {e["reward_id"]: e["decision"] for e in entries if e["reward_id"] in {first, second}}
    assert prizes == {first: "REWARD_ISSUED", second: "REWARD_SUPPRESSED"}
    # sealed as every entry of a player's: the id is not in the clear
    assert not [e for e in entries if e["player_id"] in (X, Y)]
    report = replay_records(INGEST, book, ReplayRange(), records, journal, secrets)
    assert report.mismatch_total == 0 and report.ambiguous_count == 0, report.mismatches[:3]
    assert report.matches == report.decisions >= 2
