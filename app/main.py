"""Entry point: ``faust -A app.main worker -l info`` (or ``pitboss worker -l info``).

Importing this module registers every agent, table, view and command on the app.
"""

from __future__ import annotations

# Each import registers its agents, tasks, tables, views or commands on the app.
import agents.decide
import agents.leaderboards
import agents.rules  # noqa: F401
import app.archive.commands
import app.archive.views
import app.audit.commands
import app.commands
import app.lifecycle
import app.rules.commands
import app.views
from app.faust_app import app

__all__ = ["app", "main"]


def main() -> None:
    """The ``pitboss`` console script: Faust's command line for this app."""
    app.main()
