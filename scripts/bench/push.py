#!/usr/bin/env python
"""Push latency: a table event produced to Kafka -> its message on the player's WebSocket.

    python -m scripts.bench.push                          # ramp 100 .. 4,000 connections
    python -m scripts.bench.push --connections 100,1000 --rate 200 --seconds 15
    python -m scripts.bench --only push                   # the same, as a phase of make bench

One worker (the shipped ruleset, its daily points cap out of reach: ``uncapped_ruleset``) and
one ``pitboss gateway`` process run in an isolated stage (scripts/bench/common.py's Stage) on a
private local broker unless ``--broker-url`` names one.
Every player of the run plays once first (so the gateway knows their journal name and each
one's explorer badge is behind them); then, for each step of ``--connections`` (ascending,
the connections of earlier steps stay open), the bench opens WebSockets up to that count,
one player each, and produces ``BET_PLACED`` events at a steady ``--rate`` spread round-robin
over the connected players, each stamped ``occurred_at`` = the moment it is produced. Every
such bet earns wager-points, so each event makes exactly one ``reward_issued`` message whose
``at`` is that stamp: latency = the moment the message is read off the socket minus ``at``
(produce, broker, decide, journal, gateway follow, push, client read). The first
``--warmup`` seconds of each step are not timed. A step's messages are counted against its
events: once the step's last event is sent, the bench waits for the missing ones up to
``DRAIN_LIMIT_S``; those still missing then (a worker or a gateway that fell behind at the
rate) are reported, never timed, and the step does not hold.

``held`` is the largest step whose messages all came and whose p99 stayed under
``--target-ms`` (250 ms, issue 12). The client holds every connection in this one process,
on the same machine: on a small machine the client, the broker, the worker and the gateway
share the cores, and the figures are the whole system's. The gateway's own share (the
worker recorded the decision -> the gateway sent it) comes from its ``/metrics`` histogram,
scraped before and after each step with a monitoring token of the stage's development
identity: shown as the bounds of its buckets.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import secrets
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson
import yaml
from prometheus_client.parser import text_string_to_metric_families

from app.contract.codec import AvroCodec
from app.core.samples import sample_event
from app.devtools.localbroker import free_port
from app.devtools.simulator.producer import make_producer
from app.devtools.supervise import Child, spawn
from app.gateway.settings import GatewaySettings
from app.gateway.tokens import mint_player_token
from app.rules import DEFAULT_RULESET_PATH
from app.security.dev_identity import ensure_dev_identity
from scripts.bench.baselines import stop
from scripts.bench.common import Offsets, Stage, run_standalone, wait_caught_up
from scripts.bench.measure import percentile
from scripts.bench.pitboss import DRAIN_LIMIT_S, deploy, start_worker
from scripts.bench.targets import pushed_all

GATEWAY_COMMAND = (sys.executable, "-m", "faust", "-A", "app.main", "gateway")
DEFAULT_STEPS = (100, 250, 500, 1000, 2000, 4000)
#: WebSockets opened at once while ramping up
OPENING = 100
#: event ids never repeat within a run (ingest drops a repeated one)
NUMBERS = itertools.count()
#: a bet of 10.00 EUR: 10 wager points, one reward_issued message
STAKE = {"bet_type": "main", "stake_minor": 1000, "currency": "EUR"}
#: the run's daily points cap: out of any run's reach
POINTS_CAP = 10**9


@dataclass
class Step:
    """One connection count: what was sent and what arrived when."""

    connections: int
    started_ms: int = 0
    ended_ms: int = 0
    sent: int = 0
    latencies: list[float] = field(default_factory=list)
    #: events the worker had not decided when the drain gave up on missing messages
    undecided: int = 0

    def result(self, failed: int, reconnects: int, gateway_ms: dict) -> dict:
        timed = sorted(self.latencies)
        return {
            "connections": self.connections,
            "connections_failed": failed,
            "reconnect_messages": reconnects,
            "events_timed": self.sent,
            "rate_sent": round(self.sent * 1000 / (self.ended_ms - self.started_ms)),
            "messages_timed": len(timed),
            "messages_missing": self.sent - len(timed),
            "undecided_after_drain": self.undecided,
            "latency_ms": {
                name: round(percentile(timed, q), 1)
                for name, q in (("p50", 0.5), ("p99", 0.99), ("max", 1.0))
            },
            "gateway_share_ms": gateway_ms,
        }


async def settle(step: Step, limit: float) -> None:
    """Until every timed event's message has come, or ``limit`` seconds have passed."""
    deadline = time.monotonic() + limit
    while len(step.latencies) < step.sent and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


