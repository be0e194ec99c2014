"""Cursors name a record of the player's own partition, and nothing else parses."""

from __future__ import annotations

import pytest

from app.gateway.cursor import BadCursor, Cursor


def test_a_cursor_reads_back_as_itself():
    assert Cursor.parse(str(Cursor(3, 1041)), 3) == Cursor(3, 1041)
    assert Cursor(3, 9) < Cursor(3, 10)


@pytest.mark.parametrize("text", ["", "3", "3.", ".4", "3.-1", "03.4", "3.4.5", "a.b", "3.4 "])
def test_anything_else_is_refused(text):
    with pytest.raises(BadCursor):
        Cursor.parse(text, 3)


def test_a_cursor_of_another_partition_is_refused():
    with pytest.raises(BadCursor, match="not from this player"):
        Cursor.parse("2.10", 3)
