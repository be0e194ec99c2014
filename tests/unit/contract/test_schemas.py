"""The schema catalog: canonical forms and fingerprints agree with independent implementations.

The golden fingerprints below were computed by the Java reference implementation
(Apache Avro 1.8.2 from Debian's libavro-java, ``SchemaNormalization.parsingFingerprint64``,
written little-endian as single-object encoding does) from the ``.avsc`` files as they are.
If a schema file changes on purpose, its golden value must be recomputed, and studios
told: the fingerprint on the wire changes with it.
"""

from __future__ import annotations

import json

import avro.schema
import fastavro.schema
import pytest

from app.contract.schemas import (
    SCHEMA_DIR,
    SchemaInfo,
    catalog,
    crc64_avro,
    get_schema,
    load_schemas,
    make_schema_info,
    parsing_canonical_form,
)

JAVA_FINGERPRINTS = {
    # pinned from fastavro and Apache avro (below); the others were checked against Java too
    "AccessLogEntry": "3d0c1e464b98de22",
    "AccountEvent": "47435c1a123d162a",  # new with account events, pinned from fastavro
    "CoolDown": "2f81d0667016287a",
    "DeadLetter": "72fdd0f766203a7e",
    # v3 (960a464b5130d8f0, Java-checked) + BOOST_* (v4, a4b6bff4002816a2) + RISK_LEVEL_CHANGED
    # (v5, 60901f3ceba64dd2) + interactions, account events, commands, expiry, games,
    # exposures, tournaments; pinned from fastavro
    "JournalEntry": "05ef20bf35ea96c0",
    # v1 (0d6cca417ac60362, Java-checked) + language, pinned from fastavro
    "PlayerProfile": "676b018027f32250",
    "PlayerCommand": "2d3656be07c8fe9e",  # new with the points store, pinned from fastavro
    "PlayerOutcome": "17903ecc604adc28",  # new with experiments, pinned from fastavro
    # new with the player gateway, pinned from fastavro and Apache avro (below)
    "PlayerInteraction": "cce252fb4d00ef4d",  # v1 ec037789e6a3e0c4 + rule_id, variant
    "Reward": "ad88465bbff3aef7",
    # new with pitboss fulfil, pinned from fastavro and Apache avro (below)
    "RewardLifecycle": "adcfad49c41b13ec",
    "RgAlert": "78275ef6b6eb1284",  # new with rg-alerts, pinned from fastavro
    "TableEvent": "dab0385993883136",
    "TournamentPrize": "ed00eb744bc548e2",  # new with prizes on the winner's partition, fastavro
}

# Exercises namespaces (inherited, explicit, dotted names), references to named types,
# fixed, stripped attributes (doc, aliases, default, order, custom and logical types),
# primitives written as objects and a non-ASCII name given as a JSON escape.
TRICKY = {
    "type": "record", "name": "Outer", "namespace": "a.b", "doc": "d\u00e9j\u00e0 vu",
    "aliases": ["Old"],
    "fields": [
        {"name": "id", "type": {"type": "string", "avro.java.string": "String"}, "doc": "x",
         "default": "z", "order": "descending"},
        {"name": "inner", "type": {"type": "record", "name": "Inner", "fields": [
            {"name": "h", "type": {"type": "fixed", "name": "Hash", "size": 16}},
            {"name": "s", "type": {"type": "enum", "name": "x.y.Suit", "symbols": ["H", "S"]}},
        ]}},
        {"name": "again", "type": ["null", "Inner", "x.y.Suit", "Hash"]},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "m", "type": {"type": "map", "values": {"type": "array", "items": "a.b.Inner"}}},
        {"name": "t\u00e9xt", "type": "bytes"},
    ],
}  # fmt: skip
TRICKY_JAVA_FORM = (
    '{"name":"a.b.Outer","type":"record","fields":[{"name":"id","type":"string"},'
    '{"name":"inner","type":{"name":"a.b.Inner","type":"record","fields":[{"name":"h","type":'
    '{"name":"a.b.Hash","type":"fixed","size":16}},{"name":"s","type":{"name":"x.y.Suit",'
    '"type":"enum","symbols":["H","S"]}}]}},{"name":"again","type":["null","a.b.Inner",'
    '"x.y.Suit","a.b.Hash"]},{"name":"ts","type":"long"},{"name":"m","type":{"type":"map",'
    '"values":{"type":"array","items":"a.b.Inner"}}},{"name":"t\u00e9xt","type":"bytes"}]}'
)
TRICKY_JAVA_FINGERPRINT = "be80e379ac294fa0"


def test_catalog_has_every_schema_file_by_short_and_full_name():
    files = sorted(p.stem for p in SCHEMA_DIR.glob("*.avsc"))
    assert catalog().names() == files == sorted(JAVA_FINGERPRINTS)
    for name in files:
        info = get_schema(name)
        assert info.name == name
        assert info.full_name == f"pitboss.{name}"
        assert get_schema(info.full_name) is info


