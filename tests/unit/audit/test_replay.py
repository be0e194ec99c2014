"""The audit replay without Kafka: a worker's journal is reproduced exactly, and every way it
can disagree (an altered, missing or invented entry; another ruleset) is reported."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import orjson
import pytest

from app.audit import offline
from app.audit.model import ReplayRange, ReplayRecord
from app.audit.offline import Journal
from app.audit.replay import replay_records
from app.audit.report import Report, identity
from app.audit.revisions import Revision, RevisionBook
from app.contract.codec import AvroCodec
from app.core import Engine
from app.core.rules import Ruleset
from app.devtools.simulator import generate_events, make_players, player_profiles
from app.pipeline.batch import BatchDecider
from app.pipeline.ingest import Ingest
from app.pipeline.store import DictStore
from app.rules import DEFAULT_RULESET_PATH, compile_document, default_document
from app.rules.versioning import assign_versions
from app.security.player_keys import is_player_pseudonym, player_pseudonym
from app.settings import TopicNames
from tests.support.factories import ERASURE_KEY, losing_burst, ms, natural, table_event
from tests.support.factories import profile as factory_profile

TOPICS = TopicNames.from_env({})
PARTITIONS = 3
START = ms("2026-11-22T10:00:00Z")


def make_engine(ruleset: Ruleset) -> Engine:
    return Engine(ruleset, "UTC")


def published(doc: dict, live: dict | None, at: int) -> dict:
    return assign_versions(doc, live, at, "test")


def doubled_natural_xp() -> dict:
    doc = default_document()
    [rule] = [r for r in doc["rules"] if r["id"] == "first-natural-blackjack-of-day"]
    rule["reward"]["amount"] = 20
    return doc


INGEST = Ingest(TOPICS, PARTITIONS, erasure_key=ERASURE_KEY)


#: player id -> secret: what the workers of these tests wrote to player-keys
SECRETS: dict[str, bytes] = {}


def records_of(events: Sequence[dict], profiles: Sequence[dict] = ()) -> list[ReplayRecord]:
    return offline.records_of(INGEST, events, profiles, START - 1000)


def work(
    records: Sequence[ReplayRecord], engine_at: Callable[[int], Engine], batch: int = 7
) -> Journal:
    """What a worker journals, in micro-batches of ``batch`` (the replay cuts its own),
    sealed under the secrets it makes in ``SECRETS`` (the player-keys topic)."""
    return offline.worker_journal(INGEST, records, engine_at, batch, SECRETS)


@pytest.fixture(scope="module")
def play() -> tuple[list[ReplayRecord], Journal, RevisionBook]:
    """Simulated play of 12 players with profiles, a few sure naturals, under revision 1."""
    players = make_players(12, seed=3)
    events = generate_events(700, seed=3, start_ms=START, players=12, tables=3)
    end = events[-1]["occurred_at"]
    events += [
        natural(player_id=p.player_id, occurred_at=end + 1000 * i)
        for i, p in enumerate(players[:4], start=1)
    ]
    events.append(table_event(player_id=players[5].player_id, studio_id="", occurred_at=end))
    # a losing burst: a cool-down, and the natural after it held back
    loser = players[6].player_id
    events += losing_burst(loser, end + 10_000)
    events.append(natural(player_id=loser, occurred_at=end + 20_000))
    records = records_of(events, player_profiles(players, seed=3, updated_at_ms=START))
    book = RevisionBook(
        [Revision(1, START - 60_000, published(default_document(), None, 0))], make_engine
    )
    return records, work(records, lambda _t: book.engine(1)), book


def replay(records, journal, book, window=None, candidate=None, secrets=None) -> Report:
    ingest = Ingest(TOPICS, PARTITIONS, erasure_key=ERASURE_KEY)
    keys = SECRETS if secrets is None else secrets
    return replay_records(ingest, book, window or ReplayRange(), records, journal, keys, candidate)


def entries(journal: Journal) -> list[dict]:
    return [entry for copies in journal.values() for _offset, entry in copies]


def test_simulated_play_replays_to_exactly_the_journal(play):
    records, journal, book = play
    decisions = entries(journal)
    kinds = {e["decision"] for e in decisions}
    assert {
        "REWARD_ISSUED",
        "REWARD_SUPPRESSED",
        "COOLDOWN_STARTED",
        "MISSION_PROGRESS",
        "EVENT_REJECTED",
    } <= kinds
    report = replay(records, journal, book)
    assert report.mismatch_total == 0 and report.ambiguous_count == 0, report.mismatches[:3]
    assert report.decisions == report.journaled == report.matches == len(decisions)
    assert report.events == report.in_range > 400 and report.warmup_before == 0
    assert report.revisions == {"revision 1": report.events}


def test_an_altered_entry_is_a_mismatch_naming_the_field(play):
    records, journal, book = play
    altered = copy.deepcopy(journal)
    p, copies = next((p, c) for p, c in altered.items() if c)
    offset, entry = next(
        (o, e)
        for o, e in copies
        if e["decision"] == "REWARD_ISSUED" and e["rule_id"] == "wager-points"
    )
    entry["details"]["amount"] = str(int(entry["details"]["amount"]) * 10)
    report = replay(records, altered, book)
    assert report.mismatch_counts == {"differs": 1}
    [mismatch] = report.mismatches
    assert (mismatch.entry_id, mismatch.partition, mismatch.journal_offset) == (
        entry["entry_id"],
        p,
        offset,
    )
    assert list(mismatch.fields) == ["details.amount"]
    assert report.matches == report.decisions - 1


def test_a_second_differing_copy_is_a_mismatch_and_an_identical_one_is_not(play):
    records, journal, book = play
    doubled = copy.deepcopy(journal)
    p = next(p for p, c in doubled.items() if c)
    _offset, entry = doubled[p][0]
    same = {**copy.deepcopy(entry), "recorded_at": entry["recorded_at"] + 5}  # re-journaled
    other = copy.deepcopy(entry)
    other["rule_version"] = 9
    doubled[p] += [(10_000, same), (10_001, other)]
    report = replay(records, doubled, book)
    assert report.journal_duplicates == 1
    assert report.mismatch_counts == {"differs": 1}
    assert report.mismatches[0].fields == {"rule_version": [entry["rule_version"], 9]}
    assert report.mismatches[0].journal_offset == 10_001


def test_missing_and_invented_entries_are_reported(play):
    records, journal, book = play
    changed = copy.deepcopy(journal)
    p = next(p for p, c in changed.items() if len(c) > 2)
    _, dropped = changed[p].pop(1)
    invented = copy.deepcopy(changed[p][0][1])
    invented["entry_id"] = "je-invented"
    changed[p].append((99_999, invented))
    report = replay(records, changed, book)
    assert report.mismatch_counts == {"missing_in_journal": 1, "extra_in_journal": 1}
    by_kind = {m.kind: m for m in report.mismatches}
    assert by_kind["missing_in_journal"].entry_id == identity(dropped)
    assert (by_kind["extra_in_journal"].entry_id, by_kind["extra_in_journal"].journal_offset) == (
        "je-invented",
        99_999,
    )


def test_what_if_with_a_doubled_reward_doubles_that_rule_only(play):
    records, journal, book = play
    candidate = make_engine(
        compile_document(published(doubled_natural_xp(), book.epochs[1].document, 1))
    )
    report = replay(records, journal, book, candidate=candidate)
    assert report.mismatch_total == 0  # the rules in force still agree with the journal
    before = report.in_force["first-natural-blackjack-of-day"]
    after = report.candidate["first-natural-blackjack-of-day"]
    assert before.rewards == after.rewards >= 2
    assert after.amounts == {"XP": 2 * before.amounts["XP"]}
    assert after.players == before.players
    assert report.candidate["wager-points"].amounts == report.in_force["wager-points"].amounts


def test_an_event_time_range_compares_only_its_decisions_after_a_warm_up(play):
    records, journal, book = play
    everything = replay(records, journal, book)
    times = sorted(e["event_time"] for e in entries(journal) if e["event_ids"])
    middle = times[len(times) // 2]
    window = ReplayRange(from_ms=middle, to_ms=middle + 10 * 60_000)
    report = replay(records, journal, book, window)
    assert report.mismatch_total == 0 and report.unreplayed == 0
    assert 0 < report.in_range < everything.in_range and report.warmup_before > 0
    in_window = [
        e for e in entries(journal) if e["event_ids"] and window.holds_time(e["event_time"])
    ]
    assert report.decisions == report.matches >= len(in_window) > 0


def test_a_rules_switch_is_followed_per_event_even_when_the_worker_lagged(play):
    """Revision 2 (doubled natural XP) is published halfway; the worker picks it up 20 s of
    Kafka time late. Events with decisions are pinned by the journal; the replay agrees."""
    records, _, _ = play
    first = published(default_document(), None, 0)
    stamps = sorted(r.timestamp_ms for r in records)
    switch = stamps[len(stamps) // 2]
    second = published(doubled_natural_xp(), first, switch)
    book = RevisionBook([Revision(1, 0, first), Revision(2, switch, second)], make_engine)
    journal = work(records, lambda t: book.engine(2 if t >= switch + 20_000 else 1))
    report = replay(records, journal, book)
    assert set(report.revisions) == {"revision 1", "revision 2"}
    assert report.mismatch_total == 0, report.mismatches[:3]
    assert report.matches == len(entries(journal))
    revisions = {e["details"]["revision"] for e in entries(journal) if "revision" in e["details"]}
    assert revisions == {"1", "2"}
    # Decided under revision 1 although stamped after revision 2 was published: only the
    # journal tells, and the replay followed it.
    late = [
        e
        for e in entries(journal)
        if e["details"].get("revision") == "1" and e["event_time"] + 50 >= switch
    ]
    assert late  # (events are stamped 50 ms after they happen)


def test_the_shipped_default_is_revision_0_when_nothing_was_published(play):
    records, _, _ = play
    book = RevisionBook([], make_engine)
    journal = work(records, lambda _t: book.engine(0))
    report = replay(records, journal, book)
    assert report.mismatch_total == 0 and report.revisions == {
        "shipped default (revision 0)": report.events
    }
    assert DEFAULT_RULESET_PATH.exists()


def test_report_survives_a_checkpoint_round_trip(play):
    records, journal, book = play
    altered = copy.deepcopy(journal)
    p = next(p for p, c in altered.items() if c)
    altered[p][0][1]["reason"] = "edited"
    candidate = make_engine(compile_document(doubled_natural_xp()))
    report = replay(records, altered, book, candidate=candidate)
    again = Report.from_json(orjson.loads(orjson.dumps(report.to_json())))
    assert again.to_json() == report.to_json()
    assert again.mismatches[0].fields["reason"][1] == "edited"


def test_a_rejected_event_is_compared_across_partitions(play):
    """EVENT_REJECTED is journaled under the player, wherever the record was."""
    records, journal, book = play
    without = {
        p: [(o, e) for o, e in copies if e["decision"] != "EVENT_REJECTED"]
        for p, copies in journal.items()
    }
    assert sum(map(len, without.values())) == len(entries(journal)) - 1
    report = replay(records, without, book)
    assert report.mismatch_counts == {"missing_in_journal": 1}
    assert report.mismatches[0].decision == "EVENT_REJECTED"


def test_an_offset_range_stops_at_its_end_and_places_decisions_by_their_deciding_event(play):
    """As ``pitboss replay --from-offset/--to-offset`` reads: table-events up to the end
    offset. Streaks and missions that began in range but completed after it are outside."""
    records, journal, book = play
    counts = {
        p: sum(r.topic == TOPICS.table_events and r.partition == p for r in records)
        for p in range(PARTITIONS)
    }
    offsets = {p: (n // 3, 2 * n // 3) for p, n in counts.items()}
    window = ReplayRange(offsets=offsets)
    read = [
        r for r in records if r.topic != TOPICS.table_events or r.offset < offsets[r.partition][1]
    ]
    report = replay(read, journal, book, window)
    assert report.mismatch_total == 0 and report.unreplayed == 0, report.mismatches[:3]
    assert report.in_range > 0 and report.warmup_before > report.in_range // 2
    assert report.decisions == report.matches == report.journaled > 0
    assert report.decisions < len(entries(journal)) // 2


def test_a_profile_changed_mid_play_applies_from_its_own_time(play):
    """A player self-excludes halfway: the worker saw the profile between two batches, and
    the replay applies it to exactly the events stamped after it."""
    records, _, book = play
    events = [r for r in records if r.topic == TOPICS.table_events]
    middle = events[len(events) // 2]
    player = middle.key.decode()
    excluded = factory_profile(player, self_excluded=True)
    codec = AvroCodec("PlayerProfile")
    change = ReplayRecord(
        TOPICS.player_profiles,
        middle.partition,
        10_000,
        middle.key,
        codec.encode(excluded),
        middle.timestamp_ms + 1,
    )
    changed = [*records, change]
    journal = work(changed, lambda _t: book.engine(1), batch=1)
    held = [e for e in entries(journal) if e["reason"] == "self_excluded"]
    assert held and {e["player_id"] for e in held} == {player_pseudonym(player, SECRETS[player])}
    report = replay(changed, journal, book)
    assert report.mismatch_total == 0 and report.matches == len(entries(journal))


def test_the_journal_is_sealed_and_an_erased_players_entries_are_shredded_not_mismatched(play):
    records, journal, book = play
    decisions = entries(journal)
    assert all(is_player_pseudonym(e["player_id"]) for e in decisions if e["player_id"])
    assert not any(p in str(decisions) for p in SECRETS)  # no id in clear
    # the secret of one player is gone (erased): their entries cannot be recomputed
    gone = next(p for p in SECRETS if p in {e["player_id"] for e in _replayed(records, book)})
    kept = {pid: secret for pid, secret in SECRETS.items() if pid != gone}
    theirs = sum(e["player_id"] == player_pseudonym(gone, SECRETS[gone]) for e in decisions)
    report = replay(records, journal, book, secrets=kept)
    assert theirs > 0 and report.shredded == theirs
    assert report.mismatch_total == 0 and report.matches == len(decisions) - theirs
    # with a wrong secret the entries are no longer recognised: mismatches, not shredded
    wrong = {**SECRETS, gone: b"w" * 32}
    assert replay(records, journal, book, secrets=wrong).mismatch_total > 0


def _replayed(records, book) -> list[dict]:
    """The players' decisions in clear, as the core makes them."""
    decider = BatchDecider(INGEST, DictStore(), DictStore())
    return decider.decide(records, 0, book.engine(1)).journal


def test_a_living_players_entry_on_another_partition_is_not_taken_for_shredded(play):
    records, journal, book = play
    moved = copy.deepcopy(journal)
    p, copies = next((p, c) for p, c in moved.items() if c)
    _, entry = next((o, e) for o, e in copies if e["decision"] == "REWARD_ISSUED")
    elsewhere = (p + 1) % PARTITIONS
    forged = {**entry, "details": {**entry["details"], "amount": "999999"}}
    moved[elsewhere] = [*moved.get(elsewhere, []), (len(moved.get(elsewhere, [])), forged)]
    report = replay(records, moved, book)
    # its events were not replayed there: listed as unreplayed, in words, never hidden
    assert report.shredded == 0 and report.unreplayed == 1
    assert forged["entry_id"] in report.unreplayed_samples[0]
