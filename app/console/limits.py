"""The console's own settings, from the environment with documented defaults (docs/console.md):
how far a what-if may reach from the worker, and when the Rules page flags a rule."""

from __future__ import annotations

import os
from dataclasses import dataclass

from app.settings import Environ, env_count, env_float


@dataclass(frozen=True)
class ConsoleLimits:
    #: the longest event-time range a what-if from the console may cover
    whatif_max_days: int = 8
    #: the most records (warm-up included) a what-if from the console may read
    whatif_max_records: int = 2_000_000
    #: a day's amount above this many times the rule's trailing daily median is over-generous
    generous_factor: float = 3.0
    #: the days before each day that make a rule's trailing daily median
    generous_history_days: int = 28
    #: a mission started by at least this many players ...
    dead_mission_players: int = 20
    #: ... and completed by none in this many days (to the range's end) is dead
    dead_mission_days: int = 7

    @classmethod
    def from_env(cls, env: Environ | None = None) -> ConsoleLimits:
        env = os.environ if env is None else env
        factor = env_float(env, "PITBOSS_CONSOLE_GENEROUS_FACTOR", cls.generous_factor)
        if factor <= 1:
            raise ValueError(
                f"setting PITBOSS_CONSOLE_GENEROUS_FACTOR must be above 1, got {factor:g}"
            )
        return cls(
            whatif_max_days=env_count(env, "PITBOSS_CONSOLE_WHATIF_MAX_DAYS", cls.whatif_max_days),
            whatif_max_records=env_count(
                env, "PITBOSS_CONSOLE_WHATIF_MAX_RECORDS", cls.whatif_max_records
            ),
            generous_factor=factor,
            generous_history_days=env_count(
                env, "PITBOSS_CONSOLE_GENEROUS_HISTORY_DAYS", cls.generous_history_days
            ),
            dead_mission_players=env_count(
                env, "PITBOSS_CONSOLE_DEAD_MISSION_PLAYERS", cls.dead_mission_players
            ),
            dead_mission_days=env_count(
                env, "PITBOSS_CONSOLE_DEAD_MISSION_DAYS", cls.dead_mission_days
            ),
        )
