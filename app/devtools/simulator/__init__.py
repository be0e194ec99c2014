"""The studio simulator: realistic, deterministic live-casino traffic for runs and benchmarks.

``games`` models outcomes with the real odds, ``studio`` turns tables and players into a
stream of ``TableEvent`` dicts (and ``PlayerProfile`` dicts), ``accounts`` adds the players'
``AccountEvent`` dicts (logins, deposits, KYC), ``producer`` sends them to Kafka. No Faust
here, so benchmarks can generate load without a worker's imports.
"""

from app.devtools.simulator.studio import (
    Player,
    StudioConfig,
    StudioSimulator,
    TableSpec,
    event_rate,
    generate_events,
    make_players,
    make_tables,
    player_profiles,
)

__all__ = [
    "Player",
    "StudioConfig",
    "StudioSimulator",
    "TableSpec",
    "event_rate",
    "generate_events",
    "make_players",
    "make_tables",
    "player_profiles",
]
