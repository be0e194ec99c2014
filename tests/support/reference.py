"""What a deployment *should* have decided, computed offline, and the check that it did.

Reliability tests (crash, SIGTERM, broker outage) cannot predict where a worker was cut
off, so they compare the end result with a reference: the same Kafka records run through
the worker's own batch procedure (``app.pipeline.batch``) over dict tables, one record at
a time in partition order. Decisions do not depend on where the records were cut into
batches, so whatever the worker's batches, crashes and re-deliveries were, the journal must
hold exactly the reference's entry ids (a re-delivery may repeat an entry, but only with
identical content) and every player's state must equal the reference's.
``quiet_partitions_events`` ends the quiet players' cool-downs on every partition at the
end, so that path is compared too.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson
from aiokafka import ConsumerRecord

from app.contract.codec import AvroCodec
from app.core import Engine, PlayerState
from app.devtools.deployment import Deployment, wait_for
from app.devtools.simulator import StudioConfig, StudioSimulator
from app.pipeline.batch import BatchDecider
from app.pipeline.ingest import Ingest, RawRecord, partition_for
from app.pipeline.keys import APPLIED
from app.pipeline.store import DictStore
from app.rules.live import LiveEngine
from app.rules.policy import load_policies, runtime_view
from app.security.erasure_key import erasure_key
from app.security.player_keys import Sealer
from app.settings import Settings

#: what may differ between a decision and its re-delivered twin: when it was written
STAMPS = {"JournalEntry": "recorded_at", "Reward": "issued_at"}


@dataclass
class Reference:
    """The decisions and end tables the records call for."""

    journal: dict[str, dict] = field(default_factory=dict)
    rewards: dict[str, dict] = field(default_factory=dict)
    #: partition -> the player-state table's keys and values (players, cool-down index...)
    tables: dict[int, dict[bytes, bytes]] = field(default_factory=dict)
    players: set[str] = field(default_factory=set)
    events: int = 0
    dead_letters: int = 0


def live_engine(settings: Settings) -> Engine:
    """The engine a worker of ``settings`` runs when no ruleset has been published."""
    policies = runtime_view(load_policies(settings.jurisdictions_path))
    return LiveEngine(
        settings.operator_timezone, lambda: None, policies, settings.game_salt
    ).current()


def replay(
    settings: Settings, events: Iterable[ConsumerRecord], profiles: Iterable[ConsumerRecord]
) -> Reference:
    """Decide ``events`` (table-events records) after ``profiles`` (player-profiles
    records, all of which the worker had before the first event), one record at a time in
    partition order, through the worker's own batch procedure."""
    engine = live_engine(settings)
    states, stored_profiles = DictStore(), DictStore()
    decider = BatchDecider(
        Ingest(settings.topics, settings.partitions, erasure_key=erasure_key(settings)),
        states,
        stored_profiles,
    )
    now_ms = int(time.time() * 1000)
    ref = Reference(tables=states.partitions)
    for record in [*profiles, *events]:
        result = decider.decide([raw(record)], now_ms, engine)
        assert not result.batch.forwards, "the scenarios key events by player: nothing to re-key"
        stored_profiles.apply(result.profiles)
        states.apply(result.states)
        ref.players.update(p for players in result.batch.events.values() for p in players)
        ref.events += result.decisions.events
        ref.dead_letters += len(result.dead_letters)
        for entry in result.journal:
            ref.journal[entry["entry_id"]] = entry
        for reward in result.decisions.rewards:
            ref.rewards[reward["reward_id"]] = reward
    return ref


def raw(record: ConsumerRecord) -> RawRecord:
    return RawRecord(
        record.topic,
        record.partition,
        record.offset,
        record.key,
        record.value,
        record.timestamp,
        tuple(record.headers or ()),
    )


def replay_deployment(dep: Deployment) -> Reference:
    """The reference for everything on the deployment's input topics right now."""
    topics = dep.settings.topics
    assert not dep.read_all(topics.rekeyed), "nothing should have been re-keyed"
    return replay(
        dep.settings, dep.read_all(topics.table_events), dep.read_all(topics.player_profiles)
    )


def quiet_partitions_events(settings: Settings, occurred_at: int) -> list[dict]:
    """One harmless event (a player joining) on every partition, from a player of its own,
    at ``occurred_at``: produced after the stream at a time past every cool-down, it ends
    the quiet players' cool-downs in the worker and in the reference alike."""
    wanted = set(range(settings.partitions))
    events = []
    for n in range(10_000):
        player_id = f"p-closer-{n}"
        partition = partition_for(player_id, settings.partitions)
        if partition in wanted:
            wanted.discard(partition)
            events.append(
                {
                    "event_id": f"closer-{occurred_at}-{partition}",
                    "event_type": "PLAYER_JOINED",
                    "occurred_at": occurred_at,
                    "studio_id": "riga-1",
                    "table_id": "closer-table",
                    "dealer_id": None,
                    "game": "BLACKJACK",
                    "game_variant": None,
                    "round_id": None,
                    "player_id": player_id,
                    "bet": None,
                    "settlement": None,
                    "chat_text": None,
                    "device": "desktop",
                    "attributes": {},
                }
            )
        if not wanted:
            return events
    raise AssertionError("no player id found for some partition")


