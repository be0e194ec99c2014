"""Account events and interactions through ingest and the batch procedure: normalized onto
the player's partition, decided in record order with their table events, refused with a
reason (journaled and dead-lettered), re-keyed when misplaced, and replayed exactly."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from app.audit.model import ReplayRange, ReplayRecord
from app.audit.offline import worker_journal
from app.audit.replay import replay_records
from app.audit.revisions import Revision, RevisionBook
from app.core import Engine, PlayerState
from app.core.compile import compile_ruleset
from app.pipeline.batch import BatchDecider, BatchResult
from app.pipeline.ingest import RECORD_TYPE_HEADER, Ingest, RawRecord, partition_for
from app.pipeline.inputs import account_event, interaction
from app.pipeline.store import DictStore
from app.rules import default_document
from app.rules.policy import default_policies, runtime_view
from app.rules.versioning import assign_versions
from tests.support.factories import (
    ERASURE_KEY,
    account_record,
    interaction_record,
    ms,
    natural,
    profile,
)
from tests.support.hypothesis_profiles import examples
from tests.unit.pipeline.records import ACCOUNTS, PARTITIONS, TOPICS, Log, player_on

T0 = ms("2026-11-24T12:00:00Z")
MIN = 60_000
NOW = 4_000_000_000_000
POLICY = runtime_view(default_policies())
ENGINE = Engine(compile_ruleset(default_document()), "UTC", POLICY)
INGEST = Ingest(TOPICS, PARTITIONS, erasure_key=ERASURE_KEY)
X, Y = player_on(0, 0), player_on(1, 0)


class Tables:
    def __init__(self) -> None:
        self.states, self.profiles = DictStore(), DictStore()
        self.decider = BatchDecider(INGEST, self.states, self.profiles)

    def run(self, records) -> BatchResult:
        result = self.decider.decide(list(records), NOW, ENGINE)
        self.profiles.apply(result.profiles)
        self.states.apply(result.states)
        return result

    def state(self, player_id: str) -> PlayerState:
        partition, key = partition_for(player_id, PARTITIONS), player_id.encode()
        return PlayerState.from_bytes(self.states.get_many(partition, [key]).get(key))


def decisions(result: BatchResult, kind: str) -> list[dict]:
    return [e for e in result.journal if e["decision"] == kind]


def test_normalized_records_carry_a_prefixed_id_the_table_fields_empty_and_their_own_part():
    event, problem = account_event(account_record(event_id="pay-9", payment_method="E_WALLET"))
    assert problem is None
    assert (event["event_id"], event["event_type"], event["game"], event["bet"]) == (
        "acct:pay-9",
        "DEPOSIT",
        None,
        None,
    )
    assert event["account"]["payment_method"] == "E_WALLET"
    clicked, problem = interaction(interaction_record(interaction_id="i-1", recorded_at=T0))
    assert problem is None
    assert (clicked["event_id"], clicked["event_type"], clicked["occurred_at"]) == (
        "ia:i-1",
        "INTERACTION",
        T0,
    )


def test_what_a_normalizer_refuses_and_why():
    refused = {
        "DEPOSIT needs a positive amount_minor, got None": account_record(amount_minor=None),
        "WITHDRAWAL needs an ISO-4217 currency, got 'euro'": account_record(
            "WITHDRAWAL", currency="euro"
        ),
        "KYC_STATUS_CHANGED needs kyc_status": account_record(
            "KYC_STATUS_CHANGED", kyc_status=None
        ),
        "account event type UNKNOWN is not one Pitboss knows": account_record("UNKNOWN"),
    }
    for reason, record in refused.items():
        assert account_event(record)[1] == reason
    bare = interaction_record(reward_id=None, message_id=None)
    assert (
        interaction(bare)[1] == "an interaction must name the reward_id or message_id it is about"
    )


def test_account_events_are_decided_in_record_order_with_the_players_play():
    log = Log()
    log.profile(X, profile(X, country="IT"), T0)
    log.event(natural(player_id=X, occurred_at=T0 + MIN))  # not verified yet: held back
    log.account(account_record("KYC_STATUS_CHANGED", player_id=X, occurred_at=T0 + 2 * MIN))
    next_day = T0 + 24 * 60 * MIN  # the natural's rule pays once a day
    log.event(natural(player_id=X, occurred_at=next_day))
    result = Tables().run(log.records)
    assert [e["reason"] for e in decisions(result, "REWARD_SUPPRESSED")] == ["kyc_unverified"]
    assert len(decisions(result, "ACCOUNT_EVENT")) == 1
    assert [r["event_time"] for r in result.decisions.rewards] == [next_day]


def test_an_invalid_account_event_of_a_known_player_is_journaled_and_dead_lettered_for_them():
    log = Log()
    bad = log.account(account_record(player_id=X, amount_minor=0, occurred_at=T0))
    result = Tables().run(log.records)
    [rejected] = decisions(result, "EVENT_REJECTED")
    assert rejected["event_ids"] == [f"acct:{bad['event_id']}"]
    assert rejected["reason"] == "DEPOSIT needs a positive amount_minor, got 0"
    [(player, letter)] = result.player_letters
    assert player == X and letter["topic"] == TOPICS.account_events
    assert letter["value"] == ACCOUNTS.encode(bad) and letter["error"] == "INVALID"


def test_undecodable_bytes_a_missing_player_or_an_e_mail_are_dead_letters():
    garbage = RawRecord(TOPICS.account_events, 0, 0, b"k", b"\xc3\x01nonsense", T0)
    nobody = RawRecord(
        TOPICS.account_events, 0, 1, None, ACCOUNTS.encode(account_record(player_id="")), T0
    )
    mail = account_record(player_id="jo@example.com")
    personal = RawRecord(TOPICS.account_events, 0, 2, b"jo", ACCOUNTS.encode(mail), T0)
    late = account_record(player_id=X, occurred_at=T0 - 8 * 24 * 60 * MIN)
    old = RawRecord(TOPICS.account_events, partition_for(X, PARTITIONS), 3, b"x", None, T0)
    stale = RawRecord(old.topic, old.partition, 4, b"x", ACCOUNTS.encode(late), T0)
    result = Tables().run([garbage, nobody, personal, old, stale])
    reasons = [letter["reason"] for _key, letter in result.dead_letters]
    assert len(reasons) == 4
    assert "player_id is missing" in reasons and "the record has no value" in reasons
    assert any("e-mail" in r for r in reasons)
    hidden = next(letter for _k, letter in result.dead_letters if "e-mail" in letter["reason"])
    assert hidden["value"] is None and b"jo@" not in hidden["key"]
    [(player, letter)] = result.player_letters
    assert player == X and "more than 7 days before it was sent" in letter["reason"]
    assert result.decisions.events == 0


def test_a_misplaced_account_event_is_re_keyed_and_decided_on_the_players_partition():
    record = account_record(player_id=X, payment_method="E_WALLET", occurred_at=T0)
    wrong = (partition_for(X, PARTITIONS) + 1) % PARTITIONS
    misplaced = RawRecord(TOPICS.account_events, wrong, 0, b"x", ACCOUNTS.encode(record), T0)
    tables = Tables()
    result = tables.run([misplaced])
    [(key, value, partition, tag)] = result.batch.forwards
    assert (key, partition, tag) == (X.encode(), partition_for(X, PARTITIONS), b"AccountEvent")
    rekeyed = RawRecord(TOPICS.rekeyed, partition, 0, key, value, T0, ((RECORD_TYPE_HEADER, tag),))
    tables.run([rekeyed])
    assert tables.state(X).last_deposit == [T0, 5000, "EUR"]
    assert INGEST.event_of(rekeyed)["event_id"] == f"acct:{record['event_id']}"


def test_an_interaction_re_sent_in_a_later_batch_is_journaled_once():
    tables, log = Tables(), Log()
    for at in (T0, T0 + 1000):
        log.interaction(interaction_record(player_id=Y, interaction_id="c-1", recorded_at=at))
    first = tables.run(log.records[:1])
    again = tables.run(log.records[1:])
    assert len(decisions(first, "INTERACTION_RECORDED")) == 1
    assert decisions(again, "INTERACTION_RECORDED") == [] and again.decisions.duplicates == 1


# -- decided alike however cut, and replayed exactly -----------------------------------------


@st.composite
def mixed(draw) -> list[RawRecord]:
    """Play, account events and interactions of two players, one of them Italian."""
    log = Log()
    log.profile(X, profile(X, country="IT"), T0)
    log.profile(Y, profile(Y, country="GB"), T0)
    at = T0
    for _ in range(draw(st.integers(1, 24))):
        at += draw(st.integers(1, 30)) * MIN
        player = draw(st.sampled_from([X, Y]))
        kind = draw(st.sampled_from(["natural", "deposit", "kyc", "cancel", "click", "again"]))
        if kind == "natural":
            log.event(natural(player_id=player, occurred_at=at, round_id=f"r-{at}"))
        elif kind == "deposit":
            amount = draw(st.sampled_from([5_000, 250_000]))
            method = draw(st.sampled_from(["CARD", "E_WALLET"]))
            log.account(
                account_record(
                    player_id=player, occurred_at=at, amount_minor=amount, payment_method=method
                )
            )
        elif kind == "kyc":
            status = draw(st.sampled_from(["VERIFIED", "PENDING"]))
            log.account(
                account_record(
                    "KYC_STATUS_CHANGED", player_id=player, occurred_at=at, kyc_status=status
                )
            )
        elif kind == "cancel":
            log.account(account_record("WITHDRAWAL_CANCELLED", player_id=player, occurred_at=at))
        else:  # a click, or the same click re-sent
            ident = "c-same" if kind == "again" else f"c-{at}"
            log.interaction(
                interaction_record(
                    player_id=player, interaction_id=ident, recorded_at=at, message_id="cd-1"
                )
            )
    return log.records


def journal_in_batches(records: list[RawRecord], cuts: list[int]) -> list[tuple]:
    tables = Tables()
    bounds = [0, *sorted(set(cuts)), len(records)]
    journal = []
    for start, end in itertools.pairwise(bounds):
        journal += tables.run(records[start:end]).journal
    return sorted((e["entry_id"], e["decision"], e["reason"]) for e in journal)


@settings(max_examples=examples(40), deadline=None)
@given(records=mixed(), data=st.data())
def test_a_mixed_stream_decides_alike_however_it_is_cut_into_batches(records, data):
    whole = journal_in_batches(records, [])
    cuts = data.draw(st.lists(st.integers(0, len(records)), max_size=len(records)))
    assert journal_in_batches(records, cuts) == whole
    assert journal_in_batches(records, list(range(len(records)))) == whole


def test_the_replay_reproduces_a_mixed_streams_journal_exactly():
    log = Log()
    log.profile(X, profile(X, country="IT"), T0)
    log.event(natural(player_id=X, occurred_at=T0 + MIN))
    for i in range(6):  # frequent deposits: flagged, a risk marker; one by e-wallet
        method = "E_WALLET" if i == 2 else "CARD"
        log.account(
            account_record(player_id=X, occurred_at=T0 + (2 + i) * MIN, payment_method=method)
        )
    log.account(account_record("KYC_STATUS_CHANGED", player_id=X, occurred_at=T0 + 9 * MIN))
    log.event(natural(player_id=X, occurred_at=T0 + 10 * MIN, round_id="r-2"))
    log.interaction(interaction_record(player_id=X, recorded_at=T0 + 11 * MIN))
    log.interaction(interaction_record(player_id=X, recorded_at=T0 + 11 * MIN, reward_id=None))
    records = [
        ReplayRecord(r.topic, r.partition, r.offset, r.key, r.value, r.timestamp, r.headers)
        for r in log.records
    ]
    book = RevisionBook(
        [Revision(1, T0 - MIN, assign_versions(default_document(), None, 0, "test"))],
        lambda ruleset: Engine(ruleset, "UTC", POLICY),
    )
    secrets: dict[str, bytes] = {}
    journal = worker_journal(INGEST, records, lambda _t: book.engine(1), 3, secrets)
    kinds = {e["decision"] for copies in journal.values() for _o, e in copies}
    assert {
        "REWARD_SUPPRESSED",
        "ACCOUNT_EVENT",
        "DEPOSIT_FLAGGED",
        "INTERACTION_RECORDED",
        "EVENT_REJECTED",
    } <= kinds
    report = replay_records(INGEST, book, ReplayRange(), records, journal, secrets)
    assert report.mismatch_total == 0 and report.ambiguous_count == 0, report.mismatches[:3]
    assert report.matches == report.decisions >= 6 and report.events == 10


# -- whatever arrives ----------------------------------------------------------------------

ACCOUNT_FIELDS = st.fixed_dictionaries(
    {
        "event_id": st.sampled_from(["", "pay-1", "pay-2"]),
        "player_id": st.sampled_from(["", X, Y, "a@b.c"]),
        "type": st.sampled_from(
            ["DEPOSIT", "WITHDRAWAL_CANCELLED", "KYC_STATUS_CHANGED", "UNKNOWN"]
        ),
        "occurred_at": st.sampled_from([0, T0, T0 + 10 * MIN, 2**62]),
        "amount_minor": st.none() | st.integers(-(2**63), 2**63 - 1),
        "currency": st.none() | st.text(max_size=4),
        "payment_method": st.none() | st.sampled_from(["CARD", "E_WALLET", "OTHER"]),
        "status": st.none() | st.sampled_from(["PENDING", "COMPLETED", "FAILED", "CANCELLED"]),
        "kyc_status": st.none() | st.sampled_from(["VERIFIED", "REJECTED"]),
        "attributes": st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
    }
)


@settings(max_examples=examples(150), deadline=None)
@given(
    records=st.lists(
        st.one_of(ACCOUNT_FIELDS.map(ACCOUNTS.encode), st.binary(max_size=40)), max_size=6
    )
)
def test_whatever_arrives_on_account_events_is_decided_refused_or_dead_lettered(records):
    """Never a crash; each record lands in exactly one place."""
    messages = [
        RawRecord(TOPICS.account_events, partition_for(X, PARTITIONS), i, b"k", value, T0)
        for i, value in enumerate(records)
    ]
    result = Tables().run(messages)
    placed = (
        result.decisions.events
        + len(result.batch.forwards)
        + len(result.dead_letters)
        + len(result.player_letters)
    )
    assert placed == len(records)
    letters = [*result.dead_letters, *result.player_letters]
    assert all(letter["reason"] and letter["error"] != "OTHER" for _k, letter in letters)
