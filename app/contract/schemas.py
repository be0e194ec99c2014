"""The Avro schemas of the wire contract, loaded once from ``schemas/*.avsc``.

Every record type is known by its short name (``TableEvent``), its full name
(``pitboss.TableEvent``) and the CRC-64-AVRO fingerprint of its Parsing Canonical Form,
which is what single-object encoding puts on the wire. Older and newer *writer* versions
of a record can be registered so that their bytes resolve to the current *reader* schema.

Records in memory carry timestamps as plain ints (epoch milliseconds): decoding and encoding
use a copy of each schema with ``logicalType`` stripped, because converting to and from
``datetime`` costs more than the rest of the decode. The canonical form ignores logical
types, so fingerprints are the same either way.

No Faust here: the pure core, the scripts and the tests use this module directly.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastavro import parse_schema

from app.settings import PROJECT_ROOT

SCHEMA_DIR = PROJECT_ROOT / "schemas"
#: Under a schema directory: other writer versions of its records (``TableEvent.v0.avsc``).
VERSIONS_SUBDIR = "versions"
#: More directories of writer versions (``os.pathsep``-separated), e.g. mounted per deployment.
VERSIONS_ENV = "PITBOSS_SCHEMA_VERSIONS_DIR"
#: The two bytes that open an Avro single-object encoded message.
SINGLE_OBJECT_MAGIC = b"\xc3\x01"
FINGERPRINT_SIZE = 8

_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_NAMED = frozenset({"record", "error", "enum", "fixed"})


# --- fingerprints -------------------------------------------------------------------------


def _crc64_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        fp = byte
        for _ in range(8):
            fp = (fp >> 1) ^ (_CRC64_EMPTY & -(fp & 1))
        table.append(fp)
    return tuple(table)


_CRC64_EMPTY = 0xC15D213AA4D7A795
_CRC64_TABLE = _crc64_table()


def crc64_avro(data: bytes) -> bytes:
    """The spec's 64-bit Rabin fingerprint of ``data``, as 8 little-endian bytes.

    Little-endian is what the Java reference implementation (and so every studio's
    single-object encoder) writes after ``C3 01``.
    """
    fp = _CRC64_EMPTY
    table = _CRC64_TABLE
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp.to_bytes(FINGERPRINT_SIZE, "little")


# --- parsing canonical form ---------------------------------------------------------------


def parsing_canonical_form(schema: Any, *, python_avro_quirk: bool = False) -> str:
    """The Parsing Canonical Form of a schema given as parsed JSON (spec section of that name).

    ``python_avro_quirk`` reproduces Apache ``avro`` for Python (1.12), which writes a
    primitive carrying extra attributes (e.g. ``logicalType``) as ``{"type":"long"}`` instead
    of ``"long"``, so its fingerprints differ from Java's and fastavro's. We accept that
    fingerprint too, so studios on the Python library are not rejected.
    """
    canonical = _canonical(schema, "", set(), python_avro_quirk)
    return json.dumps(canonical, separators=(",", ":"), ensure_ascii=False)


def _full_name(name: str, namespace: str) -> str:
    if "." in name or not namespace:
        return name
    return f"{namespace}.{name}"


def _canonical(schema: Any, namespace: str, seen: set[str], quirk: bool) -> Any:
    if isinstance(schema, str):
        return schema if schema in _PRIMITIVES else _full_name(schema, namespace)
    if isinstance(schema, list):
        return [_canonical(branch, namespace, seen, quirk) for branch in schema]
    kind = schema["type"]
    if kind in _PRIMITIVES:
        return {"type": kind} if quirk and len(schema) > 1 else kind
    if kind in _NAMED:
        return _canonical_named(schema, namespace, seen, quirk)
    if kind == "array":
        return {"type": "array", "items": _canonical(schema["items"], namespace, seen, quirk)}
    if kind == "map":
        return {"type": "map", "values": _canonical(schema["values"], namespace, seen, quirk)}
    # {"type": "SomeName"} or {"type": {...}}: a wrapper around another schema.
    return _canonical(kind, namespace, seen, quirk)


def _canonical_named(schema: Mapping[str, Any], namespace: str, seen: set[str], quirk: bool):
    full = _full_name(schema["name"], schema.get("namespace", namespace))
    if full in seen:
        return full
    seen.add(full)
    kind = schema["type"]
    out: dict[str, Any] = {"name": full, "type": kind}
    if kind in ("record", "error"):
        inner = full.rpartition(".")[0]
        out["fields"] = [
            {"name": f["name"], "type": _canonical(f["type"], inner, seen, quirk)}
            for f in schema["fields"]
        ]
    elif kind == "enum":
        out["symbols"] = list(schema["symbols"])
    else:
        out["size"] = int(schema["size"])
    return out


def strip_logical_types(schema: Any) -> Any:
    """A deep copy of ``schema`` without ``logicalType`` attributes (timestamps stay ints)."""
    if isinstance(schema, dict):
        return {k: strip_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [strip_logical_types(v) for v in schema]
    return schema


# --- schema info and the catalog ----------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class SchemaInfo:
    """One version of one record schema, with everything the codec needs precomputed."""

    #: Short record name, e.g. ``TableEvent``.
    name: str
    #: Full record name, e.g. ``pitboss.TableEvent``; also the registry subject.
    full_name: str
    #: The schema JSON as written (docs, defaults and logical types kept).
    source: Mapping[str, Any]
    #: fastavro-parsed schema with logical types stripped: what encode/decode use.
    parsed: Any
    canonical_form: str
    #: 8-byte little-endian CRC-64-AVRO of ``canonical_form``.
    fingerprint: bytes
    #: Where the schema came from, if a file.
    path: Path | None = None

    @property
    def fingerprint_hex(self) -> str:
        return self.fingerprint.hex()

    @property
    def header(self) -> bytes:
        """The 10-byte single-object header: ``C3 01`` + fingerprint."""
        return SINGLE_OBJECT_MAGIC + self.fingerprint

    @property
    def schema_text(self) -> str:
        """The schema as compact JSON, as registered with a schema registry."""
        return json.dumps(self.source, separators=(",", ":"), ensure_ascii=False)


def make_schema_info(source: Mapping[str, Any] | str, path: Path | None = None) -> SchemaInfo:
    """Parse and fingerprint one record schema given as JSON text or parsed JSON.

    Raises ``ValueError`` when it is not a valid Avro record schema.
    """
    if isinstance(source, str):
        try:
            source = json.loads(source)
        except json.JSONDecodeError as exc:
            raise ValueError(f"schema is not valid JSON: {exc}") from exc
    if not isinstance(source, Mapping) or source.get("type") not in ("record", "error"):
        raise ValueError("a wire schema must be an Avro record")
    try:
        # A fresh name space per schema: TableEvent and Reward both define pitboss.Game.
        parsed = parse_schema(strip_logical_types(dict(source)), named_schemas={})
    except Exception as exc:  # fastavro raises several types for a bad schema
        raise ValueError(f"invalid Avro schema {source.get('name')!r}: {exc}") from exc
    full_name = parsed["name"]
    canonical = parsing_canonical_form(source)
    return SchemaInfo(
        name=full_name.rpartition(".")[2],
        full_name=full_name,
        source=source,
        parsed=parsed,
        canonical_form=canonical,
        fingerprint=crc64_avro(canonical.encode()),
        path=path,
    )


@dataclass(frozen=True, slots=True, eq=False)
class Resolution:
    """How to read bytes written with ``writer``: as ``reader`` (the current version)."""

    writer: SchemaInfo
    reader: SchemaInfo

    @property
    def same(self) -> bool:
        """True when no schema resolution is needed (the fast path)."""
        return self.writer.fingerprint == self.reader.fingerprint


class SchemaCatalog:
    """Current schemas by name, and every known writer version by fingerprint.

    Thread-safe for registration; lookups are plain dict reads.
    """

    def __init__(self, schemas: Iterable[SchemaInfo]) -> None:
        self._by_name: dict[str, SchemaInfo] = {}
        self._by_fingerprint: dict[bytes, Resolution] = {}
        self._lock = threading.Lock()
        for info in schemas:
            if info.full_name in self._by_name:
                raise ValueError(f"schema {info.full_name} is defined twice")
            self._by_name[info.full_name] = info
            self._by_name.setdefault(info.name, info)
            self._add(info, info)

    def _add(self, writer: SchemaInfo, reader: SchemaInfo) -> Resolution:
        resolution = Resolution(writer, reader)
        self._by_fingerprint[writer.fingerprint] = resolution
        quirk = crc64_avro(parsing_canonical_form(writer.source, python_avro_quirk=True).encode())
        self._by_fingerprint.setdefault(quirk, resolution)
        return resolution

    def __iter__(self) -> Iterator[SchemaInfo]:
        return iter({info.full_name: info for info in self._by_name.values()}.values())

    def names(self) -> list[str]:
        """Short names of the current schemas, e.g. ``["CoolDown", ...]``."""
        return sorted(info.name for info in self)

    def get(self, name: str) -> SchemaInfo:
        """The current schema by short or full name; ``KeyError`` listing the known ones."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"unknown schema {name!r}; known: {', '.join(self.names())}") from None

    def resolve(self, fingerprint: bytes) -> Resolution | None:
        """The writer schema with this fingerprint and the reader to read it as, if known."""
        return self._by_fingerprint.get(bytes(fingerprint))

    def register_writer(
        self, schema: Mapping[str, Any] | str | SchemaInfo, reader: str | None = None
    ) -> Resolution:
        """Make another version of a record readable, by its fingerprint, as the current one.

        ``reader`` defaults to the current schema with the writer's full name. Compatibility
        is checked when data is read (Avro resolution is per datum); an incompatible writer
        makes every decode of its bytes fail with a clear reason.
        """
        writer = schema if isinstance(schema, SchemaInfo) else make_schema_info(schema)
        target = self.get(reader or writer.full_name)
        with self._lock:
            known = self._by_fingerprint.get(writer.fingerprint)
            if known is not None and known.writer.fingerprint == writer.fingerprint:
                if known.reader is not target:
                    raise ValueError(
                        f"writer schema {writer.fingerprint_hex} is already read as "
                        f"{known.reader.full_name}, not {target.full_name}"
                    )
                return known
            return self._add(writer, target)