def _decoded(dep: Deployment, topic: str, schema: str) -> list[dict]:
    codec = AvroCodec(schema)
    return [codec.decode(r.value) for r in dep.read_all(topic)]


class MissingOutputs(AssertionError):
    """Only this: outputs the reference has are not on the topic (none extra, none
    different). A worker loses nothing this way; a broker that drops records it had
    acknowledged does (tests/test_broker_conformance.py)."""

    def __init__(self, schema: str, records: list[dict]) -> None:
        self.schema, self.records = schema, records
        super().__init__(f"{schema}: {len(records)} missing, e.g. {records[:2]}")


def _diff(a: dict, b: dict) -> list[str]:
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


def _side_by_side(extra: list[dict], missing: list[dict]) -> str:
    """The unexpected and the missing records of one player, in event time: where the
    worker's decisions first part from the reference's."""
    player = (extra or missing)[0].get("player_id")

    def line(tag: str, r: dict) -> str:
        keep = ("decision", "rule_id", "reason", "event_ids", "details")
        return f"\n  {tag} {r.get('event_time')} " + " ".join(str(r.get(k)) for k in keep)

    mine = [("+", r) for r in extra if r.get("player_id") == player]
    theirs = [("-", r) for r in missing if r.get("player_id") == player]
    rows = sorted(mine + theirs, key=lambda tr: tr[1].get("event_time") or 0)
    return f"player {player} (+ unexpected, - missing):" + "".join(line(*tr) for tr in rows)


def _check_once_each(records: list[dict], id_field: str, schema: str, expected: dict) -> None:
    """Exactly the expected ids; a repeated id only as an identical re-delivery."""
    stamp = STAMPS[schema]
    by_id: dict[str, dict] = {}
    for record in records:
        bare = {k: v for k, v in record.items() if k != stamp}
        first = by_id.setdefault(record[id_field], bare)
        assert first == bare, (
            f"{schema} {record[id_field]} was re-issued differently: "
            + "; ".join(f"{k}: {first.get(k)!r} then {bare.get(k)!r}" for k in _diff(first, bare))
        )
    missing = expected.keys() - by_id.keys()
    extra = by_id.keys() - expected.keys()
    assert not extra, (
        f"{schema}: {len(extra)} unexpected, {len(missing)} missing; "
        + _side_by_side([by_id[i] for i in extra], [expected[i] for i in missing])
    )
    for record_id, record in by_id.items():
        want = {k: v for k, v in expected[record_id].items() if k != stamp}
        assert record == want, f"{schema} {record_id}: {record} != reference {want}"
    if missing:
        raise MissingOutputs(schema, [expected[i] for i in missing])


def acknowledged_before_lost(dep: Deployment, missing: MissingOutputs) -> bool:
    """Whether the broker had acknowledged every missing output: the worker writes a
    partition's applied offsets (``APPLIED``) only after the broker acknowledged all the
    outputs of the batch, so a marker past an event's offset proves its outputs were
    acknowledged, and their absence is the broker's loss, not the worker's."""
    codec = AvroCodec("TableEvent")
    where = {
        codec.decode(r.value)["event_id"]: (r.partition, r.offset)
        for r in dep.read_all(dep.settings.topics.table_events)
    }
    applied: dict[int, int] = {}
    for record in dep.read_all(f"{dep.settings.app_id}-player-state-changelog"):
        if record.key == APPLIED and record.value:
            offset = orjson.loads(record.value).get(dep.settings.topics.table_events, -1)
            applied[record.partition] = max(applied.get(record.partition, -1), offset)
    for output in missing.records:
        event_ids = output.get("event_ids") or output.get("trigger_event_ids") or []
        places = [where[e] for e in event_ids if e in where]
        if not places or any(applied.get(p, -1) < offset for p, offset in places):
            return False
    return True


@dataclass(frozen=True)
class Outcome:
    """What the comparison saw, for the test's own assertions and messages."""

    journal_entries: int
    distinct_entries: int
    rewards: int
    players: int

    @property
    def redelivered(self) -> int:
        return self.journal_entries - self.distinct_entries


