"""The metrics of ``pitboss webhooks`` and ``pitboss fulfil`` (``/metrics`` on a port of their
own, app/metrics/process.py): deliveries by endpoint and outcome, retries, dead letters, and
the lag of each partition (records fetched or still on the broker that its lane has not
finished), read at each scrape."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from aiokafka import AIOKafkaConsumer
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from app.delivery.lanes import Lanes

REGISTRY = CollectorRegistry()

DELIVERIES = Counter(
    "pitboss_delivery_deliveries",
    "Records handled per endpoint, by outcome (delivered, dead_lettered).",
    ["use", "endpoint", "outcome"],
    registry=REGISTRY,
)
RETRIES = Counter(
    "pitboss_delivery_retries",
    "Attempts repeated after a failure, per endpoint.",
    ["use", "endpoint"],
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "pitboss_delivery_dead_letters",
    "Dead letters written (undeliverable or undecodable records).",
    ["use"],
    registry=REGISTRY,
)

#: (topic, partition) -> records behind
Lag = dict[tuple[str, int], int]


class LagCollector(Collector):
    """``pitboss_delivery_lag`` from ``read()`` at each scrape (nothing on the hot path)."""

    def __init__(self) -> None:
        self.use = ""
        self.read: Callable[[], Lag] = dict

    def collect(self) -> Iterator[Metric]:
        lag = GaugeMetricFamily(
            "pitboss_delivery_lag",
            "Records behind the high-water mark that the partition's lane has not finished.",
            labels=["use", "topic", "partition"],
        )
        for (topic, partition), behind in sorted(self.read().items()):
            lag.add_metric([self.use, topic, str(partition)], behind)
        yield lag


LAG = LagCollector()
REGISTRY.register(LAG)


def watch(use: str, lanes: Lanes, consumer: AIOKafkaConsumer) -> None:
    """Let the lag collector read ``lanes`` (each partition's next offset to finish) against
    the consumer's high-water marks."""

    def read() -> Lag:
        behind = {}
        for tp, lane in list(lanes.lanes.items()):
            high = consumer.highwater(tp)
            if high is None:
                continue
            queued = lane.queue[0].offset if lane.queue else high
            finished = lane.done if lane.done is not None else queued
            behind[(tp.topic, tp.partition)] = max(high - finished, 0)
        return behind

    LAG.use, LAG.read = use, read
