"""AvroCodec: interoperability with Apache Avro, bad bytes, schema evolution, Confluent.

No broker is needed. The Confluent-compatible registry is a tiny in-test HTTP server speaking
the two endpoints the codec uses, because no Confluent-compatible registry can be installed
here (``pip download karapace`` finds no distribution on the package index we can reach), so
this stands in for the real one.
"""

from __future__ import annotations

import base64
import io
import json
import random
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import avro.io
import avro.schema
import pytest

from app.contract.codec import AvroCodec
from app.contract.errors import DecodeError
from app.contract.registry import SchemaRegistryError
from app.contract.schemas import SchemaCatalog, get_schema, load_schemas, make_schema_info
from tests.support.writer_schemas import single_object, table_event_version
from tests.unit.contract.test_schemas import JAVA_FINGERPRINTS

T0 = 1_732_300_000_123
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: A typical event; the Java-encoded bytes below carry it with event_id "evt-java-0001".
SAMPLE_BET_SETTLED: dict[str, Any] = {
    "event_id": "evo-bj07-r99812-p000123-settle",
    "event_type": "BET_SETTLED",
    "occurred_at": 1732300000123,
    "studio_id": "studio-riga",
    "table_id": "bj-07",
    "dealer_id": "dealer-42",
    "game": "BLACKJACK",
    "game_variant": "Infinite Blackjack",
    "round_id": "r-99812",
    "player_id": "p-000123",
    "bet": {"bet_type": "main", "stake_minor": 2500, "currency": "EUR"},
    "settlement": {"outcome": "WIN", "payout_minor": 6250, "hand": "natural_blackjack"},
    "chat_text": None,
    "device": "mobile",
    "attributes": {"seat": "3"},
}

SAMPLES: dict[str, dict[str, Any]] = {
    "TableEvent-bet-settled": SAMPLE_BET_SETTLED,
    "TableEvent-chat": {
        "event_id": "evt-chat-1", "event_type": "CHAT_MESSAGE", "occurred_at": T0 + 5,
        "studio_id": "studio-riga", "table_id": "rl-02", "dealer_id": "dealer-7",
        "game": "ROULETTE", "game_variant": "Lightning Roulette", "round_id": "r-1",
        "player_id": "p-42", "bet": None, "settlement": None,
        "chat_text": "Good luck everyone! \U0001f340 ça va?", "device": "desktop",
        "attributes": {},
    },
    "TableEvent-table-level": {
        "event_id": "evt-round-1", "event_type": "ROUND_STARTED", "occurred_at": T0,
        "studio_id": "studio-riga", "table_id": "bc-01", "dealer_id": None, "game": "BACCARAT",
        "game_variant": None, "round_id": "r-2", "player_id": None, "bet": None,
        "settlement": None, "chat_text": None, "device": None, "attributes": {"shoe": "4"},
    },
    "PlayerProfile": {
        "player_id": "p-42", "vip_tier": "GOLD", "country": "LV", "time_zone": "Europe/Riga",
        "segments": ["high-roller", "blackjack-fan"],
        "consents": [{"product": "casino", "channel": "widget", "granted": True},
                     {"product": "casino", "channel": "email", "granted": False}],
        "self_excluded": False, "harm_flags": [],
        "last_deposit": {"amount_minor": 10_000, "currency": "EUR", "at": T0 - 86_400_000},
        "updated_at": T0, "language": "lv",
    },
    "Reward": {
        "reward_id": "rw-3f2a", "player_id": "p-42", "rule_id": "natural-bj-bonus",
        "rule_version": 3, "kind": "POINTS", "amount": 500, "currency": None,
        "message": "Natural blackjack! +500 points", "table_id": "bj-07", "game": "BLACKJACK",
        "dealer_id": "dealer-42", "trigger_event_ids": ["evt-0001"], "event_time": T0,
        "issued_at": T0 + 12, "attributes": {"badge": "natural"},
    },
    "CoolDown": {
        "cooldown_id": "cd-1", "player_id": "p-42", "reason": "RAPID_LOSS_AMOUNT",
        "figures": {"net_loss_minor": 250_000, "window_seconds": 600}, "starts_at": T0,
        "ends_at": T0 + 1_800_000, "message": "Time for a short break?",
        "trigger_event_ids": ["e1", "e2"], "issued_at": T0,
    },
    "JournalEntry": {
        "entry_id": "j-1", "player_id": "p-42", "decision": "REWARD_SUPPRESSED",
        "rule_id": "natural-bj-bonus", "rule_version": 3, "reason": "daily cap reached",
        "event_ids": ["evt-0001"], "reward_id": "rw-3f2a", "details": {"cap": "5000"},
        "event_time": T0, "recorded_at": T0 + 20,
    },
    "DeadLetter": {
        "topic": "table-events", "partition": 3, "offset": 12_345, "key": b"p-42",
        "value": b"\xc3\x01garbage\x00\xff", "error": "UNKNOWN_SCHEMA",
        "reason": "unknown schema fingerprint 0102030405060708", "record_timestamp": T0,
        "recorded_at": T0 + 1,
    },
}  # fmt: skip

