"""Mappings as data: a YAML file per source that turns its JSON or XML items into TableEvent
dicts, so a studio that cannot produce Avro plugs in by configuration, not code.

A mapping names, per TableEvent field, where the value is (JSONPath for JSON via
``jsonpath-ng``, XPath for XML via ``lxml``), a value map (their ``BJ`` -> ``BLACKJACK``), a
unit conversion (``app.intake.units``), a default and whether it is required. A file is read
like a ruleset: YAML, then ``mapping.schema.json``, then the checks only code can make (paths
that do not compile, conversions that do not suit the field), every problem naming the file,
line and field. What a mapping makes is checked afterwards by the contract's own code
(``app.intake.translate``), exactly as Avro input is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Any

import jsonpath_ng
import orjson
from jsonpath_ng.exceptions import JSONPathError
from lxml import etree

from app.intake import units
from app.intake.xmlsafe import parse_xml
from app.rules.problems import Path
from app.security.documents import load_document

SCHEMA_PATH = FilePath(__file__).resolve().parent / "mapping.schema.json"
#: TableEvent fields holding a long; every other mappable field is text.
LONG_FIELDS = frozenset({"occurred_at", "bet.stake_minor", "settlement.payout_minor"})
#: The fields of TableEvent's nested records: all of a record's fields or none.
RECORDS = {
    "bet": ("bet_type", "stake_minor", "currency"),
    "settlement": ("outcome", "payout_minor", "hand"),
}
_OPTIONAL = {"settlement.hand"}
_LONG_CONVERSIONS = {"integer", "minor_units", "epoch_seconds", "epoch_millis", "iso8601"}
DEFAULT_CURRENCY_FIELD = "bet.currency"
_CONVERT: dict[str, Callable[[Any], Any]] = {
    "text": str,
    "integer": units.integer,
    "epoch_millis": units.integer,
    "epoch_seconds": units.epoch_seconds,
    "iso8601": units.iso8601,
}

#: A compiled path: an item (a dict from JSON, an element from XML) -> its first value or None.
Getter = Callable[[Any], Any]


class Refused(ValueError):
    """An item the mapping cannot turn into a TableEvent; the message says which field and why,
    ``event_id`` the item's id when the mapping found it (to name the item in the answer)."""

    def __init__(self, message: str, event_id: str | None = None) -> None:
        super().__init__(message)
        self.event_id = event_id


def _json_getter(expression: str) -> Getter:
    compiled = jsonpath_ng.parse(expression)

    def get(item: Any) -> Any:
        found = compiled.find(item)
        return found[0].value if found else None

    return get


def _xml_value(found: Any) -> Any:
    if isinstance(found, list):
        if not found:
            return None
        found = found[0]
    if etree.iselement(found):
        return found.text or ""
    return found


def _xml_getter(expression: str) -> Getter:
    compiled = etree.XPath(expression, smart_strings=False)
    return lambda item: _xml_value(compiled(item))


def _getter(fmt: str, expression: str) -> Getter:
    return _json_getter(expression) if fmt == "json" else _xml_getter(expression)


def _matches(fmt: str, expression: str) -> Callable[[Any], list]:
    """Every node ``expression`` selects (items of a batch, attribute entries)."""
    if fmt == "json":
        compiled = jsonpath_ng.parse(expression)
        return lambda doc: [m.value for m in compiled.find(doc)]
    xpath = etree.XPath(expression, smart_strings=False)
    return lambda doc: [n for n in xpath(doc) if etree.iselement(n)]


@dataclass(frozen=True)
class FieldRule:
    """How one TableEvent field is found: a path or a constant, a map, a conversion."""

    target: str
    get: Getter | None
    constant: Any
    value_map: Mapping[str, Any] | None
    otherwise: Any
    convert: str
    currency_field: str
    default: Any
    required: bool

    def value(self, item: Any, event: Mapping[str, Any]) -> tuple[Any, bool]:
        """The field's value for ``item`` (``event``: the fields found so far, for the
        currency of an amount), and whether the item gave it (not a default); Refused when
        the item cannot give it."""
        raw = self.constant if self.get is None else self.get(item)
        if raw is None or raw == "":
            if self.required and self.default is None:
                raise Refused(f"{self.target}: missing")
            return self.default, False
        if isinstance(raw, dict | list):
            raise Refused(f"{self.target}: its path finds an object or a list, not a value")
        if self.value_map is not None:
            key = str(raw).strip()
            if key in self.value_map:
                raw = self.value_map[key]
            elif self.otherwise is not None:
                raw = self.otherwise
            else:
                raise Refused(f"{self.target}: {raw!r} is not in its map")
        try:
            if self.convert == "minor_units":
                return units.minor_units(raw, event.get(self.currency_field)), True
            return _CONVERT[self.convert](raw), True
        except units.ConversionError as exc:
            raise Refused(f"{self.target}: {exc}") from None


