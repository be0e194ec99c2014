"""The worker's web views: a player's live state and profile, and the worker's counters.

A request for a player that another worker owns is forwarded to it (Faust's table
routing), so any worker answers for any player.
"""

from __future__ import annotations

import asyncio

import orjson
from faust.web import Request, Response, View

from agents.decide import live, totals
from agents.leaderboards import leaderboard_totals
from agents.rules import feed
from app.core import PlayerState
from app.leaderboards.board import Board
from app.pipeline.ingest import partition_for
from app.streaming.faust_app import app, settings
from tables.leaderboards import leaderboards_table
from tables.players import player_profiles, player_state


@app.page("/pitboss/players/{player_id}/")
class PlayerView(View):
    @app.table_route(table=player_state, match_info="player_id")
    async def get(self, request: Request, player_id: str) -> Response:
        partition = partition_for(player_id, settings.partitions)
        key = player_id.encode()
        raw_state = player_state.get_many(partition, [key]).get(key)
        raw_profile = player_profiles.get_many(partition, [key]).get(key)
        state = PlayerState.from_bytes(raw_state)
        return self.json(
            {
                "player_id": player_id,
                "partition": partition,
                "known": raw_state is not None,
                "state": {
                    "xp": state.xp,
                    "points": state.points,
                    "once": state.once,
                    "last_event_at": state.last_event_at,
                    "recent_events_remembered": len(state.seen),
                    "bytes": len(raw_state or b""),
                },
                "profile": orjson.loads(raw_profile) if raw_profile else None,
            }
        )


@app.page("/pitboss/stats/")
class StatsView(View):
    async def get(self, request: Request) -> Response:
        return self.json(
            {
                "worker_id": settings.worker_id,
                "totals": {name: getattr(totals, name) for name in totals.__slots__},
            }
        )


# -- leaderboards ------------------------------------------------------------------------


@app.page("/pitboss/leaderboards/{board_key}/")
class LeaderboardView(View):
    """One board, answered by the worker that owns the board key's partition."""

    @app.table_route(table=leaderboards_table, match_info="board_key")
    async def get(self, request: Request, board_key: str) -> Response:
        partition = partition_for(board_key, settings.partitions)
        key = board_key.encode()
        board = Board.from_bytes(leaderboards_table.get_many(partition, [key]).get(key))
        if board is None:
            return self.json({"board": board_key, "top": []}, status=404)
        return self.json(
            {
                "board": board_key,
                "size": board.top,
                # ranks are positions: on a tie, whoever reached the total first ranks higher
                "top": [
                    {
                        "rank": rank,
                        "player_id": entry.player_id,
                        "total": entry.total,
                        "reached_at": entry.event_time,
                    }
                    for rank, entry in enumerate(board.entries, 1)
                ],
            }
        )


@app.page("/pitboss/leaderboards/")
class LeaderboardListView(View):
    """The boards this worker owns (its active partitions only): ask each worker."""

    async def get(self, request: Request) -> Response:
        boards = sorted(key.decode() for key in leaderboards_table)
        return self.json(
            {
                "worker": settings.worker_id,
                "scope": "boards on this worker's partitions only",
                "boards": boards,
                "totals": {
                    name: getattr(leaderboard_totals, name) for name in leaderboard_totals.__slots__
                },
            }
        )


@app.page("/pitboss/rules/")
class RulesView(View):
    """The ruleset this worker is running right now, rule by rule, with versions."""

    async def get(self, request: Request) -> Response:
        ruleset = live.current().ruleset
        raw = feed.get(settings.ruleset_id)
        return self.json(
            {
                "ruleset": ruleset.ruleset_id,
                "revision": ruleset.revision,
                "published": raw is not None,
                # False until this worker has read crm-rules to the end (it decides nothing yet)
                "caught_up": feed.caught_up.is_set(),
                "rules": [
                    {
                        "id": r.rule_id,
                        "version": r.version,
                        "trigger": r.trigger,
                        "description": r.description,
                    }
                    for r in ruleset.rules
                ],
            }
        )


@app.page("/pitboss/consumer/")
class ConsumerView(View):
    """Per assigned partition, where this worker's consumer stands: the next offset Faust
    commits from, the last offset read, the offsets processed but not committed yet (with
    the gaps Faust fills in) and the messages in flight. This is the view to read when a
    partition's lag stays above 0: a committed offset below a gap of unacknowledged
    offsets is stuck until those are acknowledged."""

    async def get(self, request: Request) -> Response:
        consumer = app.consumer
        partitions = []
        in_flight: dict = {}
        for message in list(consumer._unacked_messages):
            in_flight.setdefault(message.tp, []).append(message.offset)
        active = consumer._active_partitions
        kafka = consumer._thread._ensure_consumer()
        kafka_assignment = kafka._subscription.subscription
        for tp in sorted(consumer.assignment()):
            fetch = kafka_assignment.assignment.state_value(tp) if kafka_assignment else None
            acked = sorted(consumer._acked.get(tp, ()))
            gaps = consumer._gap.get(tp)
            unacked = sorted(in_flight.get(tp, ()))
            partitions.append(
                {
                    "topic": tp.topic,
                    "partition": tp.partition,
                    "committed": consumer._committed_offset.get(tp),
                    "read": consumer._read_offset.get(tp),
                    "highwater": consumer.highwater(tp),
                    "acked_uncommitted": len(acked),
                    "acked_range": [acked[0], acked[-1]] if acked else None,
                    "gaps": sorted([i.begin, i.end] for i in gaps) if gaps else [],
                    "in_flight": len(unacked),
                    "in_flight_range": [unacked[0], unacked[-1]] if unacked else None,
                    "paused": tp in consumer._paused_partitions,
                    "active": None if active is None else tp in active,
                    "fetch": None
                    if fetch is None
                    else {
                        "position": fetch._position,
                        "paused": fetch.paused,
                        "status": str(fetch._status),
                        "reset": fetch._reset_strategy,
                    },
                }
            )
        return self.json(
            {
                "worker_id": settings.worker_id,
                "flow_active": consumer.flow_active,
                "fetch_loop": fetch_loop_stack(),
                "partitions": partitions,
            }
        )


def fetch_loop_stack() -> list[str] | None:
    """The await chain of the consumer's fetch loop: where it is waiting (None: no task
    is running it)."""
    for task in asyncio.all_tasks():
        chain = []
        coro = task.get_coro()
        while coro is not None:
            frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
            if frame is not None:
                where = frame.f_code.co_filename.rsplit("/", 2)[-1]
                chain.append(f"{frame.f_code.co_qualname} ({where}:{frame.f_lineno})")
            coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
        if any("._drain_messages" in step for step in chain):
            return chain
    return None
