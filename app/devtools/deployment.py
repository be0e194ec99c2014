"""Real workers on the real broker, for end-to-end tests.

Each ``Deployment`` is an isolated Pitboss (its own topic prefix, app id, state directory
and web port) on the shared local broker, so tests never see each other's records and
re-runs never see old ones. Its workers run with authentication on, trusting a development
identity kept in its state directory; the helpers here call the views with tokens from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import ConsumerRecord, TopicPartition

from app.contract.codec import AvroCodec
from app.devtools.localbroker import broker_answers, free_port
from app.devtools.supervise import Child, spawn_worker
from app.operations.admin import admin_client, ensure_topics
from app.operations.reading import read_to_end
from app.security import kafka_clients
from app.security.dev_identity import DevIdentity, ensure_dev_identity
from app.security.player_keys import player_pseudonym
from app.settings import Settings

#: The roles the helpers call the views with: the auditor reads everything (every tier, every
#: field) and changes nothing.
READER_ROLES = ("auditor",)


def get_json(url: str, token: str | None = None) -> dict:
    """The JSON a view answers, calling it with ``token`` if given."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as response:
        return json.load(response)


def wait_for(check: Callable[[], object], timeout: float = 30.0, what: str = "the condition"):
    """Poll ``check`` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.2)


def require_broker(settings: Settings) -> None:
    if not broker_answers(settings.bootstrap_servers):
        raise RuntimeError(
            f"no Kafka broker answers at {settings.bootstrap_servers}: "
            "run the tests with `make test`, which starts the local broker"
        )


@dataclass
class Deployment:
    """An isolated Pitboss deployment: settings, topics and workers."""

    env: dict[str, str]
    settings: Settings
    workers: list[Child] = field(default_factory=list)

    @classmethod
    def create(cls, state_dir: Path, partitions: int = 4, **extra: str) -> Deployment:
        tag = uuid.uuid4().hex[:8]
        env = {
            **os.environ,
            "PITBOSS_TOPIC_PREFIX": f"t{tag}-",
            "PITBOSS_APP_ID": f"pitboss-test-{tag}",
            "PITBOSS_STATE_DIR": str(state_dir),
            "PITBOSS_PARTITIONS": str(partitions),
            "PITBOSS_WEB_PORT": str(free_port()),
            "PITBOSS_DEV_IDENTITY": str(state_dir / "dev-identity"),
            # one key for every process of the deployment, whichever broker it runs against
            "PITBOSS_ERASURE_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
            **extra,
        }
        ensure_dev_identity(env["PITBOSS_DEV_IDENTITY"])
        deployment = cls(env=env, settings=Settings.from_env(env))
        require_broker(deployment.settings)
        asyncio.run(ensure_topics(deployment.settings))
        return deployment

    def with_env(self, **changes: str) -> Deployment:
        """The same deployment (topics, app id, identity, and the workers ``stop_all`` ends)
        with ``changes`` to what its workers start with: a second worker on a web port of its
        own, or a worker restarted with another setting, as a new version would be."""
        env = {**self.env, **changes}
        return Deployment(env, Settings.from_env(env), self.workers)

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.web_port}"

    @property
    def identity(self) -> DevIdentity:
        """The development identity the deployment's workers trust."""
        return DevIdentity(Path(self.env["PITBOSS_DEV_IDENTITY"]))

    def token(self, *roles: str, subject: str = "e2e", ttl: float = 3600) -> str:
        """A token for ``subject`` with ``roles``, from the deployment's identity."""
        return self.identity.mint(subject, roles, ttl=ttl)

    def view(self, path: str, token: str | None = None) -> dict:
        """A worker web view's JSON, e.g. ``view("/pitboss/players/p-1/")``, as an auditor
        unless ``token`` says otherwise."""
        return get_json(self.web_url + path, token or self.token(*READER_ROLES))

    def secret(self, player_id: str) -> bytes:
        """The player's secret on ``player-keys``, once a worker has made it (before the first
        record that names the player by it)."""

        def found() -> bytes | None:
            held = {r.key: r.value for r in self.read_all(self.settings.topics.player_keys)}
            return held.get(player_id.encode())

        return wait_for(found, what=f"{player_id}'s secret")

    def named(self, player_id: str) -> str:
        """How the journal and dead letters name the player: the pseudonym under their
        secret (docs/security.md, crypto-shredding)."""
        return player_pseudonym(player_id, self.secret(player_id))

    def player_when(self, player_id: str, ready: Callable[[dict], bool]) -> dict:
        """The player's view once ``ready(view)`` holds."""
        path = f"/pitboss/players/{player_id}/"

        def check() -> dict | None:
            view = self.view(path)
            return view if ready(view) else None

        return wait_for(check, what=f"{player_id}'s view")

    def start_worker(self, worker_id: str = "worker-1", wait: bool = True) -> Child:
        worker = spawn_worker(self.env, worker_id, Path(self.settings.state_dir))
        self.workers.append(worker)
        if wait:
            worker.wait_ready()
        return worker

    def stop_all(self) -> None:
        """Kill the workers and delete the deployment's topics: the local broker keeps
        everything in one file, so topics left behind slow every later run."""
        for worker in self.workers:
            if worker.alive():
                worker.proc.kill()
                worker.proc.wait()
        with contextlib.suppress(Exception):  # cleanup must never fail a test
            asyncio.run(self._delete_topics())

    async def _delete_topics(self) -> None:
        prefixes = (
            self.settings.topics.table_events.split("-", 1)[0] + "-",
            self.settings.app_id + "-",
        )
        async with admin_client(self.settings) as client:
            mine = [t for t in await client.list_topics() if t.startswith(prefixes)]
            if mine:
                await client.delete_topics(mine)

    # -- Kafka helpers -------------------------------------------------------------------

    def produce(
        self, topic: str, records: Iterable[tuple[bytes | None, bytes, int | None]]
    ) -> None:
        """Send (key, value, partition) records and wait until the broker has them all."""

        async def send() -> None:
            producer = kafka_clients.producer(self.settings)
            await producer.start()
            try:
                futures = [
                    await producer.send(topic, value=value, key=key, partition=partition)
                    for key, value, partition in records
                ]
                await asyncio.gather(*futures)
            finally:
                await producer.stop()

        asyncio.run(send())

    def produce_events(
        self, events: Iterable[dict], key_of: Callable[[dict], str] | None = None
    ) -> None:
        codec = AvroCodec("TableEvent")
        key_of = key_of or (lambda e: e["player_id"] or e["table_id"])
        self.produce(
            self.settings.topics.table_events,
            [(key_of(e).encode(), codec.encode(e), None) for e in events],
        )

    def produce_profiles(self, profiles: Iterable[dict]) -> None:
        """Send ``PlayerProfile`` dicts keyed by player, as a CRM would."""
        codec = AvroCodec("PlayerProfile")
        self.produce(
            self.settings.topics.player_profiles,
            [(p["player_id"].encode(), codec.encode(p), None) for p in profiles],
        )

    def read_all(self, topic: str, timeout: float = 30.0) -> list[ConsumerRecord]:
        """Every record on ``topic`` up to its end offsets as of now, partition by partition
        in offset order (raw records: ``timestamp`` in ms, as Kafka stamped it)."""

        async def read() -> list[ConsumerRecord]:
            consumer = kafka_clients.consumer(self.settings, enable_auto_commit=False)
            await consumer.start()
            try:
                await consumer.topics()  # all topics' metadata: asking for one would create it
                parts = consumer.partitions_for_topic(topic) or set()
                tps = sorted(TopicPartition(topic, p) for p in parts)
                found: dict[TopicPartition, list[ConsumerRecord]] = {tp: [] for tp in tps}
                async for record in read_to_end(consumer, tps, timeout_s=timeout):
                    found[TopicPartition(record.topic, record.partition)].append(record)
            except TimeoutError as exc:
                raise AssertionError(f"could not read {topic} to its end: {exc}") from None
            finally:
                await consumer.stop()
            return [record for tp in tps for record in found[tp]]

        return asyncio.run(read())

    def end_offsets(self, topics: Iterable[str]) -> dict[TopicPartition, int]:
        """The end offset of every partition of ``topics`` (missing topics: none)."""

        async def ends() -> dict[TopicPartition, int]:
            consumer = kafka_clients.consumer(self.settings)
            await consumer.start()
            try:
                await consumer.topics()  # all topics' metadata: asking for one would create it
                tps = [
                    TopicPartition(t, p)
                    for t in topics
                    for p in consumer.partitions_for_topic(t) or ()
                ]
                return await consumer.end_offsets(tps)
            finally:
                await consumer.stop()

        return asyncio.run(ends())

    def lag(self, topic: str) -> int:
        """Records on ``topic`` the deployment's consumer group has not committed yet."""

        async def committed() -> dict:
            async with admin_client(self.settings) as client:
                return await client.list_consumer_group_offsets(self.settings.app_id)

        done = asyncio.run(committed())
        return sum(
            end - max(done[tp].offset, 0) if tp in done else end
            for tp, end in self.end_offsets([topic]).items()
        )

    def written_topics(self) -> list[str]:
        """What the workers write: outputs, the re-keyed events, the players' secrets and the
        changelogs."""
        t, app_id = self.settings.topics, self.settings.app_id
        outputs = [t.journal, t.rewards, t.cooldowns, t.dead_letters, t.leaderboard_scores]
        changelogs = [
            f"{app_id}-{n}-changelog" for n in ("player-state", "player-profiles", "leaderboards")
        ]
        return [*outputs, t.rekeyed, t.player_keys, *changelogs]

    def wait_quiet(self, quiet: float = 2.0, timeout: float = 60.0) -> None:
        """Wait until nothing was written to the deployment's outputs and changelogs for
        ``quiet`` seconds (the workers are done, trailing leaderboard updates included)."""
        written = self.written_topics()
        last = {"total": -1, "since": time.monotonic()}

        def settled() -> bool:
            total = sum(self.end_offsets(written).values())
            if total != last["total"]:
                last.update(total=total, since=time.monotonic())
            return time.monotonic() - last["since"] >= quiet

        wait_for(settled, timeout, what=f"{quiet} s without writes")

    def wait_caught_up(self, *topics: str, timeout: float = 60.0) -> None:
        """Wait until the workers have committed everything on ``topics`` (lag 0): every
        event there is decided, its outputs acknowledged and its state written."""
        try:
            wait_for(
                lambda: sum(self.lag(t) for t in topics) == 0,
                timeout,
                what=f"consumer-group lag 0 on {', '.join(topics)}",
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the workers' consumers: {self.consumers()}") from None

    def consumers(self) -> str:
        """The worker's /pitboss/consumer/ view and the end of every worker's log, for a
        failure message."""
        try:
            view = json.dumps(self.view("/pitboss/consumer/"))
        except OSError as exc:
            view = f"unreachable ({exc})"
        logs = "".join(f"\n--- {w.name} ---\n{w.tail(40)}" for w in self.workers)
        return f"{view}{logs}"

    def consume(
        self,
        topic: str,
        schema: str | None,
        until: Callable[[list], bool],
        timeout: float = 30.0,
    ) -> list:
        """Everything on ``topic`` from the start until ``until(records)`` holds: decoded
        with the ``schema``'s codec, or raw Kafka records when ``schema`` is None."""
        codec = AvroCodec(schema) if schema else None

        async def read() -> list[dict]:
            consumer = kafka_clients.consumer(
                self.settings,
                topic,
                auto_offset_reset="earliest",
                enable_auto_commit=False,
            )
            await consumer.start()
            found: list = []
            deadline = time.monotonic() + timeout
            try:
                while not until(found):
                    if time.monotonic() > deadline:
                        raise AssertionError(
                            f"after {timeout} s {topic} holds {len(found)} records: {found[:5]}"
                        )
                    batches = await consumer.getmany(timeout_ms=300)
                    for messages in batches.values():
                        found.extend(codec.decode(m.value) if codec else m for m in messages)
            finally:
                await consumer.stop()
            return found

        return asyncio.run(read())