def load_schemas(
    directory: Path = SCHEMA_DIR, extra_versions: Iterable[Path] = ()
) -> SchemaCatalog:
    """Read every ``*.avsc`` in ``directory`` into a new catalog, then register every
    ``*.avsc`` in ``directory/versions`` and in ``extra_versions`` as another writer version
    of the record it names (see ``schemas/versions/README.md``).

    Single-object encoding names the writer only by fingerprint, so a worker can read an
    older or newer studio's bytes only if it knows that writer schema in advance.
    """
    infos = [_read_schema(path) for path in sorted(directory.glob("*.avsc"))]
    if not infos:
        raise FileNotFoundError(f"no *.avsc schemas in {directory}")
    schemas = SchemaCatalog(infos)
    extras = [Path(extra) for extra in extra_versions]
    for extra in extras:
        if not extra.is_dir():  # a mistyped mount must not silently drop writer versions
            raise FileNotFoundError(f"no writer versions directory {extra}")
    for versions in (directory / VERSIONS_SUBDIR, *extras):
        for path in sorted(versions.glob("*.avsc")):
            writer = _read_schema(path)
            try:
                schemas.register_writer(writer)
            except (KeyError, ValueError) as exc:  # KeyError: it names no current record
                raise ValueError(f"{path}: {exc.args[0]}") from exc
    return schemas


def _read_schema(path: Path) -> SchemaInfo:
    try:
        return make_schema_info(path.read_text(encoding="utf-8"), path)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


@functools.cache
def catalog() -> SchemaCatalog:
    """The process-wide catalog of ``schemas/`` (with ``schemas/versions/`` and the
    directories in ``PITBOSS_SCHEMA_VERSIONS_DIR``), loaded on first use."""
    extra = os.environ.get(VERSIONS_ENV, "")
    return load_schemas(extra_versions=[Path(d) for d in extra.split(os.pathsep) if d])


def get_schema(name: str) -> SchemaInfo:
    """The current schema by short or full name (``TableEvent`` or ``pitboss.TableEvent``)."""
    return catalog().get(name)
