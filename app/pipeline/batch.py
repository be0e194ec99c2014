"""One micro-batch of raw records through ingest and the decision core: what to write and
what to publish. No Faust, no I/O but the two tables read through ``Store``, so the worker
(``agents/decide.py``), the audit replay, the crash tests' reference and the benchmarks run
this one procedure.

Each partition's records are walked in record order, so the result is what deciding them
one at a time would give, however the sequence was cut into batches: a profile applies from
its record on, an erasure from its record on, and a cool-down ends once the partition's
event time (``keys.WATERMARK``) has passed it (docs/architecture.md, "Determinism across
batch boundaries").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import orjson

from app.core import Decisions, Engine, PlayerState, outputs
from app.core.events import COMMAND
from app.core.ids import pseudonym
from app.core.state import STATE_VERSION
from app.core.store import Stock
from app.leaderboards.board import encode_erasure
from app.pipeline.ingest import Ingest, Message, SortedBatch, Step, StepKind, dead_letter
from app.pipeline.keys import APPLIED, COOLDOWN_INDEX, ERASED, STOCK, WATERMARK
from app.pipeline.store import Store, Writes

log = logging.getLogger(__name__)

#: Why an erased player's invalid event is dead-lettered without its record.
ERASED_UNKEPT = "the player was erased (pitboss forget): the record is not kept"

#: The engine to decide an event with (the audit replay's rules in force per event).
EnginePicker = Callable[[dict, Message], Engine]

#: How many parsed profiles a decider keeps (the oldest parsed goes first).
PROFILES_KEPT = 20_000


@dataclass(slots=True)
class BatchResult:
    """Everything a batch wants written and published, and what it counted."""

    #: the batch as ingest sorted it: forwards, rejected events, table-level events
    batch: SortedBatch
    decisions: Decisions = field(default_factory=Decisions)
    #: player-state table writes, the reserved keys (``app.pipeline.keys``) included
    states: Writes = field(default_factory=dict)
    profiles: Writes = field(default_factory=dict)
    #: dead letters of records whose player is not known (undecodable, no player id), and
    #: of events refused unkept (an e-mail as id, an erased player's): (key, DeadLetter)
    dead_letters: list[tuple[bytes | None, dict]] = field(default_factory=list)
    #: dead letters of a known player (an invalid event, the events of a player whose
    #: decisions raised): (player id, DeadLetter), sealed under their secret when published
    player_letters: list[tuple[str, dict]] = field(default_factory=list)
    #: records whose effects the tables already held (re-delivered), skipped
    redelivered: int = 0
    #: events of erased players: decided nothing, journaled as refused without the id
    erased_events: int = 0
    #: players whose secrets go once the states are written: erased in this batch, or
    #: refused as erased (a secret a crash left behind goes then)
    shredded: set[str] = field(default_factory=set)
    #: (key, value, partition) of the records that take the players erased in this batch
    #: off every leaderboard: one per partition of the scores topic, each board's keeper
    leaderboard_erasures: list[tuple[bytes, bytes, int]] = field(default_factory=list)

    @property
    def journal(self) -> list[dict]:
        """Every journal entry of the batch: rejected events, then decisions."""
        return [*self.batch.rejected, *self.decisions.journal]


@dataclass(slots=True)
class _Player:
    """One player's share of a partition's batch, decided in segments: consecutive events
    under one profile and one engine."""

    key: bytes
    profile: dict | None
    state: PlayerState | None = None
    out: Decisions = field(default_factory=Decisions)
    engine: Engine | None = None
    events: list[dict] = field(default_factory=list)
    times: list[int] = field(default_factory=list)
    #: the records of every event of this batch given to the core (dead-lettered on failure)
    records: list[Message] = field(default_factory=list)
    failure: Exception | None = None
    erased: bool = False
    #: PLAYER_ERASED entries and the refusals of later events: journaled even when their
    #: decisions raised
    erasures: list[dict] = field(default_factory=list)
    #: CONSENT_CHANGED entries (in ``out`` too, in record order): kept when decisions raise
    consents: list[dict] = field(default_factory=list)
    #: the partition's store stock, which the player's purchases count against
    stock: Stock | None = None


class BatchDecider:
    """Decides batches of raw records (anything with Kafka's record attributes) against the
    player-state and profile tables; writes nothing itself (``BatchResult``).

    ``state_version``: the version player states are written at (``PITBOSS_STATE_WRITE_VERSION``:
    an older one while a rollout may still be rolled back, docs/operations.md).
    """

    def __init__(
        self,
        ingest: Ingest,
        states: Store,
        profiles: Store,
        state_version: int = STATE_VERSION,
    ) -> None:
        self.ingest = ingest
        self.states = states
        self.profiles = profiles
        self.state_version = state_version
        #: stored profile bytes -> the profile: a player's is read in every batch they play
        #: in and rarely changes; nothing mutates a profile, so equal bytes share one dict
        self._parsed: dict[bytes, dict] = {}

    def decide(
        self,
        records: Sequence[Message],
        now_ms: int,
        engine: Engine,
        pick: EnginePicker | None = None,
    ) -> BatchResult:
        """Skip what the tables already hold, sort, then decide each partition.

        ``pick``: the engine per event, called in record order (default: ``engine`` for
        all); ``engine`` then ends the cool-downs of players without events in the batch.
        Raises what ingest raises (an unreachable schema registry) before deciding anything.
        """
        fresh, applied, redelivered = self._skip_applied(records)
        batch = self.ingest.sort(fresh, now_ms)
        result = BatchResult(batch, redelivered=redelivered)
        result.dead_letters.extend(batch.dead_letters)
        for partition in sorted(batch.steps):
            self._partition(partition, batch, now_ms, engine, pick, result)
        for entry in result.decisions.journal:
            if entry["decision"] == "PLAYER_ERASED":
                key, value = encode_erasure(entry["player_id"])
                result.leaderboard_erasures += (
                    (key, value, p) for p in range(self.ingest.partitions)
                )
        for partition, offsets in applied.items():  # with the states: one write, in order
            result.states.setdefault(partition, {})[APPLIED] = orjson.dumps(offsets)
        return result

    def _skip_applied(
        self, records: Iterable[Message]
    ) -> tuple[list[Message], dict[int, dict[str, int]], int]:
        """The records whose effects are not in the tables yet; per partition that had any,
        the applied offsets to write once they are; and how many were skipped. Profiles
        too: an old profile read again after a newer one would decide with stale traits."""
        fresh: list[Message] = []
        marks: dict[int, dict[str, int]] = {}
        changed: set[int] = set()
        skipped = 0
        for msg in records:
            mark = marks.get(msg.partition)
            if mark is None:
                raw = self.states.get_many(msg.partition, [APPLIED]).get(APPLIED)
                mark = marks[msg.partition] = orjson.loads(raw or b"{}")
            if msg.offset <= mark.get(msg.topic, -1):
                skipped += 1
                continue
            mark[msg.topic] = msg.offset
            changed.add(msg.partition)
            fresh.append(msg)
        return fresh, {partition: marks[partition] for partition in changed}, skipped

    def _partition(
        self,
        partition: int,
        batch: SortedBatch,
        now_ms: int,
        engine: Engine,
        pick: EnginePicker | None,
        result: BatchResult,
    ) -> None:
        """Walk one partition's records in order; then end every cool-down its event time
        has passed, and say what to write."""
        steps = batch.steps[partition]
        ids = list(dict.fromkeys(step.player_id for step in steps))
        keys = [pid.encode() for pid in ids]
        stored = self.states.get_many(partition, [*keys, COOLDOWN_INDEX, ERASED, WATERMARK, STOCK])
        stored_profiles = self.profiles.get_many(partition, keys)
        index: dict[str, int] = orjson.loads(stored.get(COOLDOWN_INDEX) or b"{}")
        erased = set(orjson.loads(stored.get(ERASED) or b"[]"))
        watermark: int = orjson.loads(stored.get(WATERMARK) or b"0")
        stock = Stock(orjson.loads(stored.get(STOCK) or b"{}"), partition, self.ingest.partitions)
        stored_keys = (dict(index), len(erased), watermark, dict(stock.sold))
        writes = result.states.setdefault(partition, {})
        profile_writes: dict[bytes, bytes | None] = {}
        players: dict[str, _Player] = {}
        for step in steps:
            player_id = step.player_id
            if step.kind is StepKind.INVALID:
                self._invalid(step, erased, now_ms, result)
                continue
            player = players.get(player_id)
            if player is None:
                key = player_id.encode()
                profile = self._profile(stored_profiles.get(key))
                player = players[player_id] = _Player(key, profile, stock=stock)
            if step.kind is StepKind.EVENT:
                before, watermark = watermark, max(watermark, step.value["occurred_at"])
                chosen = engine if pick is None else pick(step.value, step.msg)
                marker = self._pseudonym(player_id) if erased else None
                if marker in erased:  # refused, journaled by the marker: no decisions
                    result.erased_events += 1
                    result.shredded.add(player_id)
                    player.erasures.append(outputs.erased_event_refused(step.value, marker, now_ms))
                    continue
                if player.engine is not chosen:
                    self._decide(player, stored, now_ms)
                    player.engine = chosen
                player.events.append(step.value)
                player.times.append(before)
                player.records.append(step.msg)
                if step.value["event_type"] == COMMAND:  # the partition's stock is shared:
                    self._decide(player, stored, now_ms)  # purchases sell in record order
                continue
            self._decide(player, stored, now_ms)
            if step.kind is StepKind.PROFILE:
                if erased and self._pseudonym(player_id) in erased:
                    continue  # an erased id's profile is neither kept nor journaled
                changes = self._consent_changes(player_id, player.profile, step.value, now_ms)
                if changes:  # a due cool-down ends first, as at an earlier batch's end
                    self._end_due_cooldown(player, stored, watermark, now_ms, engine)
                    player.out.journal += changes
                    player.consents += changes
                player.profile = step.value
                value = step.value
                profile_writes[player.key] = None if value is None else orjson.dumps(value)
            else:  # a cool-down the partition's time has passed ends before the erasure
                self._end_due_cooldown(player, stored, watermark, now_ms, engine)
                self._erase(player_id, step.value["by"], player, erased, index, now_ms, result)
                profile_writes[player.key] = None
        for player in players.values():
            self._decide(player, stored, now_ms)
        self._settle(partition, players, index, watermark, now_ms, engine, result)
        out = result.decisions
        for player in players.values():
            if player.failure is None:
                _extend(out, player.out)
            else:
                out.journal += player.consents
            out.journal += player.erasures
        if index != stored_keys[0]:
            writes[COOLDOWN_INDEX] = (
                orjson.dumps(index, option=orjson.OPT_SORT_KEYS) if index else None
            )
        if len(erased) != stored_keys[1]:
            writes[ERASED] = orjson.dumps(sorted(erased))
        if watermark != stored_keys[2]:
            writes[WATERMARK] = orjson.dumps(watermark)
        if stock.sold != stored_keys[3]:
            writes[STOCK] = orjson.dumps(stock.sold, option=orjson.OPT_SORT_KEYS)
        if profile_writes:
            result.profiles[partition] = profile_writes

    def _profile(self, raw: bytes | None) -> dict | None:
        """The stored profile, parsed once for as long as it is kept."""
        if raw is None:
            return None
        profile = self._parsed.get(raw)
        if profile is None:
            if len(self._parsed) >= PROFILES_KEPT:
                del self._parsed[next(iter(self._parsed))]
            profile = self._parsed[raw] = orjson.loads(raw)
        return profile

    def _pseudonym(self, player_id: str) -> str:
        return pseudonym(player_id, self.ingest.erasure_key)

    def _invalid(self, step: Step, erased: set[str], now_ms: int, result: BatchResult) -> None:
        """An invalid event of a known player: journaled as rejected and dead-lettered (both
        sealed under the player's secret when published); an erased player's is refused by
        the marker, its letter without the record, since no secret may be made for them."""
        event, reason = step.value
        marker = self._pseudonym(step.player_id) if erased else None
        if marker in erased:
            result.erased_events += 1
            result.shredded.add(step.player_id)
            result.batch.rejected.append(outputs.erased_event_refused(event, marker, now_ms))
            letter = dead_letter(step.msg, "INVALID", f"{reason}; {ERASED_UNKEPT}", now_ms)
            letter.update(key=marker.encode(), value=None)
            result.dead_letters.append((marker.encode(), letter))
            return
        result.batch.rejected.append(outputs.event_rejected(event, reason, now_ms))
        letter = dead_letter(step.msg, "INVALID", reason, now_ms)
        result.player_letters.append((step.player_id, letter))

    def _decide(self, player: _Player, stored: Mapping[bytes, bytes], now_ms: int) -> None:
        """Run the core on the player's pending events; a player whose decisions raise is
        decided no further in this batch (``_settle`` dead-letters their events)."""
        if not player.events:
            return
        events, times, player.events, player.times = player.events, player.times, [], []
        if player.failure is not None or player.engine is None:
            return
        try:  # a stored state that cannot be read fails this player alone, like the core
            if player.state is None:
                player.state = PlayerState.from_bytes(stored.get(player.key))
            player.engine.decide(
                player.state, events, player.profile, now_ms, player.out, times, player.stock
            )
        except Exception as exc:  # one player's failure must not stop (or drop) the others
            log.exception(
                "deciding for player %s failed; their events go to dead-letters",
                self._pseudonym(events[0]["player_id"]),
            )
            player.failure = exc

    def _consent_changes(
        self, player_id: str, old_profile: dict | None, profile: dict | None, now_ms: int
    ) -> list[dict]:
        """A CONSENT_CHANGED entry per consent the profile changes, dated by the profile (a
        deleted profile changes none: deletion is not a withdrawal the player made). The
        source is the topic: PlayerProfile has no field naming who changed it."""
        if profile is None:
            return []
        old, new = consents_of(old_profile), consents_of(profile)
        changes = []
        for product, channel in sorted(new.keys() | old.keys()):
            before, after = old.get((product, channel)), new.get((product, channel))
            if before != after:
                entry = outputs.consent_changed(
                    player_id,
                    product,
                    channel,
                    before,
                    after,
                    self.ingest.topics.player_profiles,
                    profile["updated_at"],
                    now_ms,
                )
                changes.append(entry)
        return changes

    def _end_due_cooldown(
        self,
        player: _Player,
        stored: Mapping[bytes, bytes],
        watermark: int,
        now_ms: int,
        engine: Engine,
    ) -> None:
        if player.failure is not None or player.erased:  # an erased player has no state
            return
        if player.state is None:
            player.state = PlayerState.from_bytes(stored.get(player.key))
        ending = player.engine or engine
        ending.end_cooldown_if_over(
            player.key.decode(), player.state, watermark, now_ms, player.out
        )

    def _erase(
        self,
        player_id: str,
        requested_by: str,
        player: _Player,
        erased: set[str],
        index: dict[str, int],
        now_ms: int,
        result: BatchResult,
    ) -> None:
        """Forget a player: tombstone their state, profile and secret (``result.shredded``),
        remember only a hash."""
        player.state = None
        player.profile = None
        player.erased = True  # what they were decided before their erasure still stands
        index.pop(player_id, None)
        marker = self._pseudonym(player_id)
        erased.add(marker)
        result.shredded.add(player_id)
        player.erasures.append(outputs.player_erased(player_id, requested_by, now_ms))
        log.info("erased player %s (state and profile tombstoned)", marker)

    def _settle(
        self,
        partition: int,
        players: dict[str, _Player],
        index: dict[str, int],
        watermark: int,
        now_ms: int,
        engine: Engine,
        result: BatchResult,
    ) -> None:
        """Index the players' cool-downs, end every one the partition's event time has
        passed (quiet players' too), and put each decided state (or tombstone) in writes."""
        writes = result.states[partition]
        for player_id, player in players.items():
            if player.failure is not None:
                reason = f"the decision core failed on this player's events: {player.failure!r}"
                for msg in player.records:
                    letter = dead_letter(msg, "OTHER", reason, now_ms)
                    result.player_letters.append((player_id, letter))
            if player.erased:
                writes[player.key] = None
            elif player.failure is None and player.state is not None:
                cooldown = player.state.cooldown
                if cooldown is None:
                    index.pop(player_id, None)
                else:
                    index[player_id] = cooldown.ends_at
        due = [pid for pid, ends_at in index.items() if ends_at <= watermark]
        quiet = [
            pid
            for pid in due
            if pid not in players or (players[pid].state is None and players[pid].failure is None)
        ]
        if quiet:
            quiet_states = self.states.get_many(partition, [pid.encode() for pid in quiet])
            for player_id in quiet:
                player = players.setdefault(player_id, _Player(player_id.encode(), None))
                player.state = PlayerState.from_bytes(quiet_states.get(player.key))
        for player_id in due:
            player = players[player_id]
            if player.failure is None and player.state is not None:
                ending = player.engine or engine
                ending.end_cooldown_if_over(player_id, player.state, watermark, now_ms, player.out)
                index.pop(player_id, None)
        for player in players.values():
            if player.failure is None and not player.erased and player.state is not None:
                writes[player.key] = player.state.to_bytes(self.state_version)


def consents_of(profile: Mapping | None) -> dict[tuple[str, str], bool]:
    """(product, channel) -> granted, as the core reads them (granted if any entry grants)."""
    found: dict[tuple[str, str], bool] = {}
    for consent in (profile or {}).get("consents") or ():
        key = (consent["product"], consent["channel"])
        found[key] = found.get(key, False) or consent["granted"]
    return found


def _extend(out: Decisions, part: Decisions) -> None:
    out.rewards += part.rewards
    out.journal += part.journal
    out.cooldowns += part.cooldowns
    out.scores += part.scores
    out.events += part.events
    out.duplicates += part.duplicates
    out.late += part.late
