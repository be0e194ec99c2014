"""Delivery over HTTP on the real broker, to real HTTP servers this test runs: ``pitboss
webhooks`` gets every record to a receiver that fails twice, once per id, in order per player,
signed; a receiver that never answers in time gets its records dead-lettered with the reason
(sealed under the player's secret); ``pitboss fulfil`` credits each reward once across a
SIGKILL mid-stream, and publishes each reward's lifecycle."""

from __future__ import annotations

import asyncio
import collections
import secrets
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from app.contract.codec import AvroCodec
from app.core.ids import pseudonym
from app.devtools.deployment import Deployment, wait_for
from app.devtools.localbroker import free_port
from app.devtools.supervise import Child, spawn
from app.intake.sources import SIGNATURE_HEADER, Source, Sources
from app.security.player_keys import is_player_pseudonym, player_pseudonym, unseal
from tests.support.factories import profile, settled

pytestmark = [pytest.mark.broker, pytest.mark.slow]

COMMAND = (sys.executable, "-m", "faust", "-A", "app.main")
SIGNING_SECRET = b"webhook-shared-secret"
START = 1_764_000_000_000
PLAYERS = [f"p-{i:03d}" for i in range(8)]
#: the wallet API's body, made from the reward by the adapter's template
TEMPLATE = '{"player": {{ player_id|tojson }}, "cents": {{ amount }}, "ccy": {{ currency|tojson }}}'


class Receiver:
    """A real HTTP server on a thread of its own, recording what it is sent.

    ``/flaky`` answers 503 to the first two requests of each id, then 200; ``/hang`` answers
    after 5 s (later than any sender waits); ``/wallet`` credits each idempotency key once,
    as a real wallet does, and says ``{"state": "DONE"}`` ``wallet_delay`` seconds later."""

    def __init__(self) -> None:
        self.port = free_port()
        self.lock = threading.Lock()
        self.tries: collections.Counter[str] = collections.Counter()
        #: (path, id, headers, body) of every answered-200 request, in arrival order
        self.taken: list[tuple[str, str, dict, bytes]] = []
        self.requests: collections.Counter[str] = collections.Counter()
        #: the wallet's ledger: idempotency key -> the body of every request that carried it
        self.credits: dict[str, list[bytes]] = {}
        self.wallet_delay = 0.0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        assert self.ready.wait(10), "the receiver did not start"

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_post("/flaky", self._flaky)
        app.router.add_post("/hang", self._hang)
        app.router.add_post("/wallet", self._wallet)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", self.port)
        self.loop.run_until_complete(site.start())
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.runner.cleanup())

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    async def _flaky(self, request: web.Request) -> web.Response:
        data, the_id = await request.read(), request.headers["Idempotency-Key"]
        with self.lock:
            self.requests["/flaky"] += 1
            self.tries[the_id] += 1
            if self.tries[the_id] <= 2:
                return web.Response(status=503, text="not now")
            self.taken.append(("/flaky", the_id, dict(request.headers), data))
        return web.Response(status=200)

    async def _hang(self, request: web.Request) -> web.Response:
        with self.lock:
            self.requests["/hang"] += 1
        await asyncio.sleep(5)
        return web.Response(status=200)

    async def _wallet(self, request: web.Request) -> web.Response:
        the_id, data = request.headers["Idempotency-Key"], await request.read()
        with self.lock:  # credited on receipt: a sender killed before the answer sends it again
            self.requests["/wallet"] += 1
            self.credits.setdefault(the_id, []).append(data)
        await asyncio.sleep(self.wallet_delay)
        return web.json_response({"state": "DONE"})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.stop()


def reward(player_id: str, n: int, kind: str = "POINTS") -> dict:
    return {
        "reward_id": f"rw-{player_id}-{n:03d}",
        "player_id": player_id,
        "rule_id": "cashback" if kind == "CASHBACK_OFFER" else "wager-points",
        "rule_version": 1,
        "kind": kind,
        "amount": 500 if kind != "POINTS" else 10,
        "currency": "EUR" if kind != "POINTS" else None,
        "message": None,
        "table_id": "bj-01",
        "game": "BLACKJACK",
        "dealer_id": None,
        "trigger_event_ids": [f"ev-{player_id}-{n}"],
        "event_time": START + n,
        "issued_at": START + n,
        "attributes": {"seq": str(n)},
    }


