#!/usr/bin/env python
"""HTTP intake: events per second one ``pitboss intake`` process accepts into Kafka, and the
latency it adds.

    python -m scripts.bench.intake                         # 100-event JSON batches, 8 clients
    python -m scripts.bench.intake --batch 500 --clients 16 --seconds 20

One ``pitboss intake`` process runs in an isolated stage (scripts/bench/common.py's Stage) on
a private local broker unless ``--broker-url`` names one. The events are the studio
simulator's, as the example vendor's JSON (``dealerstream``: the shipped mapping, an API key
per request), in batches of ``--batch``. Three measurements, one after the other:

  throughput  ``--clients`` clients post batches back to back for ``--seconds``: events
              accepted per second (a 202's ``accepted``: what Kafka acknowledged), and the
              requests' p50/p99 (request -> 202) under that load
  latency     one client, one batch at a time: request -> 202 (the intake maps and checks
              every item, produces with acks=all and answers once Kafka acknowledged)
  direct      the same events as Avro ``TableEvent``s produced straight to ``table-events``
              by one aiokafka producer (acks=all), one batch at a time: send -> ack. The
              difference to ``latency`` is what the intake adds.

The client runs in this process, on the same machine as the broker and the intake: on a small
machine they share the cores, and the throughput is the whole system's.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
from pathlib import Path

import aiohttp
import orjson

from app.contract.codec import AvroCodec
from app.devtools.localbroker import free_port
from app.devtools.simulator import StudioConfig, StudioSimulator, event_rate
from app.devtools.simulator.vendor import dealerstream_batch
from app.devtools.supervise import Child, spawn
from app.intake.sources import new_key
from app.operations.admin import ensure_topics
from app.security import kafka_clients
from app.settings import PROJECT_ROOT
from scripts.bench.baselines import stop
from scripts.bench.common import Stage, run_standalone
from scripts.bench.measure import percentile

INTAKE_COMMAND = (sys.executable, "-m", "faust", "-A", "app.main", "intake")
MAPPING = PROJECT_ROOT / "app" / "intake" / "examples" / "dealerstream.mapping.yaml"
#: requests timed one at a time for the latency and direct measurements
SEQUENTIAL = 200


def batches(count: int, size: int, players: int, seed: int) -> list[list[dict]]:
    """``count`` batches of ``size`` simulator events, all in the past (ingest refuses an
    event ahead of its clock) and ending a few minutes ago, as scripts/bench/common.py's."""
    config = StudioConfig(tables=20, players=players)
    span_ms = count * size / event_rate(config, seed) * 1000
    start = int(time.time() * 1000 - span_ms * 1.2 - 300_000)
    events = StudioSimulator(config, seed, start).take(count * size)
    return [events[i : i + size] for i in range(0, len(events), size)]


async def start_intake(stage: Stage, in_flight: int) -> tuple[Child, str, str]:
    """A ``pitboss intake`` of the stage with one source (dealerstream, an API key): the
    process, its URL and the key."""
    key, stored = new_key()
    sources = stage.root / "sources.yaml"
    sources.write_text(
        f"sources:\n  dealerstream:\n    mappings: [{MAPPING}]\n    api_keys: ['{stored}']\n"
    )
    port = free_port()
    env = {
        **stage.env,
        "PITBOSS_INTAKE_SOURCES_FILE": str(sources),
        "PITBOSS_INTAKE_PORT": str(port),
        "PITBOSS_INTAKE_MAX_IN_FLIGHT": str(in_flight),
    }
    child = spawn("intake", INTAKE_COMMAND, env, stage.root / "intake.log")
    deadline = time.monotonic() + 90
    while "intake listening on" not in child.log():
        if not child.alive() or time.monotonic() > deadline:
            await asyncio.to_thread(stop, child)
            raise RuntimeError(f"the intake did not start:\n{child.tail()}")
        await asyncio.sleep(0.2)
    return child, f"http://127.0.0.1:{port}/intake/v1/dealerstream/events", key


class Poster:
    """Posts JSON batches; counts what was accepted, refused and pushed back (429)."""

    def __init__(self, session: aiohttp.ClientSession, url: str, key: str) -> None:
        self.session, self.url = session, url
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.accepted = self.refused = self.busy = 0
        self.seconds: list[float] = []

    async def post(self, body: bytes) -> None:
        started = time.perf_counter()
        async with self.session.post(self.url, data=body, headers=self.headers) as response:
            answer = await response.read()
            if response.status == 429:
                self.busy += 1
                await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                return
            if response.status != 202:
                raise RuntimeError(f"the intake answered {response.status}: {answer[:300]!r}")
        self.seconds.append(time.perf_counter() - started)
        counted = orjson.loads(answer)
        self.accepted += len(counted["accepted"])
        self.refused += len(counted["refused"])


def _ms(seconds: list[float]) -> dict[str, float]:
    timed = sorted(s * 1000 for s in seconds)
    return {
        name: round(percentile(timed, q), 1)
        for name, q in (("p50", 0.5), ("p99", 0.99), ("max", 1.0))
    }


