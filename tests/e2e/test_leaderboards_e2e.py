"""A real worker keeps leaderboards from score records and serves them on its web views."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest

from app.devtools.deployment import Deployment
from app.devtools.localbroker import free_port
from app.leaderboards.board import encode_score
from app.pipeline.ingest import partition_for
from app.settings import Settings

pytestmark = [pytest.mark.broker, pytest.mark.slow]

DAY = "2026-11-22"
BLACKJACK = f"points-per-game-daily:BLACKJACK:{DAY}"
ROULETTE = f"points-per-game-daily:ROULETTE:{DAY}"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    dep = Deployment.create(tmp_path_factory.mktemp("leaderboards"))
    dep.start_worker()
    yield dep
    dep.stop_all()


def get(dep: Deployment, path: str) -> tuple[int, dict]:
    try:
        request = urllib.request.Request(
            f"{dep.web_url}{path}", headers={"Authorization": f"Bearer {dep.token('auditor')}"}
        )
        with urllib.request.urlopen(request) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def wait_for(dep: Deployment, path: str, ready: Callable[[dict], bool], timeout=30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        _, body = get(dep, path)
        if ready(body):
            return body
        assert time.monotonic() < deadline, f"after {timeout} s {path} gives {body}"
        time.sleep(0.2)


def produce_scores(dep: Deployment, scores: list[tuple]) -> None:
    """(board_key, player_id, total, event_time, top) tuples, on the key's default partition."""
    dep.produce(dep.settings.topics.leaderboard_scores, [(*encode_score(*s), None) for s in scores])


def top_of(body: dict) -> list[tuple[int, str, int]]:
    return [(row["rank"], row["player_id"], row["total"]) for row in body["top"]]


def test_score_records_in_give_the_top_n_out(deployment):
    # the two boards live on different partitions, so both paths through the agent run
    n = deployment.settings.partitions
    assert partition_for(BLACKJACK, n) != partition_for(ROULETTE, n)
    bj = [
        (BLACKJACK, "ana", 10, 1_000, 3),
        (BLACKJACK, "bo", 20, 1_001, 3),
        (BLACKJACK, "cy", 15, 1_002, 3),
        (BLACKJACK, "dee", 5, 1_003, 3),  # fourth: off the board
        (BLACKJACK, "ana", 30, 1_004, 3),  # already on the board: moves up, not duplicated
        (BLACKJACK, "ana", 10, 1_000, 3),  # a re-delivered, lower total: ignored
        (BLACKJACK, "eve", 20, 1_005, 3),  # ties bo, but reached 20 later
        (ROULETTE, "zed", 7, 1_000, 10),
    ]
    _, before = get(deployment, "/pitboss/leaderboards/")
    applied = before["totals"]["updates"]
    produce_scores(deployment, bj)
    # wait until the worker has applied every update, then the board must be final
    wait_for(
        deployment, "/pitboss/leaderboards/", lambda b: b["totals"]["updates"] >= applied + len(bj)
    )
    _, body = get(deployment, f"/pitboss/leaderboards/{BLACKJACK}/")
    assert body["board"] == BLACKJACK and body["size"] == 3
    assert top_of(body) == [(1, "ana", 30), (2, "bo", 20), (3, "eve", 20)]

    # a player rises into the top N in a later batch and evicts the lowest
    produce_scores(deployment, [(BLACKJACK, "dee", 25, 1_010, 3)])
    body = wait_for(
        deployment,
        f"/pitboss/leaderboards/{BLACKJACK}/",
        lambda b: any(r["player_id"] == "dee" for r in b["top"]),
    )
    assert top_of(body) == [(1, "ana", 30), (2, "dee", 25), (3, "bo", 20)]

    roulette = wait_for(deployment, f"/pitboss/leaderboards/{ROULETTE}/", lambda b: b["top"])
    assert top_of(roulette) == [(1, "zed", 7)]

    listing = wait_for(
        deployment, "/pitboss/leaderboards/", lambda b: {BLACKJACK, ROULETTE} <= set(b["boards"])
    )
    assert listing["worker"] == "worker-1"