def cooldown(player_id: str) -> dict:
    return {
        "cooldown_id": f"cd-{player_id}",
        "player_id": player_id,
        "reason": "RAPID_LOSS_AMOUNT",
        "figures": {"net_loss_minor": 60000},
        "starts_at": START,
        "ends_at": START + 900_000,
        "message": "Time for a break",
        "trigger_event_ids": [],
        "issued_at": START,
    }


def entry(player_id: str, secret: bytes) -> dict:
    return {
        "entry_id": f"je-{player_id}",
        "player_id": player_pseudonym(player_id, secret),
        "decision": "LEVEL_UP",
        "rule_id": None,
        "rule_version": None,
        "reason": "level 2",
        "event_ids": [],
        "reward_id": None,
        "details": {"level": "2"},
        "event_time": START,
        "recorded_at": START,
    }


def produce(dep: Deployment, topic: str, schema: str, records: list[dict], key: str) -> None:
    codec = AvroCodec(schema)
    dep.produce(topic, [(r[key].encode(), codec.encode(r), None) for r in records])


def give_secrets(dep: Deployment, players: list[str]) -> dict[str, bytes]:
    """Each player's secret on ``player-keys``, as a worker writes it before any record."""
    made = {p: secrets.token_bytes(32) for p in players}
    dep.produce(dep.settings.topics.player_keys, [(p.encode(), s, None) for p, s in made.items()])
    return made


def start(dep: Deployment, tmp: Path, use: str, endpoints: str, log: str) -> Child:
    (tmp / "hook.hmac").write_bytes(SIGNING_SECRET)
    config = tmp / f"{use}.yaml"
    config.write_text(endpoints)
    env = {**dep.env, f"PITBOSS_{use.upper()}_FILE": str(config)}
    child = spawn(use, (*COMMAND, use), env, tmp / log)

    def delivering() -> bool:
        if not child.alive():
            raise AssertionError(f"pitboss {use} exited:\n{child.tail()}")
        return f"{use} delivering" in child.log()

    wait_for(delivering, 90, what=f"pitboss {use} delivering")
    return child


