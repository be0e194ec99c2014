"""Create and inspect Pitboss's topics with aiokafka's admin client.

Topics are created up front, each with its partition count and configs from
``app.operations.topics.topic_specs``; a producer must never auto-create one (the local broker would
give it one partition and break co-partitioning). Creating is idempotent: a topic that
already exists is fine when its partition count matches; when it does not, that is an error
(``TopicMismatchError``), because Kafka cannot shrink a topic and growing it re-homes keys.
Config differences on an existing topic are reported as warnings, not changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from app.operations.topics import TopicSpec, topic_specs
from app.security import kafka_clients
from app.settings import Settings

log = logging.getLogger(__name__)

TOPIC_ALREADY_EXISTS = TopicAlreadyExistsError.errno  # 36
#: DescribeConfigs config_source values meaning "set on this topic", not a broker default.
_TOPIC_SOURCES = {1}  # DYNAMIC_TOPIC_CONFIG


class AdminError(RuntimeError):
    """The broker could not be reached or refused a request."""


class TopicMismatchError(AdminError):
    """An existing topic does not have the partition count the project needs."""


@dataclass(frozen=True)
class TopicInfo:
    name: str
    exists: bool
    partitions: int = 0
    #: configs set on the topic itself (not broker defaults); None if DescribeConfigs failed
    configs: dict[str, str] | None = None
    all_configs: dict[str, str] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class TopicResult:
    name: str
    #: "created", "exists" (matching partitions), or "mismatch"
    outcome: str
    wanted_partitions: int
    actual_partitions: int
    #: human-readable warnings, e.g. a config that differs on an existing topic
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.outcome != "mismatch"


@contextlib.asynccontextmanager
async def admin_client(
    settings: Settings, *, request_timeout_ms: int = 15000
) -> AsyncIterator[AIOKafkaAdminClient]:
    """A started admin client for ``settings``' brokers, closed on exit."""
    servers = settings.bootstrap_servers
    client = kafka_clients.admin(
        settings,
        client_id=f"{settings.app_id}-admin",
        request_timeout_ms=request_timeout_ms,
    )
    try:
        await client.start()
    except (KafkaConnectionError, KafkaError, OSError) as exc:
        with contextlib.suppress(Exception):
            await client.close()
        hint = " (start the local one with `make broker`)" if settings.uses_local_broker else ""
        raise AdminError(f"cannot reach Kafka at {','.join(servers)}{hint}: {exc}") from exc
    try:
        yield client
    finally:
        await client.close()


async def list_topics(settings: Settings, *, include_internal: bool = False) -> list[str]:
    """Names of the topics on the broker, sorted."""
    async with admin_client(settings) as client:
        names = await client.list_topics()
    return sorted(n for n in names if include_internal or not n.startswith("__"))


async def _partition_counts(
    client: AIOKafkaAdminClient, names: Sequence[str]
) -> dict[str, int | None]:
    """Partition count per topic, None for a topic that does not exist.

    Never asks for metadata of a topic that does not exist: aiokafka's ``describe_topics``
    sends ``allow_auto_topic_creation=True``, and a broker that allows it (noida-db does)
    would create the topic with one partition just because we looked.
    """
    out: dict[str, int | None] = dict.fromkeys(names)
    if not names:
        return out
    present = set(await client.list_topics())
    existing = [n for n in names if n in present]
    if existing:
        for entry in await client.describe_topics(existing):
            if entry["error_code"] == 0 and entry["partitions"]:
                out[entry["topic"]] = len(entry["partitions"])
    return out


async def _configs(
    client: AIOKafkaAdminClient, names: Sequence[str]
) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """(configs set on the topic, all configs) per topic; raises if DescribeConfigs fails."""
    out: dict[str, tuple[dict[str, str], dict[str, str]]] = {}
    if not names:
        return out
    resources = [ConfigResource(ConfigResourceType.TOPIC, n) for n in names]
    for response in await client.describe_configs(resources):
        for resource in response.resources:
            error_code, _msg, _rtype, name, entries = resource[:5]
            if error_code != 0:
                continue
            mine, everything = {}, {}
            for entry in entries:
                key, value, _ro, source = entry[0], entry[1], entry[2], entry[3]
                everything[key] = value
                if source in _TOPIC_SOURCES:
                    mine[key] = value
            out[name] = (mine, everything)
    return out


