"""``pitboss rules validate|diff|push|list [FILE]``: the CRM manager's side of rules as data.

Everything printed is meant for the person who wrote the YAML: problems name the file,
line, rule and field; a push says which rules got which version and why. Warnings (a reward
kind some country's policy withholds at run time) never block, but are always shown.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from faust.cli import argument, option
from faust.cli.base import cli

from app.operations.cli import Command, subcommand
from app.rules.loader import RuleProblem, RulesFileError, read_ruleset_file
from app.rules.policy import PolicyFileError, load_policies
from app.rules.publish import (
    RulesTopicMissingError,
    StaleRevisionError,
    fetch_live,
    list_live,
    push,
)
from app.rules.versioning import RulesetDiff, diff_documents
from app.security.cli import authorize_command
from app.streaming.faust_app import settings


def render_problems(error: RulesFileError) -> str:
    count = len(error.problems)
    head = f"{error.source} is not valid: {count} problem{'s' if count != 1 else ''}"
    return "\n".join([head, *(f"  {p}" for p in error.problems)]) + render_warnings(error.warnings)


def render_warnings(warnings: list[RuleProblem]) -> str:
    """What the policies withhold at run time, after the main output; nothing when none."""
    if not warnings:
        return ""
    count = f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''}"
    head = f"{count} (not refused: the worker withholds these rewards from players there)"
    return "\n" + "\n".join([head, *(f"  {w}" for w in warnings)])


def render_valid(doc: dict, source: str) -> str:
    rules = doc.get("rules") or []
    off = sum(1 for r in rules if r.get("enabled") is False)
    switched_off = f" ({off} switched off)" if off else ""
    return f"{source} is valid: ruleset {doc['ruleset']}, {len(rules)} rules{switched_off}"


def render_push(published: dict | None, diff: RulesetDiff) -> str:
    """``pushed ruleset default revision 4: loss-streak-5 v2 (changed: ...), 5 rules unchanged``."""
    if published is None:
        return f"nothing to push: {diff.render()}"
    return f"pushed ruleset {published['ruleset']} revision {published['revision']}: " + ", ".join(
        diff.lines()
    )


def _when(ms: int | None) -> str:
    if not ms:
        return "unknown time"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def render_live(doc: dict, running: str) -> str:
    """One ruleset as it is live: revision, who published it when, and each rule's version."""
    marker = "  (this deployment runs it)" if doc.get("ruleset") == running else ""
    lines = [
        f"{doc.get('ruleset')} revision {doc.get('revision')}, published "
        f"{_when(doc.get('published_at'))} from {doc.get('source', 'unknown')}{marker}"
    ]
    for rule in doc.get("rules") or ():
        off = "  (switched off)" if rule.get("enabled") is False else ""
        lines.append(f"  {rule.get('id'):<36} v{rule.get('version', 1)}{off}")
    return "\n".join(lines)


def _check(file: str) -> tuple[dict, list[RuleProblem]]:
    """The ruleset in ``file`` checked against the deployment's policies, and its warnings."""
    return read_ruleset_file(file, load_policies(settings.jurisdictions_path))


def _say(output: str) -> None:
    print(output, flush=True)


def _fail(code: int, message: str) -> NoReturn:
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(code)


class RulesCommand(Command):
    """A ``rules`` action: an invalid ruleset exits 1 with every problem; a refused or
    impossible publish exits 2 with one line (docs/operations.md#exit-codes)."""

    abstract = True  # a base: Faust registers no `pitboss` command for it

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().execute(*args, **kwargs)
        except RulesFileError as exc:
            _fail(1, render_problems(exc))
        except (RulesTopicMissingError, PolicyFileError, StaleRevisionError) as exc:
            _fail(2, str(exc))


@click.group()
def rules() -> None:
    """Rules as data: validate, diff or push a ruleset FILE, or list the live rulesets."""


cli.add_command(rules)


def rules_action(name: str, *options: Any) -> Callable[[Callable], click.Command]:
    """Register ``fun`` as ``pitboss rules NAME`` (``app.operations.cli.subcommand``)."""
    return subcommand(rules, name, RulesCommand, *options)


FILE = argument("file", type=click.Path(dir_okay=False))


@rules_action("validate", FILE)
async def validate_file(self: object, file: str) -> None:
    """Check a ruleset FILE: every problem with file:line, rule and field (exit 1 if any)."""
    candidate, warnings = _check(file)
    _say(render_valid(candidate, file) + render_warnings(warnings))


@rules_action(
    "diff",
    FILE,
    option(
        "--exit-code",
        is_flag=True,
        default=False,
        help="Exit 1 if FILE differs from the live ruleset, 0 if not (like git diff).",
    ),
)
async def diff_file(self: object, file: str, exit_code: bool) -> None:
    """What pushing a ruleset FILE would change against the live ruleset, rule by rule."""
    candidate, warnings = _check(file)
    diff = diff_documents(candidate, await fetch_live(settings, candidate["ruleset"]))
    _say(diff.render() + render_warnings(warnings))
    if exit_code and diff.has_changes:
        raise SystemExit(1)


@rules_action(
    "push",
    FILE,
    option(
        "--if-revision",
        type=int,
        default=None,
        help="Only if this is still the live revision (0: nothing published yet).",
    ),
)
async def push_file(self: object, file: str, if_revision: int | None) -> None:
    """Publish a ruleset FILE as the next revision (nothing if nothing changed); needs the
    rules.push role (PITBOSS_TOKEN)."""
    _, warnings = _check(file)
    principal = await authorize_command(settings, "rules.push", f"rules push {file}")
    # validates again: push is also an API; the ruleset names who pushed it, as authenticated
    source = f"{Path(file).name} by {principal.subject}"
    published, diff = await push(settings, file, if_revision=if_revision, source=source)
    note = ""
    if published and published["ruleset"] != settings.ruleset_id:
        note = f"\n(note: workers with these settings run ruleset {settings.ruleset_id})"
    _say(render_push(published, diff) + note + render_warnings(warnings))


@rules_action("list")
async def list_rulesets(self: object) -> None:
    """The live rulesets: revision, who published it when, and each rule's version."""
    docs = await list_live(settings)
    if not docs:
        _say(f"no rulesets published on {settings.topics.crm_rules} yet")
        return
    _say("\n".join(render_live(d, settings.ruleset_id) for d in docs))
