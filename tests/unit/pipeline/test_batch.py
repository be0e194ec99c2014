"""The batch procedure without Faust or a broker: re-delivery, profiles, erasure, a failing
player, the output plan, and decisions that do not depend on where batches were cut."""

from __future__ import annotations

import itertools

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core import Engine, PlayerState
from app.pipeline import batch
from app.pipeline.batch import BatchDecider, BatchResult
from app.pipeline.ingest import EVENT_TYPE, RECORD_TYPE_HEADER, Ingest, RawRecord, partition_for
from app.pipeline.keys import APPLIED, COOLDOWN_INDEX, ERASED, WATERMARK
from app.pipeline.plan import OutputCodecs, needs_secrets, output_plan
from app.pipeline.store import DictStore
from app.security.player_keys import Sealer, player_pseudonym
from tests.support.factories import ERASURE_KEY, ms, natural, profile, settled, table_event
from tests.support.hypothesis_profiles import examples
from tests.support.rulesets import default_engine
from tests.unit.pipeline.records import EVENTS, PARTITIONS, TOPICS, Log, player_on

T0 = ms("2026-11-24T12:00:00Z")
MIN = 60_000
NOW = 4_000_000_000_000  # the wall clock: far from event time, fixed so runs compare
ENGINE = default_engine()
CODECS = OutputCodecs()
SECRET_X, SECRET_Y = b"x" * 32, b"y" * 32


class Tables:
    """A deployment's two tables in dicts, and the decider over them."""

    def __init__(self) -> None:
        self.states = DictStore()
        self.profiles = DictStore()
        self.decider = BatchDecider(
            Ingest(TOPICS, PARTITIONS, erasure_key=ERASURE_KEY), self.states, self.profiles
        )

    def run(self, records, engine: Engine = ENGINE, now_ms: int = NOW) -> BatchResult:
        result = self.decider.decide(list(records), now_ms, engine)
        self.profiles.apply(result.profiles)
        self.states.apply(result.states)
        return result

    def state(self, player_id: str) -> PlayerState:
        partition = partition_for(player_id, PARTITIONS)
        key = player_id.encode()
        return PlayerState.from_bytes(self.states.get_many(partition, [key]).get(key))

    def key(self, partition: int, key: bytes):
        raw = self.states.get_many(partition, [key]).get(key)
        return None if raw is None else orjson.loads(raw)


def loss(player_id: str, at: int, stake: int = 18_750) -> dict:
    bet = {"bet_type": "main", "stake_minor": stake, "currency": "EUR"}
    return settled("LOSS", player_id=player_id, occurred_at=at, bet=bet)


def bet(player_id: str, at: int) -> dict:
    return table_event(player_id=player_id, occurred_at=at)


def decisions(result: BatchResult, kind: str) -> list[dict]:
    return [e for e in result.decisions.journal if e["decision"] == kind]


X, Y = player_on(0, 0), player_on(0, 1)


def test_a_quiet_players_cool_down_ends_in_the_batch_the_partition_passes_it():
    """The six events of issue 10: X trips a cool-down and bets inside it; Y's event after
    its end, in the same batch, ends it there and then."""
    log = Log()
    for i in range(4):  # 750.00 lost within 12 minutes: a 30-minute cool-down
        log.event(loss(X, T0 + i * 4 * MIN))
    log.event(bet(X, T0 + 14 * MIN))
    log.event(bet(Y, T0 + 50 * MIN))
    tables = Tables()
    result = tables.run(log.records)
    [started] = decisions(result, "COOLDOWN_STARTED")
    [ended] = decisions(result, "COOLDOWN_ENDED")
    assert (
        ended["player_id"] == X
        and ended["details"]["cooldown_id"] == started["details"]["cooldown_id"]
    )
    assert tables.state(X).cooldown is None
    assert tables.key(0, COOLDOWN_INDEX) is None or X not in tables.key(0, COOLDOWN_INDEX)
    assert tables.key(0, WATERMARK) == T0 + 50 * MIN