def test_an_unknown_board_is_a_404_with_an_empty_top(deployment):
    status, body = get(deployment, "/pitboss/leaderboards/no-such-board:ALL:2026-01-01/")
    assert status == 404
    assert body == {"board": "no-such-board:ALL:2026-01-01", "top": []}


def test_a_bad_score_record_is_counted_and_skipped_and_the_agent_keeps_going(deployment):
    board = f"points-per-game-daily:BACCARAT:{DAY}"
    before = get(deployment, "/pitboss/leaderboards/")[1]["totals"]["bad_records"]
    deployment.produce(
        deployment.settings.topics.leaderboard_scores,
        [
            (board.encode(), b"{not json", None),
            (board.encode(), b'{"player_id": "x", "total": "lots"}', None),
            (*encode_score(board, "fay", 3, 2_000, 5), None),
        ],
    )
    body = wait_for(deployment, f"/pitboss/leaderboards/{board}/", lambda b: b["top"])
    assert top_of(body) == [(1, "fay", 3)]
    totals = get(deployment, "/pitboss/leaderboards/")[1]["totals"]
    assert totals["bad_records"] == before + 2
    assert deployment.workers[0].alive()


def test_any_worker_answers_for_any_board_and_each_lists_only_its_own(dep):
    """Two workers: Faust's table routing forwards a board request to its owner."""
    # the same deployment seen through a second web port, for the second worker
    port = str(free_port())
    other = Deployment(
        {**dep.env, "PITBOSS_WEB_PORT": port},
        Settings.from_env({**dep.env, "PITBOSS_WEB_PORT": port}),
    )
    try:
        dep.start_worker("lb-1")
        other.start_worker("lb-2")
        games = ("BLACKJACK", "WHEEL", "ROULETTE", "CRAPS", "SIC_BO", "DRAGON_TIGER")
        boards = [f"points-per-game-daily:{game}:{DAY}" for game in games]
        # on 3 of the 4 partitions, so each worker owns a board and forwards a request
        assert len({partition_for(b, dep.settings.partitions) for b in boards}) == 3
        produce_scores(dep, [(board, "gus", 4, 3_000, 10) for board in boards])
        for board in boards:
            for via in (dep, other):
                body = wait_for(via, f"/pitboss/leaderboards/{board}/", lambda b: b["top"])
                assert top_of(body) == [(1, "gus", 4)]
        listed = [
            wait_for(via, "/pitboss/leaderboards/", lambda b: b["boards"]) for via in (dep, other)
        ]
        assert {item["worker"] for item in listed} == {"lb-1", "lb-2"}
        held = [set(item["boards"]) for item in listed]
        assert held[0] | held[1] == set(boards)
        assert held[0] and held[1] and not held[0] & held[1], held
    finally:
        other.stop_all()


@pytest.mark.deployment(
    PITBOSS_LEADERBOARD_SWEEP_SECONDS="1", PITBOSS_LEADERBOARD_RETENTION_DAYS="1"
)
def test_boards_of_days_and_weeks_long_over_are_deleted_and_all_time_boards_stay(dep):
    dep.start_worker()
    today = time.strftime("%Y-%m-%d", time.gmtime())
    old_day, old_week = "points-daily:ALL:2020-01-01", "points-weekly:ALL:2020-W01"
    current, ever = f"points-daily:ALL:{today}", "points-all-time:ALL:ever"
    produce_scores(dep, [(key, "ana", 10, 1_000, 3) for key in (old_day, old_week, current, ever)])
    wait_for(dep, "/pitboss/leaderboards/", lambda b: b["totals"]["boards_expired"] >= 2)
    assert get(dep, f"/pitboss/leaderboards/{old_day}/")[0] == 404
    assert get(dep, f"/pitboss/leaderboards/{old_week}/")[0] == 404
    for key in (current, ever):
        status, body = get(dep, f"/pitboss/leaderboards/{key}/")
        assert status == 200 and top_of(body) == [(1, "ana", 10)], (key, body)
    # later sweeps delete nothing more
    assert get(dep, "/pitboss/leaderboards/")[1]["totals"]["boards_expired"] == 2
