"""The gateway's metrics (``/metrics``, app/metrics/process.py): requests by route and status,
open streams by transport, messages pushed by type, and how long after the worker recorded a
decision its message went out on a live stream (a resumed stream's catch-up is not timed: its
entries are old on purpose)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from app.metrics.process import requests_counter

REGISTRY = CollectorRegistry()

REQUESTS = requests_counter("gateway", REGISTRY)
CONNECTIONS = Gauge(
    "pitboss_gateway_connections",
    "Open player streams, by transport (websocket, sse).",
    ["transport"],
    registry=REGISTRY,
)
PUSHED = Counter(
    "pitboss_gateway_messages_pushed",
    "Stream messages sent to players, by type (keep-alives not counted).",
    ["type"],
    registry=REGISTRY,
)
PUSH_LATENCY = Histogram(
    "pitboss_gateway_push_latency_seconds",
    "From the worker recording a journal entry (its recorded_at) to its message sent on a "
    "live stream.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
