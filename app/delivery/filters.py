"""Which records an endpoint gets (``Filter`` in the endpoints file)."""

from __future__ import annotations

from app.delivery.config import Filter


def _kind(topic: str, record: dict) -> str | None:
    """A reward's kind; a journal entry's ``details.kind`` (an issued or held-back reward)."""
    if topic == "rewards":
        return record["kind"]
    if topic == "journal":
        return record["details"].get("kind")
    return None


def matches(wanted: Filter, topic: str, record: dict) -> bool:
    """Whether ``record`` of ``topic`` (``rewards``, ``cooldowns``, ``journal``, ``rg-alerts``)
    passes every filter given; a record without the field a filter looks at does not (an RG
    alert's ``rule_id`` is what raised the player: risk-level, rapid-loss, loss-chasing)."""
    checks = (
        (wanted.kinds, _kind(topic, record)),
        (wanted.decisions, record.get("decision")),
        (wanted.rules, record.get("rule_id")),
    )
    return all(allowed is None or value in allowed for allowed, value in checks)
