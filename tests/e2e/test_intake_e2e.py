"""The HTTP intake on the real broker: JSON, XML and Avro batches over HTTP are decided exactly
as the same events sent as Avro to Kafka; bad credentials produce nothing; a malformed item is
refused with its reason while the rest is accepted; the OpenAPI document fuzzed finds no 500."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import aio_pika
import fastavro
import orjson
import pytest
import requests
import schemathesis
from schemathesis.generation.modes import GenerationMode

from app.contract.codec import AvroCodec
from app.devtools.deployment import Deployment, wait_for
from app.devtools.localbroker import free_port
from app.devtools.simulator import StudioConfig, StudioSimulator
from app.devtools.simulator.vendor import croupier_batches, dealerstream_batch, dealerstream_item
from app.devtools.supervise import Child, spawn
from app.intake.server import OPENAPI_PATH
from app.intake.sources import SIGNATURE_HEADER, new_key, sign
from app.security.player_keys import unseal
from tests.e2e.test_metrics_e2e import samples, total
from tests.support.fuzz import fuzz
from tests.support.reference import assert_matches_reference, replay_deployment

pytestmark = [pytest.mark.broker, pytest.mark.slow]

EXAMPLES = Path(__file__).resolve().parents[2] / "app" / "intake" / "examples"
INTAKE_COMMAND = (sys.executable, "-m", "faust", "-A", "app.main", "intake")
AMQP_COMMAND = (sys.executable, "-m", "faust", "-A", "app.main", "intake-amqp")
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
SECRET = b"croupier-shared-secret"
#: The intake's bound on events waiting for Kafka: a bigger batch is answered 429.
MAX_IN_FLIGHT = 400
NOT_A_NUMBER = "bet.stake_minor: 'five' is not a number"


class Intake:
    """A running ``pitboss intake`` of a deployment, and a client for it."""

    def __init__(self, dep: Deployment, tmp: Path) -> None:
        self.dep = dep
        self.key, stored = new_key()
        (tmp / "croupier.hmac").write_bytes(SECRET)
        sources = tmp / "sources.yaml"
        sources.write_text(
            "sources:\n"
            "  dealerstream:\n"
            f"    mappings: [{EXAMPLES}/dealerstream.mapping.yaml]\n"
            f"    api_keys: ['{stored}']\n"
            "  croupier:\n"
            f"    mappings: [{EXAMPLES}/croupierml.mapping.yaml]\n"
            "    hmac_secret_file: croupier.hmac\n"
        )
        self.port = free_port()
        env = {
            **dep.env,
            "PITBOSS_INTAKE_SOURCES_FILE": str(sources),
            "PITBOSS_INTAKE_PORT": str(self.port),
            "PITBOSS_INTAKE_MAX_IN_FLIGHT": str(MAX_IN_FLIGHT),
        }
        self.child: Child = spawn("intake", INTAKE_COMMAND, env, tmp / "intake.log")
        wait_for(self._listening, 90, what="the intake listening")

    def _listening(self) -> bool:
        if not self.child.alive():
            raise AssertionError(f"the intake exited:\n{self.child.tail()}")
        return "intake listening on" in self.child.log()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def post(self, source: str, body: bytes, content_type: str, **headers: str):
        return requests.post(
            f"{self.url}/intake/v1/{source}/events",
            data=body,
            headers={"Content-Type": content_type, **headers},
            timeout=60,
        )

    def send_json(self, body: bytes, key: str | None = None):
        return self.post(
            "dealerstream", body, "application/json", Authorization=f"Bearer {key or self.key}"
        )

    def send_xml(self, body: bytes):
        return self.post(
            "croupier",
            body,
            "application/xml",
            **{SIGNATURE_HEADER: sign(SECRET, int(time.time()), body)},
        )

    def send_avro(self, events: list[dict]):
        out = io.BytesIO()
        fastavro.writer(out, AvroCodec("TableEvent").schema.parsed, events)
        return self.post(
            "dealerstream", out.getvalue(), "application/avro", Authorization=f"Bearer {self.key}"
        )

    def stop(self) -> None:
        self.child.stop()


@pytest.fixture(scope="module")
def intake(tmp_path_factory) -> Iterator[Intake]:
    dep = Deployment.create(tmp_path_factory.mktemp("intake"))
    dep.start_worker()
    running = Intake(dep, tmp_path_factory.mktemp("intake-process"))
    yield running
    running.stop()
    dep.stop_all()


def simulated(count: int, players: int = 30, seed: int = 3) -> list[dict]:
    """Recent events (ingest refuses a week-old one), ordered by event time."""
    start = int((time.time() - 3600) * 1000)
    return StudioSimulator(StudioConfig(tables=3, players=players), seed, start).take(count)


def offsets(dep: Deployment) -> dict:
    topics = dep.settings.topics
    return dep.end_offsets([topics.table_events, topics.dead_letters])


def decisions(dep: Deployment) -> tuple[list, list]:
    """What the deployment decided, in terms two deployments share: each journal entry's
    decision, rule, reason, events, reward and time (its player id and entry id are sealed
    under the deployment's own player secrets), and each reward but when it was issued."""
    entries = AvroCodec("JournalEntry")
    journal = sorted(
        (e["decision"], e["rule_id"], e["reason"], e["event_ids"], e["reward_id"], e["event_time"])
        for e in (entries.decode(r.value) for r in dep.read_all(dep.settings.topics.journal))
    )
    rewards = AvroCodec("Reward")
    issued = sorted(
        (
            {**r, "issued_at": None}
            for r in (rewards.decode(r.value) for r in dep.read_all(dep.settings.topics.rewards))
        ),
        key=lambda r: r["reward_id"],
    )
    return journal, issued


def test_json_xml_and_avro_over_http_decide_as_the_same_events_as_avro_on_kafka(
    intake, tmp_path_factory
):
    events = simulated(360)
    # each player's events through one format, in order; table-level events spread over all
    players = sorted({e["player_id"] for e in events if e["player_id"]})
    fmt_of = {p: ("json", "xml", "avro")[i % 3] for i, p in enumerate(players)}
    groups: dict[str, list[dict]] = {"json": [], "xml": [], "avro": []}
    for i, event in enumerate(events):
        groups[fmt_of.get(event["player_id"], ("json", "xml", "avro")[i % 3])].append(event)
    assert all(len(g) > 50 for g in groups.values())

    answers = [intake.send_json(dealerstream_batch(groups["json"]))]
    answers += [intake.send_xml(body) for body in croupier_batches(groups["xml"])]
    answers += [intake.send_avro(groups["avro"])]
    for answer in answers:
        assert answer.status_code == 202, answer.text
        assert answer.json()["refused"] == []
    accepted = [a["event_id"] for answer in answers for a in answer.json()["accepted"]]
    sent = [e for g in ("json", "xml", "avro") for e in groups[g]]
    assert accepted == [e["event_id"] for e in sent]

    # what Kafka holds is exactly the simulated events
    dep = intake.dep
    codec = AvroCodec("TableEvent")
    on_kafka = [codec.decode(r.value) for r in dep.read_all(dep.settings.topics.table_events)]
    by_id = {e["event_id"]: e for e in on_kafka}
    assert [by_id[e["event_id"]] for e in sent] == sent

    # the same events, in the same order, sent as Avro to Kafka by another deployment
    twin = Deployment.create(tmp_path_factory.mktemp("avro-twin"))
    try:
        twin.start_worker()
        twin.produce_events(sent)
        dep.wait_caught_up(dep.settings.topics.table_events)
        twin.wait_caught_up(twin.settings.topics.table_events)
        journal, rewards = decisions(dep)
        assert rewards, "the events should reward someone"
        assert (journal, rewards) == decisions(twin)
        # and the HTTP deployment decided exactly what its worker's own procedure calls for
        assert_matches_reference(dep, replay_deployment(dep))
    finally:
        twin.stop_all()


def test_a_bad_key_or_signature_is_401_and_nothing_is_produced(intake):
    body = dealerstream_batch(simulated(5, seed=9))
    before = offsets(intake.dep)
    answers = [
        intake.send_json(body, key="not-the-key"),
        intake.post("dealerstream", body, "application/json"),
        intake.post("nobody", body, "application/json", Authorization=f"Bearer {intake.key}"),
        intake.post(
            "croupier",
            body,
            "application/xml",
            **{SIGNATURE_HEADER: sign(b"wrong", int(time.time()), body)},
        ),
        intake.post(  # a signature captured ten minutes ago
            "croupier",
            body,
            "application/xml",
            **{SIGNATURE_HEADER: sign(SECRET, int(time.time()) - 600, body)},
        ),
    ]
    assert [a.status_code for a in answers] == [401] * 5
    assert {a.json()["error"] for a in answers} == {"unauthenticated"}
    assert offsets(intake.dep) == before


def test_a_malformed_item_is_refused_with_its_reason_while_the_rest_is_accepted(intake):
    events = [e for e in simulated(40, seed=21) if e["bet"]][:4]
    items = [dealerstream_item(e) for e in events]
    items[1]["wager"]["amount"] = "five"
    items[2]["kind"] = "SETTLE"
    items[2].pop("result", None)
    body = orjson.dumps({"events": items})
    answer = intake.send_json(body)
    assert answer.status_code == 202, answer.text
    result = answer.json()
    assert [a["index"] for a in result["accepted"]] == [0, 3]
    assert result["refused"] == [
        {"index": 1, "event_id": events[1]["event_id"], "reason": NOT_A_NUMBER},
        {"index": 2, "event_id": events[2]["event_id"], "reason": "BET_SETTLED needs a settlement"},
    ]
    dep = intake.dep
    letters = AvroCodec("DeadLetter")
    found = {
        letter["reason"]: letter
        for letter in (
            letters.decode(r.value) for r in dep.read_all(dep.settings.topics.dead_letters)
        )
    }
    letter = found[NOT_A_NUMBER]
    assert orjson.loads(letter["value"]) == items[1]  # the item's own bytes
    assert (letter["topic"], letter["error"]) == ("intake/dealerstream", "INVALID")
    # a player's event that fails the checks went on to the player's worker, which refused it
    # too and sealed its letter under the player's secret: nothing names the player in clear
    player = events[2]["player_id"]

    def worker_letter() -> tuple[bytes, dict] | None:
        for r in dep.read_all(dep.settings.topics.dead_letters):
            letter = letters.decode(r.value)
            from_worker = letter["topic"] == dep.settings.topics.table_events
            if from_worker and letter["reason"] == "BET_SETTLED needs a settlement":
                return r.key, letter
        return None

    key, settled = wait_for(worker_letter, what="the worker's sealed letter")
    secret = dep.secret(player)
    assert key == dep.named(player).encode()
    assert player.encode() not in settled["value"] and player.encode() not in settled["key"]
    assert unseal(settled["key"], secret) == player.encode()
    assert (
        AvroCodec("TableEvent").decode(unseal(settled["value"], secret))["event_id"]
        == (events[2]["event_id"])
    )


def test_a_batch_beyond_the_in_flight_bound_is_429_with_retry_after(intake):
    before = offsets(intake.dep)
    answer = intake.send_json(dealerstream_batch(simulated(MAX_IN_FLIGHT + 1, players=60)))
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "1"
    assert offsets(intake.dep) == before


def test_metrics_move_for_a_monitoring_token_only(intake):
    dep, url = intake.dep, f"{intake.url}/metrics"

    def scrape() -> dict:
        answer = requests.get(
            url, headers={"Authorization": f"Bearer {dep.token('monitoring')}"}, timeout=10
        )
        assert answer.status_code == 200, answer.text
        return samples(answer.text)

    source_key = {"Authorization": f"Bearer {intake.key}"}
    assert requests.get(url, headers=source_key, timeout=10).status_code == 401
    before = scrape()
    items = [dealerstream_item(e) for e in simulated(3, seed=31)]
    items[0]["wager"] = {"amount": "five", "currency": "EUR"}
    assert intake.send_json(orjson.dumps({"events": items})).status_code == 202
    intake.send_json(dealerstream_batch(simulated(MAX_IN_FLIGHT + 1, players=60)))  # a 429
    after = scrape()

    def moved(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert moved("pitboss_intake_items_total", source="dealerstream", outcome="accepted") == 2
    assert moved("pitboss_intake_items_total", source="dealerstream", outcome="refused") == 1
    assert moved("pitboss_intake_produce_seconds_count") == 1
    events_route = "/intake/v1/{source}/events"
    assert moved("pitboss_intake_requests_total", route=events_route, status="202") == 1
    assert moved("pitboss_intake_requests_total", route=events_route, status="429") == 1
    assert total(after, "pitboss_intake_in_flight") == 0


def test_health_is_open_and_the_openapi_document_needs_a_key(intake):
    assert requests.get(f"{intake.url}/health", timeout=10).json() == {"status": "ok"}
    url = f"{intake.url}/intake/v1/openapi.json"
    assert requests.get(url, timeout=10).status_code == 401
    document = requests.get(url, headers={"Authorization": f"Bearer {intake.key}"}, timeout=10)
    assert "/intake/v1/{source}/events" in document.json()["paths"]


def test_the_intake_survives_a_fuzz_from_its_openapi_document(intake):
    schema = schemathesis.openapi.from_path(OPENAPI_PATH)
    for result in schema.get_all_operations():
        operation = result.ok()
        has_parameters = bool(operation.path_parameters or operation.body)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)[: 1 + has_parameters]:
            headers = {"Authorization": f"Bearer {intake.key}"}
            statuses = fuzz(operation, mode, intake.url, headers, {"source": "dealerstream"})
            if operation.body and mode is GenerationMode.POSITIVE:
                assert statuses - {401}, "the fuzzed bodies should get past the door"


# -- RabbitMQ -------------------------------------------------------------------------------


def publish(queue: str, bodies: list[bytes]) -> None:
    """Publish persistent CroupierML messages to the durable ``queue``, as a studio would."""

    async def send() -> None:
        connection = await aio_pika.connect_robust(AMQP_URL)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            await channel.declare_queue(queue, durable=True)
            for body in bodies:
                message = aio_pika.Message(
                    body,
                    content_type="application/xml",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    message_id=uuid.uuid4().hex,
                )
                await channel.default_exchange.publish(message, routing_key=queue)

    asyncio.run(send())


def queue_depth(queue: str) -> int:
    async def depth() -> int:
        connection = await aio_pika.connect_robust(AMQP_URL)
        async with connection:
            channel = await connection.channel()
            declared = await channel.declare_queue(queue, durable=True, passive=True)
            return declared.declaration_result.message_count

    return asyncio.run(depth())


def restart_rabbitmq() -> None:
    """Stop and start the RabbitMQ application: every connection drops, durable queues and
    persistent messages stay."""
    for action in ("stop_app", "start_app"):
        subprocess.run(["rabbitmqctl", action], check=True, capture_output=True, timeout=120)


def test_rabbitmq_events_are_decided_and_a_restart_mid_stream_loses_and_doubles_nothing(
    dep, tmp_path
):
    queue = f"pitboss-e2e-{uuid.uuid4().hex[:8]}"
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        f"sources:\n  croupier:\n    mappings: [{EXAMPLES}/croupierml.mapping.yaml]\n"
    )
    events = simulated(400, seed=5)
    bodies = [
        body for i in range(0, len(events), 8) for body in croupier_batches(events[i : i + 8])
    ]
    dep.start_worker()
    env = {
        **dep.env,
        "PITBOSS_INTAKE_SOURCES_FILE": str(sources),
        "PITBOSS_AMQP_QUEUE": queue,
        "PITBOSS_AMQP_SOURCE": "croupier",
        "PITBOSS_AMQP_PREFETCH": "1",
    }
    consumer = spawn("intake-amqp", AMQP_COMMAND, env, tmp_path / "intake-amqp.log")
    try:
        wait_for(lambda: "intake-amqp consuming" in consumer.log(), 90, what="the consumer")
        half = len(bodies) // 2
        publish(queue, bodies[:half])
        restart_rabbitmq()
        publish(queue, bodies[half:])
        wait_for(lambda: queue_depth(queue) == 0, 120, what="the queue drained")
        dep.wait_caught_up(dep.settings.topics.table_events)
        assert consumer.alive(), consumer.tail()
        assert "CONNECTION_FORCED" in consumer.log(), "the restart should have cut the consumer off"
    finally:
        consumer.stop()

    codec = AvroCodec("TableEvent")
    on_kafka = [codec.decode(r.value) for r in dep.read_all(dep.settings.topics.table_events)]
    assert {e["event_id"] for e in on_kafka} == {e["event_id"] for e in events}  # none lost
    assert {e["event_id"]: e for e in on_kafka} == {e["event_id"]: e for e in events}
    # a redelivered message repeats its events on Kafka; the decisions are each made once
    outcome = assert_matches_reference(dep, replay_deployment(dep))
    assert outcome.rewards > 0
    rewards = [
        r["reward_id"]
        for r in dep.consume(
            dep.settings.topics.rewards, "Reward", lambda rs: len(rs) >= outcome.rewards
        )
    ]
    assert len(rewards) == len(set(rewards)), "a reward was issued twice"