def uncapped_ruleset(path: Path) -> Path:
    """The shipped ruleset with a daily points cap no run reaches, written to ``path``. Its
    own cap (1,000 points a day) holds back the wager points of a player's bets of 10 EUR
    from the 101st on, and a held-back reward pushes no message: at half of (5) over 100
    connections a step would count most of its messages missing. The cap is still checked,
    so the worker does the shipped ruleset's work."""
    doc = yaml.safe_load(DEFAULT_RULESET_PATH.read_text())
    doc.setdefault("protection", {})["daily_points_cap"] = POINTS_CAP
    doc["description"] = "scripts/bench/push.py: the shipped ruleset, its points cap out of reach"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def push_buckets(metrics_text: str) -> dict[float, float]:
    """The gateway's push-latency histogram (upper bound in seconds -> cumulative count)."""
    return {
        float(sample.labels["le"]): sample.value
        for family in text_string_to_metric_families(metrics_text)
        if family.name == "pitboss_gateway_push_latency_seconds"
        for sample in family.samples
        if sample.name.endswith("_bucket")
    }


def bucket_quantiles(before: dict[float, float], after: dict[float, float]) -> dict:
    """p50 and p99 of what the histogram gained between two scrapes, as the upper bound (ms)
    of the bucket each falls in: the gateway's own share (decision recorded -> sent)."""
    gained = sorted((bound, after[bound] - before.get(bound, 0.0)) for bound in after)
    total = gained[-1][1] if gained else 0.0
    found = {}
    for name, q in (("p50", 0.5), ("p99", 0.99)):
        bound = next((b for b, n in gained if total and n >= q * total), None)
        found[name] = None if bound is None else bound * 1000
    return {**found, "count": int(total)}


class Clients:
    """The bench's WebSockets, one per player, each timing its ``reward_issued`` messages
    against the current step's window."""

    def __init__(self, url: str, tokens: dict[str, str]) -> None:
        self.url, self.tokens = url, tokens
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),  # no pool bound: each socket stays open
            timeout=aiohttp.ClientTimeout(total=None),
        )
        self.open: list[str] = []
        self.readers: list[asyncio.Task] = []
        self.failed = self.reconnects = 0
        self.step: Step | None = None

    async def open_up_to(self, count: int, players: list[str]) -> None:
        wanted = players[len(self.open) : count]
        for start in range(0, len(wanted), OPENING):
            await asyncio.gather(*(self._connect(p) for p in wanted[start : start + OPENING]))

    async def _connect(self, player: str) -> None:
        try:
            ws = await self.session.ws_connect(
                f"{self.url}/gateway/v1/players/{player}/stream",
                params={"access_token": self.tokens[player]},
                heartbeat=None,
                max_msg_size=1 << 20,
            )
        except (aiohttp.ClientError, OSError):
            self.failed += 1
            return
        self.open.append(player)
        self.readers.append(asyncio.create_task(self._read(ws)))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for frame in ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                continue
            now = time.time() * 1000
            message = orjson.loads(frame.data)
            if message["type"] == "reconnect":
                self.reconnects += 1
            step = self.step
            if (
                message["type"] == "reward_issued"
                and step is not None
                and step.started_ms <= message["at"] <= step.ended_ms
            ):
                step.latencies.append(now - message["at"])

    async def close(self) -> None:
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        await self.session.close()


def bet(player: str, n: int) -> dict:
    """A roulette bet of ``player`` placed now (its ``occurred_at`` is the latency's start)."""
    return {
        **sample_event("BET_PLACED"),
        "event_id": f"push-{player}-{n}",
        "occurred_at": int(time.time() * 1000),
        "table_id": "push-rl-01",
        "game": "ROULETTE",
        "game_variant": None,
        "round_id": f"r-{n}",
        "player_id": player,
        "bet": STAKE,
        "settlement": None,
        "chat_text": None,
        "attributes": {},
    }


async def produce_steady(
    stage: Stage, players: list[str], rate: float, seconds: float, window: tuple[int, int]
) -> int:
    """Bets round-robin over ``players`` at ``rate`` per second for ``seconds``; how many
    were stamped within ``window`` (epoch ms, both ends included)."""
    producer = make_producer(stage.settings)
    await producer.start()
    codec, topic = AvroCodec("TableEvent"), stage.settings.topics.table_events
    turn, sent, timed, started = itertools.cycle(players), 0, 0, time.monotonic()
    try:
        while (elapsed := time.monotonic() - started) < seconds:
            for _ in range(int(elapsed * rate) - sent):
                player = next(turn)
                event = bet(player, next(NUMBERS))
                timed += window[0] <= event["occurred_at"] <= window[1]
                await producer.send(topic, codec.encode(event), key=player.encode())
                sent += 1
            await asyncio.sleep(0.005)
        await producer.flush()
    finally:
        await producer.stop()
    return timed


