"""What every ``pitboss`` command shares: expected errors as one line and a documented exit
code (docs/operations.md#exit-codes), never a traceback; and the top-level help and version.

``Command`` is the base of Pitboss's Faust commands (``@app.command(..., base=Command)``).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import click
from aiokafka.errors import KafkaConnectionError, KafkaError
from faust.cli.base import AppCommand
from faust.cli.base import cli as faust_cli

from app.operations.admin import AdminError

#: Exit codes (docs/operations.md#exit-codes): 0 done (replay: the journal agrees); 1 the
#: command ran and found a problem (replay: mismatches; topics: a wrong partition count;
#: rules validate: an invalid file; rules diff --exit-code: a change); 2 the command could not
#: run (broker down, a missing or unreadable file) or a usage error (click's own).
COULD_NOT_RUN = 2

HELP = """Pitboss: a real-time gamified CRM engine for live-dealer casino tables.

\b
  pitboss worker -l info           run a worker
  pitboss topics create            create every Pitboss topic
  pitboss rules validate|diff|push FILE, pitboss rules list
  pitboss replay                   replay and compare with the journal
  pitboss experiments report RULE  an A/B-tested rule's arms against its holdout
  pitboss tail                     rewards and cool-downs as they are issued
  pitboss COMMAND --help           one command's options

Settings come from the environment (PITBOSS_*): docs/operations.md. Exit codes: 0 done,
1 the command found a problem (replay: mismatches), 2 it could not run or a usage error.
"""


def one_line(exc: BaseException) -> str | None:
    """The line to print for an expected error (None: not expected, let it raise)."""
    if isinstance(exc, click.ClickException):
        return f"Error: {exc.format_message()}"
    if isinstance(exc, AdminError):  # says which broker it could not reach, or what it refused
        return f"Error: {exc}"
    if isinstance(exc, KafkaConnectionError | KafkaError):
        return f"Error: cannot reach Kafka: {exc}"
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return f"Error:{where} {exc.strerror or exc}"
    if isinstance(exc, UnicodeDecodeError):
        return f"Error: not UTF-8 text: {exc.reason} at offset {exc.start}"
    return None


class Command(AppCommand):
    """A Faust command whose expected errors print one line and exit 2."""

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        # the clients' own connection errors would say the same line again, with a timestamp
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
        try:
            return await super().execute(*args, **kwargs)
        except Exception as exc:
            line = one_line(exc)
            if line is None:
                raise
            print(line, file=sys.stderr, flush=True)
            raise SystemExit(COULD_NOT_RUN) from None


def describe_cli(cli: click.Group) -> None:
    """Pitboss's own top-level help and ``--version`` on Faust's command group."""
    try:
        release = version("pitboss")
    except PackageNotFoundError:  # a source tree that is not installed
        release = "unknown"
    cli.help = HELP
    cli.params = [p for p in cli.params if p.name != "version"]
    click.version_option(release, prog_name="pitboss", message="%(prog)s %(version)s")(cli)


def subcommand(
    group: click.Group, name: str, base: type[Command], *options: Any
) -> Callable[[Callable], click.Command]:
    """Register a handler as ``pitboss GROUP NAME``: a Faust command of ``base`` (the app,
    its settings and clean errors) under ``group`` rather than at the top level."""

    def register(fun: Callable) -> click.Command:
        # Faust registers every command at the top level: move it under the group
        before = set(faust_cli.commands)
        base.from_handler(*options)(fun)
        [added] = set(faust_cli.commands) - before
        command = faust_cli.commands.pop(added)
        group.add_command(command, name)
        return command

    return register