def test_a_cool_down_ends_before_the_players_own_event_once_the_partition_passed_it():
    """Y's event past X's cool-down, then X's bet: the end is journaled before the bet is
    decided, so the bet's rewards are not held back for a cool-down that was over."""
    log = Log()
    for i in range(4):
        log.event(loss(X, T0 + i * 4 * MIN))
    log.event(bet(Y, T0 + 50 * MIN))
    late = log.event(natural(player_id=X, occurred_at=T0 + 20 * MIN))  # before its end
    result = Tables().run(log.records)
    entries = [e for e in result.decisions.journal if e["player_id"] == X]
    kinds = [e["decision"] for e in entries]
    assert kinds.index("COOLDOWN_ENDED") < next(
        i for i, e in enumerate(entries) if late["event_id"] in e["event_ids"]
    )
    assert not [e for e in decisions(result, "REWARD_SUPPRESSED") if e["player_id"] == X]


def test_redelivered_records_decide_nothing_twice():
    log = Log()
    for i in range(3):
        log.event(natural(player_id=X, occurred_at=T0 + i * 86_400_000))
    tables = Tables()
    first = tables.run(log.records[:2])
    again = tables.run(log.records)  # a crash before the commit: everything again
    assert len(first.decisions.rewards) == 2 and again.redelivered == 2
    assert len(again.decisions.rewards) == 1 and again.decisions.events == 1
    assert tables.key(0, APPLIED) == {TOPICS.table_events: 2}
    assert tables.run(log.records).decisions.events == 0


def test_a_profile_applies_from_its_record_on_and_a_tombstone_deletes_it():
    log = Log()
    log.event(natural(player_id=X, occurred_at=T0))
    log.profile(X, profile(X, self_excluded=True), T0 + 1)
    log.event(natural(player_id=X, occurred_at=T0 + 86_400_000))
    log.profile(X, None, T0 + 86_400_001)
    tables = Tables()
    result = tables.run(log.records)
    assert len(result.decisions.rewards) == 1  # the second natural: self-excluded
    assert result.profiles == {0: {X.encode(): None}}
    assert tables.profiles.get_many(0, [X.encode()]) == {}
    log.profile(X, profile(X), T0 + 86_400_002)
    tables.run(log.records[-1:])
    assert orjson.loads(tables.profiles.get_many(0, [X.encode()])[X.encode()])["player_id"] == X


def test_stored_profiles_decide_later_batches_with_a_bounded_number_kept_parsed(monkeypatch):
    monkeypatch.setattr(batch, "PROFILES_KEPT", 1)
    day = 86_400_000
    log = Log()
    log.profile(X, profile(X, self_excluded=True), T0)
    log.profile(Y, profile(Y), T0)
    tables = Tables()
    tables.run(log.records)
    for n in (1, 2):  # each batch reads both stored profiles: one kept parsed at a time
        log.event(natural(player_id=X, occurred_at=T0 + n * day))
        log.event(natural(player_id=Y, occurred_at=T0 + n * day))
        result = tables.run(log.records[-2:])
        assert [r["player_id"] for r in result.decisions.rewards] == [Y]
        assert len(tables.decider._parsed) == 1
    log.profile(X, profile(X), T0 + 3 * day)  # the stored bytes change: so does the profile
    log.event(natural(player_id=X, occurred_at=T0 + 4 * day))
    tables.run(log.records[-2:-1])
    result = tables.run(log.records[-1:])
    assert [r["player_id"] for r in result.decisions.rewards] == [X]


