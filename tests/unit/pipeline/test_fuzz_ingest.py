"""Fuzzing the ingest path: random and mutated bytes through ``Ingest.sort``.

Whatever arrives, ingest must not crash or hang, and every record must end up in exactly
one place: an event, a profile, a forget, a forward, a dead letter or the table-level count.
Each record is sorted alone (it must land exactly once) and the batch as a whole (it must
be the sum of its records; only profiles and forgets coalesce per player, as documented on
``SortedBatch``). Dead letters keep the original bytes and say why.

``PITBOSS_FUZZ_EXAMPLES`` sets the examples per test (default: a few seconds in all, a tenth
of that under the fast hypothesis profile), e.g.
``PITBOSS_FUZZ_EXAMPLES=20000 .venv/bin/pytest tests/unit/pipeline/test_fuzz_ingest.py``.
"""

from __future__ import annotations

import faulthandler
import gc
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.contract.codec import AvroCodec
from app.contract.schemas import load_schemas
from app.devtools.simulator import generate_events
from app.pipeline.ingest import (
    EVENT_TYPE,
    FORGET_TYPE,
    PROFILE_TYPE,
    RECORD_TYPE_HEADER,
    SortedBatch,
    StepKind,
)
from tests.support.factories import profile
from tests.support.hypothesis_profiles import examples
from tests.support.writer_schemas import INCOMPATIBLE, shipped, single_object
from tests.unit.contract.test_schema_evolution import NOW, PARTITIONS, TOPICS, ingest_reading
from tests.unit.pipeline.test_ingest import Msg

EXAMPLES = int(os.environ.get("PITBOSS_FUZZ_EXAMPLES", examples(150)))
# The time bound is on CPU time without garbage collection, not hypothesis' wall-clock
# deadline: on the shared 2-core machine a 6 ms example once took 480 ms of wall time.
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: CPU time one example (each record sorted alone, then the batch) may take; ~2 ms is usual,
#: so far over it is a blow-up (e.g. a huge declared length being honoured).
CPU_BOUND_S = 0.2
#: A true hang never returns, so no bound sees it: past this, dump stacks and exit.
HANG_AFTER_S = 30.0
DEAD_LETTER_ERRORS = {"UNDECODABLE", "UNKNOWN_SCHEMA", "INVALID"}

# The process-wide writer versions plus an incompatible one, in a private catalog.
SCHEMAS = load_schemas()
SCHEMAS.register_writer(INCOMPATIBLE)
INGEST = ingest_reading(SCHEMAS)
CODECS = {name: AvroCodec(name, schemas=SCHEMAS) for name in SCHEMAS.names()}


# --- seeds: valid single-object records of every writer version -----------------------------


def _v2(i: int, event: dict) -> bytes:
    """The newer writer, now and then with the event type the current reader lacks."""
    event_type = "TIP_PLACED" if i % 3 == 0 else event["event_type"]
    return single_object(shipped("v2").source, dict(event, seat=i, event_type=event_type))


#: How each TableEvent writer version encodes the i-th simulated event.
WRITERS: dict[str, Callable[[int, dict], bytes]] = {
    "current": lambda i, e: CODECS["TableEvent"].encode(e),
    "v0": lambda i, e: single_object(shipped("v0").source, e),
    "v2": _v2,
    "incompatible": lambda i, e: single_object(INCOMPATIBLE, dict(e, event_id=i)),
}
_EVENTS = generate_events(48, seed=11, start_ms=NOW - 120_000, tables=3, players=6)
#: writer -> valid single-object records of simulated play it wrote
EVENT_SEEDS = {
    name: [write(i, e) for i, e in enumerate(_EVENTS[k :: len(WRITERS)])]
    for k, (name, write) in enumerate(WRITERS.items())
}
PROFILE_SEEDS = [CODECS["PlayerProfile"].encode(profile(f"p-{i:06d}")) for i in range(4)]
SEEDS: list[tuple[bytes, bytes]] = [
    *((EVENT_TYPE, value) for values in EVENT_SEEDS.values() for value in values),
    *((PROFILE_TYPE, value) for value in PROFILE_SEEDS),
]
FINGERPRINTS = sorted({value[2:10] for _, value in SEEDS} | {s.fingerprint for s in SCHEMAS})


# --- mutations --------------------------------------------------------------------------------


def varint(n: int) -> bytes:
    """Avro's zig-zag varint of a long: how every length and count is written."""
    z = ((n << 1) ^ (n >> 63)) & (2**64 - 1)
    out = bytearray()
    while z > 0x7F:
        out.append(z & 0x7F | 0x80)
        z >>= 7
    return bytes([*out, z])


HUGE_LENGTHS = [varint(n) for n in (2**62, -(2**62), 2**63 - 1, -(2**63), 2**31, -1)] + [
    b"\xff" * 11  # a varint that never ends within 64 bits
]


