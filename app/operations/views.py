"""The worker's web views: a player's live state and profile, and the worker's counters.

A request for a player that another worker owns is forwarded to it (Faust's table
routing), so any worker answers for any player. Each view declares the permission it needs
(``@requires``, docs/security.md); the player view also applies the VIP restriction and
hides the fields the caller may not see, where the player's profile is.
"""

from __future__ import annotations

import orjson
from faust.web import Request, Response, View

from agents.decide import live, totals
from agents.leaderboards import leaderboard_totals
from agents.rules import feed
from app.core import PlayerState
from app.leaderboards.board import Board, is_board
from app.pipeline.ingest import partition_for
from app.security.access import strip_fields
from app.security.middleware import authorize_player, requires
from app.streaming.diagnostics import consumer_positions
from app.streaming.faust_app import app, settings
from tables.leaderboards import leaderboards_table
from tables.players import player_profiles, player_state


@app.page("/pitboss/players/{player_id}/")
@requires("player.read")
class PlayerView(View):
    @app.table_route(table=player_state, match_info="player_id")
    async def get(self, request: Request, player_id: str) -> Response:
        partition = partition_for(player_id, settings.partitions)
        key = player_id.encode()
        raw_state = player_state.get_many(partition, [key]).get(key)
        raw_profile = player_profiles.get_many(partition, [key]).get(key)
        profile = orjson.loads(raw_profile) if raw_profile else None
        decision = await authorize_player(request, profile["vip_tier"] if profile else None)
        state = PlayerState.from_bytes(raw_state)
        view = {
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
            "profile": profile,
        }
        return self.json(strip_fields(view, decision.fields_hidden))


@app.page("/pitboss/stats/")
@requires("stats.read")
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
@requires("stats.read")
class LeaderboardView(View):
    """One board, answered by the worker that owns the board key's partition."""

    @app.table_route(table=leaderboards_table, match_info="board_key")
    async def get(self, request: Request, board_key: str) -> Response:
        partition = partition_for(board_key, settings.partitions)
        key = board_key.encode()
        found = leaderboards_table.get_many(partition, [key]).get(key) if is_board(key) else None
        board = Board.from_bytes(found)
        if board is None:
            return self.json({"board": board_key, "top": []}, status=404)
        return self.json(
            {
                "board": board_key,
                "size": board.top,
                # a tournament's board once finalised: its prizes are out, it never changes
                "final": board.final,
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
@requires("stats.read")
class LeaderboardListView(View):
    """The boards this worker owns (its active partitions only): ask each worker."""

    async def get(self, request: Request) -> Response:
        boards = sorted(key.decode() for key in leaderboards_table if is_board(key))
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
@requires("rules.read")
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
@requires("debug.read")
class ConsumerView(View):
    """Per assigned partition, where this worker's consumer stands: the next offset Faust
    commits from, the last offset read, the offsets processed but not committed yet (with
    the gaps Faust fills in) and the messages in flight. This is the view to read when a
    partition's lag stays above 0: a committed offset below a gap of unacknowledged
    offsets is stuck until those are acknowledged."""

    async def get(self, request: Request) -> Response:
        return self.json({"worker_id": settings.worker_id, **consumer_positions(app.consumer)})