def test_webhooks_deliver_every_record_once_in_order_signed_and_dead_letter_the_rest(
    dep: Deployment, receiver: Receiver, tmp_path: Path
):
    t = dep.settings.topics
    keys = give_secrets(dep, PLAYERS[:-1])  # the last player was erased: no secret left
    rewards = [
        reward(p, n, "CASHBACK_OFFER" if n == 3 else "POINTS") for p in PLAYERS for n in range(12)
    ]
    child = start(
        dep,
        tmp_path,
        "webhooks",
        f"""\
endpoints:
  crm:
    url: {receiver.url("/flaky")}
    topics: [rewards, cooldowns, journal]
    signing_secret_file: hook.hmac
    retry: {{attempts: 5, first_delay: 0.05, max_delay: 0.2}}
  bonus-desk:
    url: {receiver.url("/hang")}
    topics: [rewards]
    filter: {{kinds: [CASHBACK_OFFER]}}
    timeout: 0.3
    retry: {{attempts: 2, first_delay: 0.05, max_delay: 0.1}}
""",
        "webhooks.log",
    )
    try:
        produce(dep, t.rewards, "Reward", rewards, "player_id")
        produce(dep, t.cooldowns, "CoolDown", [cooldown(p) for p in PLAYERS[:2]], "player_id")
        produce(
            dep, t.journal, "JournalEntry", [entry(p, keys[p]) for p in PLAYERS[:3]], "player_id"
        )
        expected = (
            {r["reward_id"] for r in rewards}
            | {f"cd-{p}" for p in PLAYERS[:2]}
            | {f"je-{p}" for p in PLAYERS[:3]}
        )
        wait_for(lambda: {i for _, i, _, _ in receiver.taken} >= expected, 120, what="every id")
        wait_for(
            lambda: len(dep.read_all(t.dead_letters)) >= len(PLAYERS), 60, what="the dead letters"
        )
    finally:
        assert child.stop(signal.SIGTERM, timeout=30) < 30
    assert "webhooks stopped" in child.log()

    taken = [(i, h, b) for path, i, h, b in receiver.taken if path == "/flaky"]
    # every record once by id, after two refusals each
    assert collections.Counter(i for i, _, _ in taken) == dict.fromkeys(expected, 1)
    assert all(receiver.tries[i] == 3 for i in expected)
    # a player's records in the order they were issued
    for player in PLAYERS:
        seen = [i for i, _, _ in taken if i.startswith(f"rw-{player}-")]
        assert seen == [f"rw-{player}-{n:03d}" for n in range(12)]
    # signed over the exact body, and the body is the record
    verifier = Sources({"crm": Source("crm", {}, (), SIGNING_SECRET)}, tolerance_s=300)
    for the_id, headers, data in taken:
        assert verifier._signed(
            verifier.sources["crm"], headers[SIGNATURE_HEADER], data, time.time()
        )
        assert orjson.loads(data)["id"] == the_id
    # the receiver that never answers in time: retried, then dead-lettered with the reason
    assert receiver.requests["/hang"] == 2 * len(PLAYERS)
    rewards_codec, letters_codec = AvroCodec("Reward"), AvroCodec("DeadLetter")
    raw = dep.read_all(t.dead_letters)
    assert len(raw) == len(PLAYERS)  # one per cash-back reward, none for what was delivered
    kept = {player_pseudonym(p, s).encode(): (p, s) for p, s in keys.items()}
    erased_marker = pseudonym(PLAYERS[-1], dep.env["PITBOSS_ERASURE_KEY"].encode()).encode()
    for record in raw:
        letter = letters_codec.decode(record.value)
        assert letter["topic"] == t.rewards and letter["error"] == "OTHER"
        assert "webhooks bonus-desk" in letter["reason"]
        assert "no answer within 0.3 s after 2 attempt(s)" in letter["reason"]
        if record.key == erased_marker:  # no secret: nothing of the record is kept
            assert letter["key"] is None and letter["value"] is None
            assert "the player was erased" in letter["reason"]
            continue
        player, secret = kept[record.key]  # keyed by the player's pseudonym, sealed
        original = rewards_codec.decode(unseal(letter["value"], secret))
        assert original["player_id"] == player and original["kind"] == "CASHBACK_OFFER"
        assert unseal(letter["key"], secret) == player.encode()
    assert erased_marker in {r.key for r in raw}


def test_fulfil_credits_each_reward_once_across_a_sigkill_and_publishes_its_lifecycle(
    dep: Deployment, receiver: Receiver, tmp_path: Path
):
    t = dep.settings.topics
    receiver.wallet_delay = 0.3
    kinds = ["CASHBACK_OFFER", "FREE_SIDE_BET", "POINTS"]
    rewards = [reward(p, n, kinds[n % 3]) for p in PLAYERS for n in range(9)]
    credited = {r["reward_id"] for r in rewards if r["kind"] != "POINTS"}
    endpoints = f"""\
endpoints:
  wallet:
    url: {receiver.url("/wallet")}
    filter: {{kinds: [CASHBACK_OFFER, FREE_SIDE_BET]}}
    template: '{TEMPLATE}'
    answer: {{field: state, states: {{DONE: credited}}}}
    retry: {{attempts: 10, first_delay: 0.05, max_delay: 0.5}}
"""
    produce(dep, t.rewards, "Reward", rewards, "player_id")
    child = start(dep, tmp_path, "fulfil", endpoints, "fulfil.log")
    wait_for(lambda: len(receiver.credits) >= 8, 120, what="some credits before the kill")
    child.stop(signal.SIGKILL)
    assert len(receiver.credits) < len(credited), "the kill came too late to mean anything"
    child = start(dep, tmp_path, "fulfil", endpoints, "fulfil.log")
    try:
        wait_for(lambda: set(receiver.credits) >= credited, 120, what="every reward credited")
        codec = AvroCodec("RewardLifecycle")

        def lifecycle() -> list[tuple[bytes, dict]]:
            got = [(r.key, codec.decode(r.value)) for r in dep.read_all(t.reward_lifecycle)]
            done = {s["reward_id"] for _, s in got if s["status"] == "CREDITED"}
            return got if done >= credited else []

        steps = wait_for(lifecycle, 60, what="every reward's lifecycle")
    finally:
        child.stop(signal.SIGTERM, timeout=30)
    # the wallet's ledger by idempotency key: each money reward once, none lost, no points;
    # a request sent again after the kill repeats the same key with the same body
    assert set(receiver.credits) == credited
    by_id = {r["reward_id"]: r for r in rewards}
    for the_id, bodies in receiver.credits.items():
        wanted = {"player": by_id[the_id]["player_id"], "cents": 500, "ccy": "EUR"}
        assert all(orjson.loads(b) == wanted for b in bodies)
    # what was in flight at the kill was credited and sent again after the restart: the same
    # key (the wallet credits it once), which is what at-least-once delivery means
    assert receiver.requests["/wallet"] > len(credited), "nothing was in flight at the kill"
    # each reward: PENDING then CREDITED (repeats only as the same step), keyed by the
    # player; none for points
    first: dict[str, int] = {}
    for n, (key, step) in enumerate(steps):
        assert step["adapter"] == "wallet" and key == by_id[step["reward_id"]]["player_id"].encode()
        first.setdefault(step["lifecycle_id"], n)
    unique = {(s["reward_id"], s["status"]): first[s["lifecycle_id"]] for _, s in steps}
    assert set(unique) == {(i, status) for i in credited for status in ("PENDING", "CREDITED")}
    assert all(unique[i, "PENDING"] < unique[i, "CREDITED"] for i in credited)
    assert not dep.read_all(t.journal), "fulfilment never writes the journal"