async def start_gateway(stage: Stage) -> tuple[Child, str, Path]:
    """A ``pitboss gateway`` of the stage, once it has read the decisions (/health ready)."""
    port, keys = free_port(), stage.root / "player-keys"
    env = {**stage.env, "PITBOSS_GATEWAY_PORT": str(port), "PITBOSS_PLAYER_DEV_KEYS": str(keys)}
    child = spawn("gateway", GATEWAY_COMMAND, env, stage.root / "gateway.log")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"the gateway exited:\n{child.tail()}")
        with contextlib.suppress(OSError, ValueError):
            health = await asyncio.to_thread(_get, f"{url}/health")
            if health.get("ready"):
                return child, url, keys
        await asyncio.sleep(0.5)
    await asyncio.to_thread(stop, child)
    raise TimeoutError("the gateway was not ready within 120 s")


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return orjson.loads(response.read())


async def push_latency(
    stage: Stage,
    *,
    steps: tuple[int, ...],
    rate: float,
    seconds: float,
    warmup: float,
    target_ms: float,
    keep_going: bool = False,
) -> dict:
    """The ramp (see the module's doc); stops after the first step over ``target_ms``
    unless ``keep_going``."""
    # the worker and the gateway must share one (a private broker is no "local" one)
    stage.env.setdefault("PITBOSS_ERASURE_KEY", secrets.token_hex(32))
    await deploy(stage, uncapped_ruleset(stage.root / "uncapped.yaml"))
    worker = await start_worker(stage)
    try:
        gateway, url, keys = await start_gateway(stage)
    except BaseException:
        await asyncio.to_thread(stop, worker)
        raise
    players = [f"p-push-{i:06d}" for i in range(max(steps))]
    clients = None
    try:
        # every player plays once: the gateway knows their journal name, the badge is done
        await _first_bets(stage, players)
        audience = GatewaySettings.from_env(stage.env).audience
        tokens = {p: mint_player_token(keys, p, audience, ttl=3600) for p in players}
        clients = Clients(url, tokens)
        monitor = ensure_dev_identity(stage.env["PITBOSS_DEV_IDENTITY"]).mint(
            "bench", ["monitoring"]
        )

        async def scrape() -> str:
            async with clients.session.get(
                f"{url}/metrics", headers={"Authorization": f"Bearer {monitor}"}
            ) as answer:
                answer.raise_for_status()
                return await answer.text()

        results = []
        for count in steps:
            opening = time.monotonic()
            await clients.open_up_to(count, players)
            print(
                f"   {len(clients.open):,} connections open "
                f"({time.monotonic() - opening:.1f} s to open)",
                flush=True,
            )
            await asyncio.sleep(2)  # the streams listen
            step = clients.step = Step(len(clients.open))
            step.started_ms = int((time.time() + warmup) * 1000)
            step.ended_ms = int((time.time() + warmup + seconds) * 1000)
            window = (step.started_ms, step.ended_ms)
            scraped = push_buckets(await scrape())
            step.sent = await produce_steady(stage, clients.open, rate, warmup + seconds, window)
            await settle(step, DRAIN_LIMIT_S)
            clients.step = None
            if len(step.latencies) < step.sent:  # the worker's part in it, or the gateway's
                async with Offsets(stage.settings) as offsets:
                    step.undecided = await offsets.lag(
                        stage.settings.app_id, stage.settings.topics.table_events
                    )
            share = bucket_quantiles(scraped, push_buckets(await scrape()))
            result = step.result(clients.failed, clients.reconnects, share)
            results.append(result)
            ms = result["latency_ms"]
            print(
                f"   {result['connections']:>6,} connections: p50 {ms['p50']:,.0f} ms, "
                f"p99 {ms['p99']:,.0f} ms, {result['messages_timed']:,} of "
                f"{result['events_timed']:,} messages timed",
                flush=True,
            )
            if not pushed_all(result, target_ms) and not keep_going:
                break
    finally:
        if clients is not None:
            await clients.close()
        await asyncio.to_thread(stop, gateway)
        await asyncio.to_thread(stop, worker)
    under = [r["connections"] for r in results if pushed_all(r, target_ms)]
    return {
        "rate": rate,
        "seconds": seconds,
        "warmup_s": warmup,
        "target_p99_ms": target_ms,
        "held": max(under, default=0),
        "steps": results,
        "gateway_log": str(gateway.log_path),
    }


