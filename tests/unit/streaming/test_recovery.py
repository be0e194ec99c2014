"""Batch tables' recovery: a fetch at a time, larger fetches while it runs, no start delay."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from app.streaming.batch_table import TableManager
from app.streaming.consumer import RECOVERY_FETCH_RECORDS, Consumer, ConsumerThread

CHANGELOG = TP("app-player-state-changelog", 3)


class FakeRecovery:
    def __init__(self, seen: int | None = None, behind: bool = True) -> None:
        self.restored: list[tuple[TP, list[Any]]] = []
        table = SimpleNamespace(restore=lambda tp, records: self.restored.append((tp, records)))
        self.active_tps = {CHANGELOG}
        self.tp_to_table = {CHANGELOG: table}
        self.active_offsets = {} if seen is None else {CHANGELOG: seen}
        self.in_recovery = True
        self.behind = behind
        self.ended: list[str] = []
        self.signal_recovery_end = SimpleNamespace(set=lambda: self.ended.append("signal"))

    def need_recovery(self) -> bool:
        return self.behind

    def flush_buffers(self) -> None:
        self.ended.append("flush")

    def _set_recovery_ended(self) -> None:
        self.ended.append("ended")


def restore(recovery: FakeRecovery, tp: TP, offsets: range) -> bool:
    consumer = SimpleNamespace(app=SimpleNamespace(tables=SimpleNamespace(recovery=recovery)))
    records = [SimpleNamespace(offset=o, key=b"k%d" % o, value=b"v") for o in offsets]
    return Consumer._restore(consumer, tp, records)  # type: ignore[arg-type]


def offsets_restored(recovery: FakeRecovery) -> list[int]:
    return [r.offset for _tp, records in recovery.restored for r in records]


@pytest.mark.parametrize(
    ("seen", "fetched", "written"),
    [
        (None, range(0, 5), [0, 1, 2, 3, 4]),
        (1, range(2, 5), [2, 3, 4]),
        (2, range(0, 5), [3, 4]),  # fetched again from before the noted offset
        (4, range(0, 5), []),
    ],
)
def test_a_fetch_writes_only_the_records_past_the_noted_offset(seen, fetched, written):
    recovery = FakeRecovery(seen=seen)
    assert restore(recovery, CHANGELOG, fetched)
    assert offsets_restored(recovery) == written
    assert recovery.active_offsets[CHANGELOG] == max([seen or 0, *written])
    assert recovery.ended == []


def test_the_recovery_ends_once_no_active_partition_is_behind():
    recovery = FakeRecovery(behind=False)
    assert restore(recovery, CHANGELOG, range(0, 3))
    assert recovery.ended == ["flush", "ended", "signal"]


def test_partitions_without_a_batch_table_take_fausts_recovery():
    recovery = FakeRecovery()
    assert not restore(recovery, TP("app-events", 0), range(0, 3))
    assert recovery.restored == []


@pytest.mark.parametrize("in_recovery", [True, False])
def test_a_fetch_hands_over_more_records_only_while_the_tables_recover(in_recovery):
    calls: list[dict] = []
    kafka_consumer = SimpleNamespace(_max_poll_records=2000)

    async def call_thread(fun: Any, *args: Any, **kwargs: Any) -> dict:
        calls.append({"fun": fun, "args": args, **kwargs})
        return {}

    thread = object.__new__(ConsumerThread)
    thread.__dict__.update(
        app=SimpleNamespace(
            tables=SimpleNamespace(recovery=SimpleNamespace(in_recovery=in_recovery))
        ),
        _ensure_consumer=lambda: kafka_consumer,
        call_thread=call_thread,
    )
    assert asyncio.run(thread.getmany({CHANGELOG}, 1.0)) == {}
    (call,) = calls
    assert call["args"] == (kafka_consumer, {CHANGELOG})
    assert call["timeout"] == 1.0
    assert call["max_records"] == (RECOVERY_FETCH_RECORDS if in_recovery else 2000)


def test_the_table_manager_starts_its_tables_and_recovery_without_waiting():
    started: list[str] = []

    async def update_channels() -> None:
        started.append("tables")

    async def start_recovery() -> None:
        started.append("recovery")

    async def no_sleep(seconds: float) -> None:
        raise AssertionError(f"slept {seconds} s")

    manager = SimpleNamespace(
        should_stop=False,
        sleep=no_sleep,
        _update_channels=update_channels,
        recovery=SimpleNamespace(start=start_recovery),
    )
    asyncio.run(TableManager.on_start(manager))  # type: ignore[arg-type]
    assert started == ["tables", "recovery"]
