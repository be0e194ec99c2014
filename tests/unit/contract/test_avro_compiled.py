"""The compiled Avro writer and reader (app.contract.compiled) against fastavro: the same
bytes and records, or they refuse.

Every record type of the contract, on random records built from the schema itself and on
the records the simulator and the core really produce; then what they must refuse (bad
values, bad bytes: fastavro decides those, the codec falls back to it).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.contract.codec import AvroCodec
from app.contract.compiled import UnsupportedSchema, compile_reader, compile_writer, zigzag
from app.contract.schemas import catalog
from app.core import Decisions, Engine, PlayerState
from app.core.engine import group_by_player
from app.core.tournaments import ONCE, Prize, Schedule, Tournament, finalise
from app.delivery.lifecycle import step
from app.delivery.sender import Outcome
from app.devtools.simulator import generate_events, make_players, player_profiles
from app.gateway.interactions import InteractionOutlet
from app.gateway.server import interaction_schema
from app.leaderboards.board import Board, ScoreUpdate
from app.pipeline.ingest import RawRecord, dead_letter
from app.pipeline.rg_alerts import rg_alerts
from app.rules import default_ruleset
from app.security.access import Decision
from app.security.access_log import access_entry
from app.security.principal import Kind, Principal
from app.settings import Settings
from tests.support.factories import losing_burst
from tests.support.hypothesis_profiles import examples

SCHEMAS = [info.name for info in catalog()]
START = 1_795_327_200_000


def fastavro_bytes(parsed: Any, record: Mapping[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, parsed, record)
    return out.getvalue()


def values(schema: Any, named: dict[str, Any]) -> st.SearchStrategy:
    """Records (and parts of records) valid for ``schema``, edge values included."""
    if isinstance(schema, list):
        return st.one_of(*(values(branch, named) for branch in schema))
    if isinstance(schema, str) and schema in named:
        return values(named[schema], named)
    kind = schema if isinstance(schema, str) else schema["type"]
    if isinstance(kind, (dict, list)):
        return values(kind, named)
    if isinstance(schema, dict) and "name" in schema:
        named.setdefault(schema["name"], schema)
    simple = {
        "null": st.none(),
        "boolean": st.booleans(),
        "int": st.integers(-(2**31), 2**31 - 1),
        "long": st.integers(-(2**63), 2**63 - 1),
        "double": st.floats(allow_nan=False),
        "string": st.text(),
        "bytes": st.binary(),
    }
    if kind in simple:
        return simple[kind]
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "array":
        return st.lists(values(schema["items"], named), max_size=4)
    if kind == "map":
        return st.dictionaries(st.text(), values(schema["values"], named), max_size=4)
    assert kind == "record", kind
    return st.fixed_dictionaries(
        {field["name"]: values(field["type"], named) for field in schema["fields"]}
    )


@pytest.mark.parametrize("name", SCHEMAS)
@settings(max_examples=examples(150), deadline=None)
@given(data=st.data())
def test_random_valid_records_encode_and_decode_as_fastavro_does(name, data):
    parsed = catalog().get(name).parsed
    record = data.draw(values(parsed, {}))
    expected = fastavro_bytes(parsed, record)
    assert compile_writer(parsed)(record) == expected
    framed = b"head" + expected
    assert compile_reader(parsed)(framed, 4) == (fastavro_record(parsed, expected), len(framed))


def fastavro_record(parsed: Any, data: bytes) -> dict:
    return fastavro.schemaless_reader(io.BytesIO(data), parsed, None)


@pytest.mark.parametrize("name", SCHEMAS)
@settings(max_examples=examples(300), deadline=None)
@given(data=st.binary(max_size=200))
def test_on_any_bytes_the_reader_refuses_or_reads_what_fastavro_reads(name, data):
    parsed = catalog().get(name).parsed
    try:
        record, end = compile_reader(parsed)(data, 0)
    except Exception:
        return  # refused: the codec asks fastavro, which decides
    fo = io.BytesIO(data)
    assert fastavro.schemaless_reader(fo, parsed, None) == record
    assert fo.tell() == end


@pytest.fixture(scope="module")
def produced() -> dict[str, list[dict]]:
    """Real records of every type: simulated play, its profiles, what the core decides."""
    events = generate_events(3000, seed=5, start_ms=START, players=200, tables=6)
    profiles = player_profiles(make_players(200, seed=5), seed=5, updated_at_ms=START)
    out = Decisions()
    engine = Engine(default_ruleset(), "UTC")
    states: dict[str, PlayerState] = {}
    for player_id, mine in group_by_player([e for e in events if e["player_id"]]).items():
        engine.decide(states.setdefault(player_id, PlayerState()), mine, None, START, out)
    letter = dead_letter(
        RawRecord("table-events", 3, 42, b"p-1", b"\xc3\x01garbage", START),
        "UNDECODABLE",
        "x",
        START,
    )
    interactions = InteractionOutlet(Settings.from_env({}), None, interaction_schema())
    burst = Decisions()  # a rapid loss raises the player to high: an RG alert
    engine.decide(PlayerState(), losing_burst("p-rg", START), None, START, burst)
    return {
        "TableEvent": events,
        "PlayerProfile": profiles,
        "Reward": out.rewards,
        "JournalEntry": out.journal,
        "CoolDown": out.cooldowns,
        "RgAlert": rg_alerts((entry, entry) for entry in burst.journal),
        "DeadLetter": [letter],
        "AccessLogEntry": [
            access_entry(
                request_id="r-1",
                occurred_at=START,
                principal=Principal("alice", Kind.STAFF, frozenset({"support"})),
                permission="player.read",
                action="GET /pitboss/players/{player_id}/",
                decision=Decision(True, "granted by role support", ("harm_flags",)),
                player_id="p-1",
                remote="127.0.0.1",
            ),
            access_entry(
                request_id="r-2",
                occurred_at=START,
                principal=None,
                permission=None,
                action="GET /pitboss/stats/",
                decision=Decision(False, "no credentials"),
            ),
        ],
        "RewardLifecycle": [
            step(reward, "wallet", status, START, Outcome(status != "FAILED", 2, 201))
            for reward in out.rewards[:3]
            for status in ("PENDING", "CREDITED", "FAILED")
        ],
        "AccountEvent": [
            {
                "event_id": "acct-1",
                "player_id": "p-1",
                "type": "DEPOSIT",
                "occurred_at": START,
                "amount_minor": 5000,
                "currency": "EUR",
                "payment_method": "E_WALLET",
                "status": "COMPLETED",
                "kyc_status": None,
                "attributes": {"provider": "x"},
            },
            {
                "event_id": "acct-2",
                "player_id": "p-1",
                "type": "KYC_STATUS_CHANGED",
                "occurred_at": START,
                "amount_minor": None,
                "currency": None,
                "payment_method": None,
                "status": None,
                "kyc_status": "VERIFIED",
                "attributes": {},
            },
        ],
        "PlayerCommand": [
            {
                "command_id": "c-1",
                "player_id": "p-1",
                "type": "PURCHASE",
                "item_id": "lucky-spin",
                "reward_id": None,
                "target_id": None,
                "occurred_at": START,
                "attributes": {"channel": "app"},
            },
            {
                "command_id": "c-2",
                "player_id": "p-1",
                "type": "SPIN",
                "item_id": None,
                "reward_id": out.rewards[0]["reward_id"],
                "target_id": None,
                "occurred_at": START,
                "attributes": {},
            },
        ],
        "PlayerInteraction": [
            interactions.record("p-1", body, START)
            for body in (
                {"action": "clicked", "reward_id": out.rewards[0]["reward_id"], "surface": "toast"},
                {"action": "dismissed", "message_id": "cd-1", "interaction_id": "i-1"},
            )
        ],
        "TournamentPrize": finalise(
            Board(3).updated([ScoreUpdate("p-1", 40, START, 3), ScoreUpdate("p-2", 30, START, 3)]),
            Tournament(
                "final-table",
                2,
                Schedule(ONCE, ZoneInfo("UTC"), START - 60_000, START),
                (Prize(1, 1, "POINTS", 500), Prize(2, 2, "CASHBACK_OFFER", 1000, "EUR")),
            ),
            ONCE,
            START + 1,
        ).prizes,
        "PlayerOutcome": [
            {
                "player_id": "p-1",
                "day": "2026-11-24",
                "deposits_minor": 5000,
                "ggr_minor": -1200,
                "currency": "EUR",
                "occurred_at": START,
            }
        ],
    }


def test_what_the_simulator_and_the_core_produce_encodes_to_fastavros_bytes(produced):
    assert set(produced) == set(SCHEMAS)
    for name, records in produced.items():
        assert records, name
        parsed = catalog().get(name).parsed
        write = compile_writer(parsed)
        for record in records:
            assert write(record) == fastavro_bytes(parsed, record), (name, record)


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_truncation_of_a_real_record_is_refused(name, produced):
    parsed = catalog().get(name).parsed
    whole = max((fastavro_bytes(parsed, r) for r in produced[name]), key=len)
    read = compile_reader(parsed)
    assert read(whole, 0) == (fastavro_record(parsed, whole), len(whole))
    for cut in range(len(whole)):
        with pytest.raises(Exception):  # noqa: B017 - any exception: a refusal
            read(whole[:cut], 0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", True),  # a bool is not a long
        ("amount", 2.0),  # nor is a float
        ("amount", 2**63),  # out of range
        ("rule_version", 2**31),  # out of an int's range
        ("kind", "NOT_A_KIND"),  # an unknown enum symbol
        ("reward_id", 7),  # not a string
        ("trigger_event_ids", "ev-1"),  # a string is not an array
        ("attributes", [("a", "b")]),  # nor are pairs a map
    ],
)
def test_the_compiled_writer_refuses_what_is_not_exactly_the_schemas_type(field, value):
    record = dict(REWARD, **{field: value})
    with pytest.raises((TypeError, KeyError, AttributeError)):
        compile_writer(catalog().get("Reward").parsed)(record)


def test_the_codec_falls_back_to_fastavro_for_what_the_compiled_writer_refuses():
    codec = AvroCodec("Reward")
    lenient = {k: v for k, v in REWARD.items() if k != "currency"}  # omitted: its default
    with pytest.raises(KeyError):
        compile_writer(codec.schema.parsed)(lenient)
    assert codec.decode(codec.encode(lenient)) == REWARD
    with pytest.raises(ValueError, match="Reward"):  # fastavro's verdict, named
        codec.encode(dict(REWARD, amount="lots"))


def test_zigzag_matches_avros_definition():
    for n in (0, 1, -1, 63, 64, -64, -65, 2**31, -(2**63), 2**63 - 1, 1_795_327_200_000):
        expected = fastavro_bytes({"type": "long"}, n)
        assert zigzag(n) == expected, n


def test_a_construct_they_do_not_compile_is_said_so():
    fixed = fastavro.parse_schema(
        {
            "type": "record",
            "name": "F",
            "fields": [{"name": "f", "type": {"type": "fixed", "name": "Sixteen", "size": 16}}],
        }
    )
    with pytest.raises(UnsupportedSchema, match="fixed"):
        compile_writer(fixed)
    union = fastavro.parse_schema(
        {"type": "record", "name": "U", "fields": [{"name": "u", "type": ["int", "string"]}]}
    )
    with pytest.raises(UnsupportedSchema, match="union"):
        compile_writer(union)
    assert compile_reader(union)(fastavro_bytes(union, {"u": "x"}), 0)[0] == {"u": "x"}
    linked = fastavro.parse_schema(
        {"type": "record", "name": "Node", "fields": [{"name": "next", "type": ["null", "Node"]}]}
    )
    with pytest.raises(UnsupportedSchema, match="recursive"):
        compile_reader(linked)
    chain = {"next": {"next": None}}
    assert compile_writer(linked)(chain) == fastavro_bytes(linked, chain)  # the writer recurses


REWARD = {
    "reward_id": "rw-1",
    "player_id": "p-1",
    "rule_id": "wager-points",
    "rule_version": 1,
    "kind": "POINTS",
    "amount": 20,
    "currency": None,
    "message": None,
    "table_id": "t-1",
    "game": "ROULETTE",
    "dealer_id": None,
    "trigger_event_ids": ["ev-1"],
    "event_time": START,
    "issued_at": START + 5,
    "attributes": {},
}
