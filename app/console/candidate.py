"""A ruleset edited in the browser, checked and published by the very functions the CLI calls
(``pitboss rules validate|diff|push``): the text is written to a file of its own, named
``rules.yaml`` so problems read ``rules.yaml:12: rule loss-streak-5: trigger.length: ...``,
and handed to ``app.rules``. Nothing here re-implements a check.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import yaml

from app.rules import DEFAULT_RULESET_PATH, default_document
from app.rules.loader import read_ruleset_file
from app.rules.policy import load_policies
from app.rules.problems import RuleProblem, RulesFileError
from app.rules.publish import fetch_live, push
from app.rules.versioning import (
    PUBLISHED_FIELDS,
    RULE_PUBLISHED_FIELDS,
    RulesetDiff,
    diff_documents,
)
from app.settings import Settings

#: The name problems are reported under.
FILE_NAME = "rules.yaml"
#: A ruleset text longer than this is refused before it is parsed.
MAX_BYTES = 1_000_000


class CandidateTooLarge(ValueError):
    pass


def _named(problems: list[RuleProblem]) -> list[RuleProblem]:
    return [replace(p, source=FILE_NAME) for p in problems]


@contextmanager
def candidate_file(text: str) -> Iterator[Path]:
    """``text`` as ``rules.yaml`` in a directory of its own, removed afterwards; its problems
    name ``rules.yaml``, not the directory."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise CandidateTooLarge(f"the ruleset is larger than {MAX_BYTES:,} bytes")
    with tempfile.TemporaryDirectory(prefix="pitboss-console-") as folder:
        path = Path(folder, FILE_NAME)
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            yield path
        except RulesFileError as exc:
            raise RulesFileError(FILE_NAME, _named(exc.problems), _named(exc.warnings)) from None


def problem_json(problem: RuleProblem) -> dict[str, Any]:
    return {
        "line": problem.line,
        "rule": problem.rule_id,
        "field": problem.field,
        "message": problem.message,
        "severity": problem.severity,
        "text": str(problem),
    }


def diff_json(diff: RulesetDiff) -> dict[str, Any]:
    return {
        "ruleset": diff.ruleset_id,
        "live_revision": diff.live_revision,
        "has_changes": diff.has_changes,
        "lines": diff.lines(),
        "text": diff.render(),
    }


def check(settings: Settings, text: str) -> tuple[dict, list[RuleProblem]]:
    """``pitboss rules validate``'s check: the validated document and its warnings, or
    RulesFileError with every problem (file, line, rule, field)."""
    with candidate_file(text) as path:
        doc, warnings = read_ruleset_file(path, load_policies(settings.jurisdictions_path))
        return doc, _named(warnings)


async def validate(settings: Settings, text: str) -> tuple[dict, list[RuleProblem]]:
    """``check`` off the event loop (compiling a ruleset takes tens of milliseconds)."""
    return await asyncio.to_thread(check, settings, text)


async def running(settings: Settings, ruleset_id: str) -> dict | None:
    """What the workers run of ``ruleset_id``: its live document on ``crm-rules`` or, before
    the first push of the ruleset they run, the shipped default."""
    live = await fetch_live(settings, ruleset_id)
    if live is None and ruleset_id == settings.ruleset_id:
        return default_document()
    return live


async def diff_live(settings: Settings, text: str) -> tuple[RulesetDiff, list[RuleProblem]]:
    """``pitboss rules diff``'s comparison: the candidate against what the workers run."""
    candidate, warnings = await validate(settings, text)
    return diff_documents(candidate, await running(settings, candidate["ruleset"])), warnings


async def publish(
    settings: Settings, text: str, source: str, if_revision: int | None
) -> tuple[dict | None, RulesetDiff]:
    """``pitboss rules push``: validated again and published as the next revision (None when
    nothing changes); StaleRevisionError when ``if_revision`` is no longer live."""
    with candidate_file(text) as path:
        return await push(settings, path, source=source, if_revision=if_revision)


def editor_text(published: bytes | None) -> str:
    """The ruleset in force as YAML to edit: the published document without what a push
    writes (revision, versions, hashes), or the shipped file as it is, comments and all."""
    if published is None:
        return DEFAULT_RULESET_PATH.read_text(encoding="utf-8")
    doc = orjson.loads(published)
    doc = {k: v for k, v in doc.items() if k not in PUBLISHED_FIELDS}
    doc["rules"] = [
        {k: v for k, v in rule.items() if k not in RULE_PUBLISHED_FIELDS}
        for rule in doc.get("rules") or ()
    ]
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