async def describe_topics(
    settings: Settings, names: Iterable[str] | None = None, *, with_configs: bool = True
) -> list[TopicInfo]:
    """Partition counts (and configs, where the broker supports DescribeConfigs) per topic.

    ``names`` defaults to the project's topics.
    """
    wanted = list(names) if names is not None else [s.name for s in topic_specs(settings)]
    async with admin_client(settings) as client:
        counts = await _partition_counts(client, wanted)
        configs: dict[str, tuple[dict[str, str], dict[str, str]]] = {}
        existing = [n for n in wanted if counts[n] is not None]
        if with_configs and existing:
            try:
                configs = await _configs(client, existing)
            except KafkaError as exc:
                log.warning("the broker did not describe topic configs: %s", exc)
    infos = []
    for name in wanted:
        count = counts[name]
        mine, everything = configs.get(name, (None, None))
        infos.append(TopicInfo(name, count is not None, count or 0, mine, everything))
    return infos


async def _wait_visible(
    client: AIOKafkaAdminClient, specs: Sequence[TopicSpec], timeout: float
) -> None:
    """Wait until metadata shows every new topic with all its partitions."""
    deadline = time.monotonic() + timeout
    pending = {s.name: s.partitions for s in specs}
    while pending:
        counts = await _partition_counts(client, list(pending))
        pending = {n: p for n, p in pending.items() if counts.get(n) != p}
        if not pending:
            return
        if time.monotonic() > deadline:
            raise AdminError(f"topics not visible with all partitions after {timeout} s: {pending}")
        await asyncio.sleep(0.2)


async def ensure_topics(
    settings: Settings,
    specs: Sequence[TopicSpec] | None = None,
    *,
    strict: bool = True,
    timeout: float = 30.0,
) -> list[TopicResult]:
    """Create every topic in ``specs`` (default: the project's) that does not exist yet.

    Idempotent. Returns one result per topic. With ``strict`` (the default) raises
    ``TopicMismatchError`` after checking all topics if any existing topic has a different
    partition count; config differences are only warnings.
    """
    specs = list(specs) if specs is not None else topic_specs(settings)
    results: dict[str, TopicResult] = {}
    async with admin_client(settings) as client:
        counts = await _partition_counts(client, [s.name for s in specs])
        missing = [s for s in specs if counts[s.name] is None]
        created: list[TopicSpec] = []
        if missing:
            new = [
                NewTopic(
                    s.name,
                    num_partitions=s.partitions,
                    replication_factor=settings.replication_factor,
                    topic_configs=dict(s.configs),
                )
                for s in missing
            ]
            try:
                response = await client.create_topics(new, timeout_ms=int(timeout * 1000))
                errors = {t[0]: (t[1], t[2] if len(t) > 2 else None) for t in response.topic_errors}
            except TopicAlreadyExistsError:  # raised by some client versions
                errors = {s.name: (TOPIC_ALREADY_EXISTS, None) for s in missing}
            failed = []
            for s in missing:
                code, message = errors.get(s.name, (0, None))
                if code == 0:
                    created.append(s)
                elif code != TOPIC_ALREADY_EXISTS:  # lost a race with another creator: fine
                    failed.append(f"{s.name}: error {code} {message or ''}".strip())
            if failed:
                raise AdminError("the broker refused to create topics: " + "; ".join(failed))
            if created:
                await _wait_visible(client, created, timeout)
            counts.update(await _partition_counts(client, [s.name for s in missing]))
        for s in created:
            results[s.name] = TopicResult(s.name, "created", s.partitions, s.partitions)
        existing = [s for s in specs if s.name not in results]
        try:
            configs = await _configs(client, [s.name for s in existing]) if existing else {}
        except KafkaError as exc:
            log.warning("cannot check configs of existing topics: %s", exc)
            configs = {}
    for s in existing:
        actual = counts.get(s.name) or 0
        warnings = []
        _mine, everything = configs.get(s.name, ({}, None))
        if everything is not None:
            for key, value in s.configs.items():
                if everything.get(key) != value:
                    warnings.append(f"{key} is {everything.get(key)!r}, wanted {value!r}")
        outcome = "exists" if actual == s.partitions else "mismatch"
        results[s.name] = TopicResult(s.name, outcome, s.partitions, actual, tuple(warnings))
    ordered = [results[s.name] for s in specs]
    for r in ordered:
        if r.outcome == "created":
            log.info("created topic %s with %d partitions", r.name, r.actual_partitions)
        elif r.outcome == "exists":
            log.info("topic %s already exists with %d partitions", r.name, r.actual_partitions)
        else:
            log.error(
                "topic %s exists with %d partitions but Pitboss needs %d: delete and re-create "
                "it (local: `make reset`), or set PITBOSS_PARTITIONS to match",
                r.name,
                r.actual_partitions,
                r.wanted_partitions,
            )
        for w in r.warnings:
            log.warning("topic %s: %s (left unchanged)", r.name, w)
    bad = [r for r in ordered if not r.ok]
    if strict and bad:
        raise TopicMismatchError(
            "partition count mismatch: "
            + ", ".join(
                f"{r.name} has {r.actual_partitions}, wants {r.wanted_partitions}" for r in bad
            )
        )
    return ordered
