"""The audit replay: recorded input through the worker's own decision path, compared with
the journal, and optionally decided again under a candidate ruleset (what-if).

Pure: no Kafka, no clock (``app/audit/source.py`` reads the topics). What it reproduces and
where it can only approximate the worker:

- **Records.** Per partition, ``player-profiles``, ``table-events`` and the re-keyed topic are
  merged by Kafka timestamp (each topic-partition in offset order), cut into chunks and run
  through ``Ingest.sort`` and ``app.pipeline.decide.decide_partition``: the worker's code.
- **Profiles.** A chunk ends before a profile (or an erasure) that follows events, so a profile
  applies to the events stamped after it. The worker applies one to its whole micro-batch,
  events a few ms older included, and ``player-profiles`` is compacted (a replaced profile is
  gone): where that changed a decision, it shows as a mismatch, never silently.
- **Rules in force.** An event is decided under the revision the journal names
  (``details.revision``) on the decisions it made; an event without decisions under the last
  revision published before its Kafka timestamp, but never below one the journal already
  showed on the partition (a worker only moves forward). An event that no decision pins
  down, lying between journal sightings of different revisions, is *ambiguous*: mismatches
  it causes are reported as ambiguous, not as mismatches.
- **State at the range start.** There is no snapshot: everything retained is replayed, and
  only decisions of events inside the range are compared (the rest is warm-up).
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

from app.core import Decisions, Engine
from app.core.engine import group_by_player
from app.core.rules import Ruleset
from app.pipeline.decide import decide_partition
from app.pipeline.ingest import FORGET_TYPE, PROFILE_TYPE, RECORD_TYPE_HEADER, Ingest, SortedBatch
from app.rules import compile_document, default_ruleset
from app.settings import TopicNames

#: Records per chunk through ingest and the core (a worker's micro-batch, roughly).
CHUNK_MAX = 500
#: Journal fields that carry the worker's clock: never compared.
CLOCK_FIELDS = frozenset({"recorded_at"})
#: PLAYER_ERASED has the worker's clock in its id and event time too: matched by player.
ERASED_CLOCK_FIELDS = CLOCK_FIELDS | {"entry_id", "event_time"}
#: Mismatches kept with their details (all are counted).
MISMATCHES_KEPT = 10_000

Entry = dict[str, Any]


# -- input ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Record:
    """A Kafka record as ingest sees it (``app.pipeline.ingest.Message``), and its place."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    headers: tuple[tuple[str, bytes], ...] = ()
    #: position in the replay's merged order of the partition (set when fed)
    seq: int = 0

    @property
    def timestamp(self) -> int:
        """Kafka's record time in ms, the name ingest reads it by (as the worker's records)."""
        return self.timestamp_ms


def input_rank(topics: TopicNames) -> dict[str, int]:
    """Tie-break for equal timestamps: a profile before the play it describes."""
    return {topics.player_profiles: 0, topics.table_events: 1, topics.rekeyed: 2}


def merge_by_time(inputs: Iterable[Iterable[Record]], rank: Mapping[str, int]) -> Iterator[Record]:
    """One partition's inputs in the order the replay feeds them: by Kafka timestamp, each
    input kept in offset order whatever its timestamps do."""
    return heapq.merge(*inputs, key=lambda r: (r.timestamp_ms, rank.get(r.topic, 9), r.offset))


# -- the rules in force --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Revision:
    """One publish of a ruleset: its revision number, when, and the document."""

    revision: int
    published_at: int
    #: None: the shipped default (nothing published yet, or the ruleset was withdrawn)
    document: dict | None = None


def revisions_from_history(
    records: Iterable[tuple[bytes | None, bytes | None, int]], ruleset_id: str
) -> list[Revision]:
    """``crm-rules-history`` records (key, value, Kafka timestamp), in offset order, as the
    revisions of ``ruleset_id``; a tombstone (withdrawal) puts the shipped default back."""
    out = []
    for key, value, stamped in records:
        if key is None or key.decode("utf-8", errors="replace") != ruleset_id:
            continue
        if value is None:
            out.append(Revision(0, stamped))
            continue
        doc = orjson.loads(value)
        out.append(
            Revision(int(doc.get("revision", 0)), int(doc.get("published_at") or stamped), doc)
        )
    return out


