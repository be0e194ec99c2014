"""The rules in force over time: a ruleset's revisions from ``crm-rules-history``, each
compiled into an Engine when first needed."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import orjson

from app.core import Engine
from app.core.rules import Ruleset
from app.rules import compile_document, default_ruleset


@dataclass(frozen=True, slots=True)
class Revision:
    """One publish of a ruleset: its revision number, when, and the document."""

    revision: int
    published_at: int
    #: None: the shipped default (nothing published yet, or the ruleset was withdrawn)
    document: dict | None = None


def revisions_from_history(
    records: Iterable[tuple[bytes | None, bytes | None, int]], ruleset_id: str
) -> list[Revision]:
    """``crm-rules-history`` records (key, value, Kafka timestamp), in offset order, as the
    revisions of ``ruleset_id``; a tombstone (withdrawal) puts the shipped default back."""
    out = []
    for key, value, stamped in records:
        if key is None or key.decode("utf-8", errors="replace") != ruleset_id:
            continue
        if value is None:
            out.append(Revision(0, stamped))
            continue
        doc = orjson.loads(value)
        out.append(
            Revision(int(doc.get("revision", 0)), int(doc.get("published_at") or stamped), doc)
        )
    return out


class RevisionBook:
    """A ruleset's revisions in publish order ("epochs", the first being the shipped default
    before any publish), each compiled into an Engine once, when first needed."""

    def __init__(self, history: Sequence[Revision], make_engine: Callable[[Ruleset], Engine]):
        self.epochs = [Revision(0, 0), *history]
        self._starts: list[int] = []
        start = 0
        for epoch in self.epochs:  # publish times only move forward, whatever clocks did
            start = max(start, epoch.published_at)
            self._starts.append(start)
        self._by_number: dict[int, list[int]] = {}
        for i, epoch in enumerate(self.epochs):
            self._by_number.setdefault(epoch.revision, []).append(i)
        self._make = make_engine
        self._engines: dict[int, Engine] = {}

    def at(self, stamped_ms: int) -> int:
        """The epoch in force at a Kafka timestamp."""
        return max(0, bisect_right(self._starts, stamped_ms) - 1)

    def find(self, revision: str | None, stamped_ms: int) -> int | None:
        """The epoch a journal entry's ``details.revision`` names, None if none has it.
        Numbers restart after a withdrawal: then the latest one published by the event."""
        try:
            candidates = self._by_number.get(int(revision or ""), [])
        except ValueError:
            return None
        if len(candidates) < 2:
            return candidates[0] if candidates else None
        published = [i for i in candidates if self._starts[i] <= stamped_ms]
        return published[-1] if published else candidates[0]

    def engine(self, epoch: int) -> Engine:
        engine = self._engines.get(epoch)
        if engine is None:
            doc = self.epochs[epoch].document
            ruleset = default_ruleset() if doc is None else compile_document(doc)
            engine = self._engines[epoch] = self._make(ruleset)
        return engine

    def label(self, epoch: int) -> str:
        revision = self.epochs[epoch]
        if revision.document is None:
            return "shipped default (revision 0)"
        return f"revision {revision.revision}"
