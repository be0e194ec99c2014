"""The consumer's side of the metrics, read at each scrape (nothing to update on the hot path):
lag per partition, rebalances, table recovery still to do, readiness."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


@dataclass(frozen=True)
class ConsumerState:
    """Where a worker's consumer stands, as plain data."""

    #: (topic, partition) -> records behind the partition's high-water mark
    lag: dict[tuple[str, int], int] = field(default_factory=dict)
    rebalances: int = 0
    #: changelog records still to restore: active tables, standby tables
    recovery_active: int = 0
    recovery_standby: int = 0
    #: tables recovered and partitions assigned, no rebalance running
    ready: bool = False


class ConsumerCollector(Collector):
    """Yields the consumer's metrics from ``read()`` at each scrape (and only then: without a
    ``describe``, registering it in a registry that does not auto-describe reads nothing, so
    importing the views does not create Faust's consumer)."""

    def __init__(self, read: Callable[[], ConsumerState]) -> None:
        self.read = read

    def collect(self) -> Iterator[Metric]:
        state = self.read()
        lag = GaugeMetricFamily(
            "pitboss_consumer_lag",
            "Records behind the high-water mark, per assigned partition.",
            labels=["topic", "partition"],
        )
        for (topic, partition), behind in sorted(state.lag.items()):
            lag.add_metric([topic, str(partition)], behind)
        yield lag
        yield CounterMetricFamily(
            "pitboss_rebalances",
            "Consumer-group rebalances this worker took part in.",
            value=state.rebalances,
        )
        recovery = GaugeMetricFamily(
            "pitboss_recovery_remaining",
            "Changelog records still to restore into the tables (active or standby).",
            labels=["tables"],
        )
        recovery.add_metric(["active"], state.recovery_active)
        recovery.add_metric(["standby"], state.recovery_standby)
        yield recovery
        yield GaugeMetricFamily(
            "pitboss_ready",
            "1 once tables are recovered and partitions assigned.",
            value=int(state.ready),
        )
