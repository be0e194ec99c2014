"""Entry point: ``faust -A app.main worker -l info`` (or ``pitboss worker -l info``).

Importing this module registers every agent, table, view and command on the app.
"""

from __future__ import annotations

import gc

# Each import registers its agents, tasks, tables, views or commands on the app.
import agents.decide
import agents.leaderboards
import agents.rules  # noqa: F401
import app.archive.access_log_view
import app.archive.commands
import app.archive.views
import app.audit.commands
import app.console.rules_views
import app.console.views
import app.experiments.commands
import app.metrics.views
import app.operations.api_views
import app.operations.commands
import app.operations.shutdown
import app.operations.views
import app.rules.commands
from app.operations.cli import describe_cli
from app.streaming.faust_app import app

__all__ = ["app", "main"]

#: Allocations between two young-generation collections (CPython's default: 700). A
#: decision batch allocates hundreds of thousands of short-lived dicts and lists that
#: reference counting frees anyway; collecting every 700 of them, the collector walking
#: the same live objects again, cost 16-18 % of a worker's events/s (scripts/bench/).
GC_THRESHOLD = 50_000
# What the imports built (modules, schemas, codecs, compiled rules) lives as long as
# the process: out of the collector's sight for good.
gc.freeze()
gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])


def main() -> None:
    """The ``pitboss`` console script: Faust's command line for this app, with Pitboss's own
    help and version."""
    from faust.cli.faust import cli

    describe_cli(cli)
    app.main()
