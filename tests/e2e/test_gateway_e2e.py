"""The player gateway on the real broker with a real worker: a player's decisions arrive on a
WebSocket in the journal's order, and a reconnect with the last cursor, across a gateway
restart, loses and repeats nothing; Server-Sent Events deliver the same; the view and the
rewards are the worker's own; 401/403/410; an interaction lands on its topic; the OpenAPI
document fuzzed finds no 500."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import orjson
import pytest
import requests
import schemathesis
from schemathesis.generation.modes import GenerationMode

from app.contract.codec import AvroCodec
from app.devtools.deployment import Deployment, wait_for
from app.devtools.localbroker import free_port
from app.devtools.supervise import Child, spawn
from app.gateway.cursor import Cursor
from app.gateway.messages import stream_message
from app.gateway.server import OPENAPI_PATH
from app.gateway.settings import GatewaySettings
from app.gateway.tokens import mint_player_token
from app.leaderboards.board import Board, Entry, is_board, parse_score
from app.operations.privacy import changelog, request_erasure
from tests.e2e.test_metrics_e2e import samples, total
from tests.support.factories import natural, table_event
from tests.support.fuzz import fuzz

pytestmark = [pytest.mark.broker, pytest.mark.slow]

GATEWAY_COMMAND = (sys.executable, "-m", "faust", "-A", "app.main", "gateway")
AUDIENCE = GatewaySettings.from_env({}).audience


class Gateway:
    """A running ``pitboss gateway`` of a deployment, and a client for it."""

    def __init__(self, dep: Deployment, tmp: Path, **env: str) -> None:
        self.dep, self.tmp, self.starts = dep, tmp, 0
        self.port = free_port()
        self.keys = tmp / "player-keys"
        self.env = {
            **dep.env,
            "PITBOSS_GATEWAY_PORT": str(self.port),
            "PITBOSS_PLAYER_DEV_KEYS": str(self.keys),
            **env,
        }
        self.child: Child | None = None
        self.start()

    def start(self) -> None:
        self.starts += 1
        self.child = spawn("gateway", GATEWAY_COMMAND, self.env, self.tmp / f"g{self.starts}.log")
        wait_for(self._ready, 90, what="the gateway ready")

    def _ready(self) -> bool:
        assert self.child is not None
        if not self.child.alive():
            raise AssertionError(f"the gateway exited:\n{self.child.tail()}")
        if "gateway listening on" not in self.child.log():
            return False
        return requests.get(f"{self.url}/health", timeout=5).json()["ready"]

    def stop(self) -> None:
        assert self.child is not None
        self.child.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def token(self, player: str, ttl: float = 600, now: float | None = None) -> str:
        return mint_player_token(self.keys, player, AUDIENCE, ttl=ttl, now=now)

    def get(self, path: str, token: str | None, **params: str) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(f"{self.url}{path}", headers=headers, params=params, timeout=30)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory) -> Iterator[Gateway]:
    dep = Deployment.create(tmp_path_factory.mktemp("gateway"))
    dep.start_worker()
    running = Gateway(dep, tmp_path_factory.mktemp("gateway-process"))
    yield running
    running.stop()
    dep.stop_all()


def plays(player: str, bets: int, start_s: float = 600) -> list[dict]:
    """Recent banker bets of one player, each settled with a natural (ingest refuses a
    week-old event): wager points, the explorer badge, the banker mission's steps and its
    completion, the day's first natural."""
    start = int((time.time() - start_s) * 1000)
    events = []
    for i in range(bets):
        common = {"player_id": player, "game": "BACCARAT", "round_id": f"r-{player}-{i}"}
        bet = {"bet_type": "banker", "stake_minor": 2500, "currency": "EUR"}
        events.append(
            table_event(
                **common,
                bet=bet,
                event_id=f"{player}-b{i}-{start}",
                occurred_at=start + i * 2000,
            )
        )
        events.append(
            natural(
                **common,
                bet=bet,
                event_id=f"{player}-s{i}-{start}",
                occurred_at=start + i * 2000 + 1000,
            )
        )
    return events


