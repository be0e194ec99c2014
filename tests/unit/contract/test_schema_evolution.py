"""Schema evolution at the worker: studios on an older or newer TableEvent are decided.

Single-object encoding names the writer schema only by its fingerprint, so a worker reads
an older or newer studio's bytes only if that writer schema ships in ``schemas/versions``
(or a directory in ``PITBOSS_SCHEMA_VERSIONS_DIR``). Unit tests go through ``Ingest.sort``;
the end-to-end test runs a real worker on the broker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from app.contract.codec import AvroCodec
from app.contract.schemas import (
    SCHEMA_DIR,
    VERSIONS_ENV,
    VERSIONS_SUBDIR,
    SchemaCatalog,
    SchemaInfo,
    catalog,
    get_schema,
    load_schemas,
    make_schema_info,
)
from app.devtools.deployment import Deployment, wait_for
from app.pipeline.ingest import Ingest, partition_for
from app.settings import PROJECT_ROOT, Settings
from tests.support.factories import ms, natural, table_event
from tests.unit.contract.test_codec import single_object, table_event_version
from tests.unit.pipeline.test_ingest import Msg

VERSIONS = SCHEMA_DIR / VERSIONS_SUBDIR
NOW = ms("2026-11-22T12:00:00Z")
PARTITIONS = 4
TOPICS = Settings.from_env({"PITBOSS_PARTITIONS": str(PARTITIONS)}).topics


def shipped(version: str) -> SchemaInfo:
    """The TableEvent writer version shipped as ``schemas/versions/TableEvent.<version>.avsc``."""
    path = VERSIONS / f"TableEvent.{version}.avsc"
    return make_schema_info(path.read_text(encoding="utf-8"), path)


def _event_id_as_int(fields: list[dict]) -> None:
    next(f for f in fields if f["name"] == "event_id")["type"] = "int"


#: A TableEvent writer no reader can resolve: ``event_id`` is an int, the reader wants a string.
INCOMPATIBLE: dict[str, Any] = table_event_version(_event_id_as_int)


def ingest_reading(schemas: SchemaCatalog) -> Ingest:
    """An Ingest whose codecs read a private catalog, so test-only writers do not leak."""
    ingest = Ingest(TOPICS, PARTITIONS)
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
    batch = Ingest(TOPICS, PARTITIONS).sort(
        [sent(single_object(shipped("v0").source, event), "p-v0")], NOW
    )
    assert batch.dead_letters == []
    part = partition_for("p-v0", PARTITIONS)
    assert batch.events == {part: {"p-v0": [dict(event, device=None, attributes={})]}}


def test_a_newer_writer_is_decided_without_its_new_field():
    event = natural(player_id="p-v2", occurred_at=NOW)
    data = single_object(shipped("v2").source, dict(event, seat=3))
    batch = Ingest(TOPICS, PARTITIONS).sort([sent(data, "p-v2")], NOW)
    assert batch.dead_letters == []
    assert batch.events == {partition_for("p-v2", PARTITIONS): {"p-v2": [event]}}


def test_a_new_event_type_reads_as_unknown_and_decides_nothing():
    """A symbol the reader lacks becomes the enum default, UNKNOWN: a valid event that no
    rule can match, so it is counted like a table-level event, not refused or journaled."""
    tip = table_event(player_id="p-tip", event_type="TIP_PLACED", occurred_at=NOW)
    data = single_object(shipped("v2").source, dict(tip, seat=1))
    assert AvroCodec("TableEvent").decode(data)["event_type"] == "UNKNOWN"
    batch = Ingest(TOPICS, PARTITIONS).sort([sent(data, "p-tip")], NOW)
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
    [(_, letter)] = Ingest(TOPICS, PARTITIONS).sort([sent(data, "p-x")], NOW).dead_letters
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


# --- end to end -----------------------------------------------------------------------------


@pytest.mark.broker
@pytest.mark.slow
def test_a_worker_decides_older_and_newer_writers_and_dead_letters_an_incompatible_one(
    tmp_path: Path,
):
    versions = tmp_path / "studio-versions"
    versions.mkdir()
    (versions / "TableEvent.bad.avsc").write_text(json.dumps(INCOMPATIBLE))
    dep = Deployment.create(tmp_path / "state", **{VERSIONS_ENV: str(versions)})
    try:
        dep.start_worker()
        now = int(time.time() * 1000)
        old = natural(player_id="p-evo-v0", occurred_at=now)
        new = natural(player_id="p-evo-v2", occurred_at=now)
        # The tip goes first on p-evo-v2's partition, so it is sorted by the time the
        # natural after it is decided.
        tip = table_event(player_id="p-evo-v2", event_type="TIP_PLACED", occurred_at=now)
        bad = dict(natural(player_id="p-evo-bad", occurred_at=now), event_id=7)
        records = [
            ("p-evo-v0", single_object(shipped("v0").source, old)),
            ("p-evo-v2", single_object(shipped("v2").source, dict(tip, seat=2))),
            ("p-evo-v2", single_object(shipped("v2").source, dict(new, seat=5))),
            ("p-evo-bad", single_object(INCOMPATIBLE, bad)),
        ]
        dep.produce(dep.settings.topics.table_events, [(k.encode(), v, None) for k, v in records])

        players = {"p-evo-v0", "p-evo-v2"}
        rewards = dep.consume(
            dep.settings.topics.rewards,
            "Reward",
            lambda rs: {r["player_id"] for r in rs} >= players,
        )
        by_player = {r["player_id"]: r for r in rewards}
        for event in (old, new):
            reward = by_player[event["player_id"]]
            assert reward["rule_id"] == "first-natural-blackjack-of-day"
            assert reward["trigger_event_ids"] == [event["event_id"]]

        letters = dep.consume(
            dep.settings.topics.dead_letters,
            "DeadLetter",
            lambda ls: any(x["key"] == b"p-evo-bad" for x in ls),
        )
        assert [x["key"] for x in letters] == [b"p-evo-bad"]  # not the tip
        [letter] = letters
        assert letter["value"] == records[-1][1]
        assert letter["error"] == "UNDECODABLE"
        assert "cannot be read as the current pitboss.TableEvent" in letter["reason"]
        assert "int is not string" in letter["reason"]
        wait_for(lambda: dep.view("/pitboss/stats/")["totals"]["table_level"], what="the tip")
    finally:
        dep.stop_all()