class RevisionBook:
    """A ruleset's revisions in publish order ("epochs", the first being the shipped default
    before any publish), each compiled into an Engine once, when first needed."""

    def __init__(self, history: Sequence[Revision], make_engine: Callable[[Ruleset], Engine]):
        self.epochs = [Revision(0, 0), *history]
        self._starts: list[int] = []
        start = 0
        for epoch in self.epochs:  # publish times only move forward, whatever clocks did
            start = max(start, epoch.published_at)
            self._starts.append(start)
        self._by_number: dict[int, list[int]] = {}
        for i, epoch in enumerate(self.epochs):
            self._by_number.setdefault(epoch.revision, []).append(i)
        self._make = make_engine
        self._engines: dict[int, Engine] = {}

    def at(self, stamped_ms: int) -> int:
        """The epoch in force at a Kafka timestamp."""
        return max(0, bisect_right(self._starts, stamped_ms) - 1)

    def find(self, revision: str | None, stamped_ms: int) -> int | None:
        """The epoch a journal entry's ``details.revision`` names, None if none has it.
        Numbers restart after a withdrawal: then the latest one published by the event."""
        try:
            candidates = self._by_number.get(int(revision or ""), [])
        except ValueError:
            return None
        if len(candidates) < 2:
            return candidates[0] if candidates else None
        published = [i for i in candidates if self._starts[i] <= stamped_ms]
        return published[-1] if published else candidates[0]

    def engine(self, epoch: int) -> Engine:
        engine = self._engines.get(epoch)
        if engine is None:
            doc = self.epochs[epoch].document
            ruleset = default_ruleset() if doc is None else compile_document(doc)
            engine = self._engines[epoch] = self._make(ruleset)
        return engine

    def label(self, epoch: int) -> str:
        revision = self.epochs[epoch]
        if revision.document is None:
            return "shipped default (revision 0)"
        return f"revision {revision.revision}"


