"""The offset a worker commits from what it acknowledged (the consumer's _new_offset)."""

from __future__ import annotations

from collections import defaultdict

from faust.types import TP
from intervaltree import IntervalTree

from app.streaming.consumer import Consumer

TPX = TP("table-events", 1)


def consumer_with(acked: list[int], committed: int | None, gaps=()) -> Consumer:
    """The commit bookkeeping alone, as Faust keeps it (no broker needed)."""
    consumer = Consumer.__new__(Consumer)
    consumer._acked = defaultdict(list, {TPX: list(acked)})
    consumer._acked_index = defaultdict(set, {TPX: set(acked)})
    consumer._gap = defaultdict(IntervalTree)
    for begin, end in gaps:
        consumer._gap[TPX].addi(begin, end)
    consumer._committed_offset = defaultdict(lambda: None, {TPX: committed})
    return consumer


def test_consecutive_acks_commit_past_the_last_one():
    assert consumer_with(list(range(548, 948)), 548)._new_offset(TPX) == 948


def test_a_gap_merged_over_acknowledged_offsets_does_not_stall_the_commit():
    # After a rejoin the read offset can run ahead of a seek back, so Faust records a gap
    # over offsets that are then read and acknowledged again: each offset is in the list
    # twice once the gap is merged. Faust's own runs then stop after one or two offsets,
    # and the commit crawled a few offsets per commit interval (a stuck lag in CI).
    consumer = consumer_with(list(range(548, 948)), 548, gaps=[(548, 948)])
    assert consumer._new_offset(TPX) == 948
    assert consumer._acked[TPX] == [] and not consumer._acked_index[TPX]


def test_an_unacknowledged_offset_right_after_the_commit_holds_it():
    consumer = consumer_with([550, 551], 548)
    assert consumer._new_offset(TPX) is None
    assert consumer._acked[TPX] == [550, 551]  # kept until 548 and 549 come
