"""Avro binary encoding and decoding compiled from a schema into Python code, for the
hot path.

fastavro pays a Python-level call per field (about 0.4 µs for a string, 1 µs for a
nullable one): decoding each table event and encoding the two or three records a bet
makes (reward, journal entry...) were the largest costs of a worker. ``compile_writer``
and ``compile_reader`` turn a parsed schema into straight-line code per record type: no
per-field dispatch, no per-call schema checks.

Both are strict where fastavro is lenient, and ``app.contract.codec.AvroCodec`` falls back to
fastavro whenever they refuse: the writer refuses a value of another Python type than
the schema's type maps to, a missing field (even one with a default), an int out of
range or an unknown enum symbol; the reader refuses anything but well-formed bytes of
exactly its schema. fastavro then either accepts the input or says what is wrong with it,
so the bytes and records never differ, only the speed
(tests/unit/contract/test_avro_compiled.py checks both against fastavro, on valid records and
on garbage).
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Mapping
from typing import Any

#: a compiled writer: the record in, its Avro body (no framing) out
BodyWriter = Callable[[Mapping[str, Any]], bytes]
#: a compiled reader: (message, where its body starts) in, (record, where it ended) out
BodyReader = Callable[[bytes, int], tuple[dict, int]]

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
_SMALL = [bytes([n]) for n in range(128)]


class UnsupportedSchema(ValueError):
    """A schema construct the compilers leave to fastavro (fixed; for the writer, unions of
    several non-null types; for the reader, recursive records)."""


def zigzag(n: int) -> bytes:
    """Avro's variable-length zig-zag encoding of a long."""
    if 0 <= n < 64:
        return _SMALL[n << 1]
    return _zigzag_large(n)


@functools.lru_cache(maxsize=8192)
def _zigzag_large(n: int) -> bytes:
    """Cached: a batch's records share their timestamps (its clock, their events' times)."""
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n > 127:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _wrong(value: Any, kind: str) -> TypeError:
    return TypeError(f"{value!r} is not an Avro {kind}")


class _Source:
    """What both compilers share: fresh local names, constants, and named types (records,
    enums) remembered where first defined, for the later references to them by name."""

    def __init__(self) -> None:
        self.constants: dict[str, Any] = {}
        self.named: dict[str, Mapping[str, Any]] = {}
        self.counter = 0

    def name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def constant(self, value: Any, prefix: str = "c") -> str:
        name = self.name(prefix)
        self.constants[name] = value
        return name

    def resolve(self, schema: Any) -> tuple[str, Any]:
        """(type name, its schema) of a field type; named types looked up or remembered."""
        while True:
            if isinstance(schema, list):
                return "union", schema
            if isinstance(schema, str):
                if schema in self.named:
                    schema = self.named[schema]
                    continue
                return schema, schema
            kind = schema["type"]
            if isinstance(kind, (dict, list)):  # {"type": {...}}: a nested declaration
                schema = kind
                continue
            if "name" in schema:
                self.named.setdefault(schema["name"], schema)
            return kind, schema

    def build(self, source: str, title: str, names: Mapping[str, Any]) -> dict[str, Any]:
        namespace = {"zigzag": zigzag, **names, **self.constants}
        exec(compile(source, f"<avro {title}>", "exec"), namespace)
        return namespace


# -- the writer ----------------------------------------------------------------------------