async def _first_bets(stage: Stage, players: list[str]) -> None:
    """One bet per player, decided by the worker, and a moment for the gateway to follow."""
    producer = make_producer(stage.settings, fast=True)
    await producer.start()
    codec, topic = AvroCodec("TableEvent"), stage.settings.topics.table_events
    try:
        for player in players:
            await producer.send(
                topic, codec.encode(bet(player, next(NUMBERS))), key=player.encode()
            )
        await producer.flush()
    finally:
        await producer.stop()
    async with Offsets(stage.settings) as offsets:
        await wait_caught_up(offsets, stage.settings.app_id, topic, timeout=300)
    await asyncio.sleep(3)


def render(report: dict) -> str:
    lines = [
        f"push latency: {report['rate']:,.0f} events/s asked for {report['seconds']:g} s per "
        f"step (after {report['warmup_s']:g} s), produce -> message on the WebSocket",
        f"{'connections':>12} {'events':>8} {'sent/s':>7} {'messages':>9} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'max ms':>8} {'failed':>7} {'gateway p50/p99 ms':>19}",
    ]
    for r in report["steps"]:
        ms, share = r["latency_ms"], r["gateway_share_ms"]
        lines.append(
            f"{r['connections']:>12,} {r['events_timed']:>8,} {r['rate_sent']:>7,} "
            f"{r['messages_timed']:>9,} {ms['p50']:>8,.0f} {ms['p99']:>8,.0f} {ms['max']:>8,.0f} "
            f"{r['connections_failed']:>7,} {_bound(share['p50']):>9}/{_bound(share['p99'])}"
        )
    lines += [
        f"{r['connections']:>12,} connections: {r['messages_missing']:,} of the "
        f"{r['events_timed']:,} messages had not come {DRAIN_LIMIT_S:g} s after the step "
        f"({r['undecided_after_drain']:,} events still undecided by the worker): the system "
        "fell behind at this rate; the figures are over those that came"
        for r in report["steps"]
        if r["messages_missing"]
    ]
    lines.append(
        f"held: {report['held']:,} connections with every message and p99 under "
        f"{report['target_p99_ms']:g} ms\n"
        "sent/s: events sent per second in the timed window\n"
        "gateway p50/p99: its own share (the worker recorded the decision -> the gateway sent "
        "it), as the bound of its histogram's bucket"
    )
    return "\n".join(lines)


def _bound(ms: float | None) -> str:
    return "-" if ms is None else f"<={ms:g}"


def add_arguments(
    parser: argparse.ArgumentParser, prefix: str = "", rate: float | None = 200.0
) -> None:
    """The push options (``prefix`` ``push-`` and no default ``rate`` in make bench's
    parser: it takes half of what its phase (5) decided)."""
    parser.add_argument(
        f"--{prefix}connections",
        default=",".join(map(str, DEFAULT_STEPS)),
        help="the ramp: connection counts, comma-separated (default %(default)s)",
    )
    parser.add_argument(
        f"--{prefix}rate", type=float, default=rate, help="events per second (all players)"
    )
    parser.add_argument(f"--{prefix}seconds", type=float, default=20.0, help="timed per step")
    parser.add_argument(f"--{prefix}warmup", type=float, default=3.0, help="untimed per step")
    parser.add_argument(f"--{prefix}target-ms", type=float, default=250.0, help="the p99 bound")


def steps_of(text: str) -> tuple[int, ...]:
    steps = tuple(sorted({int(s) for s in text.split(",") if s.strip()}))
    if not steps or steps[0] < 1:
        raise ValueError(f"connection counts are whole numbers from 1: {text!r}")
    return steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--keep-going", action="store_true", help="ramp past the target")
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--broker-url", help="default: PITBOSS_BROKER_URL, else a private one")
    args = parser.parse_args(argv)
    try:
        steps = steps_of(args.connections)
    except ValueError as exc:
        parser.error(str(exc))
    return run_standalone(
        "push",
        args,
        lambda stage: push_latency(
            stage,
            steps=steps,
            rate=args.rate,
            seconds=args.seconds,
            warmup=args.warmup,
            target_ms=args.target_ms,
            keep_going=args.keep_going,
        ),
        render,
    )


if __name__ == "__main__":
    sys.exit(main())
