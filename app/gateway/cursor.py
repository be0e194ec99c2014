"""Cursors: where a client is in a Kafka partition, as an opaque-looking string
``<partition>.<offset>`` (the offset of the last record it was given).

A player's journal entries and rewards all lie in one partition (the one their id gives), so
an offset there orders them for good: a reconnect resumes after it, also on another gateway
process or after a restart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CURSOR = re.compile(r"(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,18})")


class BadCursor(ValueError):
    """Not a cursor this gateway gave, or one of another player's partition."""


@dataclass(frozen=True, slots=True, order=True)
class Cursor:
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.partition}.{self.offset}"

    @classmethod
    def parse(cls, text: str, partition: int) -> Cursor:
        """The cursor ``text`` names, which must be in ``partition`` (the player's)."""
        match = _CURSOR.fullmatch(text)
        if match is None:
            raise BadCursor("a cursor is <partition>.<offset>, as the gateway gave it")
        cursor = cls(int(match[1]), int(match[2]))
        if cursor.partition != partition:
            raise BadCursor("this cursor is not from this player's stream")
        return cursor
