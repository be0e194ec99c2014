"""The metrics without a worker: one batch moves the decision, suppression, amount, batch-size
and latency metrics by what it decided; the consumer's collector reads its state at scrape."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from app.core.engine import Decisions
from app.metrics.batch import record_batch
from app.metrics.consumer import ConsumerCollector, ConsumerState
from app.metrics.definitions import REGISTRY
from app.pipeline.batch import BatchResult
from app.pipeline.ingest import SortedBatch

NOW = 1_800_000_000_000


def entry(decision: str, rule: str, kind: str, reason: str | None = None) -> dict:
    return {"decision": decision, "rule_id": rule, "reason": reason, "details": {"kind": kind}}


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_batch_moves_each_metric_by_what_it_decided():
    rewards = [
        {"kind": "CASHBACK_OFFER", "amount": 850, "currency": "EUR"},
        {"kind": "CASHBACK_OFFER", "amount": 150, "currency": "EUR"},
        {"kind": "XP", "amount": 10, "currency": None},
    ]
    journal = [
        entry("REWARD_ISSUED", "loss-streak-5", "CASHBACK_OFFER"),
        entry("REWARD_ISSUED", "loss-streak-5", "CASHBACK_OFFER"),
        entry("REWARD_ISSUED", "first-natural", "XP"),
        entry("REWARD_SUPPRESSED", "loss-streak-5", "CASHBACK_OFFER", "cooldown"),
        entry("COOLDOWN_STARTED", "rapid-loss", "RAPID_LOSS"),
    ]
    events = {
        0: {"p-1": [{"occurred_at": NOW - 2_000}, {"occurred_at": NOW - 4_000}]},
        1: {"p-2": [{"occurred_at": NOW - 30}]},
    }
    result = BatchResult(
        SortedBatch(events=events),
        Decisions(rewards=rewards, journal=journal, events=3),
        dead_letters=[(b"k", {})],
    )
    issued = {"rule": "loss-streak-5", "kind": "CASHBACK_OFFER", "outcome": "issued"}
    names = (
        ("pitboss_decisions_total", issued),
        ("pitboss_decisions_total", {**issued, "outcome": "suppressed"}),
        ("pitboss_suppressions_total", {"reason": "cooldown"}),
        ("pitboss_amount_issued_total", {"kind": "CASHBACK_OFFER", "currency": "EUR"}),
        ("pitboss_amount_issued_total", {"kind": "XP", "currency": ""}),
        ("pitboss_journal_entries_total", {"decision": "COOLDOWN_STARTED"}),
        ("pitboss_events_total", {}),
        ("pitboss_dead_letters_total", {}),
        ("pitboss_batch_records_sum", {}),
        ("pitboss_decision_latency_seconds_count", {}),
        ("pitboss_decision_latency_seconds_sum", {}),
        ("pitboss_decision_latency_seconds_bucket", {"le": "0.05"}),
    )
    before = [value(name, **labels) for name, labels in names]
    record_batch(result, records=7, now_ms=NOW)
    moved = [
        round(value(name, **labels) - b, 6) for (name, labels), b in zip(names, before, strict=True)
    ]
    # latency: one observation per partition, its oldest event's age (4 s and 0.03 s)
    assert moved == [2, 1, 1, 1000, 10, 1, 3, 1, 7, 2, 4.03, 1]


def test_the_consumer_collector_reads_the_state_at_each_scrape():
    states = iter(
        [
            ConsumerState(),
            ConsumerState(
                lag={("table-events", 2): 40},
                rebalances=3,
                recovery_active=12,
                ready=True,
            ),
        ]
    )
    registry = CollectorRegistry()
    registry.register(ConsumerCollector(lambda: next(states)))
    assert registry.get_sample_value("pitboss_ready") == 0  # read once per scrape
    text = generate_latest(registry).decode()
    assert 'pitboss_consumer_lag{partition="2",topic="table-events"} 40.0' in text
    assert "pitboss_rebalances_total 3.0" in text
    assert 'pitboss_recovery_remaining{tables="active"} 12.0' in text
    assert "pitboss_ready 1.0" in text


def test_a_scrape_before_the_worker_runs_reads_an_idle_consumer_not_an_error():
    from app.streaming.diagnostics import consumer_state
    from app.streaming.faust_app import app

    state = consumer_state(app)
    assert (state.lag, state.ready, state.recovery_active) == ({}, False, 0)