def test_erasure_tombstones_state_and_profile_and_later_events_decide_nothing():
    log = Log()
    log.profile(X, profile(X), T0 - 1)
    log.event(natural(player_id=X, occurred_at=T0))
    log.event(natural(player_id=Y, occurred_at=T0))
    tables = Tables()
    tables.run(log.records)
    log.forget(X, T0 + 1)
    log.event(natural(player_id=X, occurred_at=T0 + 86_400_000))
    result = tables.run(log.records[3:])
    [erased] = decisions(result, "PLAYER_ERASED")
    assert erased["player_id"] == X and result.erased_events == 1
    assert result.decisions.events == 0 and not result.decisions.rewards
    assert result.states[0][X.encode()] is None and result.profiles[0][X.encode()] is None
    assert tables.states.get_many(0, [X.encode()]) == {}
    assert X not in str(tables.key(0, ERASED))  # a hash, never the id
    later = tables.run([_next(log, natural(player_id=X, occurred_at=T0 + 2 * 86_400_000))])
    [refused] = later.journal
    assert later.erased_events == 1 and refused["decision"] == "EVENT_REJECTED"
    assert refused["player_id"] is None and X not in str(refused)
    assert tables.state(Y).xp > 0  # the other player keeps theirs


def _next(log: Log, event: dict) -> RawRecord:
    log.event(event)
    return log.records[-1]


class Failing(Engine):
    """An engine that raises on one player's events."""

    def decide(self, state, events, profile, now_ms, out, partition_times=None, stock=None):
        if events[0]["player_id"] == X:
            out.journal.append({"half": "decided"})
            raise RuntimeError("boom")
        return super().decide(state, events, profile, now_ms, out, partition_times, stock)


def test_a_player_whose_decisions_raise_is_dead_lettered_while_others_decide():
    log = Log()
    log.event(natural(player_id=X, occurred_at=T0))
    log.event(natural(player_id=Y, occurred_at=T0))
    log.event(bet(X, T0 + 1))
    tables = Tables()
    result = tables.run(log.records, Failing(ENGINE.ruleset, "UTC"))
    assert [(pid, d["offset"]) for pid, d in result.player_letters] == [(X, 0), (X, 2)]
    assert {d["error"] for _k, d in result.player_letters} == {"OTHER"}
    assert not result.dead_letters
    assert {e["player_id"] for e in result.decisions.journal} == {Y}
    assert X.encode() not in result.states[0] and tables.state(Y).xp > 0


def test_the_output_plan_names_topic_key_and_partition_of_every_output():
    log = Log()
    for i in range(4):
        log.event(loss(X, T0 + i * 4 * MIN))
    log.event(natural(player_id=Y, occurred_at=T0 + 20 * MIN))
    wrong = (partition_for(Y, PARTITIONS) + 1) % PARTITIONS
    misplaced = natural(player_id=Y, occurred_at=T0 + 21 * MIN)
    log.records.append(
        RawRecord(TOPICS.table_events, wrong, 0, b"x", EVENTS.encode(misplaced), T0 + 21 * MIN)
    )
    result = Tables().run(log.records)
    sealer = Sealer({X: SECRET_X, Y: SECRET_Y}, ERASURE_KEY)
    plan = output_plan(result, CODECS, sealer, PARTITIONS)
    roles = [o.role for o in plan]
    order = ["rekeyed", "rewards", "cooldowns", "journal", "rg_alerts"]
    assert roles == sorted(roles, key=order.index)
    [alert] = [o for o in plan if o.role == "rg_alerts"]  # X's rapid loss raised them to high
    assert alert.key == X.encode()
    [forward] = [o for o in plan if o.role == "rekeyed"]
    assert forward.key == Y.encode() and forward.partition == partition_for(Y, PARTITIONS)
    assert forward.headers == ((RECORD_TYPE_HEADER, EVENT_TYPE),)
    # rewards and cool-downs (kept a week) by the id; the journal (kept for ever) by the
    # pseudonym, on the player's partition all the same
    assert {o.key for o in plan if o.role in ("rewards", "cooldowns")} == {X.encode(), Y.encode()}
    pseudonyms = {player_pseudonym(X, SECRET_X), player_pseudonym(Y, SECRET_Y)}
    assert {o.key.decode() for o in plan if o.role == "journal"} == pseudonyms
    assert all(o.partition is None for o in plan if o.role in ("rewards", "cooldowns"))
    for o in plan:
        if o.role == "journal":
            player = X if o.key.decode() == player_pseudonym(X, SECRET_X) else Y
            assert o.partition == partition_for(player, PARTITIONS)
    journal = [CODECS.journal.decode(o.value) for o in plan if o.role == "journal"]
    assert journal == [sealer.entry(e) for e in result.journal]
    [cooldown] = [CODECS.cooldown.decode(o.value) for o in plan if o.role == "cooldowns"]
    assert cooldown["player_id"] == X
    [started] = [e for e in journal if e["decision"] == "COOLDOWN_STARTED"]
    assert started["details"]["cooldown_id"] == cooldown["cooldown_id"]
    assert needs_secrets(result) == {X, Y}


