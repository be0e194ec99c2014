"""The intake's metrics (``/metrics``, app/metrics/process.py): requests by route and status
(429s among them), items accepted and refused per source, how long Kafka takes to acknowledge
a batch, and the events waiting for it (the back-pressure's measure)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from app.metrics.process import requests_counter

REGISTRY = CollectorRegistry()

REQUESTS = requests_counter("intake", REGISTRY)
ITEMS = Counter(
    "pitboss_intake_items",
    "Items of the batches, by source and outcome (accepted: Kafka holds the event; refused).",
    ["source", "outcome"],
    registry=REGISTRY,
)
PRODUCE_SECONDS = Histogram(
    "pitboss_intake_produce_seconds",
    "From handing a batch to Kafka to its last acknowledgement.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
IN_FLIGHT = Gauge(
    "pitboss_intake_in_flight",
    "Events handed to Kafka and not yet acknowledged (beyond PITBOSS_INTAKE_MAX_IN_FLIGHT: 429).",
    registry=REGISTRY,
)
