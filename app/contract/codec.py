"""Avro bytes on the wire to plain dicts and back: single-object encoding and Confluent framing.

``AvroCodec`` is free of Faust so the pure core, the scripts and the tests can use it; the
Faust codec and ``register_faust_codecs`` at the bottom import Faust only when called.

Decoding is on the hot path (~50k events/s per worker): everything that depends only on the
writer schema is precomputed once per fingerprint (or registry id) into a reader function,
and a known fingerprint costs one dict lookup before fastavro reads the body.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from io import BytesIO
from typing import Any

from fastavro import schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError
from fastavro.validation import ValidationError, validate

from app.contract.compiled import Reader as CompiledReader
from app.contract.compiled import UnsupportedSchema, Writer, compile_reader, compile_writer
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
_REGISTRY_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"

Reader = Callable[[bytes], dict]


class DecodeError(ValueError):
    """Bytes that cannot be turned into the expected record.

    ``error`` is the ``DeadLetterError`` symbol the dead-letter record carries:
    ``UNDECODABLE`` (bad framing or body), ``UNKNOWN_SCHEMA`` (fingerprint or registry id
    not known) or ``INVALID`` (a well-formed message of another record type).
    """

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


class SchemaRegistryError(RuntimeError):
    """The schema registry could not be reached or answered unexpectedly.

    Deliberately not a ``DecodeError``: the message may be fine, so the caller should retry
    rather than dead-letter it.
    """


# --- Confluent-compatible schema registry -------------------------------------------------


class RegistryClient:
    """The two endpoints of a Confluent-compatible registry that the codec needs, cached.

    Blocking urllib calls, made once per schema id or subject per process.
    """

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        parts = urllib.parse.urlsplit(url.rstrip("/"))
        self._auth: str | None = None
        if parts.username is not None:
            creds = f"{urllib.parse.unquote(parts.username)}:"
            creds += urllib.parse.unquote(parts.password or "")
            self._auth = "Basic " + base64.b64encode(creds.encode()).decode()
            parts = parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else ""))
        self.url = urllib.parse.urlunsplit(parts)
        self.timeout = timeout
        self._schemas: dict[int, str] = {}
        self._ids: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def _call(self, method: str, path: str, body: dict | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Accept", _REGISTRY_CONTENT_TYPE)
        if data is not None:
            request.add_header("Content-Type", _REGISTRY_CONTENT_TYPE)
        if self._auth:
            request.add_header("Authorization", self._auth)
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return json.loads(response.read())

    def schema_text(self, schema_id: int) -> str | None:
        """The Avro schema text registered under ``schema_id``, or None if there is none."""
        with self._lock:
            if schema_id in self._schemas:
                return self._schemas[schema_id]
        try:
            answer = self._call("GET", f"/schemas/ids/{schema_id}")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise SchemaRegistryError(f"registry {self.url}: schema id {schema_id}: {exc}") from exc
        except (OSError, ValueError) as exc:
            raise SchemaRegistryError(f"registry {self.url}: schema id {schema_id}: {exc}") from exc
        schema_type = answer.get("schemaType", "AVRO")
        if schema_type != "AVRO":
            raise DecodeError(
                "UNKNOWN_SCHEMA", f"schema id {schema_id} is a {schema_type} schema, not Avro"
            )
        with self._lock:
            self._schemas[schema_id] = answer["schema"]
        return answer["schema"]

    def register(self, subject: str, schema_text: str) -> int:
        """Register ``schema_text`` under ``subject`` (idempotent in the registry) → its id."""
        key = (subject, schema_text)
        with self._lock:
            if key in self._ids:
                return self._ids[key]
        path = f"/subjects/{urllib.parse.quote(subject, safe='')}/versions"
        try:
            schema_id = int(self._call("POST", path, {"schema": schema_text})["id"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SchemaRegistryError(f"registry {self.url}: register {subject}: {exc}") from exc
        with self._lock:
            self._ids[key] = schema_id
            self._schemas[schema_id] = schema_text
        return schema_id


@functools.cache
def _compiled(build: Callable[[Any], Any], schema: SchemaInfo) -> Any:
    """``build``'s compiled encoder or decoder of a schema (``app.contract.compiled``), once
    per process; None where the schema needs fastavro's general writer or reader."""
    try:
        return build(schema.parsed)
    except UnsupportedSchema:
        return None