def expected(dep: Deployment, player: str) -> list[dict]:
    """The stream messages the player's journal entries on Kafka make, in offset order."""
    dep.wait_caught_up(dep.settings.topics.table_events)
    name = dep.named(player).encode()
    codec = AvroCodec("JournalEntry")
    messages = [
        stream_message(codec.decode(r.value), Cursor(r.partition, r.offset))
        for r in dep.read_all(dep.settings.topics.journal)
        if r.key == name
    ]
    return [m for m in messages if m is not None]


async def websocket(
    gw: Gateway, player: str, count: int, cursor: str | None = None, then=None
) -> list[dict]:
    """The first ``count`` decision messages of the player's stream (``then()`` runs once the
    socket is open)."""
    params = {"access_token": gw.token(player)} | ({"cursor": cursor} if cursor else {})
    got: list[dict] = []
    async with aiohttp.ClientSession() as session:
        url = f"{gw.url}/gateway/v1/players/{player}/stream"
        async with session.ws_connect(url, params=params) as ws:
            if then is not None:
                await asyncio.to_thread(then)
            while len(got) < count:
                message = await asyncio.wait_for(ws.receive_json(), 60)
                if message["type"] != "keepalive":
                    got.append(message)
                if message["type"] == "gone":
                    break
    return got


