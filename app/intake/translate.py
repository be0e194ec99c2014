"""A batch from a studio -> TableEvent records to produce, and, per refused item, why and its
dead letter. Pure (no I/O), so the HTTP intake and ``pitboss mappings test`` share it.

Every item goes through the contract's own code, as Avro input does: the Avro codec (types,
enums), then ``app.pipeline.ingest.validate`` on the record as a worker decodes it, so an item
is refused at the door for exactly the reason a worker would refuse it (an e-mail address as
player id included: that letter keeps neither the bytes nor the id, only its pseudonym). An
item that is a player's TableEvent but fails those checks is refused in the answer and still
produced: the worker that owns its player refuses it again, journals that and seals its dead
letter under the player's secret (docs/security.md, crypto-shredding). An item that is no
TableEvent, or names no player, has its original bytes (its JSON object or XML element) in a
dead letter of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import fastavro

from app.contract.codec import AvroCodec
from app.core.ids import pseudonym
from app.intake.mapping import Refused, SourceMapping
from app.pipeline.ingest import PERSONAL_ID, RawRecord, dead_letter, validate

#: Content types and the format each one means (``; charset=…`` is ignored).
CONTENT_TYPES = {
    "application/json": "json",
    "application/xml": "xml",
    "text/xml": "xml",
    "application/avro": "avro",
    "avro/binary": "avro",
}


class BatchRefused(ValueError):
    """The whole body cannot be read (not JSON, unsafe XML, no items); the message says why."""


@dataclass(frozen=True)
class Outcome:
    """One item of a batch: to produce (``key``, ``value``) or refused (``reason``, ``letter``)."""

    index: int
    event_id: str | None
    key: bytes | None = None
    value: bytes | None = None
    reason: str | None = None
    #: the DeadLetter record of a refused item
    letter: dict | None = None
    #: the TableEvent an accepted item became (for ``pitboss mappings test``)
    event: dict | None = None


class Translator:
    """One source's way in: its mappings by format, the contract's codec and ingest's checks."""

    def __init__(self, source: str, mappings: Mapping[str, SourceMapping], erasure_key: bytes):
        """``erasure_key``: the deployment's (``app.security.erasure_key``), for pseudonyms."""
        self.source, self.mappings, self.erasure_key = source, dict(mappings), erasure_key
        self.codec = AvroCodec("TableEvent")
        self.origin = f"intake/{source}"

    def translate(self, fmt: str, body: bytes, now_ms: int, stamped: bool = True) -> list[Outcome]:
        """The outcome of every item of ``body`` (``fmt``: json, xml or avro). ``stamped``:
        check event times against ``now_ms`` as Kafka's record time (the intake stamps its
        records with it), else only their plausible range. BatchRefused if unreadable."""
        items = self._items(fmt, body)
        return [self._one(i, original, event, now_ms, stamped) for i, (original, event) in items]

    def refused_body(self, body: bytes, reason: str, now_ms: int) -> dict:
        """The dead letter of a body that could not be read at all."""
        return dead_letter(self._record(None, body, now_ms), "UNDECODABLE", reason, now_ms)

    def _items(self, fmt: str, body: bytes) -> list[tuple[int, tuple[bytes, Any]]]:
        if fmt == "avro":
            return list(enumerate(self._avro_items(body)))
        mapping = self.mappings.get(fmt)
        if mapping is None:
            raise BatchRefused(f"source {self.source} has no {fmt} mapping")
        try:
            items = mapping.split(mapping.parse(body))
        except ValueError as exc:
            raise BatchRefused(str(exc)) from None
        if not items:
            raise BatchRefused("the batch holds no items where the mapping looks for them")
        out: list[tuple[bytes, Any]] = []
        for item in items:
            try:
                out.append((mapping.item_bytes(item), mapping.event(item)))
            except Refused as exc:
                out.append((mapping.item_bytes(item), exc))
        return list(enumerate(out))

    def _avro_items(self, body: bytes) -> list[tuple[bytes, Any]]:
        """An Avro object container file of TableEvents, resolved to the current schema; each
        item's original bytes are its single-object encoding (the container has no per-record
        bytes)."""
        try:
            records = list(fastavro.reader(BytesIO(body), reader_schema=self.codec.schema.parsed))
        except Exception as exc:  # fastavro raises many types on hostile input
            raise BatchRefused(f"not an Avro container file of TableEvents: {exc}") from None
        if not records:
            raise BatchRefused("the Avro container holds no records")
        out: list[tuple[bytes, Any]] = []
        for record in records:
            try:
                out.append((self.codec.encode(record), record))
            except ValueError as exc:
                out.append((repr(record).encode(), Refused(str(exc))))
        return out

    def _one(self, index: int, original: bytes, event: Any, now_ms: int, stamped: bool) -> Outcome:
        if isinstance(event, Refused):
            return self._refused(index, event.event_id, original, str(event), now_ms)
        event_id = event.get("event_id") or None
        try:
            value = self.codec.encode(event)
        except ValueError as exc:
            return self._refused(index, event_id, original, str(exc), now_ms)
        decoded = self.codec.decode(value)  # exactly what a worker reads
        reason = validate(decoded, now_ms if stamped else None)
        if reason == PERSONAL_ID:  # personal data: kept nowhere, keyed by its pseudonym
            hidden = pseudonym(decoded["player_id"], self.erasure_key).encode()
            reason = f"{PERSONAL_ID}; the item is not kept (it holds personal data)"
            letter = dead_letter(self._record(hidden, b"", now_ms), "INVALID", reason, now_ms)
            letter["value"] = None
            return Outcome(index, event_id, key=hidden, reason=reason, letter=letter)
        key = (decoded["player_id"] or decoded["table_id"]).encode()
        if reason is not None and decoded["player_id"]:  # refused again by the player's worker
            return Outcome(index, event_id, key=key, value=value, reason=reason)
        if reason is not None:
            return self._refused(index, event_id, original, reason, now_ms)
        return Outcome(index, event_id, key=key, value=value, event=event)

    def _refused(
        self, index: int, event_id: str | None, original: bytes, reason: str, now_ms: int
    ) -> Outcome:
        """An item refused here: its letter keeps the item's bytes (no player is known to
        seal them for, like an undecodable record on Kafka)."""
        letter = dead_letter(self._record(None, original, now_ms), "INVALID", reason, now_ms)
        return Outcome(index, event_id, reason=reason, letter=letter)

    def _record(self, key: bytes | None, value: bytes, now_ms: int) -> RawRecord:
        return RawRecord(self.origin, -1, -1, key, value, now_ms)