# -- the range -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """Whose decisions are compared: events by event time, or records by offset on
    ``table-events`` (from inclusive, to exclusive; None: open). Neither: everything.
    Offsets address ``table-events`` only: a re-keyed event is then warm-up."""

    from_ms: int | None = None
    to_ms: int | None = None
    #: partition -> (from offset, to offset); a partition not listed is out of range
    offsets: Mapping[int, tuple[int | None, int | None]] | None = None

    @property
    def by_time(self) -> bool:
        return self.offsets is None and (self.from_ms is not None or self.to_ms is not None)

    def holds_time(self, t: int) -> bool:
        return (self.from_ms is None or t >= self.from_ms) and (
            self.to_ms is None or t < self.to_ms
        )

    def holds(self, record: Record, event: Entry, table_events: str) -> bool:
        if self.offsets is None:
            return self.holds_time(event["occurred_at"])
        if record.topic != table_events or record.partition not in self.offsets:
            return False
        start, end = self.offsets[record.partition]
        return (start is None or record.offset >= start) and (end is None or record.offset < end)

    def describe(self) -> str:
        if self.offsets is not None:
            parts = ", ".join(
                f"{p}:{'' if a is None else a}..{'' if b is None else b}"
                for p, (a, b) in sorted(self.offsets.items())
            )
            return f"table-events offsets {parts}"
        if self.by_time:
            return f"event time {_iso(self.from_ms)} .. {_iso(self.to_ms)} (to exclusive)"
        return "everything retained"


def _iso(ms: int | None) -> str:
    if ms is None:
        return "…"
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


# -- what a replay finds -------------------------------------------------------------------


@dataclass(slots=True)
class RuleStats:
    """What one rule (or detector) decided for the events in range.

    ``players`` counts the players affected: rewarded, held back or cooled down. A player
    lives on one partition, so partitions' counts simply add up; the ids are kept only
    while a partition is replayed (``who``)."""

    rewards: int = 0
    #: issued amounts by reward kind (CASHBACK_OFFER in minor units)
    amounts: dict[str, int] = field(default_factory=dict)
    #: suppressions by reason
    suppressed: dict[str, int] = field(default_factory=dict)
    cooldowns: int = 0
    players: int = 0
    who: set[str] = field(default_factory=set, repr=False)

    def add(self, entry: Entry) -> None:
        decision, details = entry["decision"], entry["details"]
        if decision == "REWARD_ISSUED":
            self.rewards += 1
            kind = details.get("kind", "OTHER")
            self.amounts[kind] = self.amounts.get(kind, 0) + int(details.get("amount", 0))
        elif decision == "REWARD_SUPPRESSED":
            self.suppressed[entry["reason"]] = self.suppressed.get(entry["reason"], 0) + 1
        elif decision == "COOLDOWN_STARTED":
            self.cooldowns += 1
        else:
            return
        if entry["player_id"] and entry["player_id"] not in self.who:
            self.who.add(entry["player_id"])
            self.players += 1

    def merge(self, other: RuleStats) -> None:
        self.rewards += other.rewards
        self.cooldowns += other.cooldowns
        for mine, theirs in ((self.amounts, other.amounts), (self.suppressed, other.suppressed)):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value
        self.players += other.players

    def to_json(self) -> dict:
        doc = asdict(self)
        del doc["who"]
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> RuleStats:
        return cls(**doc)


TALLIED = frozenset({"REWARD_ISSUED", "REWARD_SUPPRESSED", "COOLDOWN_STARTED"})


@dataclass(slots=True)
class Mismatch:
    """A replayed decision the journal lacks, a journal entry the replay did not decide, or
    the same entry id with different content (``fields``: name -> [replayed, journaled])."""

    kind: str  # "missing_in_journal" | "extra_in_journal" | "differs"
    entry_id: str
    partition: int | None
    player_id: str | None
    decision: str
    rule_id: str | None
    event_ids: list[str]
    fields: dict[str, list] = field(default_factory=dict)
    journal_offset: int | None = None
    #: the deciding event's rules revision is not pinned down (see the module docstring)
    ambiguous: bool = False

    def describe(self) -> str:
        what = f"{self.decision} {self.rule_id or ''} player {self.player_id} entry {self.entry_id}"
        where = f" (journal partition {self.partition} offset {self.journal_offset})"
        if self.kind == "missing_in_journal":
            return f"replayed but not in the journal: {what}, events {self.event_ids}"
        if self.kind == "extra_in_journal":
            return f"in the journal but not replayed: {what}{where}"
        diffs = "; ".join(
            f"{k}: replayed {a!r}, journal {b!r}" for k, (a, b) in self.fields.items()
        )
        return f"differs: {what}{where}: {diffs}"


@dataclass(slots=True)
class Report:
    """Counts, mismatches and per-rule figures of a replay (one partition, or merged)."""

    window: str = ""
    records: int = 0
    events: int = 0
    #: events in the range, and the warm-up replayed before (and after) it
    in_range: int = 0
    warmup_before: int = 0
    warmup_after: int = 0
    dead_letters: int = 0
    #: replayed decisions in range, and distinct journal entries in range
    decisions: int = 0
    journaled: int = 0
    matches: int = 0
    #: identical copies of an entry in the journal (a re-delivered batch decided again)
    journal_duplicates: int = 0
    mismatch_counts: dict[str, int] = field(default_factory=dict)
    ambiguous_count: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    #: journal entries in range whose events were not replayed (gone from the topics, or
    #: not placeable in an offset range), and a few of them in words
    unreplayed: int = 0
    unreplayed_samples: list[str] = field(default_factory=list)
    #: events decided under each revision, and how the revision was chosen
    revisions: dict[str, int] = field(default_factory=dict)
    pinned_by_journal: int = 0
    chosen_by_time: int = 0
    revision_notes: list[str] = field(default_factory=list)
    #: what-if: per rule, the decisions in range under the rules in force and the candidate
    in_force: dict[str, RuleStats] = field(default_factory=dict)
    candidate: dict[str, RuleStats] | None = None
    candidate_label: str = ""
    partitions_done: list[int] = field(default_factory=list)
    #: EVENT_REJECTED entries, compared across partitions at the end (a rejected event's
    #: entry is journaled under its player, who may live on another partition)
    rejected_replayed: dict[str, list] = field(default_factory=dict)
    rejected_journal: list[list] = field(default_factory=list)

    @property
    def mismatch_total(self) -> int:
        return sum(self.mismatch_counts.values())

    def note_mismatch(self, mismatch: Mismatch) -> None:
        if mismatch.ambiguous:
            self.ambiguous_count += 1
        else:
            self.mismatch_counts[mismatch.kind] = self.mismatch_counts.get(mismatch.kind, 0) + 1
        if len(self.mismatches) < MISMATCHES_KEPT:
            self.mismatches.append(mismatch)

    def merge(self, other: Report) -> None:
        for name in (
            "records", "events", "in_range", "warmup_before", "warmup_after", "dead_letters",
            "decisions", "journaled", "matches", "journal_duplicates", "ambiguous_count",
            "pinned_by_journal", "chosen_by_time", "unreplayed",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for mine, theirs in (
            (self.mismatch_counts, other.mismatch_counts),
            (self.revisions, other.revisions),
        ):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value
        self.mismatches.extend(other.mismatches[: MISMATCHES_KEPT - len(self.mismatches)])
        self.unreplayed_samples.extend(
            other.unreplayed_samples[: 20 - len(self.unreplayed_samples)]
        )
        self.revision_notes.extend(other.revision_notes)
        _merge_stats(self.in_force, other.in_force)
        if other.candidate is not None:
            if self.candidate is None:
                self.candidate = {}
            _merge_stats(self.candidate, other.candidate)
        self.partitions_done.extend(other.partitions_done)
        self.rejected_replayed.update(other.rejected_replayed)
        self.rejected_journal.extend(other.rejected_journal)

    def settle(self, window: Window) -> None:
        """Compare the EVENT_REJECTED entries gathered from every partition; call once, at
        the end."""
        replayed = {i: (e, in_range, None) for i, (e, in_range) in self.rejected_replayed.items()}
        self.decisions += sum(in_range for _e, in_range, _s in replayed.values())
        journal: dict[str, list[tuple[int, int, Entry]]] = {}
        for partition, offset, entry in self.rejected_journal:
            journal.setdefault(identity(entry), []).append((partition, offset, entry))
        compare(self, replayed, journal, lambda entry: _unplaced(window, entry), lambda _s: False)
        self.rejected_replayed, self.rejected_journal = {}, []

    def to_json(self) -> dict:
        doc = asdict(self)
        doc["in_force"] = {k: v.to_json() for k, v in self.in_force.items()}
        if self.candidate is not None:
            doc["candidate"] = {k: v.to_json() for k, v in self.candidate.items()}
        doc["mismatch_total"] = self.mismatch_total
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Report:
        doc = dict(doc)
        doc.pop("mismatch_total", None)
        doc["mismatches"] = [Mismatch(**m) for m in doc["mismatches"]]
        doc["in_force"] = {k: RuleStats.from_json(v) for k, v in doc["in_force"].items()}
        if doc.get("candidate") is not None:
            doc["candidate"] = {k: RuleStats.from_json(v) for k, v in doc["candidate"].items()}
        return cls(**doc)


def _merge_stats(into: dict[str, RuleStats], other: Mapping[str, RuleStats]) -> None:
    for rule, stats in other.items():
        into.setdefault(rule, RuleStats()).merge(stats)


# -- comparing -----------------------------------------------------------------------------


def identity(entry: Entry) -> str:
    """What pairs a replayed decision with its journal entry: the entry id, which is
    deterministic, except for PLAYER_ERASED, whose id includes the worker's clock."""
    if entry["decision"] == "PLAYER_ERASED":
        return f"erased:{entry['player_id']}"
    return entry["entry_id"]


