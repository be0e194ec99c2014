"""``pitboss rules validate|diff|push|list [FILE]``: the CRM manager's side of rules as data.

Everything printed is meant for the person who wrote the YAML: problems name the file,
line, rule and field; a push says which rules got which version and why. Warnings (a reward
kind some country's policy withholds at run time) never block, but are always shown.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from faust.cli import argument, option

from app.operations.cli import Command
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
from app.streaming.faust_app import app, settings

ACTIONS = ("validate", "diff", "push", "list")


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


async def _run(action: str, file: str | None, if_revision: int | None = None) -> str:
    if action == "list":
        docs = await list_live(settings)
        if not docs:
            return f"no rulesets published on {settings.topics.crm_rules} yet"
        return "\n".join(render_live(d, settings.ruleset_id) for d in docs)
    assert file is not None  # checked by the command
    candidate, warnings = read_ruleset_file(file, load_policies(settings.jurisdictions_path))
    if action == "validate":
        return render_valid(candidate, file) + render_warnings(warnings)
    if action == "diff":
        live = await fetch_live(settings, candidate["ruleset"])
        return diff_documents(candidate, live).render() + render_warnings(warnings)
    principal = await authorize_command(settings, "rules.push", f"rules push {file}")
    # validates again: push is also an API; the ruleset names who pushed it, as authenticated
    source = f"{Path(file).name} by {principal.subject}"
    published, diff = await push(settings, file, if_revision=if_revision, source=source)
    note = ""
    if published and published["ruleset"] != settings.ruleset_id:
        note = f"\n(note: workers with these settings run ruleset {settings.ruleset_id})"
    return render_push(published, diff) + note + render_warnings(warnings)


@app.command(
    argument("action", type=click.Choice(ACTIONS)),
    argument("file", required=False, type=click.Path(dir_okay=False)),
    option(
        "--if-revision",
        type=int,
        default=None,
        help="push: only if this is still the live revision (0: nothing published yet)",
    ),
    base=Command,
)
async def rules(self: object, action: str, file: str | None, if_revision: int | None) -> None:
    """Rules as data: validate, diff or push a ruleset FILE, or list the live rulesets."""
    if action != "list" and file is None:
        print(f"`rules {action}` needs the ruleset FILE", file=sys.stderr, flush=True)
        raise SystemExit(2)
    try:
        print(await _run(action, file, if_revision), flush=True)
    except RulesFileError as exc:
        print(render_problems(exc), file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    except (RulesTopicMissingError, PolicyFileError, StaleRevisionError) as exc:
        print(str(exc), file=sys.stderr, flush=True)
        raise SystemExit(2) from None
