"""Ingest rules: what makes a decoded TableEvent (or another player input, normalized by
``app.pipeline.inputs``) acceptable, and where a player's events belong. Pure functions,
shared by the worker and the replay."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any, NamedTuple, Protocol

import orjson
from aiokafka.partitioner import murmur2

from app.contract.codec import AvroCodec
from app.contract.errors import DecodeError
from app.core import outputs
from app.core.ids import pseudonym
from app.pipeline.inputs import INPUTS, InputKind
from app.settings import TopicNames

PLAYER_EVENT_TYPES = frozenset(
    {
        "BET_PLACED",
        "BET_SETTLED",
        "SIDE_BET_PLACED",
        "SIDE_BET_SETTLED",
        "CHAT_MESSAGE",
        "PLAYER_JOINED",
        "PLAYER_LEFT",
    }
)
BET_EVENT_TYPES = frozenset({"BET_PLACED", "BET_SETTLED", "SIDE_BET_PLACED", "SIDE_BET_SETTLED"})
SETTLED_EVENT_TYPES = frozenset({"BET_SETTLED", "SIDE_BET_SETTLED"})

#: The largest stake accepted: 100 million currency units, in minor units.
MAX_STAKE_MINOR = 10_000_000_000
#: How far an event's occurred_at may lie after / before the time Kafka stamped it.
MAX_FUTURE_MS = 5 * 60 * 1000
MAX_AGE_MS = 7 * 24 * 3600 * 1000
#: Plausible event times even for a record Kafka did not stamp (a fixed range, so a
#: replay judges alike): an absurd time would otherwise move a partition's event time.
EARLIEST_EVENT_MS = 946_684_800_000  # 2000-01-01
LATEST_EVENT_MS = 4_102_444_800_000  # 2100-01-01
_CURRENCY = re.compile(r"[A-Z]{3}")
#: Why an id that is itself personal data is refused; such an event is dead-lettered without
#: its bytes and journaled without the id (``Ingest._personal``).
PERSONAL_ID = "player_id looks like an e-mail address: Pitboss takes pseudonymous ids only"


def validate(event: dict, stamped_at_ms: int | None) -> str | None:
    """Why the event is unacceptable, in words, or None if it is fine.

    Time is checked against the Kafka record's timestamp rather than the wall clock, so a
    replay judges an event exactly as the worker did.
    """
    if not event["event_id"]:
        return "event_id is empty"
    if not event["studio_id"] or not event["table_id"]:
        return "studio_id and table_id are required"
    event_type = event["event_type"]
    player_id = event.get("player_id")
    if event_type in PLAYER_EVENT_TYPES and not player_id:
        return f"{event_type} is a player event but player_id is missing"
    if player_id and "@" in player_id:
        return PERSONAL_ID
    reason = _time_problem(event["occurred_at"], stamped_at_ms)
    if reason:
        return reason
    if event_type in BET_EVENT_TYPES:
        reason = _bet_problem(event.get("bet"), event_type)
        if reason:
            return reason
    if event_type in SETTLED_EVENT_TYPES:
        settlement = event.get("settlement")
        if settlement is None:
            return f"{event_type} needs a settlement"
        if settlement["outcome"] == "UNKNOWN":
            return f"{event_type} has an unknown outcome"
        if settlement["payout_minor"] < 0:
            return f"payout_minor {settlement['payout_minor']} is negative"
    if event_type == "CHAT_MESSAGE" and event.get("chat_text") is None:
        return "CHAT_MESSAGE needs chat_text"
    return None


def validate_input(event: dict, stamped_at_ms: int | None) -> str | None:
    """Why a normalized player input (``app.pipeline.inputs``) is unacceptable, or None:
    what every player event needs, checked as ``validate`` checks table events."""
    if not event["event_id"]:
        return "the id is empty"
    player_id = event["player_id"]
    if not player_id:
        return "player_id is missing"
    if "@" in player_id:
        return PERSONAL_ID
    return _time_problem(event["occurred_at"], stamped_at_ms)


def _time_problem(occurred_at: int, stamped_at_ms: int | None) -> str | None:
    if not EARLIEST_EVENT_MS <= occurred_at < LATEST_EVENT_MS:
        return f"occurred_at {occurred_at} is not a time between 2000 and 2100"
    if stamped_at_ms is not None and stamped_at_ms > 0:
        if occurred_at > stamped_at_ms + MAX_FUTURE_MS:
            return f"occurred_at {occurred_at} is more than 5 minutes after it was sent"
        if occurred_at < stamped_at_ms - MAX_AGE_MS:
            return f"occurred_at {occurred_at} is more than 7 days before it was sent"
    return None


def _bet_problem(bet: dict | None, event_type: str) -> str | None:
    if bet is None:
        return f"{event_type} needs a bet"
    stake = bet["stake_minor"]
    if stake <= 0:
        return f"stake_minor {stake} must be positive"
    if stake > MAX_STAKE_MINOR:
        return f"stake_minor {stake} is above the limit of {MAX_STAKE_MINOR}"
    if not _CURRENCY.fullmatch(bet["currency"]):
        return f"currency {bet['currency']!r} is not an ISO-4217 code"
    return None


@lru_cache(maxsize=65536)
def partition_for(player_id: str, partitions: int) -> int:
    """The partition Kafka's default (murmur2) partitioner gives the player's key.

    All of a player's events, profile and state meet on this partition; a record that a
    producer put elsewhere is re-keyed onto it.
    """
    return key_partition(player_id.encode(), partitions)


def key_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a record key."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class Message(Protocol):
    """What ingest needs of a Kafka record (aiokafka's ConsumerRecord has it)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    #: Kafka's record time in milliseconds (None or -1: the producer gave none)
    timestamp: int | None
    headers: Any


@dataclass(frozen=True, slots=True)
class RawRecord:
    """A Kafka record held in memory (a ``Message``): what the crash tests' reference and the
    benchmarks decide, and tests build."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


#: Header naming the record type of a re-keyed record (the topic carries both kinds).
RECORD_TYPE_HEADER = "pitboss-record"
PROFILE_TYPE = b"PlayerProfile"
EVENT_TYPE = b"TableEvent"
#: A request to erase a player (``pitboss forget``): key = player id, value = JSON.
FORGET_TYPE = b"Forget"


def _record_type_header(headers: Any) -> bytes | None:
    for name, value in headers.items() if isinstance(headers, Mapping) else headers or ():
        if name == RECORD_TYPE_HEADER:
            return value
    return None


class Invalid(NamedTuple):
    """A decoded event of a known player that failed validation, and why."""

    event: dict
    reason: str


class Step(NamedTuple):
    """One record of a partition, in record order: a player's event, invalid event, profile
    (None: deleted) or erasure. Deciding walks these, so a batch decides what its records
    would one at a time."""

    kind: StepKind
    player_id: str
    #: the event, the ``Invalid`` event, the profile (None: deleted) or the erasure request
    #: (``{"by": subject}``)
    value: Any
    msg: Message


class StepKind(Enum):
    EVENT = "event"
    #: refused on the player's partition: journaled and dead-lettered under their secret
    INVALID = "invalid"
    PROFILE = "profile"
    FORGET = "forget"


@dataclass(slots=True)
class SortedBatch:
    """A micro-batch decoded, validated and sorted by the partition each player lives on."""

    #: partition -> player id -> that player's events, in arrival order
    events: dict[int, dict[str, list[dict]]] = field(default_factory=dict)
    #: partition -> player id -> newest profile in the batch (None: deleted by a tombstone)
    profiles: dict[int, dict[str, dict | None]] = field(default_factory=dict)
    #: partition -> players to erase (``pitboss forget``)
    forgets: dict[int, set[str]] = field(default_factory=dict)
    #: records a producer put on the wrong partition: (key, value, right partition, type)
    forwards: list[tuple[bytes, bytes | None, int, bytes]] = field(default_factory=list)
    #: (original key, DeadLetter record)
    dead_letters: list[tuple[bytes | None, dict]] = field(default_factory=list)
    #: EVENT_REJECTED journal entries for events that decoded but failed validation (those
    #: of a known player are added as their partition is decided: ``StepKind.INVALID``)
    rejected: list[dict] = field(default_factory=list)
    #: the record each accepted event came in, by event id (to dead-letter it later)
    origins: dict[str, Message] = field(default_factory=dict)
    table_level: int = 0
    #: partition -> its accepted records, in record order
    steps: dict[int, list[Step]] = field(default_factory=dict)


class Ingest:
    """Decodes, validates and routes raw records; no I/O, so replay and tests share it."""

    def __init__(
        self,
        topics: TopicNames,
        partitions: int,
        registry_url: str | None = None,
        *,
        erasure_key: bytes,
    ):
        """``erasure_key``: the deployment's (``app.security.erasure_key``), for pseudonyms."""
        self.topics = topics
        self.partitions = partitions
        self.erasure_key = erasure_key
        self.events = AvroCodec("TableEvent", registry_url=registry_url)
        self.profiles = AvroCodec("PlayerProfile", registry_url=registry_url)
        #: the other player inputs by their topic, and by their re-keyed record-type header
        self.inputs: dict[str, tuple[InputKind, AvroCodec]] = {}
        self.input_tags: dict[bytes, tuple[InputKind, AvroCodec]] = {}
        for kind in INPUTS:
            entry = (kind, AvroCodec(kind.record, registry_url=registry_url))
            self.inputs[getattr(topics, kind.role)] = entry
            self.input_tags[kind.tag] = entry

    def input_of(self, msg: Message) -> tuple[InputKind, AvroCodec] | None:
        """The input kind a record carries, if it is neither a table event nor a profile."""
        if msg.topic == self.topics.rekeyed:
            tag = _record_type_header(msg.headers)
            return None if tag is None else self.input_tags.get(tag)
        return self.inputs.get(msg.topic)

    def event_of(self, msg: Message) -> dict | None:
        """The player event a record holds (a table event or a normalized input), or None
        (a profile, an erasure, or bytes that do not decode)."""
        if msg.value is None or msg.topic == self.topics.player_profiles:
            return None
        found = self.input_of(msg)
        if found is None and _record_type_header(msg.headers) in (PROFILE_TYPE, FORGET_TYPE):
            return None
        try:
            if found is None:
                return self.events.decode(msg.value)
            return found[0].normalize(found[1].decode(msg.value))[0]
        except DecodeError:
            return None

    def sort(self, messages: Iterable[Message], now_ms: int) -> SortedBatch:
        out = SortedBatch()
        profiles_topic = self.topics.player_profiles
        for msg in messages:
            value = msg.value
            record_type = (
                _record_type_header(msg.headers) if msg.topic == self.topics.rekeyed else None
            )
            if record_type == FORGET_TYPE:
                self._forget(out, msg, now_ms)
                continue
            if value is None:
                if (msg.topic == profiles_topic or record_type == PROFILE_TYPE) and msg.key:
                    self._profile_deleted(out, msg)  # compaction's tombstone: the profile is gone
                else:
                    self._dead(out, msg, "INVALID", "the record has no value", now_ms)
                continue
            found = self.input_of(msg)
            if found is not None:
                self._input(out, msg, found, now_ms)
                continue
            is_profile = msg.topic == profiles_topic or record_type == PROFILE_TYPE
            codec = self.profiles if is_profile else self.events
            try:
                record = codec.decode(value)
            except DecodeError as exc:
                self._dead(out, msg, exc.error, str(exc), now_ms)
                continue
            if is_profile:
                self._profile(out, msg, record, now_ms)
            else:
                self._event(out, msg, record, now_ms)
        return out

    def _event(self, out: SortedBatch, msg: Message, event: dict, now_ms: int) -> None:
        stamped = msg.timestamp or None
        reason = validate(event, stamped)
        if reason == PERSONAL_ID:
            self._personal(out, msg, event, now_ms)
            return
        player_id = event.get("player_id")
        if reason is not None and not player_id:
            self._dead(out, msg, "INVALID", reason, now_ms)
            out.rejected.append(outputs.event_rejected(event, reason, now_ms))
            return
        if reason is None and event["event_type"] not in PLAYER_EVENT_TYPES:
            out.table_level += 1
            return
        self._place(out, msg, event, reason, EVENT_TYPE)

    def _input(
        self, out: SortedBatch, msg: Message, found: tuple[InputKind, AvroCodec], now_ms: int
    ) -> None:
        """A player input of another kind than a table event: decoded, normalized, checked,
        and placed on the player's partition like their table events."""
        kind, codec = found
        try:
            event, reason = kind.normalize(codec.decode(msg.value))
        except DecodeError as exc:
            self._dead(out, msg, exc.error, str(exc), now_ms)
            return
        if event is None:
            self._dead(out, msg, "INVALID", reason or f"not a usable {kind.record}", now_ms)
            return
        reason = validate_input(event, msg.timestamp or None) or reason
        if reason == PERSONAL_ID:
            self._personal(out, msg, event, now_ms)
            return
        if reason is not None and not event["player_id"]:
            self._dead(out, msg, "INVALID", reason, now_ms)
            out.rejected.append(outputs.event_rejected(event, reason, now_ms))
            return
        self._place(out, msg, event, reason, kind.tag)

    def _place(
        self, out: SortedBatch, msg: Message, event: dict, reason: str | None, tag: bytes
    ) -> None:
        """A player's event (``reason``: refused) onto their partition: forwarded there
        (as a ``tag`` record) when a producer put it elsewhere."""
        player_id = event["player_id"]
        partition = partition_for(player_id, self.partitions)
        if partition != msg.partition:
            out.forwards.append((player_id.encode(), msg.value, partition, tag))
            return
        if reason is not None:  # refused on the player's partition, where their secret is
            invalid = Invalid(event, reason)
            out.steps.setdefault(partition, []).append(
                Step(StepKind.INVALID, player_id, invalid, msg)
            )
            return
        out.events.setdefault(partition, {}).setdefault(player_id, []).append(event)
        out.origins.setdefault(event["event_id"], msg)
        out.steps.setdefault(partition, []).append(Step(StepKind.EVENT, player_id, event, msg))

    def _profile(self, out: SortedBatch, msg: Message, profile: dict, now_ms: int) -> None:
        player_id = profile["player_id"]
        if not player_id:
            self._dead(out, msg, "INVALID", "PlayerProfile has an empty player_id", now_ms)
            return
        partition = partition_for(player_id, self.partitions)
        if partition != msg.partition:
            out.forwards.append((player_id.encode(), msg.value, partition, PROFILE_TYPE))
            return
        out.profiles.setdefault(partition, {})[player_id] = profile
        out.steps.setdefault(partition, []).append(Step(StepKind.PROFILE, player_id, profile, msg))

    def _profile_deleted(self, out: SortedBatch, msg: Message) -> None:
        player_id = msg.key.decode(errors="replace")
        partition = partition_for(player_id, self.partitions)
        if partition != msg.partition:
            out.forwards.append((msg.key, None, partition, PROFILE_TYPE))
            return
        out.profiles.setdefault(partition, {})[player_id] = None
        out.steps.setdefault(partition, []).append(Step(StepKind.PROFILE, player_id, None, msg))

    def _forget(self, out: SortedBatch, msg: Message, now_ms: int) -> None:
        if not msg.key:
            self._dead(out, msg, "INVALID", "a forget request needs the player id as key", now_ms)
            return
        player_id = msg.key.decode(errors="replace")
        partition = partition_for(player_id, self.partitions)
        out.forgets.setdefault(partition, set()).add(player_id)
        request = {"by": _requester(msg.value)}
        out.steps.setdefault(partition, []).append(Step(StepKind.FORGET, player_id, request, msg))

    def _personal(self, out: SortedBatch, msg: Message, event: dict, now_ms: int) -> None:
        """Refuse an event whose id is personal data without writing that id anywhere kept:
        the dead letter has the id's pseudonym for key and no value, the journal no id."""
        hidden = pseudonym(event["player_id"], self.erasure_key).encode()
        reason = f"{PERSONAL_ID}; the record is not kept (it holds personal data)"
        letter = dead_letter(msg, "INVALID", reason, now_ms)
        letter.update(key=hidden, value=None)
        out.dead_letters.append((hidden, letter))
        out.rejected.append(outputs.event_rejected({**event, "player_id": None}, reason, now_ms))

    @staticmethod
    def _dead(out: SortedBatch, msg: Message, error: str, reason: str, now_ms: int) -> None:
        out.dead_letters.append((msg.key, dead_letter(msg, error, reason, now_ms)))


def _requester(value: bytes | None) -> str:
    """Who asked for an erasure (``pitboss forget``'s authenticated subject), or ``""``."""
    try:
        request = orjson.loads(value or b"{}")
    except orjson.JSONDecodeError:
        return ""
    by = request.get("by") if isinstance(request, dict) else None
    return by if isinstance(by, str) else ""


def dead_letter(msg: Message, error: str, reason: str, now_ms: int) -> dict:
    """The DeadLetter record of a Kafka record: its original bytes, where it was, and why."""
    return {
        "topic": msg.topic,
        "partition": msg.partition,
        "offset": msg.offset,
        "key": msg.key,
        "value": msg.value,
        "error": error,
        "reason": reason,
        "record_timestamp": msg.timestamp or None,
        "recorded_at": now_ms,
    }