class _WriterCompiler(_Source):
    """One function per named record, appending each field's bytes through ``w``."""

    def __init__(self) -> None:
        super().__init__()
        self.functions: dict[str, str] = {}

    def record(self, schema: Mapping[str, Any]) -> str:
        """The function writing records of ``schema``; compiled once per record name."""
        self.named.setdefault(schema["name"], schema)
        fn = "w_" + schema["name"].replace(".", "_")
        if fn in self.functions:
            return fn
        self.functions[fn] = ""  # a placeholder: recursive references find it
        lines = [f"def {fn}(r, w):"]
        for field in schema["fields"]:
            var = self.name("v")
            lines.append(f"    {var} = r[{field['name']!r}]")
            lines.extend(self.value(field["type"], var, "    "))
        if len(lines) == 1:
            lines.append("    pass")
        self.functions[fn] = "\n".join(lines)
        return fn

    def value(self, schema: Any, var: str, indent: str) -> list[str]:
        """Lines appending the encoding of ``var`` (of type ``schema``) through ``w``."""
        kind, schema = self.resolve(schema)
        if kind == "union":
            return self.union(schema, var, indent)
        i = indent
        if kind == "null":
            return [f"{i}if {var} is not None: raise TypeError('not null')"]
        if kind == "boolean":
            return [
                f"{i}if type({var}) is not bool: raise _wrong({var}, 'boolean')",
                f"{i}w(b'\\x01' if {var} else b'\\x00')",
            ]
        if kind in ("int", "long"):
            low, high = (_INT_MIN, _INT_MAX) if kind == "int" else (_LONG_MIN, _LONG_MAX)
            return [
                f"{i}if type({var}) is not int or not {low} <= {var} <= {high}:",
                f"{i}    raise _wrong({var}, {kind!r})",
                f"{i}w(zigzag({var}))",
            ]
        if kind in ("float", "double"):
            return [
                f"{i}if type({var}) is not float and type({var}) is not int:",
                f"{i}    raise _wrong({var}, {kind!r})",
                f"{i}w(_pack_{kind}({var}))",
            ]
        if kind == "string":
            b, n = self.name("b"), self.name("n")
            return [
                f"{i}{b} = {var}.encode()",
                f"{i}{n} = len({b})",
                f"{i}w(_LENGTH[{n}] if {n} < 64 else zigzag({n}))",  # a call saved per string
                f"{i}w({b})",
            ]
        if kind == "bytes":
            return [
                f"{i}if type({var}) is not bytes: raise _wrong({var}, 'bytes')",
                f"{i}w(zigzag(len({var})))",
                f"{i}w({var})",
            ]
        if kind == "enum":
            table = self.constant({s: zigzag(n) for n, s in enumerate(schema["symbols"])}, "e")
            return [f"{i}w({table}[{var}])"]
        if kind == "array":
            item = self.name("x")
            return self.blocks(
                var,
                f"type({var}) is not list and type({var}) is not tuple",
                f"for {item} in {var}:",
                self.value(schema["items"], item, i + "        "),
                i,
            )
        if kind == "map":
            key, item = self.name("k"), self.name("x")
            return self.blocks(
                var,
                f"type({var}) is not dict",
                f"for {key}, {item} in {var}.items():",
                [
                    *self.value("string", key, i + "        "),
                    *self.value(schema["values"], item, i + "        "),
                ],
                i,
            )
        if kind == "record" or kind == "error":
            return [f"{i}{self.record(schema)}({var}, w)"]
        raise UnsupportedSchema(f"no compiled writer for Avro type {kind!r}")

    def blocks(self, var: str, wrong: str, loop: str, body: list[str], i: str) -> list[str]:
        """An array or a map: one block of all its items, then the zero count that ends it
        (``wrong``: the test that ``var`` is not of the Python type the schema maps to)."""
        return [
            f"{i}if {wrong}: raise _wrong({var}, 'array or map')",
            f"{i}if {var}:",
            f"{i}    w(zigzag(len({var})))",
            f"{i}    {loop}",
            *body,
            f"{i}w(b'\\x00')",
        ]

    def union(self, branches: list, var: str, indent: str) -> list[str]:
        others = [b for b in branches if b != "null"]
        if len(others) != 1 or len(branches) > 2:
            raise UnsupportedSchema(f"no compiled writer for the union {branches!r}")
        null_index, other_index = (0, 1) if branches[0] == "null" else (1, 0)
        if len(branches) == 1:
            return [f"{indent}w(b'\\x00')", *self.value(others[0], var, indent)]
        return [
            f"{indent}if {var} is None:",
            f"{indent}    w({zigzag(null_index)!r})",
            f"{indent}else:",
            f"{indent}    w({zigzag(other_index)!r})",
            *self.value(others[0], var, indent + "    "),
        ]


def compile_writer(parsed: Mapping[str, Any]) -> BodyWriter:
    """The encoder of the record schema ``parsed`` (as fastavro's ``parse_schema`` gives
    it: named types expanded where first used); ``UnsupportedSchema`` if it uses a type
    the compiler leaves to fastavro."""
    compiler = _WriterCompiler()
    top = compiler.record(parsed)
    namespace = compiler.build(
        "\n\n".join(compiler.functions.values()),
        f"writer {parsed['name']}",
        {
            "_wrong": _wrong,
            "_LENGTH": [zigzag(n) for n in range(64)],
            "_pack_float": struct.Struct("<f").pack,
            "_pack_double": struct.Struct("<d").pack,
        },
    )
    write_record = namespace[top]

    def write(record: Mapping[str, Any]) -> bytes:
        parts: list[bytes] = []
        write_record(record, parts.append)
        return b"".join(parts)

    return write


# -- the reader ----------------------------------------------------------------------------


def _read_long(d: bytes, p: int) -> tuple[int, int]:
    """A zig-zag varint of more than one byte at ``p``: (value, position after it)."""
    b = d[p]
    n, shift = b & 0x7F, 7
    while b & 0x80:
        p += 1
        b = d[p]
        n |= (b & 0x7F) << shift
        shift += 7
        if shift > 70:
            raise ValueError("a varint longer than 10 bytes")
    if n >> 64:
        raise ValueError("a varint beyond 64 bits")
    return (n >> 1) ^ -(n & 1), p + 1


