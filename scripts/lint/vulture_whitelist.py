"""Names vulture (the dead-code check of ``make lint``) cannot see used; never executed.

Functions registered by a decorator (agents, tasks, timers, pages, commands, services,
fixtures) are ignored through ``ignore_decorators`` in pyproject.toml, so this lists only
what a library calls by name and what is read by reflection.
"""

from psycopg import AsyncServerCursor

import agents
from agents.leaderboards import LeaderboardTotals
from app.archive.follow import ArchiveTotals, Rewind
from app.metrics.consumer import ConsumerCollector
from app.metrics.logs import JsonFormatter
from app.operations.shutdown import ShutdownDeadline
from app.rules.commands import RulesCommand
from app.streaming.codecs import FaustAvroCodec
from app.streaming.consumer import Transport
from app.streaming.faust_app import App
from app.streaming.web import Web

_ = (
    # importing app.main registers the agents (their modules are imported for that alone)
    agents,
    # counters reported through dataclasses.asdict / __slots__ (stats view, log lines)
    LeaderboardTotals.boards_written,
    LeaderboardTotals.boards_expired,
    LeaderboardTotals.boards_erased_from,
    LeaderboardTotals.tournaments_finished,
    LeaderboardTotals.late_scores,
    ArchiveTotals.undecodable,
    ArchiveTotals.outages,
    # aiokafka's ConsumerRebalanceListener callbacks
    Rewind.on_partitions_revoked,
    Rewind.on_partitions_assigned,
    # psycopg's server-side cursor fetch size
    AsyncServerCursor.itersize,
    # Faust and mode hooks, called by the framework
    FaustAvroCodec._dumps,
    FaustAvroCodec._loads,
    Transport._new_consumer_thread,
    App._new_transport,
    App._new_web,
    App.on_webserver_init,
    Web.production_blueprints,
    ShutdownDeadline.on_stop,
    RulesCommand.abstract,  # Faust registers no command for an abstract base
    # prometheus-client calls a collector's collect; logging.Formatter its converter
    ConsumerCollector.collect,
    JsonFormatter.converter,
)
