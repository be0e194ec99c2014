"""The worker's metrics, in their own registry (not the client's global one, so a test or a
second app in the process starts from nothing)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry()

DECISIONS = Counter(
    "pitboss_decisions",
    "Reward decisions by rule, reward kind and outcome (issued or suppressed).",
    ["rule", "kind", "outcome"],
    registry=REGISTRY,
)
SUPPRESSIONS = Counter(
    "pitboss_suppressions",
    "Rewards a guard held back, by reason (cap, cool-down, consent, ...).",
    ["reason"],
    registry=REGISTRY,
)
AMOUNTS = Counter(
    "pitboss_amount_issued",
    "Amounts issued by reward kind and currency (points, XP, spins; minor units for money).",
    ["kind", "currency"],
    registry=REGISTRY,
)
JOURNAL = Counter(
    "pitboss_journal_entries",
    "Journal entries written, by decision.",
    ["decision"],
    registry=REGISTRY,
)
EVENTS = Counter(
    "pitboss_events", "Player events decided (duplicates dropped not counted).", registry=REGISTRY
)
DEAD_LETTERS = Counter(
    "pitboss_dead_letters", "Records sent to the dead-letters topic.", registry=REGISTRY
)
BATCH_SIZE = Histogram(
    "pitboss_batch_records",
    "Records per decided micro-batch.",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000),
    registry=REGISTRY,
)
LATENCY = Histogram(
    "pitboss_decision_latency_seconds",
    "Event time to decision: per partition and batch, the age of the batch's oldest event "
    "once its outputs were acknowledged and the states written.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=REGISTRY,
)
