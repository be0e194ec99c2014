"""The counts each endpoint's log line reports."""

from __future__ import annotations

from app.delivery.process import Totals


def test_the_log_line_names_every_count():
    totals = Totals(delivered=1200)
    totals.count_retry()
    totals.dead_lettered += 1
    assert (totals.retried, totals.dead_lettered) == (1, 1)
    assert str(totals) == "delivered 1,200, retried 1, dead-lettered 1"