# -- batching does not change decisions ------------------------------------------------------

#: players per partition: the first plays on time, the second lags (its events are late for
#: the partition), the third only has profiles and goes quiet after a cool-down
PLAYERS = [player_on(p, n) for p in range(2) for n in range(3)]


@st.composite
def sequences(draw) -> list[RawRecord]:
    """Several players on two partitions: losing runs that trip cool-downs, bets, naturals,
    profile changes and erasures; players lag behind each other, and a player's own events
    sometimes arrive out of event-time order."""
    log = Log()
    clocks = {p: T0 - draw(st.integers(0, 40)) * MIN for p in PLAYERS}
    for _ in range(draw(st.integers(5, 60))):
        player = draw(st.sampled_from(PLAYERS))
        clocks[player] += draw(st.integers(-8, 12)) * MIN
        at = clocks[player]
        kind = draw(
            st.sampled_from(["loss", "loss", "loss", "bet", "natural", "profile", "forget"])
        )
        if kind == "loss":
            log.event(loss(player, at, stake=draw(st.sampled_from([5_000, 12_500, 30_000]))))
        elif kind == "bet":
            log.event(bet(player, at))
        elif kind == "natural":
            log.event(natural(player_id=player, occurred_at=at))
        elif kind == "profile":
            excluded = draw(st.booleans())
            log.profile(
                player, None if draw(st.booleans()) else profile(player, self_excluded=excluded), at
            )
        elif draw(st.integers(0, 3)) == 0:
            log.forget(player, at)
    return log.records


def decide_in_batches(records: list[RawRecord], cuts: list[int]) -> tuple[dict, dict]:
    """Journal per partition (sorted, and per player in order) and the final tables."""
    tables = Tables()
    bounds = [0, *sorted(set(cuts)), len(records)]
    journal: list[dict] = []
    for start, end in itertools.pairwise(bounds):
        journal += tables.run(records[start:end]).journal
    by_partition: dict[int, list[bytes]] = {}
    by_player: dict[str, list[str]] = {}
    for entry in journal:
        bare = {k: v for k, v in entry.items() if k not in ("recorded_at", "decided_at")}
        who = entry["player_id"] or entry["details"]["player"]  # an erased player's marker
        partition = partition_for(who, PARTITIONS)
        by_partition.setdefault(partition, []).append(
            orjson.dumps(bare, option=orjson.OPT_SORT_KEYS)
        )
        by_player.setdefault(who, []).append(entry["entry_id"])
    sorted_journal = {p: sorted(entries) for p, entries in by_partition.items()}
    return (sorted_journal, by_player), (tables.states.partitions, tables.profiles.partitions)


@settings(max_examples=examples(60), deadline=None)
@given(records=sequences(), data=st.data())
def test_the_journal_and_the_tables_do_not_depend_on_where_batches_were_cut(records, data):
    whole = decide_in_batches(records, [])
    cuts = data.draw(st.lists(st.integers(0, len(records)), max_size=len(records)))
    assert decide_in_batches(records, cuts) == whole
    assert decide_in_batches(records, list(range(len(records)))) == whole  # one at a time