def differences(replayed: Entry, journaled: Entry) -> dict[str, list]:
    """Field name (``details.<key>`` inside details) -> [replayed, journaled], clocks aside."""
    ignore = ERASED_CLOCK_FIELDS if replayed["decision"] == "PLAYER_ERASED" else CLOCK_FIELDS
    out: dict[str, list] = {}
    for name in replayed.keys() | journaled.keys():
        if name in ignore:
            continue
        mine, theirs = replayed.get(name), journaled.get(name)
        if name == "details" and isinstance(mine, dict) and isinstance(theirs, dict):
            for key in mine.keys() | theirs.keys():
                if mine.get(key) != theirs.get(key):
                    out[f"details.{key}"] = [mine.get(key), theirs.get(key)]
        elif mine != theirs:
            out[name] = [mine, theirs]
    return out


def _unplaced(window: Window, entry: Entry) -> bool | None:
    """Whether a journal entry none of whose events was replayed is in range: by its event
    time, or not at all (None: its events are gone from the topics, listed as unreplayed).
    An offset range reads every record in it, so such an entry is outside it."""
    if window.offsets is not None:
        return False
    if entry["event_ids"]:
        return None if window.holds_time(entry["event_time"]) else False
    return window.holds_time(entry["event_time"])


def compare(
    report: Report,
    replayed: Mapping[str, tuple[Entry, bool, Seen | None]],
    journal: Mapping[str, list[tuple[int | None, int, Entry]]],
    place: Callable[[Entry], bool | None],
    ambiguous: Callable[[Seen | None], bool],
) -> None:
    """Pair replayed decisions (identity -> entry, in range, deciding event) with journal copies
    (identity -> [(partition, offset, entry)]) and count what agrees and what does not.

    A journal entry the replay also decided takes the replay's placement; otherwise
    ``place`` says whether it is in range (None: it cannot be placed: listed as unreplayed).
    """
    for key, copies in journal.items():
        first = copies[0][2]
        if key in replayed:
            entry, in_range, seq = replayed[key]
            if not in_range:
                continue
            report.journaled += 1
            distinct = _distinct(copies)
            report.journal_duplicates += len(copies) - len(distinct)
            agreed = True
            for partition, offset, copy in distinct:
                fields = differences(entry, copy)
                if fields:
                    agreed = False
                    report.note_mismatch(
                        _mismatch("differs", copy, partition, offset, fields, ambiguous(seq))
                    )
            report.matches += agreed
            continue
        in_range = place(first)
        if in_range is None:
            report.unreplayed += 1
            if len(report.unreplayed_samples) < 20:
                report.unreplayed_samples.append(
                    f"{first['decision']} {first['rule_id'] or ''} entry {first['entry_id']} "
                    f"(player {first['player_id']}, events {first['event_ids']})"
                )
        elif in_range:
            report.journaled += 1
            partition, offset, _ = copies[0]
            report.note_mismatch(_mismatch("extra_in_journal", first, partition, offset, {}, False))
    for key, (entry, in_range, seq) in replayed.items():
        if in_range and key not in journal:
            report.note_mismatch(
                _mismatch("missing_in_journal", entry, None, None, {}, ambiguous(seq))
            )