# Written by the Java reference (Apache Avro 1.8.2, BinaryMessageEncoder, GenericRecord) for
# SAMPLE_BET_SETTLED with event_id "evt-java-0001".
JAVA_BET_SETTLED = bytes.fromhex(
    "c301dab03859938831361a6576742d6a6176612d3030303104f6ad82d2ea641673747564696f2d726967610a"
    "626a2d303702126465616c65722d3432000224496e66696e69746520426c61636b6a61636b020e722d393938"
    "31320210702d30303031323302086d61696e8827064555520200d46102226e61747572616c5f626c61636b6a"
    "61636b00020c6d6f62696c65020873656174023300"
)


def schema_name(sample_id: str) -> str:
    return sample_id.split("-")[0]


# --- helpers: Apache avro (Python) wants datetimes for timestamp-millis -------------------


def to_avro_datum(schema: Any, value: Any, names: dict[str, Any]) -> Any:
    """Our plain record (epoch-ms ints) as Apache avro expects it (datetimes)."""
    if isinstance(schema, str):
        return to_avro_datum(names[schema], value, names) if schema in names else value
    if isinstance(schema, list):
        branch = next(b for b in schema if b != "null") if value is not None else "null"
        return to_avro_datum(branch, value, names)
    if schema.get("logicalType") == "timestamp-millis":
        return EPOCH + timedelta(milliseconds=value)
    kind = schema["type"]
    if kind == "record":
        names[schema["name"]] = names[f"pitboss.{schema['name']}"] = schema
        return {
            f["name"]: to_avro_datum(f["type"], value[f["name"]], names) for f in schema["fields"]
        }
    if kind == "array":
        return [to_avro_datum(schema["items"], v, names) for v in value]
    if kind == "map":
        return {k: to_avro_datum(schema["values"], v, names) for k, v in value.items()}
    if isinstance(kind, dict | list):
        return to_avro_datum(kind, value, names)
    return value


def from_avro_datum(value: Any) -> Any:
    """Apache avro's decoded datum with datetimes turned back into epoch-ms ints."""
    if isinstance(value, datetime):
        return (value - EPOCH) // timedelta(milliseconds=1)
    if isinstance(value, dict):
        return {k: from_avro_datum(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_avro_datum(v) for v in value]
    return value


def apache_encode(name: str, record: dict, fingerprint: bytes) -> bytes:
    info = get_schema(name)
    schema = avro.schema.parse(info.path.read_text())
    buf = io.BytesIO()
    datum = to_avro_datum(info.source, record, {})
    avro.io.DatumWriter(schema).write(datum, avro.io.BinaryEncoder(buf))
    return b"\xc3\x01" + fingerprint + buf.getvalue()


def apache_decode_single_object(name: str, data: bytes) -> dict:
    """Read single-object encoding with Apache avro; it has no helper for it, so by hand."""
    info = get_schema(name)
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == info.fingerprint
    schema = avro.schema.parse(info.path.read_text())
    body = io.BytesIO(data[10:])
    datum = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(body))
    assert body.read() == b"", "Apache avro left trailing bytes"
    return from_avro_datum(datum)


# --- round trips and interoperability -----------------------------------------------------


