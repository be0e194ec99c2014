"""``pitboss experiments report RULE``: an A/B-tested rule's arms against the holdout, from
the archive (``app.experiments.report``), as text or ``--json``.

Exit codes as every command (docs/operations.md#exit-codes): 0 the report; 1 nothing to
report (the rule was never exposed) or figures in several currencies; 2 the archive cannot
be read (disabled, unreachable, not migrated) or a usage error.
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click
import orjson
import psycopg
from faust.cli import argument, option
from faust.cli.base import cli
from psycopg.errors import UndefinedTable

from app.archive import store
from app.experiments.report import ReportProblem, experiment_report, render
from app.operations.cli import COULD_NOT_RUN, Command, subcommand
from app.streaming.faust_app import settings

#: The longest span of days after a first exposure the report adds up.
MAX_DAYS = 366


def _fail(code: int, message: str) -> NoReturn:
    print(f"Error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


class ExperimentsCommand(Command):
    """An ``experiments`` action: nothing to report exits 1, an unreadable archive 2, each
    with one line."""

    abstract = True  # a base: Faust registers no `pitboss` command for it

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().execute(*args, **kwargs)
        except ReportProblem as exc:
            _fail(1, str(exc))
        except psycopg.Error as exc:
            where = store.location(settings.archive_url)
            lines = str(exc).strip().splitlines() or [type(exc).__name__]
            hint = " (pitboss archive-migrate)" if isinstance(exc, UndefinedTable) else ""
            _fail(COULD_NOT_RUN, f"cannot read the archive at {where}: {lines[0]}{hint}")


@click.group()
def experiments() -> None:
    """A/B tests that measure: an A/B-tested rule's arms against its holdout."""


cli.add_command(experiments)


@subcommand(
    experiments,
    "report",
    ExperimentsCommand,
    argument("rule"),
    option(
        "--days",
        type=click.IntRange(1, MAX_DAYS),
        default=7,
        show_default=True,
        help="Outcome days counted from each player's first exposure (that day included).",
    ),
    option(
        "--confidence",
        type=click.FloatRange(0.5, 0.999),
        default=0.95,
        show_default=True,
        help="The confidence of the intervals.",
    ),
    option("--json", "as_json", is_flag=True, default=False, help="The report as JSON."),
)
async def report(self: object, rule: str, days: int, confidence: float, as_json: bool) -> None:
    """Each arm of RULE against the holdout: players exposed, grants, amounts, shown and
    clicked, deposits and GGR per player, with Welch's interval and a verdict."""
    if not settings.archive_url:
        _fail(COULD_NOT_RUN, "the archive is disabled: PITBOSS_ARCHIVE_URL is empty")
    conn = await store.connect(settings.archive_url, settings.archive_schema)
    try:
        found = await experiment_report(conn, rule, days, confidence, settings.operator_timezone)
    finally:
        await conn.close()
    if as_json:
        print(orjson.dumps(found.to_json(), option=orjson.OPT_INDENT_2).decode(), flush=True)
    else:
        print(render(found), flush=True)