class _ReaderCompiler(_Source):
    """One function, every record inlined, reading ``d`` from ``p`` into local names."""

    def __init__(self) -> None:
        super().__init__()
        self.inlining: set[str] = set()  # the records being inlined: a recursion guard

    def varint(self, target: str, i: str) -> list[str]:
        b = self.name("b")
        return [
            f"{i}{b} = d[p]",
            f"{i}if {b} < 128:",
            f"{i}    {target} = ({b} >> 1) ^ -({b} & 1)",
            f"{i}    p += 1",
            f"{i}else:",
            f"{i}    {target}, p = _read_long(d, p)",
        ]

    def sized(self, target: str, i: str, decode: bool) -> list[str]:
        n = self.name("n")
        return [
            *self.varint(n, i),
            f"{i}if {n} < 0 or p + {n} > size: raise ValueError('a length beyond the data')",
            f"{i}{target} = d[p : p + {n}]{'.decode()' if decode else ''}",
            f"{i}p += {n}",
        ]

    def value(self, schema: Any, target: str, i: str) -> list[str]:
        """Lines reading one value of type ``schema`` into the local name ``target``."""
        kind, schema = self.resolve(schema)
        if kind == "null":
            return [f"{i}{target} = None"]
        if kind == "boolean":
            return [
                f"{i}{target} = d[p]",
                f"{i}if {target} > 1: raise ValueError('a boolean byte above 1')",
                f"{i}{target} = {target} == 1",
                f"{i}p += 1",
            ]
        if kind in ("int", "long"):
            return self.varint(target, i)
        if kind in ("float", "double"):
            width = 4 if kind == "float" else 8
            return [f"{i}{target} = _unpack_{kind}(d, p)[0]", f"{i}p += {width}"]
        if kind in ("string", "bytes"):
            return self.sized(target, i, decode=kind == "string")
        if kind == "enum":
            symbols = self.constant(tuple(schema["symbols"]), "e")
            n = self.name("n")
            return [
                *self.varint(n, i),
                f"{i}if not 0 <= {n} < {len(schema['symbols'])}:",
                f"{i}    raise ValueError('an enum index out of range')",
                f"{i}{target} = {symbols}[{n}]",
            ]
        if kind in ("array", "map"):
            return self.blocks(kind, schema, target, i)
        if kind == "union":
            index = self.name("u")
            lines = self.varint(index, i)
            for n, branch in enumerate(schema):
                lines.append(f"{i}{'if' if n == 0 else 'elif'} {index} == {n}:")
                lines.extend(self.value(branch, target, i + "    "))
            lines.append(f"{i}else: raise ValueError('a union index out of range')")
            return lines
        if kind in ("record", "error"):
            return self.record(schema, target, i)
        raise UnsupportedSchema(f"no compiled reader for Avro type {kind!r}")

    def blocks(self, kind: str, schema: Mapping[str, Any], target: str, i: str) -> list[str]:
        """An array or map: blocks of items, each a count (negative: a byte size follows)
        until a zero count. A count above the bytes left cannot be real data."""
        count, skip, item = self.name("c"), self.name("s"), self.name("x")
        j = i + "        "
        if kind == "array":
            body = [*self.value(schema["items"], item, j), f"{j}{target}.append({item})"]
        else:
            key = self.name("k")
            body = [
                *self.sized(key, j, decode=True),
                *self.value(schema["values"], item, j),
                f"{j}{target}[{key}] = {item}",
            ]
        return [
            f"{i}{target} = {'[]' if kind == 'array' else '{}'}",
            f"{i}while True:",
            *self.varint(count, i + "    "),
            f"{i}    if {count} == 0: break",
            f"{i}    if {count} < 0:",
            f"{i}        {count} = -{count}",
            *self.varint(skip, i + "        "),
            f"{i}    if {count} > size - p: raise ValueError('a count beyond the data')",
            f"{i}    for _ in range({count}):",
            *body,
        ]

    def record(self, schema: Mapping[str, Any], target: str, i: str) -> list[str]:
        name = schema["name"]
        self.named.setdefault(name, schema)
        if name in self.inlining:
            raise UnsupportedSchema(f"no compiled reader for the recursive record {name}")
        self.inlining.add(name)
        lines, fields = [], []
        for field in schema["fields"]:
            var = self.name("v")
            lines.extend(self.value(field["type"], var, i))
            fields.append(f"{field['name']!r}: {var}")
        self.inlining.discard(name)
        return [*lines, f"{i}{target} = {{{', '.join(fields)}}}"]


def compile_reader(parsed: Mapping[str, Any]) -> BodyReader:
    """The decoder of the record schema ``parsed`` read as itself (no schema resolution);
    ``UnsupportedSchema`` if it uses a type the compiler leaves to fastavro. Any malformed
    input raises (an exception of any type: the caller falls back to fastavro)."""
    compiler = _ReaderCompiler()
    body = compiler.record(parsed, "record", "    ")
    source = "\n".join(["def read(d, p):", "    size = len(d)", *body, "    return record, p"])
    namespace = compiler.build(
        source,
        f"reader {parsed['name']}",
        {
            "_read_long": _read_long,
            "_unpack_float": struct.Struct("<f").unpack_from,
            "_unpack_double": struct.Struct("<d").unpack_from,
        },
    )
    return namespace["read"]