@pytest.mark.parametrize("sample_id", sorted(SAMPLES))
def test_round_trip(sample_id):
    record = SAMPLES[sample_id]
    codec = AvroCodec(schema_name(sample_id))
    data = codec.encode(record)
    assert data[:10] == get_schema(schema_name(sample_id)).header
    assert codec.decode(data) == record


@pytest.mark.parametrize("sample_id", sorted(SAMPLES))
def test_apache_avro_reads_our_bytes(sample_id):
    name = schema_name(sample_id)
    data = AvroCodec(name).encode(SAMPLES[sample_id])
    assert apache_decode_single_object(name, data) == SAMPLES[sample_id]


@pytest.mark.parametrize("sample_id", sorted(SAMPLES))
def test_we_read_apache_avro_bytes_with_the_java_fingerprint(sample_id):
    name = schema_name(sample_id)
    data = apache_encode(name, SAMPLES[sample_id], bytes.fromhex(JAVA_FINGERPRINTS[name]))
    assert AvroCodec(name).decode(data) == SAMPLES[sample_id]


def test_we_read_apache_avro_python_bytes_with_its_own_fingerprint():
    """Apache avro (Python) fingerprints logical types differently from Java; both are read."""
    info = get_schema("TableEvent")
    python_fp = avro.schema.parse(info.path.read_text()).fingerprint()
    assert python_fp != info.fingerprint  # the quirk this test guards
    data = apache_encode("TableEvent", SAMPLE_BET_SETTLED, python_fp)
    assert AvroCodec("TableEvent").decode(data) == SAMPLE_BET_SETTLED


def test_we_read_bytes_written_by_the_java_reference():
    expected = dict(SAMPLE_BET_SETTLED, event_id="evt-java-0001")
    assert AvroCodec("TableEvent").decode(JAVA_BET_SETTLED) == expected
    assert AvroCodec("TableEvent").encode(expected) == JAVA_BET_SETTLED


def test_timestamps_stay_ints():
    record = AvroCodec("TableEvent").decode(AvroCodec("TableEvent").encode(SAMPLE_BET_SETTLED))
    assert type(record["occurred_at"]) is int


def test_defaults_fill_omitted_optional_fields():
    minimal = {
        "event_id": "e", "event_type": "PLAYER_JOINED", "occurred_at": T0,
        "studio_id": "s", "table_id": "t", "game": "POKER",
    }  # fmt: skip
    codec = AvroCodec("TableEvent")
    decoded = codec.decode(codec.encode(minimal))
    assert decoded["player_id"] is None
    assert decoded["attributes"] == {}
    assert decoded["event_type"] == "PLAYER_JOINED"


# --- encode validation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"occurred_at": datetime(2024, 11, 22, tzinfo=UTC)}, "occurred_at"),
        ({"table_id": 7}, "table_id"),
        ({"event_type": "BET_LOST"}, "event_type"),
        ({"bet": {"bet_type": "main", "stake_minor": 2.5, "currency": "EUR"}}, "stake_minor"),
        ({"occurred_at": 2**70}, "occurred_at"),
        ({"studio_id": None}, "studio_id"),
    ],
)
def test_encode_rejects_invalid_record_naming_type_and_field(change, field):
    with pytest.raises(ValueError, match=rf"pitboss\.TableEvent.*{field}"):
        AvroCodec("TableEvent").encode(dict(SAMPLE_BET_SETTLED, **change))


def test_encode_rejects_missing_field_and_non_dict():
    record = {k: v for k, v in SAMPLE_BET_SETTLED.items() if k != "table_id"}
    with pytest.raises(ValueError, match=r"pitboss\.TableEvent.*table_id"):
        AvroCodec("TableEvent").encode(record)
    with pytest.raises(ValueError, match="expected a dict, got list"):
        AvroCodec("TableEvent").encode([1, 2])  # type: ignore[arg-type]


# --- bad bytes ----------------------------------------------------------------------------