def sse(gw: Gateway, player: str, count: int, last_event_id: str) -> list[dict]:
    headers = {
        "Authorization": f"Bearer {gw.token(player)}",
        "Accept": "text/event-stream",
        "Last-Event-ID": last_event_id,
    }
    got: list[dict] = []
    url = f"{gw.url}/gateway/v1/players/{player}/stream"
    with requests.get(url, headers=headers, stream=True, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        event: dict[str, str] = {}
        for line in response.iter_lines(decode_unicode=True):
            if line:
                field, _, value = line.partition(": ")
                event[field] = value
                continue
            message = orjson.loads(event["data"])
            assert event["event"] == message["type"]
            if message["type"] != "keepalive":
                assert event["id"] == message["cursor"]
                got.append(message)
            event = {}
            if len(got) == count:
                break
    return got


def test_decisions_stream_in_order_and_resume_after_a_restart_without_loss_or_repeat(gateway):
    dep, player = gateway.dep, f"p-ws-{uuid.uuid4().hex[:6]}"
    first = plays(player, bets=3)

    # a stream opened before the player's first play: everything from then on, in order
    got = asyncio.run(websocket(gateway, player, 3, then=lambda: dep.produce_events(first)))
    early = expected(dep, player)
    assert len(early) >= 3
    assert got == early[:3]
    assert "reward_issued" in {m["type"] for m in early}

    # more play while nobody listens and the gateway restarts: a reconnect with the last
    # cursor gets exactly the rest
    gateway.stop()
    dep.produce_events(plays(player, bets=2, start_s=300))
    gateway.start()
    expected_after = expected(dep, player)
    rest = expected_after[3:]
    assert len(rest) >= 2
    resumed = asyncio.run(websocket(gateway, player, len(rest), cursor=got[-1]["cursor"]))
    assert got + resumed == expected_after
    shown = {m["type"] for m in expected_after}
    assert {"reward_issued", "mission_progress", "mission_completed"} <= shown
    assert len({m["cursor"] for m in got + resumed}) == len(expected_after)

    # Server-Sent Events deliver the same, resuming after Last-Event-ID
    assert sse(gateway, player, len(expected_after) - 1, early[0]["cursor"]) == expected_after[1:]


def test_the_view_and_the_rewards_are_the_workers_own(gateway):
    dep, player = gateway.dep, f"p-view-{uuid.uuid4().hex[:6]}"
    dep.produce_events(plays(player, bets=4))
    dep.wait_caught_up(dep.settings.topics.table_events)
    worker = dep.player_when(player, lambda v: v["known"])["state"]
    token = gateway.token(player)
    codec = AvroCodec("Reward")
    issued = [codec.decode(r.value) for r in dep.read_all(dep.settings.topics.rewards)]
    mine = [r["reward_id"] for r in issued if r["player_id"] == player][::-1]  # newest first
    assert mine

    def view() -> dict | None:
        """The view once the gateway has read the player's state and rewards."""
        body = gateway.get(f"/gateway/v1/players/{player}", token).json()
        rewards = gateway.get(f"/gateway/v1/players/{player}/rewards", token, limit="100")
        caught_up = len(rewards.json()["rewards"]) == len(mine)
        return body if body["xp"] == worker["xp"] and caught_up else None

    body = wait_for(view, what="the gateway's view to catch up")
    assert body["points"] == worker["points"] and body["player_id"] == player
    assert body["badges"] == ["explorer:baccarat"]
    [mission] = body["missions"]
    assert (mission["mission"], mission["steps"], mission["target"]) == ("baccarat-banker-x3", 3, 3)
    assert mission["completed"]
    assert body["next_level"] is None or 0 <= body["next_level"]["progress"] <= 1

    paged, cursor = [], None
    while True:
        page = gateway.get(
            f"/gateway/v1/players/{player}/rewards",
            token,
            limit="2",
            **({"cursor": cursor} if cursor else {}),
        ).json()
        paged += [r["reward_id"] for r in page["rewards"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == mine


def test_a_leaderboard_shows_the_top_and_the_players_own_rank(gateway):
    """The gateway answers from the leaderboards' changelog: the board's rows (rank and
    score, no one else's id) and the player's own rank and score."""
    dep = gateway.dep
    ahead, behind = (f"p-lb{n}-{uuid.uuid4().hex[:6]}" for n in "ab")
    dep.produce_events(plays(ahead, bets=4) + plays(behind, bets=1))
    dep.wait_caught_up(dep.settings.topics.table_events)
    token = gateway.token(behind)

    def agreed() -> tuple[str, Board, dict] | None:
        """The board of both players as written, once the gateway answers the same."""
        latest = {
            r.key.decode(): r.value
            for r in dep.read_all(changelog(dep.settings, "leaderboards"))
            if r.key and is_board(r.key)
        }
        for key, value in latest.items():
            board = Board.from_bytes(value)
            if board is None or {ahead, behind} - {e.player_id for e in board.entries}:
                continue
            path = f"/gateway/v1/players/{behind}/leaderboards/{key}"
            body = gateway.get(path, token, limit="100").json()
            rows = [(i, e.total, e.player_id == behind) for i, e in enumerate(board.entries, 1)]
            if [(r["rank"], r["score"], r["you"]) for r in body["top"]] == rows:
                return key, board, body
        return None

    key, board, body = wait_for(agreed, what="the gateway's board to match the changelog")
    ranks = {e.player_id: (i, e.total) for i, e in enumerate(board.entries, 1)}
    assert ranks[ahead][0] < ranks[behind][0]
    assert body["you"] == {"rank": ranks[behind][0], "score": ranks[behind][1]}
    assert body["size"] == board.top and ahead not in str(body)
    top1 = gateway.get(f"/gateway/v1/players/{behind}/leaderboards/{key}", token, limit="1")
    assert len(top1.json()["top"]) == 1
    bad = gateway.get(f"/gateway/v1/players/{behind}/leaderboards/not-a-board", token)
    assert bad.status_code == 400 and bad.json()["error"] == "bad_request"
    other = gateway.get(f"/gateway/v1/players/{ahead}/leaderboards/{key}", token)
    assert other.status_code == 403


def test_a_player_below_the_top_n_gets_their_rank_among_every_score(gateway):
    """The board keeps only its top N; the scores topic has every score, so a player below
    the top still gets their rank: the one every score on the board gives them."""
    dep = gateway.dep
    run = uuid.uuid4().hex[:6]
    behind = f"p-lbz-{run}"
    ahead = [f"p-lb{n:02d}-{run}" for n in range(11)]
    dep.produce_events([e for p in ahead for e in plays(p, bets=3)] + plays(behind, bets=1))
    dep.wait_caught_up(dep.settings.topics.table_events)
    token = gateway.token(behind)

    def ranked() -> tuple[int, dict] | None:
        """The rank every score on the player's board gives them, and the gateway's answer,
        once it agrees."""
        best: dict[str, dict[str, tuple]] = {}
        for r in dep.read_all(dep.settings.topics.leaderboard_scores):
            if r.key and not r.key.startswith(b"\x00"):
                key, update = parse_score(r.key, r.value)
                held = best.setdefault(key, {}).get(update.player_id)
                mine = Entry(update.player_id, update.total, update.event_time).rank_key()
                best[key][update.player_id] = min(held, mine) if held else mine
        for key, players in best.items():
            if behind in players and ahead[0] in players:
                rank = 1 + sum(k < players[behind] for k in players.values())
                body = gateway.get(f"/gateway/v1/players/{behind}/leaderboards/{key}", token)
                if body.json()["you"]["rank"] == rank:
                    return rank, body.json()
        return None

    rank, body = wait_for(ranked, what="the gateway's rank to match the scores")
    assert body["size"] is not None and rank > body["size"] >= len(body["top"])
    assert not any(row["you"] for row in body["top"])
    assert body["you"]["score"] > 0


def test_a_player_opens_only_their_own_data_with_a_valid_token(gateway, tmp_path):
    dep, player = gateway.dep, f"p-door-{uuid.uuid4().hex[:6]}"
    path = f"/gateway/v1/players/{player}"
    assert gateway.get("/health", None).status_code == 200
    for route in (path, f"{path}/rewards", "/gateway/v1/openapi.json"):
        assert gateway.get(route, None).status_code == 401
    expired = gateway.token(player, ttl=60, now=time.time() - 3600)
    forged = mint_player_token(tmp_path / "not-the-operator", player, AUDIENCE)
    for token in (expired, forged, "not-a-token"):
        answer = gateway.get(path, token)
        assert answer.status_code == 401 and set(answer.json()) == {"error", "detail"}
    assert gateway.get(path, gateway.token("someone-else")).status_code == 403
    assert gateway.get(path, gateway.token(player)).status_code == 200
    assert gateway.get(f"{path}/stream", gateway.token(player)).status_code == 406
    bad = gateway.get(f"{path}/rewards", gateway.token(player), cursor="999.1")
    assert bad.status_code == 400

    # an erased player is gone, even with a valid token
    dep.produce_events(plays(player, bets=1))
    dep.player_when(player, lambda v: v["known"])

    def erase() -> None:
        asyncio.run(request_erasure(dep.settings, player, "dpo"))

    # an open stream is told, and ends
    ended = asyncio.run(websocket(gateway, player, 100, then=erase))
    assert ended[-1]["type"] == "gone"

    def gone() -> bool:
        return gateway.get(path, gateway.token(player)).status_code == 410

    wait_for(gone, 60, what="the erased player to be gone")
    assert gateway.get(f"{path}/stream", gateway.token(player)).status_code == 410


def test_an_interaction_lands_on_its_topic_with_the_served_rewards_rule(gateway):
    dep, player = gateway.dep, f"p-click-{uuid.uuid4().hex[:6]}"
    other = f"p-other-{uuid.uuid4().hex[:6]}"
    dep.produce_events(plays(player, bets=1))
    dep.wait_caught_up(dep.settings.topics.table_events)
    issued = [
        AvroCodec("Reward").decode(r.value) for r in dep.read_all(dep.settings.topics.rewards)
    ]
    served = next(r for r in issued if r["player_id"] == player)

    def post(who: str, body: dict) -> requests.Response:
        return requests.post(
            f"{gateway.url}/gateway/v1/players/{who}/interactions",
            json=body,
            headers={"Authorization": f"Bearer {gateway.token(who)}"},
            timeout=30,
        )

    click = {"action": "clicked", "reward_id": served["reward_id"], "surface": "reward-toast"}
    answer = post(player, click)
    assert answer.status_code == 202, answer.text
    interaction_id = answer.json()["interaction_id"]
    # another player naming it: refused with the reason, nothing produced
    refused = post(other, {**click, "interaction_id": "not-theirs-1"})
    assert refused.status_code == 404 and served["reward_id"] in refused.json()["detail"]
    # a message that is no reward: what is known (no running cool-down: no rule)
    message = post(player, {"action": "shown", "message_id": "je-reality-1"})
    assert message.status_code == 202, message.text

    codec = AvroCodec("PlayerInteraction")
    records = dep.read_all(dep.settings.topics.player_interactions)
    landed = {
        codec.decode(r.value)["interaction_id"]: (r.key, codec.decode(r.value)) for r in records
    }
    key, record = landed[interaction_id]
    assert key == player.encode()
    assert (record["player_id"], record["action"], record["reward_id"]) == (
        player,
        "CLICKED",
        served["reward_id"],
    )
    assert (record["rule_id"], record["variant"]) == (
        served["rule_id"],
        served["attributes"].get("variant"),
    )
    assert "not-theirs-1" not in landed
    assert landed[message.json()["interaction_id"]][1]["rule_id"] is None


def test_metrics_move_for_a_monitoring_token_only(gateway):
    dep, player = gateway.dep, f"p-metrics-{uuid.uuid4().hex[:6]}"

    def scrape() -> dict:
        answer = gateway.get("/metrics", dep.token("monitoring"))
        assert answer.status_code == 200, answer.text
        return samples(answer.text)

    assert gateway.get("/metrics", gateway.token(player)).status_code == 401
    assert gateway.get("/metrics", dep.token("support")).status_code == 403
    assert gateway.get("/metrics", None).status_code == 401
    # a player the gateway knows: their stream is live from its start (nothing read again,
    # which is not timed)
    dep.produce_events(plays(player, bets=1, start_s=900))
    view = f"/gateway/v1/players/{player}"
    wait_for(lambda: gateway.get(view, gateway.token(player)).json()["points"] > 0)
    before = scrape()
    open_now: list[float] = []

    def play() -> None:
        open_now.append(total(scrape(), "pitboss_gateway_connections", transport="websocket"))
        dep.produce_events(plays(player, bets=1))

    got = asyncio.run(websocket(gateway, player, 2, then=play))
    after = scrape()
    assert open_now[0] >= 1
    pushed = "pitboss_gateway_messages_pushed_total"
    assert total(after, pushed) - total(before, pushed) >= len(got)
    latency = "pitboss_gateway_push_latency_seconds_count"
    assert total(after, latency) - total(before, latency) >= len(got)
    requests_ok = {"route": "/metrics", "status": "200"}
    assert total(after, "pitboss_gateway_requests_total", **requests_ok) > total(
        before, "pitboss_gateway_requests_total", **requests_ok
    )
    assert total(after, "pitboss_gateway_requests_total", route="/metrics", status="401") >= 2


def test_the_gateway_survives_a_fuzz_from_its_openapi_document(gateway):
    """Every operation but the stream (an open stream never ends; its refusals are tested
    above) is fuzzed, as the player of the token and as anyone."""
    schema = schemathesis.openapi.from_path(OPENAPI_PATH)
    player = f"p-fuzz-{uuid.uuid4().hex[:6]}"
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.endswith("/stream"):
            continue
        has_parameters = bool(operation.path_parameters or operation.body)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)[: 1 + has_parameters]:
            headers = {"Authorization": f"Bearer {gateway.token(player)}"}
            statuses = fuzz(operation, mode, gateway.url, headers, {"player_id": player})
            if operation.body and mode is GenerationMode.POSITIVE:
                assert 202 in statuses, "the fuzzed bodies should get past the door"
