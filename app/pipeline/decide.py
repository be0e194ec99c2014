"""One micro-batch of one partition through the decision core: the worker's per-partition
logic with the tables abstracted away, so the worker and the audit replay run the same code.

The worker reads and writes RocksDB tables; the replay reads and writes plain dicts. Both
hand in two readers (player-state keys → bytes, profile keys → bytes) and get back what to
write, so erasure, the cool-down index and the ending of quiet players' cool-downs cannot
drift apart between the live path and the replay.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import orjson

from app.core import Decisions, Engine, PlayerState, outputs
from app.core.ids import erased_marker
from app.pipeline.ingest import SortedBatch, dead_letter

log = logging.getLogger(__name__)

#: Per partition, in the player-state table: {player id: cool-down ends at} for the running
#: cool-downs, so a player who went quiet has theirs ended by the partition's event time.
COOLDOWN_INDEX = b"\x00cooldown-index"
#: Per partition: hashes of the players erased with ``pitboss forget`` (never their ids).
ERASED = b"\x00erased"
#: The per-partition keys (beside the players' own) that deciding reads and writes.
PARTITION_KEYS = (COOLDOWN_INDEX, ERASED)

#: Reads some keys of one partition's table; a key with no value is simply absent.
Reader = Callable[[Iterable[bytes]], Mapping[bytes, bytes]]


@dataclass(slots=True)
class PartitionResult:
    """What deciding one partition's share of a batch wants written, and what it skipped."""

    #: player-state keys to write (None: a tombstone)
    written: dict[bytes, bytes | None] = field(default_factory=dict)
    #: events of erased players: decided nothing, journaled nothing
    erased_events: int = 0


def decide_partition(
    engine: Engine,
    partition: int,
    players: dict[str, list[dict]],
    forgets: set[str],
    batch: SortedBatch,
    now_ms: int,
    out: Decisions,
    read_states: Reader,
    read_profiles: Reader,
) -> PartitionResult:
    """Erase ``forgets``, then run the core for each player of one partition.

    Profiles fresh in ``batch`` win over stored ones. A player whose decisions raise has
    them undone and their events dead-lettered: one player's failure never stops the rest.
    """
    result = PartitionResult()
    written = result.written
    keys = [pid.encode() for pid in players]
    states = read_states([*keys, COOLDOWN_INDEX, ERASED])
    stored_profiles = read_profiles(keys)
    fresh_profiles = batch.profiles.get(partition, {})
    index = orjson.loads(states.get(COOLDOWN_INDEX) or b"{}")
    before = dict(index)
    erased = set(orjson.loads(states.get(ERASED) or b"[]"))
    if forgets:
        erase(forgets, erased, index, batch, partition, now_ms, out, written)
        written[ERASED] = orjson.dumps(sorted(erased))
    for key, (player_id, player_events) in zip(keys, players.items(), strict=True):
        if erased_marker(player_id) in erased:
            result.erased_events += len(player_events)  # no decisions, and no journal of them
            continue
        mark = (len(out.rewards), len(out.journal), len(out.cooldowns), len(out.scores))
        try:
            profile = fresh_profiles.get(player_id)
            if profile is None and key in stored_profiles:
                profile = orjson.loads(stored_profiles[key])
            state = PlayerState.from_bytes(states.get(key))
            engine.decide(state, player_events, profile, now_ms, out)
            written[key] = state.to_bytes()
            # The index follows the state, not only this call's decisions: after a crash
            # cut the changelog inside a batch, a player's restored state may already hold
            # a cool-down its re-delivered (now duplicate) events no longer announce.
            out.cooldown_index[player_id] = state.cooldown.ends_at if state.cooldown else None
        except Exception as exc:  # one player's failure must not stop (or drop) the others
            undo(out, mark)
            log.exception(
                "deciding for player %s failed; their events go to dead-letters", player_id
            )
            reason = f"the decision core failed on this player's events: {exc!r}"
            for event in player_events:
                msg = batch.origins[event["event_id"]]
                batch.dead_letters.append((msg.key, dead_letter(msg, "OTHER", reason, now_ms)))
    watermark = max((e["occurred_at"] for events in players.values() for e in events), default=0)
    end_quiet_cooldowns(engine, index, players, watermark, now_ms, out, written, read_states)
    for player_id in players:
        if player_id in out.cooldown_index:
            ends_at = out.cooldown_index[player_id]
            if ends_at is None:
                index.pop(player_id, None)
            else:
                index[player_id] = ends_at
    if index != before:
        written[COOLDOWN_INDEX] = orjson.dumps(index)
    return result


def erase(
    forgets: set[str],
    erased: set[str],
    index: dict[str, int],
    batch: SortedBatch,
    partition: int,
    now_ms: int,
    out: Decisions,
    written: dict[bytes, bytes | None],
) -> None:
    """Forget players: tombstone their state and profile, remember only a hash, journal it."""
    for player_id in sorted(forgets):
        written[player_id.encode()] = None
        batch.profiles.setdefault(partition, {})[player_id] = None
        index.pop(player_id, None)
        erased.add(erased_marker(player_id))
        out.journal.append(outputs.player_erased(player_id, now_ms))
        log.info("erased player %s (state and profile tombstoned)", player_id)


def end_quiet_cooldowns(
    engine: Engine,
    index: dict[str, int],
    players: dict[str, list[dict]],
    watermark: int,
    now_ms: int,
    out: Decisions,
    written: dict[bytes, bytes | None],
    read_states: Reader,
) -> None:
    """End the cool-downs the partition's event time has passed for players not in the batch."""
    due = [pid for pid, ends_at in index.items() if ends_at <= watermark and pid not in players]
    if not due:
        return
    keys = [pid.encode() for pid in due]
    states = read_states(keys)
    for key, player_id in zip(keys, due, strict=True):
        state = PlayerState.from_bytes(states.get(key))
        if engine.end_cooldown_if_over(player_id, state, watermark, now_ms, out):
            written[key] = state.to_bytes()
        index.pop(player_id, None)


def undo(out: Decisions, mark: tuple[int, int, int, int]) -> None:
    """Forget what a failed player's decisions added, so nothing half-decided is published."""
    rewards, journal, cooldowns, scores = mark
    del out.rewards[rewards:], out.journal[journal:], out.cooldowns[cooldowns:], out.scores[scores:]
