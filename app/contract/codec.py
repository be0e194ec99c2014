"""Avro bytes on the wire to plain dicts and back: single-object encoding and Confluent framing.

``AvroCodec`` is free of Faust so the pure core, the scripts and the tests can use it
(app/streaming/codecs.py registers it with Faust).

Decoding is on the hot path (~50k events/s per worker): everything that depends only on the
writer schema is precomputed once per fingerprint (or registry id) into a reader function,
and a known fingerprint costs one dict lookup before fastavro reads the body.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from io import BytesIO
from typing import Any

from fastavro import schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError
from fastavro.validation import ValidationError, validate

from app.contract.compiled import (
    BodyReader,
    BodyWriter,
    UnsupportedSchema,
    compile_reader,
    compile_writer,
)
from app.contract.errors import DecodeError
from app.contract.registry import RegistryClient, registry_client
from app.contract.schemas import (
    FINGERPRINT_SIZE,
    SINGLE_OBJECT_MAGIC,
    Resolution,
    SchemaCatalog,
    SchemaInfo,
    catalog,
    make_schema_info,
)

#: First byte of the Confluent wire format, followed by a 4-byte big-endian schema id.
CONFLUENT_MAGIC = 0
_SINGLE_HEADER = len(SINGLE_OBJECT_MAGIC) + FINGERPRINT_SIZE
_CONFLUENT_HEADER = 5

#: A function reading one whole message as the reader schema's record.
MessageReader = Callable[[bytes], dict]


@functools.cache
def _compiled(build: Callable[[Any], Any], schema: SchemaInfo) -> Any:
    """``build``'s compiled encoder or decoder of a schema (``app.contract.compiled``), once
    per process; None where the schema needs fastavro's general writer or reader."""
    try:
        return build(schema.parsed)
    except UnsupportedSchema:
        return None


# --- reading bodies -----------------------------------------------------------------------


def _make_reader(resolution: Resolution, offset: int) -> MessageReader:
    """A function reading a whole message whose body starts at ``offset``, as the reader."""
    writer = resolution.writer.parsed
    reader = None if resolution.same else resolution.reader.parsed
    name = resolution.reader.full_name
    fingerprint = resolution.writer.fingerprint_hex
    compiled: BodyReader | None = (
        _compiled(compile_reader, resolution.writer) if resolution.same else None
    )

    def read(data: bytes) -> dict:
        if compiled is not None:
            try:
                record, end = compiled(data, offset)
                if end == len(data):
                    return record
            except Exception:  # strict by design: fastavro reads it or says why not
                pass
        fo = BytesIO(data)
        fo.seek(offset)
        try:
            record = schemaless_reader(fo, writer, reader)
        except Exception as exc:  # fastavro raises many types on bad bytes
            raise _body_error(name, fingerprint, exc) from exc
        if fo.tell() != len(data):
            raise DecodeError(
                "UNDECODABLE",
                f"{len(data) - fo.tell()} trailing byte(s) after the {name} body",
            )
        return record

    return read


#: An object's default repr, e.g. ``<_io.BytesIO object at 0x7fa9…>``, that fastavro puts into
#: some messages ("cannot read boolean from <_io.BytesIO …>").
_OBJECT_REPR = re.compile(r"<[^<>]* object at 0x[0-9a-fA-F]+>")


def _words(exc: Exception) -> str:
    """fastavro's message without memory addresses: a dead letter's reason must be the same
    whenever the same bytes are read, so a replay judges them alike."""
    return _OBJECT_REPR.sub("the body", str(exc))


def _body_error(name: str, fingerprint: str, exc: Exception) -> DecodeError:
    if isinstance(exc, SchemaResolutionError):
        return DecodeError(
            "UNDECODABLE",
            f"writer schema {fingerprint} cannot be read as the current {name}: {_words(exc)}",
        )
    if isinstance(exc, EOFError):
        return DecodeError(
            "UNDECODABLE", f"truncated {name} body: {_words(exc) or 'it ends too early'}"
        )
    return DecodeError("UNDECODABLE", f"malformed {name} body: {type(exc).__name__}: {_words(exc)}")


# --- the codec ----------------------------------------------------------------------------


