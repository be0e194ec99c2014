"""Player commands through ingest and the batch procedure: decoded from player-commands,
decided in record order with the player's play, the store's stock kept per partition under
a reserved key, answered on command-outcomes, and replayed exactly (given the same salt)."""

from __future__ import annotations

import itertools

import orjson

from app.audit.model import ReplayRange, ReplayRecord
from app.audit.offline import worker_journal
from app.audit.replay import replay_records
from app.audit.revisions import Revision, RevisionBook
from app.core import Engine
from app.core.compile import compile_ruleset
from app.pipeline.batch import BatchDecider, BatchResult
from app.pipeline.ingest import Ingest, partition_for
from app.pipeline.keys import STOCK
from app.pipeline.plan import OutputCodecs, output_plan
from app.pipeline.store import DictStore
from app.rules import default_document
from app.rules.versioning import assign_versions
from app.security.player_keys import Sealer
from tests.support.factories import ERASURE_KEY, ms, profile, table_event
from tests.unit.pipeline.records import PARTITIONS, TOPICS, Log, player_on

T0 = ms("2026-12-01T12:00:00Z")
MIN = 60_000
NOW = 4_000_000_000_000
SALT = b"pipeline-test-salt"
INGEST = Ingest(TOPICS, PARTITIONS, erasure_key=ERASURE_KEY)
X, Y = player_on(0, 0), player_on(0, 1)
_ids = itertools.count(1)


def engine(salt: bytes = SALT) -> Engine:
    return Engine(compile_ruleset(default_document()), "UTC", game_salt=salt)


def bet(player: str, at: int, stake: int = 100_000) -> dict:
    """A 1,000.00 EUR bet: 1,000 points by the default ruleset's wager-points."""
    stake_ = {"bet_type": "main", "stake_minor": stake, "currency": "EUR"}
    return table_event(player_id=player, occurred_at=at, bet=stake_, round_id=f"r-{at}")


def command(player: str, at: int, kind: str = "PURCHASE", **fields) -> dict:
    return {
        "command_id": fields.pop("command_id", f"c-{next(_ids)}"),
        "player_id": player,
        "type": kind,
        "item_id": fields.pop("item_id", None),
        "reward_id": fields.pop("reward_id", None),
        "target_id": None,
        "occurred_at": at,
        "attributes": {},
    }


def decided(result: BatchResult, kinds=("COMMAND_APPLIED", "COMMAND_REFUSED")) -> list[tuple]:
    return [
        (e["player_id"], e["decision"], e["reason"])
        for e in result.journal
        if e["decision"] in kinds
    ]


def test_commands_are_decided_with_play_and_the_stock_survives_batches():
    states, profiles = DictStore(), DictStore()
    decider = BatchDecider(INGEST, states, profiles)
    log = Log()
    log.event(bet(X, T0))
    log.command(command(X, T0 + 1, item_id="golden-chip", command_id="same"))
    first = decider.decide(log.records, NOW, engine())
    states.apply(first.states)
    assert decided(first) == [(X, "COMMAND_APPLIED", "purchase")]
    partition = partition_for(X, PARTITIONS)
    assert orjson.loads(states.get_many(partition, [STOCK])[STOCK]) == {"golden-chip": 1}
    # a later batch: the same command re-sent decides nothing; another player's purchase
    # counts on the same partition's stock
    log2 = Log()
    log2._offsets = dict(log._offsets)
    log2.command(command(X, T0 + 2, item_id="golden-chip", command_id="same"))
    log2.event(bet(Y, T0 + 3))
    log2.command(command(Y, T0 + 4, item_id="golden-chip"))
    log2.command(command(Y, T0 + 5, "PURCHASE", item_id=""))  # invalid: no item
    second = decider.decide(log2.records, NOW, engine())
    states.apply(second.states)
    assert decided(second) == [(Y, "COMMAND_APPLIED", "purchase")]
    assert second.decisions.duplicates == 1
    assert orjson.loads(states.get_many(partition, [STOCK])[STOCK]) == {"golden-chip": 2}
    [rejected] = [e for e in second.journal if e["decision"] == "EVENT_REJECTED"]
    assert "needs an item_id" in rejected["reason"]
    # the outcomes are answered on command-outcomes, keyed by the player
    codecs = OutputCodecs()
    plan = output_plan(
        second, codecs, Sealer({X: b"x" * 32, Y: b"y" * 32}, ERASURE_KEY), PARTITIONS
    )
    [answer] = [o for o in plan if o.role == "command_outcomes"]
    assert answer.key == Y.encode()
    assert codecs.journal.decode(answer.value)["decision"] == "COMMAND_APPLIED"