@dataclass(frozen=True)
class SourceMapping:
    """A loaded mapping: the source's format, where its items are, and a rule per field."""

    source: str
    version: int
    format: str
    items: Callable[[Any], list]
    rules: tuple[FieldRule, ...]
    attributes: Callable[[Any], dict[str, str]] | None

    def parse(self, body: bytes) -> Any:
        """The batch document (raises ValueError: not JSON, or unsafe/malformed XML)."""
        if self.format == "xml":
            return parse_xml(body)
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"not JSON: {exc}") from None

    def item_bytes(self, item: Any) -> bytes:
        """One item as bytes of its own format, for its dead letter."""
        if self.format == "xml":
            return etree.tostring(item)
        return orjson.dumps(item)

    def split(self, document: Any) -> list:
        """The items of a batch document."""
        return self.items(document)

    def event(self, item: Any) -> dict[str, Any]:
        """The TableEvent dict ``item`` becomes; Refused naming the field and why."""
        found: dict[str, Any] = {}
        given: set[str] = set()  # what the item itself has (not a default)
        try:
            for rule in self.rules:
                found[rule.target], from_item = rule.value(item, found)
                if from_item:
                    given.add(rule.target)
        except Refused as exc:
            raise Refused(str(exc), _text(found.get("event_id"))) from None
        event: dict[str, Any] = {k: v for k, v in found.items() if "." not in k}
        for record, names in RECORDS.items():
            values = {n: found.get(f"{record}.{n}") for n in names}
            if not any(f"{record}.{n}" in given for n in names if n != "hand"):
                event[record] = None  # the item has no bet (settlement): defaults alone make none
                continue
            missing = [n for n in names if values[n] is None and f"{record}.{n}" not in _OPTIONAL]
            if missing:
                raise Refused(f"{record}: {', '.join(missing)} missing", _text(event["event_id"]))
            event[record] = values
        event["attributes"] = self.attributes(item) if self.attributes else {}
        for name in ("dealer_id", "game_variant", "round_id", "player_id", "chat_text", "device"):
            event.setdefault(name, None)
        event.setdefault("game", "OTHER")
        return event


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _attributes(fmt: str, spec: Mapping[str, str]) -> Callable[[Any], dict[str, str]]:
    nodes = _matches(fmt, spec["path"])
    key = _getter(fmt, spec["key"]) if "key" in spec else None
    value = _getter(fmt, spec.get("value", "text()" if fmt == "xml" else "$")) if key else None

    def attributes(item: Any) -> dict[str, str]:
        out: dict[str, str] = {}
        for node in nodes(item):
            if key is not None and value is not None:
                name, text = key(node), value(node)
                if name is not None and text is not None:
                    out[str(name)] = str(text)
            elif isinstance(node, Mapping):
                out.update({str(k): str(v) for k, v in node.items() if v is not None})
        return out

    return attributes


def _rule(fmt: str, target: str, spec: Mapping[str, Any]) -> FieldRule:
    default_convert = "integer" if target in LONG_FIELDS else "text"
    return FieldRule(
        target=target,
        get=_getter(fmt, spec["path"]) if "path" in spec else None,
        constant=spec.get("value"),
        value_map={str(k): v for k, v in spec["map"].items()} if "map" in spec else None,
        otherwise=spec.get("otherwise"),
        convert=spec.get("convert", default_convert),
        currency_field=spec.get("currency", DEFAULT_CURRENCY_FIELD),
        default=spec.get("default"),
        required=bool(spec.get("required", False)),
    )


def _ordered(fields: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """The event id first (it names a refused item), amounts after the currency they are
    converted with."""
    yield "event_id", fields["event_id"]
    rest = [(t, s) for t, s in fields.items() if t != "event_id"]
    yield from ((t, s) for t, s in rest if s.get("convert") != "minor_units")
    yield from ((t, s) for t, s in rest if s.get("convert") == "minor_units")


def _checks(doc: Mapping[str, Any]) -> list[tuple[Path, str]]:
    """Paths compile in the format's language; conversions suit their field; each field has a
    path or a value; a record's fields come together."""
    fmt, found = doc["format"], []
    language = "JSONPath" if fmt == "json" else "XPath"

    def compiles(where: Path, expression: str) -> None:
        try:
            _getter(fmt, expression)
        except (JSONPathError, etree.XPathError) as exc:
            found.append((where, f"{expression!r} is not a {language} expression: {exc}"))

    compiles(("items",), doc["items"])
    fields = doc["fields"]
    for target, spec in fields.items():
        if "path" in spec:
            compiles(("fields", target, "path"), spec["path"])
        elif "value" not in spec:
            found.append((("fields", target), "needs a path or a value"))
        convert = spec.get("convert")
        if convert and (convert in _LONG_CONVERSIONS) != (target in LONG_FIELDS):
            kind = "a number" if target in LONG_FIELDS else "text"
            found.append((("fields", target, "convert"), f"{convert} does not give {kind}"))
        currency = spec.get("currency")
        if currency is not None and convert != "minor_units":
            found.append((("fields", target, "currency"), "only for convert: minor_units"))
        if convert == "minor_units" and (currency or DEFAULT_CURRENCY_FIELD) not in fields:
            found.append(
                (
                    ("fields", target, "currency"),
                    f"{currency or DEFAULT_CURRENCY_FIELD} is not mapped",
                )
            )
    for record, names in RECORDS.items():
        mapped = [n for n in names if f"{record}.{n}" in fields]
        wanted = [n for n in names if f"{record}.{n}" not in _OPTIONAL]
        if mapped and (missing := [n for n in wanted if n not in mapped]):
            found.append(
                (("fields",), f"{record} needs {', '.join(f'{record}.{n}' for n in missing)}")
            )
    attributes = doc.get("attributes")
    if attributes:
        for name in ("path", "key", "value"):
            if name in attributes:
                compiles(("attributes", name), attributes[name])
        if "value" in attributes and "key" not in attributes:
            found.append((("attributes", "value"), "needs a key"))
    return found


def load_mapping(path: str | FilePath) -> SourceMapping:
    """The mapping in ``path``; SecurityFileError (app.security.documents) listing every
    problem with file, line and field."""
    doc = load_document(path, SCHEMA_PATH, _checks)
    fmt = doc["format"]
    return SourceMapping(
        source=str(path),
        version=doc["version"],
        format=fmt,
        items=_matches(fmt, doc["items"]),
        rules=tuple(_rule(fmt, t, s) for t, s in _ordered(doc["fields"])),
        attributes=_attributes(fmt, doc["attributes"]) if doc.get("attributes") else None,
    )
