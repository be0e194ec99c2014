"""Schema evolution at the worker: studios on an older or newer TableEvent are decided.

Single-object encoding names the writer schema only by its fingerprint, so a worker reads
an older or newer studio's bytes only if that writer schema ships in ``schemas/versions``
(or a directory in ``PITBOSS_SCHEMA_VERSIONS_DIR``). These go through ``Ingest.sort``;
tests/e2e/test_schema_evolution_e2e.py runs a real worker on the broker.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import fastavro
import pytest

from app.contract.codec import AvroCodec
from app.contract.schemas import (
    VERSIONS_ENV,
    SchemaCatalog,
    catalog,
    get_schema,
    load_schemas,
    make_schema_info,
)
from app.core.outputs import journal_entry
from app.pipeline.ingest import Ingest, partition_for
from app.settings import PROJECT_ROOT, Settings
from tests.support.factories import ERASURE_KEY, ms, natural, table_event
from tests.support.writer_schemas import INCOMPATIBLE, VERSIONS, shipped, single_object
from tests.unit.pipeline.test_ingest import Msg

NOW = ms("2026-11-22T12:00:00Z")
PARTITIONS = 4
TOPICS = Settings.from_env({"PITBOSS_PARTITIONS": str(PARTITIONS)}).topics


def ingest_reading(schemas: SchemaCatalog) -> Ingest:
    """An Ingest whose codecs read a private catalog, so test-only writers do not leak."""
    ingest = Ingest(TOPICS, PARTITIONS, erasure_key=ERASURE_KEY)
    ingest.events = AvroCodec("TableEvent", schemas=schemas)
    ingest.profiles = AvroCodec("PlayerProfile", schemas=schemas)
    return ingest


def sent(value: bytes, player_id: str, offset: int = 0) -> Msg:
    """A table-events record keyed by the player, on the player's partition."""
    return Msg(
        TOPICS.table_events,
        partition_for(player_id, PARTITIONS),
        player_id.encode(),
        value,
        offset=offset,
    )


def test_every_shipped_version_reads_as_the_current_record():
    paths = sorted(VERSIONS.glob("*.avsc"))
    assert {p.name for p in paths} >= {"TableEvent.v0.avsc", "TableEvent.v2.avsc"}
    for path in paths:
        writer = make_schema_info(path.read_text(encoding="utf-8"))
        resolution = catalog().resolve(writer.fingerprint)
        assert resolution is not None, f"{path.name} is not registered"
        assert resolution.reader is get_schema(writer.name)
        assert not resolution.same, f"{path.name} is identical to the current schema"


def test_an_older_writer_is_decided_with_the_defaults_of_the_missing_fields():
    event = natural(player_id="p-v0", occurred_at=NOW)
    batch = Ingest(TOPICS, PARTITIONS, erasure_key=ERASURE_KEY).sort(
        [sent(single_object(shipped("v0").source, event), "p-v0")], NOW
    )
    assert batch.dead_letters == []
    part = partition_for("p-v0", PARTITIONS)
    assert batch.events == {part: {"p-v0": [dict(event, device=None, attributes={})]}}


def test_a_newer_writer_is_decided_without_its_new_field():
    event = natural(player_id="p-v2", occurred_at=NOW)
    data = single_object(shipped("v2").source, dict(event, seat=3))
    batch = Ingest(TOPICS, PARTITIONS, erasure_key=ERASURE_KEY).sort([sent(data, "p-v2")], NOW)
    assert batch.dead_letters == []
    assert batch.events == {partition_for("p-v2", PARTITIONS): {"p-v2": [event]}}


def test_a_new_event_type_reads_as_unknown_and_decides_nothing():
    """A symbol the reader lacks becomes the enum default, UNKNOWN: a valid event that no
    rule can match, so it is counted like a table-level event, not refused or journaled."""
    tip = table_event(player_id="p-tip", event_type="TIP_PLACED", occurred_at=NOW)
    data = single_object(shipped("v2").source, dict(tip, seat=1))
    assert AvroCodec("TableEvent").decode(data)["event_type"] == "UNKNOWN"
    batch = Ingest(TOPICS, PARTITIONS, erasure_key=ERASURE_KEY).sort([sent(data, "p-tip")], NOW)
    assert (batch.dead_letters, batch.rejected, batch.events, batch.forwards) == ([], [], {}, [])
    assert batch.table_level == 1


def test_an_incompatible_writer_is_dead_lettered_naming_the_mismatch():
    schemas = load_schemas()
    writer = schemas.register_writer(INCOMPATIBLE).writer
    data = single_object(
        INCOMPATIBLE, dict(natural(player_id="p-bad", occurred_at=NOW), event_id=7)
    )
    batch = ingest_reading(schemas).sort([sent(data, "p-bad", offset=42)], NOW)
    [(key, letter)] = batch.dead_letters
    assert (key, letter["value"], letter["offset"]) == (b"p-bad", data, 42)
    assert letter["error"] == "UNDECODABLE"
    assert (
        f"writer schema {writer.fingerprint_hex} cannot be read as the current"
        in (letter["reason"])
    )
    assert "int is not string" in letter["reason"]
    assert batch.rejected == [] and batch.events == {}  # it never decoded: nothing to journal


