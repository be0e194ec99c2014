"""TableEvent writer schemas other than the current one, and records they wrote.

Shared by the schema-evolution unit tests, the ingest fuzzer and the end-to-end test that
feeds a real worker older, newer and incompatible studios.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import fastavro

from app.contract.schemas import (
    SCHEMA_DIR,
    VERSIONS_SUBDIR,
    SchemaInfo,
    get_schema,
    make_schema_info,
)

VERSIONS = SCHEMA_DIR / VERSIONS_SUBDIR


def table_event_version(change: Callable[[list[dict]], None]) -> dict:
    """A copy of the TableEvent schema JSON with ``change(fields)`` applied."""
    source = json.loads(json.dumps(get_schema("TableEvent").source))
    change(source["fields"])
    return source


def single_object(writer_source: dict, record: dict) -> bytes:
    """``record`` in Avro single-object encoding, as the ``writer_source`` schema writes it."""
    writer = make_schema_info(writer_source)
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, writer.parsed, record)
    return writer.header + buf.getvalue()


def shipped(version: str) -> SchemaInfo:
    """The TableEvent writer version shipped as ``schemas/versions/TableEvent.<version>.avsc``."""
    path = VERSIONS / f"TableEvent.{version}.avsc"
    return make_schema_info(path.read_text(encoding="utf-8"), path)


def _event_id_as_int(fields: list[dict]) -> None:
    next(f for f in fields if f["name"] == "event_id")["type"] = "int"


#: A TableEvent writer no reader can resolve: ``event_id`` is an int, the reader wants a string.
INCOMPATIBLE: dict[str, Any] = table_event_version(_event_id_as_int)