def assert_matches_reference(dep: Deployment, ref: Reference) -> Outcome:
    """The deployment decided exactly what ``ref`` says: the journal and rewards hold the
    reference's ids once each (or repeated identically), there are no dead letters, and
    every player's state, as the worker's changelog and its web view hold it, is the
    reference's. Call it once the workers have caught up (``wait_caught_up``)."""
    topics = dep.settings.topics
    journal = _decoded(dep, topics.journal, "JournalEntry")
    # the journal is sealed under the secrets the workers made (every player has one)
    secrets: dict[str, bytes] = {}
    for record in dep.read_all(topics.player_keys):
        if record.value is None:
            secrets.pop(record.key.decode(), None)
        else:
            secrets[record.key.decode()] = record.value
    sealer = Sealer(secrets, erasure_key(dep.settings))
    sealed = (sealer.entry(entry) for entry in ref.journal.values())
    _check_once_each(journal, "entry_id", "JournalEntry", {e["entry_id"]: e for e in sealed})
    rewards = _decoded(dep, topics.rewards, "Reward")
    _check_once_each(rewards, "reward_id", "Reward", ref.rewards)
    assert ref.dead_letters == 0, "the scenarios send good input only"
    assert not dep.read_all(topics.dead_letters), "good input made dead letters"

    changelog: dict[int, dict[bytes, bytes]] = {}
    for record in dep.read_all(f"{dep.settings.app_id}-player-state-changelog"):
        table = changelog.setdefault(record.partition, {})
        if record.value is None:
            table.pop(record.key, None)
        elif record.key != APPLIED:  # the worker's own bookkeeping of re-deliveries
            table[record.key] = record.value
    for partition, want in ref.tables.items():
        got = changelog.get(partition, {})
        for key in (want.keys() | got.keys()) - {APPLIED}:  # the worker's, by its batches
            if key.startswith(b"\x00"):
                assert orjson.loads(got.get(key, b"null")) == orjson.loads(
                    want.get(key, b"null")
                ), key
            else:
                mine, theirs = (
                    PlayerState.from_bytes(got.get(key)),
                    PlayerState.from_bytes(want.get(key)),
                )
                assert mine == theirs, (
                    f"{key.decode()}: the worker's state {mine} != reference {theirs}"
                )
    for player_id in sorted(ref.players):
        want = PlayerState.from_bytes(
            ref.tables[partition_for(player_id, dep.settings.partitions)][player_id.encode()]
        )
        view = dep.view(f"/pitboss/players/{player_id}/")["state"]
        seen = (view["xp"], view["points"], view["once"], view["last_event_at"])
        assert seen == (want.xp, want.points, want.once, want.last_event_at), player_id
    counts = Counter(e["entry_id"] for e in journal)
    return Outcome(len(journal), len(counts), len(rewards), len(ref.players))


@dataclass(frozen=True)
class Stream:
    """A simulated studio's traffic: its players' profiles and their events."""

    profiles: list[dict]
    events: list[dict]


def simulated_stream(
    count: int, *, players: int = 40, tables: int = 4, seed: int = 7, hours_ago: float = 2.0
) -> Stream:
    """``count`` events of a small player pool (so streaks, caps, missions and cool-downs
    build up), starting ``hours_ago``: far enough back that every cool-down is over by now
    (see ``settle_and_compare``), close enough that ingest accepts the event times."""
    start_ms = int((time.time() - hours_ago * 3600) * 1000)
    sim = StudioSimulator(StudioConfig(tables=tables, players=players), seed, start_ms)
    events = sim.take(count)
    assert events[-1]["occurred_at"] < time.time() * 1000 - 31 * 60_000, "the stream is too long"
    return Stream(sim.profiles(), events)


def start_with_profiles(dep: Deployment, stream: Stream, worker_id: str) -> None:
    """Start a worker and give it every profile before any event, so the events are decided
    with the profiles whatever the batches (the reference assumes it)."""
    dep.start_worker(worker_id)
    dep.produce_profiles(stream.profiles)
    wait_for(
        lambda: dep.view("/pitboss/stats/")["totals"]["profiles"] >= len(stream.profiles),
        what="the worker taking every profile",
    )


def settle_and_compare(dep: Deployment, timeout: float = 180.0) -> Outcome:
    """Wait until the workers have decided everything, end the quiet players' cool-downs on
    every partition, wait again, and check the result against the reference."""
    # The quiet player-profiles topic too: after a SIGKILL before its first commit, a
    # restarted worker must read it again from the beginning and commit it (app.streaming.consumer).
    topics = dep.settings.topics
    dep.wait_caught_up(topics.table_events, topics.player_profiles, timeout=timeout)
    dep.produce_events(quiet_partitions_events(dep.settings, int(time.time() * 1000)))
    dep.wait_caught_up(topics.table_events, timeout=timeout)
    return assert_matches_reference(dep, replay_deployment(dep))