def test_unknown_name_lists_known_names():
    with pytest.raises(KeyError, match="TableEvent"):
        get_schema("Nope")


@pytest.mark.parametrize("name", sorted(JAVA_FINGERPRINTS))
def test_fingerprint_matches_java_reference(name):
    info = get_schema(name)
    assert info.fingerprint_hex == JAVA_FINGERPRINTS[name]
    assert info.header == b"\xc3\x01" + bytes.fromhex(JAVA_FINGERPRINTS[name])


@pytest.mark.parametrize("name", sorted(JAVA_FINGERPRINTS))
def test_canonical_form_matches_fastavro_and_crc_matches_apache_avro(name):
    info = get_schema(name)
    source = json.loads(info.path.read_text())
    assert info.canonical_form == fastavro.schema.to_parsing_canonical_form(source)
    data = info.canonical_form.encode()
    assert crc64_avro(data) == avro.schema._crc_64_fingerprint(data)
    assert crc64_avro(data).hex() == fastavro.schema.fingerprint(info.canonical_form, "CRC-64-AVRO")


@pytest.mark.parametrize("name", sorted(JAVA_FINGERPRINTS))
def test_python_avro_quirk_form_is_what_apache_avro_python_computes(name):
    """Apache avro (Python) keeps {"type":"long"} for logical types; we accept its fingerprint."""
    info = get_schema(name)
    parsed = avro.schema.parse(info.path.read_text())
    assert parsing_canonical_form(info.source, python_avro_quirk=True) == parsed.canonical_form
    resolution = catalog().resolve(parsed.fingerprint())
    assert resolution is not None
    assert resolution.reader is info


def test_tricky_canonical_form_matches_java_and_fastavro():
    form = parsing_canonical_form(TRICKY)
    assert form == TRICKY_JAVA_FORM
    assert form == fastavro.schema.to_parsing_canonical_form(TRICKY)
    assert crc64_avro(form.encode()).hex() == TRICKY_JAVA_FINGERPRINT


def test_empty_namespace_resets_to_the_null_namespace():
    # Spec: a nested name takes the namespace of its enclosing named type; "" is none.
    schema = {"type": "record", "name": "R", "namespace": "a", "fields": [
        {"name": "o", "type": {"type": "record", "name": "O", "namespace": "", "fields": [
            {"name": "d", "type": {"type": "enum", "name": "D", "symbols": ["X"]}}]}}]}  # fmt: skip
    form = parsing_canonical_form(schema)
    assert '"name":"O"' in form
    assert '"name":"D"' in form
    assert form == fastavro.schema.to_parsing_canonical_form(schema)


def test_primitive_and_empty_input_fingerprints_match_apache_avro():
    assert crc64_avro(b"") == avro.schema._crc_64_fingerprint(b"")
    assert crc64_avro(b'"null"').hex() == "8a8f25cce724dd63"  # Java reference


def test_decoding_schema_has_no_logical_types_but_same_fingerprint():
    info = get_schema("TableEvent")
    assert "logicalType" in json.dumps(info.source)
    assert "logicalType" not in json.dumps(info.parsed)
    assert make_schema_info(json.dumps(info.source)).fingerprint == info.fingerprint


def test_register_writer_resolves_new_fingerprint_to_current_reader():
    schemas = load_schemas()
    reader = schemas.get("TableEvent")
    older = json.loads(json.dumps(reader.source))
    older["fields"] = [f for f in older["fields"] if f["name"] != "device"]
    resolution = schemas.register_writer(older)
    assert resolution.writer.fingerprint != reader.fingerprint
    assert resolution.reader is reader
    assert not resolution.same
    assert schemas.resolve(resolution.writer.fingerprint) is resolution
    assert schemas.register_writer(older) is resolution  # idempotent
    # the process-wide catalog is untouched
    assert catalog().resolve(resolution.writer.fingerprint) is None


def test_register_writer_refuses_to_remap_a_current_schema():
    schemas = load_schemas()
    with pytest.raises(ValueError, match=r"already read as pitboss\.TableEvent"):
        schemas.register_writer(schemas.get("TableEvent"), reader="Reward")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", "not valid JSON"),
        ('"string"', "must be an Avro record"),
        ('{"type": "record", "name": "X", "fields": [{"name": "a", "type": "nope"}]}', "X"),
    ],
)
def test_bad_schema_text_is_a_value_error(text, match):
    with pytest.raises(ValueError, match=match):
        make_schema_info(text)


def test_schema_info_is_usable_as_registry_text():
    info = get_schema("Reward")
    assert isinstance(info, SchemaInfo)
    assert make_schema_info(info.schema_text).fingerprint == info.fingerprint