def test_a_run_of_purchases_and_spins_replays_to_exactly_the_journal():
    log = Log()
    at = T0
    for player in (X, Y):  # they consent to casino marketing by widget (a spin is marketing)
        log.profile(player, profile(player), T0 - MIN)
    for player in (X, Y):
        log.event(bet(player, at))
        at += MIN
        for _ in range(4):  # three spins a day at most: the fourth is refused
            log.command(command(player, at, item_id="lucky-spin"))
            at += MIN
        for _ in range(4):  # three plays, then none left
            log.command(command(player, at, "SPIN"))
            at += MIN
        log.command(command(player, at, item_id="golden-chip"))
        at += MIN
    records = [
        ReplayRecord(r.topic, r.partition, r.offset, r.key, r.value, r.timestamp, r.headers)
        for r in log.records
    ]
    doc = assign_versions(default_document(), None, 0, "test")

    def book(salt: bytes) -> RevisionBook:
        return RevisionBook(
            [Revision(1, T0 - MIN, doc)], lambda r: Engine(r, "UTC", game_salt=salt)
        )

    secrets: dict[str, bytes] = {}
    worker = book(SALT)
    journal = worker_journal(INGEST, records, lambda _t: worker.engine(1), 4, secrets)
    entries = [e for copies in journal.values() for _o, e in copies]
    assert sum(e["decision"] == "GAME_PLAYED" for e in entries) == 6
    assert sum(e["decision"] == "COMMAND_APPLIED" for e in entries) == 2 * (3 + 3 + 1)
    refused = sorted(e["reason"] for e in entries if e["decision"] == "COMMAND_REFUSED")
    assert refused == ["no_spin", "no_spin", "player_limit_day", "player_limit_day"]
    report = replay_records(INGEST, book(SALT), ReplayRange(), records, journal, secrets)
    assert report.mismatch_total == 0 and report.ambiguous_count == 0, report.mismatches[:3]
    assert report.matches == report.decisions == len(entries)
    # a replay without the operator's salt lands the spins elsewhere: it cannot agree
    wrong = replay_records(INGEST, book(b"guess"), ReplayRange(), records, journal, secrets)
    assert wrong.mismatch_total > 0


def test_the_last_item_goes_to_the_first_buyer_in_record_order_however_the_batches_fall():
    """X plays first, Y buys first: Y gets the partition's one item, in one batch or many."""
    doc = default_document()
    doc["store"].append(
        {"id": "one-left", "price": 10, "stock": PARTITIONS, "reward": {"kind": "XP"}}
    )
    shop = Engine(compile_ruleset(doc), "UTC")
    log = Log()
    log.event(bet(X, T0))
    log.event(bet(Y, T0 + 1))
    log.command(command(Y, T0 + 2, item_id="one-left"))
    log.command(command(X, T0 + 3, item_id="one-left"))
    for cut in (len(log.records), 1):
        states = DictStore()
        decider = BatchDecider(INGEST, states, DictStore())
        outcomes = []
        for start in range(0, len(log.records), cut):
            result = decider.decide(log.records[start : start + cut], NOW, shop)
            states.apply(result.states)
            outcomes += decided(result)
        assert sorted(outcomes) == sorted(
            [(Y, "COMMAND_APPLIED", "purchase"), (X, "COMMAND_REFUSED", "out_of_stock")]
        ), cut


def test_claims_of_pending_rewards_replay_to_exactly_the_journal():
    """Rewards waiting for a claim: claimed once, claimed twice, never claimed (expired on
    the next bet), across batches; the audit replay agrees entry for entry."""
    doc = default_document()
    doc["rules"].append(
        {
            "id": "claim-me",
            "events": ["BET_PLACED"],
            "reward": {"kind": "XP", "amount": 5, "claim": {"within": "1h"}},
        }
    )
    doc = assign_versions(doc, None, 0, "test")
    book = RevisionBook([Revision(1, T0 - MIN, doc)], lambda r: Engine(r, "UTC"))

    def journal_of(log: Log) -> tuple:
        records = [
            ReplayRecord(r.topic, r.partition, r.offset, r.key, r.value, r.timestamp, r.headers)
            for r in log.records
        ]
        secrets: dict[str, bytes] = {}
        journal = worker_journal(INGEST, records, lambda _t: book.engine(1), 3, secrets)
        return records, [e for copies in journal.values() for _o, e in copies], journal, secrets

    played = [bet(X, T0 + i * MIN) for i in range(3)]
    bets = Log()
    for event in played:
        bets.event(event)
    _, first, _, _ = journal_of(bets)
    pending = [
        e["reward_id"]
        for e in sorted(first, key=lambda e: e["event_time"])
        if e["details"].get("claim") == "pending"
    ]
    assert len(pending) == 3
    log = Log()
    for event in played:
        log.event(event)
    log.command(command(X, T0 + 4 * MIN, "CLAIM", reward_id=pending[0]))
    log.command(command(X, T0 + 5 * MIN, "CLAIM", reward_id=pending[0]))
    log.command(command(X, T0 + 6 * MIN, "CLAIM", reward_id=pending[1]))
    log.event(bet(X, T0 + 3 * 60 * MIN))  # past the third's hour: it expires, unclaimed
    log.command(command(X, T0 + 3 * 60 * MIN + 1, "CLAIM", reward_id=pending[2]))
    records, entries, journal, secrets = journal_of(log)
    outcomes = [e["reason"] for e in entries if e["decision"].startswith("COMMAND_")]
    assert outcomes == ["claim", "already_claimed", "claim", "claim_expired"]
    expired = [e for e in entries if e["reason"] == "claim_expired" and e["reward_id"]]
    assert [e["event_time"] for e in expired if e["decision"] == "REWARD_SUPPRESSED"] == [
        T0 + 2 * MIN + 60 * MIN
    ]
    report = replay_records(INGEST, book, ReplayRange(), records, journal, secrets)
    assert report.mismatch_total == 0 and report.ambiguous_count == 0, report.mismatches[:3]
    assert report.matches == report.decisions == len(entries)