GOOD = AvroCodec("TableEvent").encode(SAMPLE_BET_SETTLED)


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        (b"", "UNDECODABLE", "empty message"),
        (b"\xc3", "UNDECODABLE", "starts with c3"),
        (b"\xc3\x01\xda\xb0", "UNDECODABLE", "truncated single-object header"),
        (b"\xc3\x02" + GOOD[2:], "UNDECODABLE", "starts with c302"),
        (b'{"event_id": "e"}', "UNDECODABLE", "not an Avro pitboss.TableEvent"),
        (b"\xc3\x01\x01\x02\x03\x04\x05\x06\x07\x08" + GOOD[10:], "UNKNOWN_SCHEMA",
         "unknown schema fingerprint 0102030405060708"),
        (GOOD + b"\x00", "UNDECODABLE", "1 trailing byte"),
        (GOOD[:10], "UNDECODABLE", "truncated pitboss.TableEvent body"),
        (b"\x00\x00\x00\x00\x01" + GOOD[10:], "UNKNOWN_SCHEMA", "no schema registry"),
        (AvroCodec("Reward").encode(SAMPLES["Reward"]), "INVALID",
         "is a pitboss.Reward, not the expected pitboss.TableEvent"),
    ],
)  # fmt: skip
def test_bad_bytes_are_decode_errors(data, error, match):
    with pytest.raises(DecodeError, match=match) as info:
        AvroCodec("TableEvent").decode(data)
    assert info.value.error == error
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("value", [None, "c301", 12])
def test_non_bytes_input_is_a_decode_error(value):
    with pytest.raises(DecodeError, match="expected bytes"):
        AvroCodec("TableEvent").decode(value)  # type: ignore[arg-type]


def test_bytearray_and_memoryview_are_accepted():
    codec = AvroCodec("TableEvent")
    assert codec.decode(bytearray(GOOD)) == SAMPLE_BET_SETTLED
    assert codec.decode(memoryview(GOOD)) == SAMPLE_BET_SETTLED


def test_every_truncation_is_a_decode_error():
    codec = AvroCodec("TableEvent")
    for cut in range(len(GOOD)):
        with pytest.raises(DecodeError):
            codec.decode(GOOD[:cut])


def test_truncation_reasons_are_words_the_same_on_every_read():
    """A dead letter's reason is journaled and replayed: fastavro's "cannot read boolean from
    <_io.BytesIO object at 0x…>" differed from one read of the same bytes to the next."""
    good = AvroCodec("PlayerProfile").encode(SAMPLES["PlayerProfile"])
    reasons = []
    for cut in range(10, len(good)):
        first, again = (_reason(AvroCodec("PlayerProfile"), good[:cut]) for _ in range(2))
        assert first == again and " at 0x" not in first, first
        reasons.append(first)
    assert "truncated pitboss.PlayerProfile body: cannot read boolean from the body" in reasons
    assert "truncated pitboss.PlayerProfile body: it ends too early" in reasons


def _reason(codec: AvroCodec, data: bytes) -> str:
    with pytest.raises(DecodeError) as info:
        codec.decode(data)
    return str(info.value)


def test_random_garbage_bodies_fail_cleanly_and_fast():
    """Whatever the body, the outcome is a dict or a DecodeError, never a hang or other error."""
    rng = random.Random(20241122)
    codec = AvroCodec("TableEvent")
    header = GOOD[:10]
    errors = 0
    started = time.monotonic()
    for _ in range(3000):
        body = rng.randbytes(rng.randrange(0, 200))
        try:
            assert isinstance(codec.decode(header + body), dict)
        except DecodeError as exc:
            assert exc.error == "UNDECODABLE"
            errors += 1
    assert errors > 2900  # random bytes are almost never a valid event
    assert time.monotonic() - started < 10


def test_huge_declared_lengths_do_not_allocate_or_hang():
    # event_id length of 2**62 bytes, then a map claiming 2**62 entries
    huge = b"\xfe\xff\xff\xff\xff\xff\xff\xff\x7f"
    codec = AvroCodec("TableEvent")
    for data in (GOOD[:10] + huge, GOOD[:-1] + huge):
        with pytest.raises(DecodeError, match=r"pitboss\.TableEvent body"):
            codec.decode(data)


# --- schema evolution ---------------------------------------------------------------------


@pytest.fixture
def schemas() -> SchemaCatalog:
    """A private catalog, so registered writer versions do not leak into other tests."""
    return load_schemas()


OLD_FIELDS = ("game_variant", "chat_text", "device", "attributes")


def older(fields: list) -> None:
    fields[:] = [f for f in fields if f["name"] not in OLD_FIELDS]