@st.composite
def mutated(draw: st.DrawFn, seeds: st.SearchStrategy[tuple[bytes, bytes]]) -> tuple[bytes, bytes]:
    """A seed with one to four of: bit flip, truncation, insertion, deletion, a corrupt
    header (magic or fingerprint) and a huge length or count written into the body."""
    record_type, value = draw(seeds)
    data = bytearray(value)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "delete", "header", "huge"]))
        at = draw(st.integers(0, len(data)))
        if op == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif op == "header":
            magic = draw(st.sampled_from([b"\xc3\x01", b"\x00\x00", b"\xc3\x00", b"\x01\xc3"]))
            fingerprint = draw(st.sampled_from(FINGERPRINTS) | st.binary(min_size=8, max_size=8))
            data[:10] = magic + fingerprint
        else:
            size = draw(st.integers(0, 10))
            data[at : at + size] = draw(st.sampled_from(HUGE_LENGTHS))
    return record_type, bytes(data)


def confluent_framed(body: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """``00`` + a 4-byte schema id + a body: what a registry-using studio sends."""
    return st.builds(
        lambda schema_id, b: b"\x00" + schema_id.to_bytes(4, "big") + b,
        st.integers(0, 2**32 - 1),
        body,
    )


# --- Kafka records ----------------------------------------------------------------------------

#: Where a record of each type can arrive: (topic, headers).
ROUTES: dict[bytes | None, list[tuple[str, tuple]]] = {
    EVENT_TYPE: [
        (TOPICS.table_events, ()),
        (TOPICS.rekeyed, ((RECORD_TYPE_HEADER, EVENT_TYPE),)),
    ],
    PROFILE_TYPE: [
        (TOPICS.player_profiles, ()),
        (TOPICS.rekeyed, ((RECORD_TYPE_HEADER, PROFILE_TYPE),)),
    ],
}
ROUTES[None] = [
    *ROUTES[EVENT_TYPE],
    *ROUTES[PROFILE_TYPE],
    (TOPICS.rekeyed, ((RECORD_TYPE_HEADER, FORGET_TYPE),)),
    (TOPICS.rekeyed, (("other", b"x"),)),  # a re-keyed record with no type: read as an event
]
KEYS = (
    st.none() | st.sampled_from([b"", b"p-000001", b"p-000004", b"bj-01"]) | st.binary(max_size=12)
)
# Kafka's record time in ms, none or -1 (a record written without a timestamp).
TIMESTAMPS = st.sampled_from([NOW, NOW + 60_000, None, -1])


@st.composite
def batches(
    draw: st.DrawFn, values: st.SearchStrategy[tuple[bytes | None, bytes | None]]
) -> list[Msg]:
    """A micro-batch of 1-12 records, each (record type or None for any, value) routed to
    a topic that can carry it, with a realistic key, partition, offset, time and headers."""
    out = []
    for offset in range(draw(st.integers(1, 12))):
        record_type, value = draw(values)
        topic, headers = draw(st.sampled_from(ROUTES[record_type]))
        out.append(
            Msg(
                topic=topic,
                partition=draw(st.integers(0, PARTITIONS - 1)),
                key=draw(KEYS),
                value=value,
                offset=1000 + offset,
                timestamp=draw(TIMESTAMPS),
                headers=headers,
            )
        )
    return out


def anything(values: st.SearchStrategy[bytes]) -> st.SearchStrategy[tuple[None, bytes | None]]:
    """Values of no particular type, now and then a null (a tombstone)."""
    return st.tuples(st.none(), values | st.none())


# --- the checks -------------------------------------------------------------------------------


@contextmanager
def hang_guard(seconds: float = HANG_AFTER_S) -> Iterator[None]:
    """Turn a hang (even inside fastavro's C code) into a stack dump and a failed run."""
    faulthandler.dump_traceback_later(seconds, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


@contextmanager
def no_gc() -> Iterator[None]:
    """Keep garbage collection out of the timed code: with the heap a long run builds up, a
    full collection alone took over 200 ms of CPU."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def placed(batch: SortedBatch) -> int:
    """How many records the batch put somewhere (a refused event of a player is placed as an
    INVALID step on their partition, to be dead-lettered under their secret)."""
    invalid = sum(s.kind is StepKind.INVALID for steps in batch.steps.values() for s in steps)
    return (
        invalid
        + sum(len(events) for players in batch.events.values() for events in players.values())
        + sum(len(profiles) for profiles in batch.profiles.values())
        + sum(len(forgets) for forgets in batch.forgets.values())
        + len(batch.forwards)
        + len(batch.dead_letters)
        + batch.table_level
    )


def merged(singles: Sequence[SortedBatch]) -> SortedBatch:
    """What sorting the records together must give: their single sorts, in order, with
    the newest profile per player winning and forgets as a set."""
    out = SortedBatch()
    for one in singles:
        for part, players in one.events.items():
            for player, events in players.items():
                out.events.setdefault(part, {}).setdefault(player, []).extend(events)
        for part, profiles in one.profiles.items():
            out.profiles.setdefault(part, {}).update(profiles)
        for part, forgets in one.forgets.items():
            out.forgets.setdefault(part, set()).update(forgets)
        out.forwards += one.forwards
        out.dead_letters += one.dead_letters
        out.rejected += one.rejected
        out.table_level += one.table_level
        for event_id, msg in one.origins.items():
            out.origins.setdefault(event_id, msg)
        for part, steps in one.steps.items():
            out.steps.setdefault(part, []).extend(steps)
    return out


def check_record(msg: Msg, one: SortedBatch) -> None:
    """One record sorted alone: placed exactly once, and whatever came out is publishable."""
    assert placed(one) == 1, f"{msg} was placed {placed(one)} times: {one}"
    for key, letter in one.dead_letters:
        assert (key, letter["key"], letter["value"]) == (msg.key, msg.key, msg.value)
        assert (letter["topic"], letter["partition"], letter["offset"]) == (
            msg.topic,
            msg.partition,
            msg.offset,
        )
        assert letter["error"] in DEAD_LETTER_ERRORS
        assert isinstance(letter["reason"], str) and letter["reason"].strip()
        CODECS["DeadLetter"].encode(letter)  # what the worker publishes must encode
    for entry in one.rejected:
        CODECS["JournalEntry"].encode(entry)
    for key, value, partition, record_type in one.forwards:
        assert value == msg.value and isinstance(key, bytes) and key
        assert 0 <= partition < PARTITIONS and partition != msg.partition
        assert record_type in (EVENT_TYPE, PROFILE_TYPE)
    for players in one.events.values():
        for [event] in players.values():  # an accepted event is a current-schema record
            assert CODECS["TableEvent"].decode(CODECS["TableEvent"].encode(event)) == event


def sort_and_check(messages: list[Msg]) -> list[SortedBatch]:
    """Sort each record alone and the batch together; check both. The single sorts."""
    with hang_guard(), no_gc():
        started = time.process_time()
        singles = [INGEST.sort([msg], NOW) for msg in messages]
        batch = INGEST.sort(messages, NOW)
        cpu = time.process_time() - started
    assert cpu < CPU_BOUND_S, f"sorting {len(messages)} records took {cpu * 1000:.0f} ms of CPU"
    for msg, one in zip(messages, singles, strict=True):
        check_record(msg, one)
    assert batch == merged(singles)
    return singles


# --- the fuzz tests ---------------------------------------------------------------------------


@FUZZ
@given(batches(anything(st.binary(max_size=300))))
def test_random_bytes_are_sorted_or_dead_lettered(messages):
    sort_and_check(messages)


@FUZZ
@given(batches(mutated(st.sampled_from(SEEDS)) | st.sampled_from(SEEDS)))
# Every seed at once, on one partition of table-events.
@example([Msg(TOPICS.table_events, 0, b"k", v, offset=i) for i, (_, v) in enumerate(SEEDS)])
def test_mutated_records_are_sorted_or_dead_lettered(messages):
    sort_and_check(messages)


@FUZZ
@given(
    batches(anything(confluent_framed(st.sampled_from([v[10:] for _, v in SEEDS]) | st.binary())))
)
def test_confluent_framing_without_a_registry_is_an_unknown_schema(messages):
    for msg, one in zip(messages, sort_and_check(messages), strict=True):
        if msg.value is not None and msg.headers[:1] != ((RECORD_TYPE_HEADER, FORGET_TYPE),):
            [(_, letter)] = one.dead_letters
            assert letter["error"] == "UNKNOWN_SCHEMA"
            assert "no schema registry is configured" in letter["reason"]


def test_the_seeds_are_valid_so_mutations_start_from_real_records():
    """Mutating records that were refused anyway would fuzz only the refusal path."""

    def refusals(values: list[bytes], record_type: bytes) -> list[str]:
        topic, headers = ROUTES[record_type][0]
        messages = [Msg(topic, 0, b"k", v, timestamp=NOW, headers=headers) for v in values]
        return [letter["reason"] for _, letter in INGEST.sort(messages, NOW).dead_letters]

    for name in ("current", "v0", "v2"):
        assert refusals(EVENT_SEEDS[name], EVENT_TYPE) == [], name
    assert refusals(PROFILE_SEEDS, PROFILE_TYPE) == []
    refused = refusals(EVENT_SEEDS["incompatible"], EVENT_TYPE)
    assert len(refused) == len(EVENT_SEEDS["incompatible"]) > 0
    assert all("int is not string" in reason for reason in refused)
