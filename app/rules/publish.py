"""Publish rulesets to, and read them back from, the compacted ``crm-rules`` topic.

Wire format: key = the ruleset id (UTF-8), value = the published document as JSON
(orjson); a null value (tombstone) withdraws a ruleset. Every record is also written to
``crm-rules-history`` (same format, never compacted), the audit replay's source of the
revisions in force. The latest value per key is what
workers run, so reading "what is live" means reading the topic from its beginning to its
end offsets with a plain consumer (no group: nothing to commit, nothing to rebalance).
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import socket
import time
from pathlib import Path

import orjson
from aiokafka import TopicPartition

from app.operations.reading import read_to_end
from app.rules import compile_document
from app.rules.loader import load_ruleset_file
from app.rules.policy import Policies, load_policies
from app.rules.versioning import RulesetDiff, assign_versions, diff_documents
from app.security import kafka_clients
from app.settings import Settings

log = logging.getLogger(__name__)

#: How long reading the topic to its end may take before we give up.
READ_TIMEOUT_S = 30.0


class RulesTopicMissingError(RuntimeError):
    """``crm-rules`` does not exist; publishing would auto-create it without compaction."""


async def fetch_all_live(settings: Settings) -> dict[str, dict]:
    """Every live ruleset on ``crm-rules``, by ruleset id (latest value per key wins)."""
    topic = settings.topics.crm_rules
    consumer = kafka_clients.consumer(
        settings,
        client_id=f"{settings.app_id}-rules",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        # Asking for a missing topic's metadata would create it (one partition, no
        # compaction) on brokers that auto-create: list every topic instead.
        if topic not in await consumer.topics():
            raise RulesTopicMissingError(
                f"topic {topic} does not exist yet; create it first with `pitboss topics create`"
            )
        live: dict[str, dict] = {}
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        async for message in read_to_end(consumer, partitions, timeout_s=READ_TIMEOUT_S):
            _apply(live, message.key, message.value, message.offset)
        return live
    finally:
        await consumer.stop()


def _apply(live: dict[str, dict], key: bytes | None, value: bytes | None, offset: int) -> None:
    if key is None:
        log.warning("crm-rules offset %d has no key; ignored", offset)
        return
    ruleset_id = key.decode("utf-8", errors="replace")
    if value is None:
        live.pop(ruleset_id, None)
        return
    try:
        live[ruleset_id] = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        log.warning("crm-rules offset %d (%s) is not JSON; ignored: %s", offset, ruleset_id, exc)


async def fetch_live(settings: Settings, ruleset_id: str | None = None) -> dict | None:
    """The live document of ``ruleset_id`` (default: the one this deployment runs)."""
    return (await fetch_all_live(settings)).get(ruleset_id or settings.ruleset_id)


async def list_live(settings: Settings) -> list[dict]:
    """Every live ruleset, ordered by id."""
    return [doc for _id, doc in sorted((await fetch_all_live(settings)).items())]


async def _produce(settings: Settings, ruleset_id: str, value: bytes | None) -> None:
    """Write to ``crm-rules`` (what workers run), then to ``crm-rules-history``, which keeps
    every revision forever so an audit can replay the rules that were in force."""
    topics = settings.topics
    producer = kafka_clients.producer(
        settings,
        client_id=f"{settings.app_id}-rules",
        acks="all",
    )
    await producer.start()
    try:
        # Sending to a missing topic would auto-create it (one partition, wrong retention).
        existing = (await producer.client.fetch_all_metadata()).topics()
        if topics.crm_rules_history not in existing:
            raise RulesTopicMissingError(
                f"topic {topics.crm_rules_history} does not exist yet; create it first with "
                "`pitboss topics create` (every published revision is kept there for audits)"
            )
        key = ruleset_id.encode()
        await producer.send_and_wait(topics.crm_rules, value, key=key)
        await producer.send_and_wait(topics.crm_rules_history, value, key=key)
    finally:
        await producer.stop()


def _who() -> str:
    with contextlib.suppress(Exception):
        return f"{getpass.getuser()}@{socket.gethostname()}"
    return socket.gethostname()


class StaleRevisionError(RuntimeError):
    """The live revision is not the one the push was meant to follow."""


async def push(
    settings: Settings,
    path: str | Path,
    *,
    now_ms: int | None = None,
    source: str | None = None,
    policies: Policies | None = None,
    if_revision: int | None = None,
) -> tuple[dict | None, RulesetDiff]:
    """Validate the file at ``path`` and publish it as the next revision of its ruleset;
    with ``if_revision``, only if that is still the live revision (0: none published), so a
    manager never overwrites a push they have not seen (StaleRevisionError).

    Returns ``(published document, diff from the live one)``; the document is None when the
    file changes nothing, and then nothing is published. Raises RulesFileError (every
    problem in the file, jurisdiction policy breaches included), PolicyFileError (the
    policies, ``policies`` or else this deployment's, are broken) or RulesTopicMissingError.
    """
    if policies is None:
        policies = load_policies(settings.jurisdictions_path)
    candidate = load_ruleset_file(path, policies)
    live = await fetch_live(settings, candidate["ruleset"])
    diff = diff_documents(candidate, live)
    if if_revision is not None and diff.live_revision != if_revision:
        raise StaleRevisionError(
            f"ruleset {candidate['ruleset']} is at revision {diff.live_revision}, not "
            f"{if_revision}: someone published since; `pitboss rules diff` against it, "
            "then push again"
        )
    if not diff.has_changes:
        return None, diff
    published = assign_versions(
        candidate,
        live,
        now_ms if now_ms is not None else int(time.time() * 1000),
        source or f"{Path(path).name} by {_who()}",
    )
    compile_document(published)  # what every worker will do with it: refuse it here first
    await _produce(settings, published["ruleset"], orjson.dumps(published))
    return published, diff


async def withdraw(settings: Settings, ruleset_id: str) -> bool:
    """Write a tombstone for ``ruleset_id``; False when nothing of that id was live."""
    if await fetch_live(settings, ruleset_id) is None:
        return False
    await _produce(settings, ruleset_id, None)
    return True