def newer(fields: list) -> None:
    fields.append({"name": "seat", "type": ["null", "int"], "default": None})
    fields[1]["type"]["symbols"].insert(0, "TIP_GIVEN")


def incompatible(fields: list) -> None:
    next(f for f in fields if f["name"] == "table_id")["type"] = "int"


def test_older_writer_decodes_with_defaults(schemas):
    old_record = {k: v for k, v in SAMPLE_BET_SETTLED.items() if k not in OLD_FIELDS}
    data = single_object(table_event_version(older), old_record)
    codec = AvroCodec("TableEvent", schemas=schemas)
    with pytest.raises(DecodeError, match="unknown schema fingerprint") as info:
        codec.decode(data)
    assert info.value.error == "UNKNOWN_SCHEMA"
    schemas.register_writer(table_event_version(older))
    decoded = codec.decode(data)
    assert decoded == dict(
        old_record, game_variant=None, chat_text=None, device=None, attributes={}
    )


def test_newer_writer_decodes_dropping_new_field_and_defaulting_new_symbol(schemas):
    schemas.register_writer(table_event_version(newer))
    codec = AvroCodec("TableEvent", schemas=schemas)
    data = single_object(table_event_version(newer), dict(SAMPLE_BET_SETTLED, seat=3))
    assert codec.decode(data) == SAMPLE_BET_SETTLED
    tip = single_object(
        table_event_version(newer), dict(SAMPLE_BET_SETTLED, event_type="TIP_GIVEN")
    )
    assert codec.decode(tip)["event_type"] == "UNKNOWN"


def test_incompatible_writer_is_a_clear_decode_error(schemas):
    resolution = schemas.register_writer(table_event_version(incompatible))
    data = single_object(table_event_version(incompatible), dict(SAMPLE_BET_SETTLED, table_id=7))
    with pytest.raises(DecodeError) as info:
        AvroCodec("TableEvent", schemas=schemas).decode(data)
    message = str(info.value)
    assert resolution.writer.fingerprint_hex in message
    assert "cannot be read as the current pitboss.TableEvent" in message
    assert "int is not string" in message
    assert info.value.error == "UNDECODABLE"


def test_current_schema_still_fast_path_after_registrations(schemas):
    schemas.register_writer(table_event_version(older))
    codec = AvroCodec("TableEvent", schemas=schemas)
    assert codec.decode(GOOD) == SAMPLE_BET_SETTLED
    assert get_schema("TableEvent").fingerprint in codec._readers


# --- Confluent framing against an in-test registry ----------------------------------------