@functools.cache
def registry_client(url: str) -> RegistryClient:
    """One client (and so one cache) per registry URL per process."""
    return RegistryClient(url)


# --- reading bodies -----------------------------------------------------------------------


def _make_reader(resolution: Resolution, offset: int) -> Reader:
    """A function reading a whole message whose body starts at ``offset``, as the reader."""
    writer = resolution.writer.parsed
    reader = None if resolution.same else resolution.reader.parsed
    name = resolution.reader.full_name
    fingerprint = resolution.writer.fingerprint_hex
    compiled: CompiledReader | None = (
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


def _body_error(name: str, fingerprint: str, exc: Exception) -> DecodeError:
    if isinstance(exc, SchemaResolutionError):
        return DecodeError(
            "UNDECODABLE",
            f"writer schema {fingerprint} cannot be read as the current {name}: {exc}",
        )
    if isinstance(exc, EOFError):
        return DecodeError("UNDECODABLE", f"truncated {name} body: {exc}")
    return DecodeError("UNDECODABLE", f"malformed {name} body: {type(exc).__name__}: {exc}")


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
        self._readers: dict[bytes, Reader] = {}
        self._readers_by_id: dict[int, Reader] = {}
        self._header: bytes | None = None if self.registry else self.schema.header
        self._write: Writer | None = _compiled(compile_writer, self.schema)

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

    def _single_object_reader(self, data: bytes) -> Reader:
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

    def _confluent_reader(self, data: bytes) -> Reader:
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

    def _reader_for_id(self, schema_id: int) -> Reader:
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


def benchmark_decode(number: int = 100_000) -> float:
    """Microseconds per ``decode`` of a typical BET_SETTLED TableEvent (for the README)."""
    import timeit

    codec = AvroCodec("TableEvent")
    data = codec.encode(SAMPLE_BET_SETTLED)
    decode = codec.decode
    decode(data)
    return min(timeit.repeat(lambda: decode(data), number=number, repeat=3)) / number * 1e6


#: A typical event, for the benchmark and as an example for studios.
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


# --- Faust integration (imports Faust lazily) ---------------------------------------------


def _to_record(obj: Any) -> Any:
    """A dict from a dict or JSON text: ``faust send`` passes the value as a string."""
    if isinstance(obj, bytes | bytearray | memoryview):
        obj = bytes(obj).decode("utf-8")
    if isinstance(obj, str):
        try:
            obj = json.loads(obj)
        except json.JSONDecodeError as exc:
            raise ValueError(f"expected a dict or JSON object text: {exc}") from exc
    return obj


@functools.cache
def faust_codec_class() -> type:
    """The Faust ``Codec`` subclass wrapping ``AvroCodec`` (built on first use)."""
    from faust.serializers.codecs import Codec

    class FaustAvroCodec(Codec):
        """Faust codec for one contract record: dict or JSON text in, Avro bytes out."""

        def __init__(
            self, schema_name: str, registry_url: str | None = None, **kwargs: Any
        ) -> None:
            super().__init__(schema_name=schema_name, registry_url=registry_url, **kwargs)
            self.avro = AvroCodec(schema_name, registry_url)

        def _dumps(self, obj: Any) -> bytes:
            return self.avro.encode(_to_record(obj))

        def _loads(self, s: bytes) -> Any:
            return self.avro.decode(s)

    return FaustAvroCodec


def faust_codec_name(schema_name: str) -> str:
    """The Faust serializer name of a record type, e.g. ``avro.TableEvent``."""
    return f"avro.{catalog().get(schema_name).name}"


def register_faust_codecs(registry_url: str | None = None) -> dict[str, Any]:
    """Register ``avro.<Record>`` Faust codecs for every contract schema; safe to call again.

    A codec already registered with the same registry URL is kept, so codecs handed out
    earlier stay in use; a different URL replaces it.
    """
    from faust.serializers import codecs as faust_codecs

    cls = faust_codec_class()
    registered: dict[str, Any] = {}
    for info in catalog():
        name = faust_codec_name(info.name)
        existing = faust_codecs.codecs.get(name)
        if not (
            isinstance(existing, cls)
            and not existing.children
            and existing.kwargs.get("registry_url") == (registry_url or None)
        ):
            existing = cls(schema_name=info.name, registry_url=registry_url or None)
            faust_codecs.register(name, existing)
        registered[name] = existing
    return registered
