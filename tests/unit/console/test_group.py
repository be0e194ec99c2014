"""The overview of the whole group: the workers' figures added up, each other worker asked over
real HTTP with the viewer's credentials, and a worker that does not answer named, never left
out in silence."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import web

from app.console.group import OWN_FIGURES, Group, peer_urls
from app.console.overview import merged
from app.devtools.localbroker import free_port


def document(worker: str, events: int, rule: str = "rule-a", **more: Any) -> dict[str, Any]:
    return {
        "worker_id": worker,
        "ready": True,
        "totals": {
            "events": events,
            "decisions": events * 2,
            "rewards": 1,
            "suppressions": 0,
            "dead_letters": 0,
        },
        "rewards_by_rule": {rule: 1},
        "rewards_by_kind": {"XP": 1},
        "amounts_by_kind": {"XP": 10},
        "suppressions_by_reason": {},
        "cooldowns_running": 1,
        "lag": [{"topic": "table-events", "partition": int(worker[-1]), "records": 3}],
        **more,
    }


def test_the_group_adds_up_counters_and_groupings_and_joins_the_lag():
    standby = {"topic": "table-events", "partition": 1, "records": 9}
    total = merged(
        [
            document("w-1", 5),
            document("w-2", 7, rule="rule-b"),
            document(
                "w-0", 1, lag=[{"topic": "table-events", "partition": 0, "records": 3}, standby]
            ),
        ]
    )
    assert total["totals"] == {
        "events": 13,
        "decisions": 26,
        "rewards": 3,
        "suppressions": 0,
        "dead_letters": 0,
    }
    assert total["rewards_by_rule"] == {"rule-a": 2, "rule-b": 1}  # largest first
    assert list(total["rewards_by_rule"]) == ["rule-a", "rule-b"]
    assert total["amounts_by_kind"] == {"XP": 30} and total["cooldowns_running"] == 3
    assert [(p["partition"], p["records"]) for p in total["lag"]] == [(0, 3), (1, 9), (2, 3)]
    assert total["ready"]
    assert not merged([document("w-1", 1), document("w-2", 1, ready=False)])["ready"]


def test_the_other_workers_are_those_the_assignment_advertises_but_this_one():
    advertised = ["http://10.0.0.2:6066", "http://10.0.0.1:6066/", "http://10.0.0.3:6066"]
    assert peer_urls(advertised, "http://10.0.0.1:6066") == [
        "http://10.0.0.2:6066",
        "http://10.0.0.3:6066",
    ]


def test_each_worker_is_asked_with_the_viewers_credentials_and_silence_is_named():
    seen: list[dict[str, str]] = []

    async def figures(request: web.Request) -> web.Response:
        seen.append({k: request.headers.get(k, "") for k in ("Authorization", "Cookie", "X-Not")})
        if request.headers.get("Authorization") != "Bearer staff":
            return web.json_response({"error": "unauthenticated"}, status=401)
        return web.json_response(document("w-2", 7))

    async def scenario() -> tuple[dict, dict, dict]:
        server = web.Application()
        server.router.add_get(OWN_FIGURES, figures)
        runner = web.AppRunner(server)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        peer = f"http://127.0.0.1:{port}"
        silent = f"http://127.0.0.1:{free_port()}"  # nothing listens there
        group = Group()
        headers = {"Authorization": "Bearer staff", "Cookie": "c=1", "X-Not": "kept"}
        try:
            async with aiohttp.ClientSession() as session:
                both = await group.overview(document("w-1", 5), [peer, silent], session, headers)
                refused = await group.overview(
                    document("w-1", 5), [peer], session, {"Cookie": "c=1"}
                )
                await runner.cleanup()  # the peer stops: it is named by the id it gave
                gone = await group.overview(document("w-1", 5), [peer], session, headers)
        finally:
            await runner.cleanup()
        return both, refused, gone

    both, refused, gone = asyncio.run(scenario())
    assert seen[0] == {"Authorization": "Bearer staff", "Cookie": "c=1", "X-Not": ""}
    assert [w["worker_id"] for w in both["workers"]] == ["w-1", "w-2"]
    assert both["total"]["totals"]["events"] == 12 and both["served_by"] == "w-1"
    [silent] = both["unanswered"]
    assert silent["worker_id"] is None and "did not answer" in silent["problem"]
    [unauthorised] = refused["unanswered"]
    assert (
        "refused the figures (HTTP 401)" in unauthorised["problem"]
        and refused["total"]["totals"]["events"] == 5
    )
    [stopped] = gone["unanswered"]
    assert stopped["worker_id"] == "w-2"
    assert stopped["problem"].startswith("worker w-2 at http://127.0.0.1:")
    assert "did not answer" in stopped["problem"]