async def throughput(url: str, key: str, bodies: list[bytes], clients: int, seconds: float) -> dict:
    async with aiohttp.ClientSession() as session:
        poster = Poster(session, url, key)
        await poster.post(bodies[0])  # connections and the intake's first request warm
        poster.accepted = poster.refused = 0
        poster.seconds.clear()
        turn = iter(range(10**9))
        deadline = time.monotonic() + seconds

        async def client() -> None:
            while time.monotonic() < deadline:
                await poster.post(bodies[next(turn) % len(bodies)])

        started = time.monotonic()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.monotonic() - started
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": len(poster.seconds),
        "events_accepted": poster.accepted,
        "events_refused": poster.refused,
        "answered_429": poster.busy,
        "accepted_per_s": round(poster.accepted / elapsed),
        "request_ms": _ms(poster.seconds),
    }


async def sequential(url: str, key: str, bodies: list[bytes]) -> dict:
    async with aiohttp.ClientSession() as session:
        poster = Poster(session, url, key)
        await poster.post(bodies[0])
        poster.seconds.clear()
        for body in bodies[1 : SEQUENTIAL + 1]:
            await poster.post(body)
    return {"requests": len(poster.seconds), "request_ms": _ms(poster.seconds)}


async def direct(stage: Stage, groups: list[list[dict]]) -> dict:
    """The same events as Avro straight to table-events, a batch at a time: send -> ack."""
    encode, topic = AvroCodec("TableEvent").encode, stage.settings.topics.table_events
    producer = kafka_clients.producer(stage.settings, acks="all", linger_ms=5)
    await producer.start()
    seconds: list[float] = []
    try:
        for events in groups[: SEQUENTIAL + 1]:
            started = time.perf_counter()
            sends = [
                await producer.send(
                    topic, encode(e), key=(e["player_id"] or e["table_id"]).encode()
                )
                for e in events
            ]
            await asyncio.gather(*sends)
            seconds.append(time.perf_counter() - started)
    finally:
        await producer.stop()
    return {"requests": len(seconds) - 1, "request_ms": _ms(seconds[1:])}


async def intake_bench(
    stage: Stage, *, batch: int, clients: int, seconds: float, players: int, seed: int
) -> dict:
    stage.env.setdefault("PITBOSS_ERASURE_KEY", secrets.token_hex(32))
    await ensure_topics(stage.settings)
    groups = batches(max(SEQUENTIAL + 1, 400), batch, players, seed)
    bodies = [dealerstream_batch(g) for g in groups]
    child, url, key = await start_intake(stage, in_flight=max(20_000, batch * clients * 2))
    try:
        loaded = await throughput(url, key, bodies, clients, seconds)
        print(f"   throughput: {loaded['accepted_per_s']:,} events/s accepted", flush=True)
        alone = await sequential(url, key, bodies)
    finally:
        await asyncio.to_thread(stop, child)
    straight = await direct(stage, groups)
    return {
        "batch": batch,
        "body_bytes_mean": round(sum(map(len, bodies)) / len(bodies)),
        "throughput": loaded,
        "latency": alone,
        "direct_avro": straight,
        "added_ms_p50": round(alone["request_ms"]["p50"] - straight["request_ms"]["p50"], 1),
        "intake_log": str(child.log_path),
    }


def render(report: dict) -> str:
    t, lat, d = report["throughput"], report["latency"], report["direct_avro"]
    return "\n".join(
        [
            f"intake: JSON batches of {report['batch']} events "
            f"({report['body_bytes_mean']:,} B each), one intake process",
            f"  throughput  {t['clients']} clients for {t['seconds']:g} s: "
            f"{t['accepted_per_s']:,} events/s accepted ({t['events_accepted']:,}; "
            f"{t['events_refused']:,} refused, {t['answered_429']:,} answered 429); "
            f"request -> 202 p50 {t['request_ms']['p50']:,.0f} ms, "
            f"p99 {t['request_ms']['p99']:,.0f} ms",
            f"  latency     one client, {lat['requests']} batches: request -> 202 "
            f"p50 {lat['request_ms']['p50']:,.1f} ms, p99 {lat['request_ms']['p99']:,.1f} ms",
            f"  direct      the same batches as Avro to Kafka (acks=all): send -> ack "
            f"p50 {d['request_ms']['p50']:,.1f} ms, p99 {d['request_ms']['p99']:,.1f} ms",
            f"  added by the intake: {report['added_ms_p50']:,.1f} ms at p50 per batch",
        ]
    )


def add_arguments(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    parser.add_argument(f"--{prefix}batch", type=int, default=100, help="events per request")
    parser.add_argument(f"--{prefix}clients", type=int, default=8, help="concurrent clients")
    parser.add_argument(f"--{prefix}seconds", type=float, default=15.0, help="of throughput")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser)
    parser.add_argument("--players", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--broker-url", help="default: PITBOSS_BROKER_URL, else a private one")
    args = parser.parse_args(argv)
    if args.batch < 1 or args.clients < 1:
        parser.error("--batch and --clients are whole numbers from 1")
    return run_standalone(
        "intake",
        args,
        lambda stage: intake_bench(
            stage,
            batch=args.batch,
            clients=args.clients,
            seconds=args.seconds,
            players=args.players,
            seed=args.seed,
        ),
        render,
    )


if __name__ == "__main__":
    sys.exit(main())