def test_a_writer_the_worker_was_not_given_is_an_unknown_schema():
    data = single_object(INCOMPATIBLE, dict(natural(player_id="p-x", occurred_at=NOW), event_id=7))
    [(_, letter)] = (
        Ingest(TOPICS, PARTITIONS, erasure_key=ERASURE_KEY)
        .sort([sent(data, "p-x")], NOW)
        .dead_letters
    )
    assert letter["error"] == "UNKNOWN_SCHEMA"
    assert make_schema_info(INCOMPATIBLE).fingerprint_hex in letter["reason"]


def test_extra_version_directories_are_registered(tmp_path):
    (tmp_path / "TableEvent.bad.avsc").write_text(json.dumps(INCOMPATIBLE))
    fingerprint = make_schema_info(INCOMPATIBLE).fingerprint
    assert load_schemas().resolve(fingerprint) is None
    assert load_schemas(extra_versions=[tmp_path]).resolve(fingerprint) is not None


def test_the_process_catalog_takes_directories_from_the_environment(tmp_path):
    """A fresh process, as a worker starts: ``catalog()`` is loaded once and cached."""
    (tmp_path / "TableEvent.bad.avsc").write_text(json.dumps(INCOMPATIBLE))
    code = (
        "import sys; from app.contract.schemas import catalog; "
        "print(catalog().resolve(bytes.fromhex(sys.argv[1])) is not None)"
    )
    fingerprint = make_schema_info(INCOMPATIBLE).fingerprint_hex
    run = subprocess.run(
        [sys.executable, "-c", code, fingerprint],
        env={**os.environ, VERSIONS_ENV: str(tmp_path)},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.strip() == "True"


def test_a_version_of_no_current_record_or_a_missing_directory_is_refused(tmp_path):
    (tmp_path / "Tip.v1.avsc").write_text(
        json.dumps({"type": "record", "name": "Tip", "namespace": "pitboss", "fields": []})
    )
    with pytest.raises(ValueError, match=r"Tip\.v1\.avsc: unknown schema 'pitboss\.Tip'"):
        load_schemas(extra_versions=[tmp_path])
    with pytest.raises(FileNotFoundError, match="no writer versions directory"):
        load_schemas(extra_versions=[tmp_path / "missing"])


def test_a_journal_reader_from_before_boosts_reads_their_entries_as_other():
    """JournalEntry.v3 is the journal as written before the BOOST_* decisions: its bytes read
    as the current record, and a v3 reader reads a BOOST_STARTED as the default, OTHER."""
    entry = journal_entry(
        decision="BOOST_STARTED",
        player_id="p-1",
        rule_id="happy-hour",
        rule_version=1,
        reason="2x POINTS",
        event_ids=["e-1"],
        reward_id="rw-1",
        details={"factor": "2"},
        event_time=NOW,
        now_ms=NOW,
    )
    current = get_schema("JournalEntry")
    v3 = make_schema_info((VERSIONS / "JournalEntry.v3.avsc").read_text(encoding="utf-8"))
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, current.parsed, entry)
    buf.seek(0)
    assert fastavro.schemaless_reader(buf, current.parsed, v3.parsed)["decision"] == "OTHER"
    older = dict(entry, decision="CONSENT_CHANGED")
    assert AvroCodec("JournalEntry").decode(single_object(v3.source, older)) == older


def test_a_journal_reader_from_before_risk_levels_reads_their_entries_as_other():
    """JournalEntry.v4 is the journal as written before RISK_LEVEL_CHANGED: a v4 reader
    reads it as the default, OTHER, and v4 bytes read as the current record."""
    entry = journal_entry(
        decision="RISK_LEVEL_CHANGED",
        player_id="p-1",
        rule_id="risk-level",
        rule_version=1,
        reason="none -> low",
        event_ids=["e-1"],
        reward_id=None,
        details={"from": "none", "to": "low", "markers": "night_play"},
        event_time=NOW,
        now_ms=NOW,
    )
    current = get_schema("JournalEntry")
    v4 = make_schema_info((VERSIONS / "JournalEntry.v4.avsc").read_text(encoding="utf-8"))
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, current.parsed, entry)
    buf.seek(0)
    assert fastavro.schemaless_reader(buf, current.parsed, v4.parsed)["decision"] == "OTHER"
    older = dict(entry, decision="BOOST_ENDED")
    assert AvroCodec("JournalEntry").decode(single_object(v4.source, older)) == older
