"""The audit replay: recorded input through the worker's own decision path, compared with
the journal, and optionally decided again under a candidate ruleset (what-if).

Pure: no Kafka, no clock (``app/audit/source.py`` reads the topics). What it reproduces and
where it can only approximate the worker:

- **Records.** Per partition, ``player-profiles``, ``table-events``, the re-keyed topic and
  the other player inputs (``app.pipeline.inputs``: account events, interactions) are
  merged by Kafka timestamp (each topic-partition in offset order), cut into chunks and run
  through ``app.pipeline.batch.BatchDecider``: the worker's code. Where the chunks are cut
  does not change a decision.
- **Profiles.** A profile applies from its record on, in the merged order; the worker's
  order of the three topics may differ by a few ms, and ``player-profiles`` is compacted (a
  replaced profile is gone): where that changed a decision, it shows as a mismatch, never
  silently.
- **Rules in force.** An event is decided under the revision the journal names
  (``details.revision``) on the decisions it made; an event without decisions under the last
  revision published before its Kafka timestamp, but never below one the journal already
  showed on the partition (a worker only moves forward). An event that no decision pins
  down, lying between journal sightings of different revisions, is *ambiguous*: mismatches
  it causes are reported as ambiguous, not as mismatches.
- **State at the range start.** There is no snapshot: everything retained is replayed, and
  only decisions of events inside the range are compared (the rest is warm-up).
- **Sealed journal.** The journal names players under their secrets (``player-keys``,
  ``app.security.player_keys``); replayed decisions are sealed alike. An erased player's
  secret is gone, so their entries cannot be recomputed: on both sides they are counted as
  *shredded*, never as mismatches. Every partition's secrets are known, so an entry that
  names a living player on another partition than theirs is never taken for shredded (it
  shows as unreplayed or as a mismatch).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from app.audit.model import Entry, ReplayRange, ReplayRecord, Seen, input_rank, merge_by_time
from app.audit.report import TALLIED, Report, RuleStats, compare, identity, unplaced
from app.audit.revisions import RevisionBook
from app.core import Engine
from app.pipeline.batch import BatchDecider, EnginePicker
from app.pipeline.ingest import Ingest
from app.pipeline.store import DictStore
from app.security.player_keys import Sealer, is_player_pseudonym, pseudonyms


@dataclass(frozen=True, slots=True)
class Secrets:
    """Every player's secret as ``player-keys`` holds it, and the pseudonyms they make (made
    once for a whole replay)."""

    by_player: Mapping[str, bytes]
    names: frozenset[str]

    @classmethod
    def of(cls, by_player: Mapping[str, bytes]) -> Secrets:
        return cls(by_player, frozenset(pseudonyms(by_player)))


#: Records per chunk through ingest and the core (a worker's micro-batch, roughly).
CHUNK_MAX = 500


@dataclass(slots=True)
class DecisionTrack:
    """One way of deciding the partition: the rules in force, or a candidate ruleset. Its own
    tables (dicts), the decisions it made in range, and their tally by rule."""

    #: the engine of each event, asked in record order
    pick: EnginePicker
    decider: BatchDecider
    states: DictStore
    profiles: DictStore
    #: identity -> (entry, in range, deciding event)
    decided: dict[str, tuple[Entry, bool, Seen | None]] = field(default_factory=dict)
    stats: dict[str, RuleStats] = field(default_factory=dict)
    keep: bool = True

    @classmethod
    def over(cls, ingest: Ingest, pick: EnginePicker, keep: bool = True) -> DecisionTrack:
        states, profiles = DictStore(), DictStore()
        return cls(pick, BatchDecider(ingest, states, profiles), states, profiles, keep=keep)


class PartitionReplay:
    """Replays one partition: feed its records in merged order, then ``finish``.

    ``journal``: the journal's copies on this partition, as (offset, entry). ``secrets``:
    the players' secrets, as ``player-keys`` holds them (every partition's).
    ``candidate``: an Engine to decide the same events with as well (what-if).
    """

    def __init__(
        self,
        partition: int,
        ingest: Ingest,
        book: RevisionBook,
        window: ReplayRange,
        journal: Iterable[tuple[int, Entry]],
        secrets: Secrets,
        candidate: Engine | None = None,
        chunk_max: int = CHUNK_MAX,
    ) -> None:
        self.partition = partition
        self.sealer = Sealer(secrets.by_player, ingest.erasure_key)
        self.ingest = ingest
        self.topics = ingest.topics
        self.book = book
        self.window = window
        self.chunk_max = chunk_max
        self.report = Report(window=window.describe(), candidate={} if candidate else None)
        self.in_force = DecisionTrack.over(ingest, lambda e, r: book.engine(self._epoch(e, r)))
        self.tracks = [self.in_force]
        if candidate is not None:
            self.tracks.append(DecisionTrack.over(ingest, lambda _e, _r: candidate, keep=False))
        self.seen: dict[str, Seen] = {}
        self._journal: dict[str, list[tuple[int | None, int, Entry]]] = {}
        #: event id -> revisions journaled on the decisions that event made
        self._pins: dict[str, list[tuple[int, str | None]]] = {}
        for offset, entry in journal:
            if is_player_pseudonym(entry["player_id"]) and entry["player_id"] not in secrets.names:
                self.report.shredded += 1  # the player's secret is gone: erased
                continue
            if entry["decision"] == "EVENT_REJECTED":
                self.report.rejected_journal.append([partition, offset, entry])
                continue
            if entry["decision"] == "TOURNAMENT_FINISHED":
                # Kept out: the board keeper's, decided from the board at its wall-clock
                # close, not from a player's records; the prizes it lists are decided on the
                # winners' partitions from their TournamentPrize records, which this replays.
                continue
            self._journal.setdefault(identity(entry), []).append((partition, offset, entry))
            revision = entry["details"].get("revision")
            for event_id in entry["event_ids"]:
                self._pins.setdefault(event_id, []).append((entry["event_time"], revision))
        self._observed: list[tuple[int, int]] = []  # (seq, epoch) pinned by the journal
        self._floor = 0
        self._last: Seen | None = None
        self._seq = 0
        self._pending: list[ReplayRecord] = []
        #: the event times of the events in range (offset ranges place the journal by it)
        self._span: tuple[int, int] | None = None

    # feeding

    def feed(self, record: ReplayRecord) -> None:
        """Take the next record (chunks cut anywhere decide alike: ``app.pipeline.batch``)."""
        self._seq += 1
        record.seq = self._seq
        self.report.records += 1
        self._pending.append(record)
        if len(self._pending) >= self.chunk_max:
            self.flush()

    def feed_all(self, records: Iterable[ReplayRecord]) -> None:
        for record in records:
            self.feed(record)

    def flush(self) -> None:
        """Decide the pending chunk, as the worker decides a micro-batch."""
        chunk, self._pending = self._pending, []
        if not chunk:
            return
        now_ms = max(r.timestamp_ms for r in chunk)  # the replay's clock: only clock fields see it
        engine = self.book.engine(self._floor)  # ends quiet players' cool-downs
        for track in self.tracks:
            result = track.decider.decide(chunk, now_ms, engine, track.pick)
            track.profiles.apply(result.profiles)
            track.states.apply(result.states)
            if track is self.in_force:
                self.report.dead_letters += len(result.dead_letters) + len(result.player_letters)
                if result.batch.rejected:
                    self._note_rejected(chunk, self._sealed(result.batch.rejected))
            self._record(track, self._sealed(result.decisions.journal), self._last)

    def _epoch(self, event: Entry, record: ReplayRecord) -> int:
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

    def _sealed(self, entries: list[Entry]) -> list[Entry]:
        """The entries as the journal holds them; those of players whose secret is gone
        (erased) cannot be, and are left out (the journal's are counted as shredded)."""
        secrets = self.sealer.secrets
        return [
            self.sealer.entry(e) for e in entries if not e["player_id"] or e["player_id"] in secrets
        ]

    def _note(self, text: str) -> None:
        if len(self.report.revision_notes) < 100:
            self.report.revision_notes.append(text)

    def _record(self, track: DecisionTrack, entries: list[Entry], before: Seen | None) -> None:
        """Place each decision at its deciding event (the latest of its events); one without
        events (a cool-down's end, an erasure) at the chunk's latest event (``before``)."""
        seen = self.seen
        for entry in entries:
            sightings = [seen[e] for e in entry["event_ids"] if e in seen]
            decider = max(sightings) if sightings else before
            in_range = decider.in_range if decider is not None else False
            if in_range and entry["decision"] in TALLIED:
                rule = entry["rule_id"] or entry["decision"]
                track.stats.setdefault(rule, RuleStats()).add(entry)
            if track.keep:
                track.decided[identity(entry)] = (entry, in_range, decider)

    def _note_rejected(self, chunk: list[ReplayRecord], rejected: list[Entry]) -> None:
        """EVENT_REJECTED entries with their range, found by their record (rare: decode again)."""
        by_id: dict[str, tuple[ReplayRecord, Entry]] = {}
        for record in chunk:
            event = self.ingest.event_of(record)
            if event is not None:
                by_id.setdefault(event["event_id"], (record, event))
        for entry in rejected:
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
        if len(self.tracks) > 1:
            report.candidate = self.tracks[1].stats
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
            return unplaced(self.window, entry)
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


def replay_records(
    ingest: Ingest,
    book: RevisionBook,
    window: ReplayRange,
    records: Iterable[ReplayRecord],
    journal: Mapping[int, Iterable[tuple[int, Entry]]],
    secrets: Mapping[str, bytes],
    candidate: Engine | None = None,
) -> Report:
    """Replay records held in memory (each topic-partition's in offset order) against the
    journal's copies by partition and the players' secrets: the whole replay without Kafka,
    for tests and benchmarks."""
    inputs: dict[int, dict[str, list[ReplayRecord]]] = {}
    for record in records:
        inputs.setdefault(record.partition, {}).setdefault(record.topic, []).append(record)
    report = Report(window=window.describe(), candidate={} if candidate else None)
    rank = input_rank(ingest.topics)
    keys = Secrets.of(secrets)
    for partition in sorted(inputs.keys() | journal.keys()):
        replay = PartitionReplay(
            partition, ingest, book, window, journal.get(partition, ()), keys, candidate
        )
        replay.feed_all(merge_by_time(inputs.get(partition, {}).values(), rank))
        report.merge(replay.finish())
    report.settle(window)
    return report
