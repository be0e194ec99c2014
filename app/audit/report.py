"""What a replay finds: per-rule figures, mismatches and the report, and the comparison of
replayed decisions with the journal."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from app.audit.model import Entry, ReplayRange, Seen

#: Journal fields that carry the worker's clock: never compared.
CLOCK_FIELDS = frozenset({"recorded_at"})
#: PLAYER_ERASED has the worker's clock in its id and event time too: matched by player.
ERASED_CLOCK_FIELDS = CLOCK_FIELDS | {"entry_id", "event_time"}
#: Mismatches kept with their details (all are counted).
MISMATCHES_KEPT = 10_000


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
    #: journal entries of players whose secret is gone (erased): not recomputable, so
    #: neither compared nor mismatches
    shredded: int = 0
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
            "pinned_by_journal", "chosen_by_time", "unreplayed", "shredded",
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

    def settle(self, window: ReplayRange) -> None:
        """Compare the EVENT_REJECTED entries gathered from every partition; call once, at
        the end."""
        replayed = {i: (e, in_range, None) for i, (e, in_range) in self.rejected_replayed.items()}
        self.decisions += sum(in_range for _e, in_range, _s in replayed.values())
        journal: dict[str, list[tuple[int, int, Entry]]] = {}
        for partition, offset, entry in self.rejected_journal:
            journal.setdefault(identity(entry), []).append((partition, offset, entry))
        compare(self, replayed, journal, lambda entry: unplaced(window, entry), lambda _s: False)
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


def unplaced(window: ReplayRange, entry: Entry) -> bool | None:
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
