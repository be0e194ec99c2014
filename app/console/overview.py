"""The live overview's figures, read from the worker's own metrics (``app.metrics``), so the
console and Prometheus can never disagree: counters since the worker started, which the page
turns into rates between two polls.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from prometheus_client.registry import Collector

from app.metrics.consumer import ConsumerState


def _samples(registry: Collector) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Each sample's name and its (labels, value) pairs."""
    found: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for family in registry.collect():
        for sample in family.samples:
            found[sample.name].append((sample.labels, sample.value))
    return found


def _by(pairs: Iterable[tuple[dict[str, str], float]], *labels: str) -> dict[str, int]:
    """Values summed by the labels' values (joined with a space), largest first."""
    sums: dict[str, float] = defaultdict(float)
    for found, value in pairs:
        sums[" ".join(filter(None, (found.get(label) for label in labels))) or "-"] += value
    return _largest_first(sums)


def _largest_first(sums: dict[str, float]) -> dict[str, int]:
    return dict(sorted(((k, int(v)) for k, v in sums.items()), key=lambda kv: (-kv[1], kv[0])))


def overview(
    registry: Collector, consumer: ConsumerState, cooldowns_running: int, worker_id: str
) -> dict[str, Any]:
    """The overview document (``/console/api/overview``, described in openapi.yaml)."""
    found = _samples(registry)
    decisions = found.get("pitboss_decisions_total", [])
    issued = [(labels, v) for labels, v in decisions if labels.get("outcome") == "issued"]
    return {
        "worker_id": worker_id,
        "ready": consumer.ready,
        "totals": {
            "events": int(sum(v for _, v in found.get("pitboss_events_total", []))),
            "decisions": int(sum(v for _, v in found.get("pitboss_journal_entries_total", []))),
            "rewards": int(sum(v for _, v in issued)),
            "suppressions": int(sum(v for _, v in found.get("pitboss_suppressions_total", []))),
            "dead_letters": int(sum(v for _, v in found.get("pitboss_dead_letters_total", []))),
        },
        "rewards_by_rule": _by(issued, "rule"),
        "rewards_by_kind": _by(issued, "kind"),
        "amounts_by_kind": _by(found.get("pitboss_amount_issued_total", []), "kind", "currency"),
        "suppressions_by_reason": _by(found.get("pitboss_suppressions_total", []), "reason"),
        "cooldowns_running": cooldowns_running,
        "lag": [
            {"topic": topic, "partition": partition, "records": behind}
            for (topic, partition), behind in sorted(consumer.lag.items())
        ],
    }


def rule_outcomes(registry: Collector) -> dict[str, dict[str, int]]:
    """Per rule: rewards issued and suppressed since the worker started."""
    outcomes: dict[str, dict[str, int]] = defaultdict(lambda: {"issued": 0, "suppressed": 0})
    for labels, value in _samples(registry).get("pitboss_decisions_total", []):
        outcomes[labels["rule"]][labels["outcome"]] += int(value)
    return dict(outcomes)


#: The overview's groupings: label -> count, summed over workers.
GROUPINGS = ("rewards_by_rule", "rewards_by_kind", "amounts_by_kind", "suppressions_by_reason")


def merged(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """The group's figures: the workers' overview documents added up, except the lag: a
    partition two workers report (an active and a standby of a changelog) counts once, at the
    larger of their figures."""
    totals: dict[str, int] = defaultdict(int)
    groups: dict[str, dict[str, float]] = {name: defaultdict(float) for name in GROUPINGS}
    for document in documents:
        for name, value in document["totals"].items():
            totals[name] += value
        for name in GROUPINGS:
            for label, value in document[name].items():
                groups[name][label] += value
    lag: dict[tuple[str, int], int] = {}
    for document in documents:
        for p in document["lag"]:
            where = (p["topic"], p["partition"])
            lag[where] = max(lag.get(where, 0), p["records"])
    return {
        "ready": bool(documents) and all(d["ready"] for d in documents),
        "totals": dict(totals),
        **{name: _largest_first(sums) for name, sums in groups.items()},
        "cooldowns_running": sum(d["cooldowns_running"] for d in documents),
        "lag": [
            {"topic": topic, "partition": partition, "records": records}
            for (topic, partition), records in sorted(lag.items())
        ],
    }