class AvroCodec:
    """Encode and decode one record type of the contract.

    ``encode`` writes single-object encoding, or the Confluent framing when ``registry_url``
    is set. ``decode`` reads single-object encoding of the current or any registered writer
    version, and the Confluent framing when ``registry_url`` is set. Records are plain dicts
    with timestamps as epoch-millisecond ints.
    """

    def __init__(
        self,
        schema_name: str,
        registry_url: str | None = None,
        *,
        schemas: SchemaCatalog | None = None,
    ) -> None:
        self.schemas = schemas or catalog()
        self.schema: SchemaInfo = self.schemas.get(schema_name)
        self.registry: RegistryClient | None = (
            registry_client(registry_url.rstrip("/")) if registry_url else None
        )
        self._readers: dict[bytes, MessageReader] = {}
        self._readers_by_id: dict[int, MessageReader] = {}
        self._header: bytes | None = None if self.registry else self.schema.header
        self._write: BodyWriter | None = _compiled(compile_writer, self.schema)

    @property
    def name(self) -> str:
        return self.schema.name

    # decoding

    def decode(self, data: bytes) -> dict:
        """The record in ``data``; ``DecodeError`` for anything that is not a valid one."""
        try:
            read = self._readers.get(data[2:_SINGLE_HEADER])
        except TypeError:  # not bytes (e.g. a bytearray or None): the slow path says why
            read = None
        if read is not None and data[:2] == SINGLE_OBJECT_MAGIC:
            return read(data)
        return self._decode_slow(data)

    def _decode_slow(self, data: bytes) -> dict:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise DecodeError("UNDECODABLE", f"expected bytes, got {type(data).__name__}")
        data = bytes(data)
        if data[:2] == SINGLE_OBJECT_MAGIC:
            return self._single_object_reader(data)(data)
        if data[:1] == bytes([CONFLUENT_MAGIC]):
            return self._confluent_reader(data)(data)
        if not data:
            raise DecodeError("UNDECODABLE", f"empty message where a {self._full} was expected")
        raise DecodeError(
            "UNDECODABLE",
            f"not an Avro {self._full} message: starts with {data[:2].hex()}, expected "
            f"c301 (single-object){' or 00 (Confluent)' if self.registry else ''}",
        )

    @property
    def _full(self) -> str:
        return self.schema.full_name

    def _single_object_reader(self, data: bytes) -> MessageReader:
        if len(data) < _SINGLE_HEADER:
            raise DecodeError(
                "UNDECODABLE", f"truncated single-object header: {len(data)} of 10 bytes"
            )
        fingerprint = data[2:_SINGLE_HEADER]
        resolution = self.schemas.resolve(fingerprint)
        if resolution is None:
            raise DecodeError(
                "UNKNOWN_SCHEMA",
                f"unknown schema fingerprint {fingerprint.hex()} (expected {self._full}, "
                f"current fingerprint {self.schema.fingerprint_hex})",
            )
        self._check_record_type(resolution.reader, f"fingerprint {fingerprint.hex()}")
        read = _make_reader(resolution, _SINGLE_HEADER)
        self._readers[fingerprint] = read
        return read

    def _confluent_reader(self, data: bytes) -> MessageReader:
        if self.registry is None:
            raise DecodeError(
                "UNKNOWN_SCHEMA",
                "Confluent-framed message (magic byte 00) but no schema registry is configured "
                "(set PITBOSS_SCHEMA_REGISTRY_URL)",
            )
        if len(data) < _CONFLUENT_HEADER:
            raise DecodeError("UNDECODABLE", f"truncated Confluent header: {len(data)} of 5 bytes")
        schema_id = int.from_bytes(data[1:_CONFLUENT_HEADER], "big")
        read = self._readers_by_id.get(schema_id)
        if read is None:
            read = self._reader_for_id(schema_id)
        return read

    def _reader_for_id(self, schema_id: int) -> MessageReader:
        assert self.registry is not None
        text = self.registry.schema_text(schema_id)
        if text is None:
            raise DecodeError(
                "UNKNOWN_SCHEMA",
                f"schema id {schema_id} is not in the registry at {self.registry.url}",
            )
        try:
            writer = make_schema_info(text)
        except ValueError as exc:
            raise DecodeError("UNKNOWN_SCHEMA", f"schema id {schema_id}: {exc}") from exc
        self._check_record_type(writer, f"schema id {schema_id}")
        resolution = self.schemas.register_writer(writer, self._full)
        read = _make_reader(resolution, _CONFLUENT_HEADER)
        self._readers_by_id[schema_id] = read
        return read

    def _check_record_type(self, found: SchemaInfo, where: str) -> None:
        if found.full_name != self._full:
            raise DecodeError(
                "INVALID", f"{where} is a {found.full_name}, not the expected {self._full}"
            )

    # encoding

    def encode(self, record: Mapping[str, Any]) -> bytes:
        """``record`` as Avro bytes; ``ValueError`` naming the type and field if it is invalid."""
        header = self._header or self._registry_header()
        if self._write is not None:
            try:
                return header + self._write(record)
            except Exception:  # strict by design: fastavro encodes it or says why not
                pass
        fo = BytesIO()
        fo.write(header)
        try:
            schemaless_writer(fo, self.schema.parsed, record)
        except Exception as exc:  # fastavro raises TypeError, ValueError, OverflowError, ...
            raise ValueError(self._invalid_record_message(record, exc)) from exc
        return fo.getvalue()

    def _registry_header(self) -> bytes:
        assert self.registry is not None
        schema_id = self.registry.register(self._full, self.schema.schema_text)
        self._readers_by_id.setdefault(
            schema_id, _make_reader(Resolution(self.schema, self.schema), _CONFLUENT_HEADER)
        )
        self._header = bytes([CONFLUENT_MAGIC]) + schema_id.to_bytes(4, "big")
        return self._header

    def _invalid_record_message(self, record: Any, exc: Exception) -> str:
        prefix = f"invalid {self._full} record"
        if not isinstance(record, Mapping):
            return f"{prefix}: expected a dict, got {type(record).__name__}"
        try:
            validate(record, self.schema.parsed, raise_errors=True)
        except ValidationError as verr:
            problems = "; ".join(
                f"{e.field}: got {e.datum!r} ({type(e.datum).__name__}), "
                f"expected {_type_label(e.schema)}"
                for e in verr.errors
            )
            return f"{prefix}: {problems}"
        except Exception:  # validation itself failed: fall back to the writer's message
            pass
        return f"{prefix}: {exc}"


def _type_label(schema: Any) -> str:
    """A short human name for a (parsed) schema in an error message."""
    if isinstance(schema, str):
        return schema
    if isinstance(schema, list):
        return " or ".join(_type_label(s) for s in schema)
    if schema.get("type") == "enum":
        return f"one of {schema['symbols']}"
    return str(schema.get("name") or schema.get("type"))
