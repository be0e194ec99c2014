"""Read the security files (access.yaml, the API keys file) the way rulesets are read: YAML,
then a JSON Schema, then the checks only code can make, every problem naming file, line and
field (app/rules/problems.py), so a typo in who may do what is reported, never guessed at."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from pathlib import Path as FilePath
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from app.rules.loader import parse_ruleset_text
from app.rules.problems import Path, RuleProblem, hint, problem_at

#: The checks after the schema: ``(path, message)`` for each problem in a valid-shaped document.
Checks = Callable[[Any], list[tuple[Path, str]]]


class SecurityFileError(ValueError):
    """A security file that does not validate; carries every problem found."""

    def __init__(self, source: str, problems: Sequence[RuleProblem]) -> None:
        self.source, self.problems = source, list(problems)
        count = f"{len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}"
        super().__init__(f"{source}: {count}\n" + "\n".join(f"  {p}" for p in self.problems))


@functools.cache
def _validator(schema_path: FilePath) -> Draft202012Validator:
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _explain(error: ValidationError) -> list[tuple[Path, str]]:
    """(path, message a person fixes the file with) for one schema error."""
    path: Path = tuple(error.absolute_path)
    kind, value, instance = error.validator, error.validator_value, error.instance
    if kind == "additionalProperties":
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        return [((*path, k), f"unknown field{hint(k, known)}") for k in instance if k not in known]
    if kind == "required":
        return [((*path, k), "is required but missing") for k in value if k not in instance]
    if "propertyNames" in error.schema_path:
        return [((*path, instance), f"is not a valid name ({error.message})")]
    if kind == "enum":
        choices = [str(c) for c in value]
        return [(path, f"{instance!r} is not one of {', '.join(choices)}{hint(instance, choices)}")]
    if kind == "uniqueItems":
        return [(path, "lists an item more than once")]
    if kind in ("minItems", "minProperties", "minLength"):
        return [(path, "must not be empty")]
    return [(path, error.message)]


def load_document(path: str | FilePath, schema_path: FilePath, checks: Checks) -> Any:
    """The document in ``path``, valid against ``schema_path`` and ``checks``; raises
    SecurityFileError listing every problem."""
    source = str(path)
    try:
        text = FilePath(path).read_text(encoding="utf-8")
    except OSError as exc:
        problem = RuleProblem(source, None, None, "", exc.strerror or str(exc))
        raise SecurityFileError(source, [problem]) from exc
    doc, lines, problems = parse_ruleset_text(text, source)
    if doc is not None and not problems:
        found = [found for e in _validator(schema_path).iter_errors(doc) for found in _explain(e)]
        if not found:
            found = checks(doc)
        problems = [problem_at(doc, source, lines, p, message) for p, message in found]
    if problems:
        raise SecurityFileError(source, sorted(problems, key=lambda p: p.line or 0))
    return doc