def _distinct(copies: list[tuple[int | None, int, Entry]]) -> list[tuple[int | None, int, Entry]]:
    """One of each different copy (clocks aside): re-journaled duplicates are no mismatch."""
    out: list[tuple[int | None, int, Entry]] = []
    for copy in copies:
        if not any(not differences(copy[2], kept[2]) for kept in out):
            out.append(copy)
    return out


def _mismatch(
    kind: str,
    entry: Entry,
    partition: int | None,
    offset: int | None,
    fields: dict[str, list],
    ambiguous: bool,
) -> Mismatch:
    return Mismatch(
        kind=kind,
        entry_id=entry["entry_id"],
        partition=partition,
        player_id=entry["player_id"],
        decision=entry["decision"],
        rule_id=entry["rule_id"],
        event_ids=list(entry["event_ids"]),
        fields=fields,
        journal_offset=offset,
        ambiguous=ambiguous,
    )


# -- one partition -------------------------------------------------------------------------


class Seen(NamedTuple):
    """An event's first sighting: where, whether in range, the epoch it ran under, whether
    journal entries pinned that epoch, and when it happened."""

    seq: int
    in_range: bool
    epoch: int
    pinned: bool
    occurred_at: int


@dataclass(slots=True)
class Lane:
    """One way of deciding the partition: the rules in force, or a candidate ruleset. Its own
    player-state table (a dict), the decisions it made in range, and their tally by rule."""

    engine_for: Callable[[int], Engine]
    states: dict[bytes, bytes] = field(default_factory=dict)
    #: identity -> (entry, in range, deciding event)
    decided: dict[str, tuple[Entry, bool, Seen | None]] = field(default_factory=dict)
    stats: dict[str, RuleStats] = field(default_factory=dict)
    keep: bool = True

    def read(self, keys: Iterable[bytes]) -> dict[bytes, bytes]:
        states = self.states
        return {k: states[k] for k in keys if k in states}