def test_a_running_worker_s_cashback_is_credited_and_its_journal_entry_delivered(
    dep: Deployment, receiver: Receiver, tmp_path: Path
):
    """The whole chain: a worker decides five losses in a row into a cash-back offer;
    ``pitboss fulfil`` credits it and ``pitboss webhooks`` delivers its journal entry."""
    t = dep.settings.topics
    players = ["p-cash-1", "p-cash-2"]
    dep.start_worker()
    dep.produce_profiles([profile(p, country="MT", time_zone="Europe/Malta") for p in players])
    for player in players:
        dep.player_when(player, lambda v: v["profile"] is not None)
    start_ms = int(time.time() * 1000) - 60 * 60_000
    losing = {"bet_type": "main", "stake_minor": 1000, "currency": "EUR"}
    # five losses in a row, minutes apart: a streak, not a rapid-loss burst
    dep.produce_events(
        settled("LOSS", player_id=p, bet=losing, occurred_at=start_ms + i * 5 * 60_000)
        for p in players
        for i in range(5)
    )
    fulfil = start(
        dep,
        tmp_path,
        "fulfil",
        f"""endpoints:
  wallet:
    url: {receiver.url("/wallet")}
    filter: {{kinds: [CASHBACK_OFFER]}}
""",
        "fulfil.log",
    )
    hooks = start(
        dep,
        tmp_path,
        "webhooks",
        f"""endpoints:
  crm:
    url: {receiver.url("/flaky")}
    topics: [journal]
    filter: {{decisions: [REWARD_ISSUED], rules: [loss-streak-5]}}
    retry: {{attempts: 5, first_delay: 0.05, max_delay: 0.2}}
""",
        "webhooks.log",
    )
    try:
        wait_for(lambda: len(receiver.credits) == 2, 90, what="both cash-backs credited")
        wait_for(lambda: len(receiver.taken) == 2, 90, what="both journal entries delivered")
    finally:
        fulfil.stop(signal.SIGTERM, timeout=30)
        hooks.stop(signal.SIGTERM, timeout=30)
    rewards = dep.consume(
        t.rewards, "Reward", lambda rs: sum(r["kind"] == "CASHBACK_OFFER" for r in rs) >= 2
    )
    cashbacks = {r["reward_id"]: r for r in rewards if r["kind"] == "CASHBACK_OFFER"}
    assert set(receiver.credits) == set(cashbacks)
    assert {r["player_id"] for r in cashbacks.values()} == set(players)
    entries = [orjson.loads(data)["record"] for _, _, _, data in receiver.taken]
    assert {e["reward_id"] for e in entries} == set(cashbacks)
    assert all(is_player_pseudonym(e["player_id"]) for e in entries)  # never the id in clear