class FakeRegistry:
    """The two Confluent Schema Registry endpoints the codec uses, in memory."""

    def __init__(self, require_auth: str | None = None) -> None:
        self.schemas: dict[int, str] = {}
        self.subjects: dict[str, list[int]] = {}
        self.requests: list[str] = []
        self.require_auth = require_auth

    def add(self, subject: str, schema_text: str) -> int:
        known = [i for i, text in self.schemas.items() if text == schema_text]
        schema_id = known[0] if known else len(self.schemas) + 101
        self.schemas[schema_id] = schema_text
        self.subjects.setdefault(subject, []).append(schema_id)
        return schema_id

    def handler(self) -> type[BaseHTTPRequestHandler]:
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def reply(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def authorized(self) -> bool:
                if registry.require_auth and self.headers["Authorization"] != registry.require_auth:
                    self.reply(401, {"error_code": 401, "message": "Unauthorized"})
                    return False
                return True

            def do_GET(self) -> None:
                registry.requests.append(f"GET {self.path}")
                if not self.authorized():
                    return
                match = re.fullmatch(r"/schemas/ids/(\d+)", self.path)
                if match and int(match[1]) in registry.schemas:
                    self.reply(200, {"schema": registry.schemas[int(match[1])]})
                else:
                    self.reply(404, {"error_code": 40403, "message": "Schema not found"})

            def do_POST(self) -> None:
                registry.requests.append(f"POST {self.path}")
                if not self.authorized():
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                match = re.fullmatch(r"/subjects/([^/]+)/versions", self.path)
                assert match, self.path
                self.reply(200, {"id": registry.add(match[1], body["schema"])})

        return Handler


@pytest.fixture
def registry() -> Iterator[tuple[FakeRegistry, str]]:
    fake = FakeRegistry()
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_confluent_encode_registers_under_record_name_and_round_trips(registry):
    fake, url = registry
    codec = AvroCodec("TableEvent", registry_url=url)
    data = codec.encode(SAMPLE_BET_SETTLED)
    schema_id = fake.subjects["pitboss.TableEvent"][0]
    assert data[:5] == b"\x00" + schema_id.to_bytes(4, "big")
    assert data[5:] == GOOD[10:]
    assert (
        make_schema_info(fake.schemas[schema_id]).fingerprint
        == get_schema("TableEvent").fingerprint
    )
    assert codec.decode(data) == SAMPLE_BET_SETTLED
    codec.encode(SAMPLE_BET_SETTLED)
    assert fake.requests == ["POST /subjects/pitboss.TableEvent/versions"]  # cached
    # Another codec on the same registry shares the client's caches.
    other = AvroCodec("TableEvent", registry_url=url + "/")
    assert other.decode(data) == SAMPLE_BET_SETTLED
    assert other.decode(GOOD) == SAMPLE_BET_SETTLED  # single-object still read
    assert other.encode(SAMPLE_BET_SETTLED) == data
    # One registry client per URL per process: neither codec asked again.
    assert fake.requests == ["POST /subjects/pitboss.TableEvent/versions"]


def test_confluent_decode_fetches_schema_by_id_and_resolves_older_writer(registry):
    fake, url = registry
    old_source = table_event_version(older)
    schema_id = fake.add("pitboss.TableEvent", json.dumps(old_source))
    old_record = {k: v for k, v in SAMPLE_BET_SETTLED.items() if k not in OLD_FIELDS}
    body = single_object(old_source, old_record)[10:]
    data = b"\x00" + schema_id.to_bytes(4, "big") + body
    codec = AvroCodec("TableEvent", registry_url=url, schemas=load_schemas())
    expected = dict(old_record, game_variant=None, chat_text=None, device=None, attributes={})
    assert codec.decode(data) == expected
    assert codec.decode(data) == expected
    assert fake.requests == [f"GET /schemas/ids/{schema_id}"]


def test_confluent_unknown_id_and_wrong_record_type(registry):
    fake, url = registry
    codec = AvroCodec("TableEvent", registry_url=url)
    with pytest.raises(DecodeError, match="schema id 999 is not in the registry") as info:
        codec.decode(b"\x00\x00\x00\x03\xe7" + GOOD[10:])
    assert info.value.error == "UNKNOWN_SCHEMA"
    reward_id = fake.add("pitboss.Reward", get_schema("Reward").schema_text)
    with pytest.raises(DecodeError, match=r"is a pitboss\.Reward") as info:
        codec.decode(b"\x00" + reward_id.to_bytes(4, "big") + b"\x00")
    assert info.value.error == "INVALID"
    with pytest.raises(DecodeError, match="truncated Confluent header"):
        codec.decode(b"\x00\x00\x01")


def test_confluent_basic_auth_from_url(registry):
    fake, url = registry
    fake.require_auth = "Basic " + base64.b64encode(b"studio:s3cr3t").decode()
    authed = url.replace("http://", "http://studio:s3cr3t@")
    data = AvroCodec("Reward", registry_url=authed).encode(SAMPLES["Reward"])
    assert AvroCodec("Reward", registry_url=authed).decode(data) == SAMPLES["Reward"]
    with pytest.raises(SchemaRegistryError, match="401"):
        AvroCodec("CoolDown", registry_url=url).encode(SAMPLES["CoolDown"])


def test_registry_down_is_not_a_decode_error():
    """A registry outage must not dead-letter good messages: it is a retryable error."""
    with socket_closed_port() as url:
        codec = AvroCodec("TableEvent", registry_url=url)
        with pytest.raises(SchemaRegistryError):
            codec.decode(b"\x00\x00\x00\x00\x07" + GOOD[10:])
        with pytest.raises(SchemaRegistryError):
            codec.encode(SAMPLE_BET_SETTLED)


class socket_closed_port:
    """A URL on a loopback port that nothing listens on."""

    def __enter__(self) -> str:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def __exit__(self, *exc: object) -> None:
        self.sock.close()