class PartitionReplay:
    """Replays one partition: feed its records in merged order, then ``finish``.

    ``journal``: the journal's copies on this partition, as (offset, entry). ``candidate``:
    an Engine to decide the same events with as well (what-if).
    """

    def __init__(
        self,
        partition: int,
        ingest: Ingest,
        book: RevisionBook,
        window: Window,
        journal: Iterable[tuple[int, Entry]],
        candidate: Engine | None = None,
        chunk_max: int = CHUNK_MAX,
    ) -> None:
        self.partition = partition
        self.ingest = ingest
        self.topics = ingest.topics
        self.book = book
        self.window = window
        self.chunk_max = chunk_max
        self.report = Report(window=window.describe(), candidate={} if candidate else None)
        self.in_force = Lane(book.engine)
        self.lanes = [self.in_force]
        if candidate is not None:
            self.lanes.append(Lane(lambda _epoch: candidate, keep=False))
        self.profiles: dict[bytes, bytes] = {}
        self.seen: dict[str, Seen] = {}
        self._journal: dict[str, list[tuple[int | None, int, Entry]]] = {}
        #: event id -> revisions journaled on the decisions that event made
        self._pins: dict[str, list[tuple[int, str | None]]] = {}
        for offset, entry in journal:
            if entry["decision"] == "EVENT_REJECTED":
                self.report.rejected_journal.append([partition, offset, entry])
                continue
            self._journal.setdefault(identity(entry), []).append((partition, offset, entry))
            revision = entry["details"].get("revision")
            for event_id in entry["event_ids"]:
                self._pins.setdefault(event_id, []).append((entry["event_time"], revision))
        self._observed: list[tuple[int, int]] = []  # (seq, epoch) pinned by the journal
        self._floor = 0
        self._last: Seen | None = None
        self._seq = 0
        self._pending: list[Record] = []
        self._pending_events = False
        #: the event times of the events in range (offset ranges place the journal by it)
        self._span: tuple[int, int] | None = None

    # feeding

    def feed(self, record: Record) -> None:
        """Take the next record; a profile or erasure after events starts a new chunk, so it
        applies from its own time on."""
        self._seq += 1
        record.seq = self._seq
        self.report.records += 1
        if self._is_profile_or_forget(record):
            if self._pending_events:
                self.flush()
        else:
            self._pending_events = True
        self._pending.append(record)
        if len(self._pending) >= self.chunk_max:
            self.flush()

    def feed_all(self, records: Iterable[Record]) -> None:
        for record in records:
            self.feed(record)

    def _is_profile_or_forget(self, record: Record) -> bool:
        if record.topic == self.topics.player_profiles:
            return True
        if record.topic != self.topics.rekeyed:
            return False
        kind = dict(record.headers).get(RECORD_TYPE_HEADER)
        return kind in (PROFILE_TYPE, FORGET_TYPE)

    def flush(self) -> None:
        """Decide the pending chunk, as the worker decides a micro-batch."""
        chunk, self._pending, self._pending_events = self._pending, [], False
        if not chunk:
            return
        now_ms = max(r.timestamp_ms for r in chunk)  # the replay's clock: only clock fields see it
        batch = self.ingest.sort(chunk, now_ms)
        self.report.dead_letters += len(batch.dead_letters)
        if batch.rejected:
            self._note_rejected(chunk, batch)
        partition = self.partition
        players = batch.events.get(partition, {})
        forgets = batch.forgets.get(partition, set())
        runs = self._runs(players, batch) if players else []
        if forgets and not runs:
            runs = [(self._floor, {})]
        for i, (epoch, run_players) in enumerate(runs):
            last = self._last
            for lane in self.lanes:
                out = Decisions()
                result = decide_partition(
                    lane.engine_for(epoch),
                    partition,
                    run_players,
                    forgets if i == 0 else set(),
                    batch,
                    now_ms,
                    out,
                    lane.read,
                    self._read_profiles,
                )
                for key, value in result.written.items():
                    if value is None:
                        lane.states.pop(key, None)
                    else:
                        lane.states[key] = value
                self._record(lane, out.journal, last)
        for player_id, profile in batch.profiles.get(partition, {}).items():
            key = player_id.encode()
            if profile is None:
                self.profiles.pop(key, None)
            else:
                self.profiles[key] = orjson.dumps(profile)

    def _read_profiles(self, keys: Iterable[bytes]) -> dict[bytes, bytes]:
        profiles = self.profiles
        return {k: profiles[k] for k in keys if k in profiles}

    def _runs(
        self, players: dict[str, list[Entry]], batch: SortedBatch
    ) -> list[tuple[int, dict[str, list[Entry]]]]:
        """The chunk's events in arrival order, cut where the revision in force changes."""
        origins = batch.origins
        ordered = sorted(
            (origins[e["event_id"]].seq, i, e)
            for i, e in enumerate(e for events in players.values() for e in events)
        )
        runs: list[tuple[int, list[Entry]]] = []
        for _seq, _i, event in ordered:
            epoch = self._epoch(event, origins[event["event_id"]])
            if runs and runs[-1][0] == epoch:
                runs[-1][1].append(event)
            else:
                runs.append((epoch, [event]))
        return [(epoch, group_by_player(events)) for epoch, events in runs]

    def _epoch(self, event: Entry, record: Record) -> int:
        """The revision in force for the event (an epoch of the book); notes the sighting."""
        event_id = event["event_id"]
        seen = self.seen.get(event_id)
        if seen is not None:  # a re-delivered event: the engine drops it as a duplicate
            return max(seen.epoch, self._floor)
        stamped = record.timestamp_ms
        pinned = set()
        for event_time, revision in self._pins.get(event_id, ()):
            if event_time != event["occurred_at"]:
                continue  # this event is an earlier step of a decision another event made
            epoch = self.book.find(revision, stamped)
            if epoch is None:
                self._note(
                    f"the journal names revision {revision!r} for event {event_id}, "
                    "which crm-rules-history does not hold"
                )
            else:
                pinned.add(epoch)
        if len(pinned) > 1:
            labels = ", ".join(self.book.label(e) for e in sorted(pinned))
            self._note(f"the journal names several revisions for event {event_id}: {labels}")
        if pinned:
            epoch = max(pinned)
            self._observed.append((record.seq, epoch))
            self._floor = max(self._floor, epoch)
            self.report.pinned_by_journal += 1
        else:
            epoch = max(self.book.at(stamped), self._floor)
            self.report.chosen_by_time += 1
        in_range = self.window.holds(record, event, self.topics.table_events)
        occurred_at = event["occurred_at"]
        seen = self.seen[event_id] = Seen(record.seq, in_range, epoch, bool(pinned), occurred_at)
        self._last = seen
        label = self.book.label(epoch)
        self.report.revisions[label] = self.report.revisions.get(label, 0) + 1
        self.report.events += 1
        if in_range:
            self.report.in_range += 1
            span = self._span
            self._span = (
                (min(span[0], occurred_at), max(span[1], occurred_at))
                if span
                else (occurred_at, occurred_at)
            )
        elif self._span is not None:
            self.report.warmup_after += 1
        else:
            self.report.warmup_before += 1
        return epoch

    def _note(self, text: str) -> None:
        if len(self.report.revision_notes) < 100:
            self.report.revision_notes.append(text)

    def _record(self, lane: Lane, entries: list[Entry], before: Seen | None) -> None:
        """Place each decision at its deciding event (the latest of its events); one without
        events (a cool-down's end, an erasure) at the chunk's latest event (``before``)."""
        seen = self.seen
        for entry in entries:
            sightings = [seen[e] for e in entry["event_ids"] if e in seen]
            decider = max(sightings) if sightings else before
            in_range = decider.in_range if decider is not None else False
            if in_range and entry["decision"] in TALLIED:
                rule = entry["rule_id"] or entry["decision"]
                lane.stats.setdefault(rule, RuleStats()).add(entry)
            if lane.keep:
                lane.decided[identity(entry)] = (entry, in_range, decider)

    def _note_rejected(self, chunk: list[Record], batch: SortedBatch) -> None:
        """EVENT_REJECTED entries with their range, found by their record (rare: decode again)."""
        by_id: dict[str, tuple[Record, Entry]] = {}
        for record in chunk:
            if record.topic == self.topics.player_profiles or record.value is None:
                continue
            try:
                event = self.ingest.events.decode(record.value)
            except ValueError:
                continue
            by_id.setdefault(event["event_id"], (record, event))
        for entry in batch.rejected:
            found = by_id.get(entry["event_ids"][0]) if entry["event_ids"] else None
            in_range = found is not None and self.window.holds(
                found[0], found[1], self.topics.table_events
            )
            self.report.rejected_replayed[identity(entry)] = [entry, in_range]

    # the end

    def finish(self) -> Report:
        """Decide what is left and compare the partition's decisions with its journal."""
        self.flush()
        report = self.report
        report.decisions = sum(1 for _e, in_range, _s in self.in_force.decided.values() if in_range)
        report.in_force = self.in_force.stats
        if len(self.lanes) > 1:
            report.candidate = self.lanes[1].stats
        compare(report, self.in_force.decided, self._journal, self._place, self._ambiguous)
        report.partitions_done.append(self.partition)
        return report

    def _place(self, entry: Entry) -> bool | None:
        """Whether a journal entry the replay did not decide is in range: by its deciding
        event (the latest of its events, which happened at the entry's event time) when that
        was replayed; otherwise by its event time, or not at all (None: unreplayed)."""
        sightings = [self.seen[e] for e in entry["event_ids"] if e in self.seen]
        if sightings:
            decider = max(sightings)
            if decider.occurred_at == entry["event_time"]:
                return decider.in_range
            if self.window.offsets is not None:
                return False  # decided by an event after the range's end offset
        if self.window.offsets is None or entry["event_ids"]:
            return _unplaced(self.window, entry)
        span = self._span  # a cool-down's end or an erasure: by the range's event times
        return span is not None and span[0] <= entry["event_time"] <= span[1]

    def _ambiguous(self, seen: Seen | None) -> bool:
        """Whether the revision that decided an event is not pinned down: none of its own
        decisions names it, and the revisions the journal shows around it (or, past the
        last sighting, the partition's last choice) are not all the one chosen."""
        if seen is None or seen.pinned:
            return False
        observed = self._observed
        i = bisect_left(observed, (seen.seq, -1))
        before = observed[i - 1][1] if i > 0 else seen.epoch
        after = observed[i][1] if i < len(observed) else self._last.epoch if self._last else 0
        return not (before == after == seen.epoch)


