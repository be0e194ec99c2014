"""Entry point: ``faust -A app.main worker -l info`` (or ``pitboss worker -l info``).

Importing this module registers every agent, table, view and command on the app.
"""

from __future__ import annotations

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
from app.pipeline.collector import tune_for_batches
from app.streaming.faust_app import app

__all__ = ["app", "main"]

# what the imports built lives as long as the process
tune_for_batches()


def main() -> None:
    """The ``pitboss`` console script: Faust's command line for this app, with Pitboss's own
    help and version."""
    from faust.cli.faust import cli

    describe_cli(cli)
    app.main()