def tally_difference(
    in_force: Mapping[str, RuleStats], candidate: Mapping[str, RuleStats]
) -> list[dict[str, Any]]:
    """Per rule: the in-force and candidate figures side by side, changed rules first."""
    rows = []
    for rule in sorted(in_force.keys() | candidate.keys()):
        a, b = in_force.get(rule, RuleStats()), candidate.get(rule, RuleStats())
        kinds = sorted(a.amounts.keys() | b.amounts.keys())
        reasons = sorted(a.suppressed.keys() | b.suppressed.keys())
        row = {
            "rule": rule,
            "rewards": [a.rewards, b.rewards],
            "amounts": {k: [a.amounts.get(k, 0), b.amounts.get(k, 0)] for k in kinds},
            "suppressed": {r: [a.suppressed.get(r, 0), b.suppressed.get(r, 0)] for r in reasons},
            "cooldowns": [a.cooldowns, b.cooldowns],
            "players": [a.players, b.players],
        }
        row["changed"] = any(
            x != y
            for x, y in [
                row["rewards"],
                row["cooldowns"],
                row["players"],
                *row["amounts"].values(),
                *row["suppressed"].values(),
            ]
        )
        rows.append(row)
    rows.sort(key=lambda r: (not r["changed"], r["rule"]))
    return rows


def replay_records(
    ingest: Ingest,
    book: RevisionBook,
    window: Window,
    records: Iterable[Record],
    journal: Mapping[int, Iterable[tuple[int, Entry]]],
    candidate: Engine | None = None,
) -> Report:
    """Replay records held in memory (each topic-partition's in offset order) against the
    journal's copies by partition: the whole replay without Kafka, for tests and benchmarks."""
    inputs: dict[int, dict[str, list[Record]]] = {}
    for record in records:
        inputs.setdefault(record.partition, {}).setdefault(record.topic, []).append(record)
    report = Report(window=window.describe(), candidate={} if candidate else None)
    rank = input_rank(ingest.topics)
    for partition in sorted(inputs.keys() | journal.keys()):
        replay = PartitionReplay(
            partition, ingest, book, window, journal.get(partition, ()), candidate
        )
        replay.feed_all(merge_by_time(inputs.get(partition, {}).values(), rank))
        report.merge(replay.finish())
    report.settle(window)
    return report
