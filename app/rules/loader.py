"""Read and validate a ruleset file, reporting every mistake with its file, line, rule and field.

Four steps, each adding what the one before cannot see: the YAML parse (syntax, duplicate
keys), the published JSON Schema (unknown fields, enums, required fields, shapes), then
``compile_ruleset`` itself (CEL syntax, types and its dry run on sample events, promos,
cross-field rules), one rule at a time so that one broken rule hides no other, then the
jurisdiction policies (app/rules/policy.py), whose breaches are errors or, for a reward kind
a country withholds at run time, warnings. The compiler is the single source of semantic
truth; the schema exists so that editors and other languages can check a file too, and so
that a typo is reported as a typo.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path as FilePath
from typing import Any

import yaml
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.exceptions import best_match

from app.core.compile import RulesetError, compile_ruleset
from app.rules.policy import Policies, default_policies, policy_findings
from app.rules.problems import (
    LineMap,
    Path,
    RuleProblem,
    RulesFileError,
    Severity,
    hint,
    line_of,
    parse_path,
    problem_at,
)
from app.settings import PROJECT_ROOT

__all__ = [
    "SCHEMA_PATH",
    "RuleProblem",
    "RulesFileError",
    "check_document",
    "load_ruleset_file",
    "parse_ruleset_text",
    "read_ruleset_file",
    "runnable_document",
    "validate_document",
]

SCHEMA_PATH = PROJECT_ROOT / "schemas" / "ruleset.schema.json"


class _Loader(yaml.SafeLoader):
    """Safe YAML, except that instants stay text: the document must survive JSON (the
    schema, the topic) unchanged, and the compiler parses instants itself."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


def _map_lines(node: yaml.Node, path: Path, lines: LineMap, dupes: list[tuple[Path, int]]) -> None:
    """Record the 1-based line of every key and list item; note keys given twice."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
            child = (*path, key)
            if child in lines:
                dupes.append((child, key_node.start_mark.line + 1))
                continue
            lines[child] = key_node.start_mark.line + 1
            _map_lines(value_node, child, lines, dupes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _map_lines(item, (*path, i), lines, dupes)


def parse_ruleset_text(text: str, source: str) -> tuple[Any, LineMap, list[RuleProblem]]:
    """(document, line of each path, YAML problems) of a file's text."""
    try:
        loader = _Loader(text)  # refuses a control character in the text at once
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        why = str(exc).splitlines()[0]
        return None, {}, [RuleProblem(source, line, None, "", f"not valid YAML: {why}")]
    try:
        node = loader.get_single_node()
        doc = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        return None, {}, [RuleProblem(source, line, None, "", f"not valid YAML: {exc.problem}")]
    finally:
        loader.dispose()
    if node is None:
        return None, {}, [RuleProblem(source, 1, None, "", "the file is empty")]
    lines: LineMap = {}
    dupes: list[tuple[Path, int]] = []
    _map_lines(node, (), lines, dupes)
    problems = [
        problem_at(doc, source, lines, path, f"is given twice (first at line {lines[path]})", line)
        for path, line in dupes
    ]
    return doc, lines, problems


# --- JSON Schema ------------------------------------------------------------------------


@functools.cache
def _validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _at(doc: Any, path: Path) -> Any:
    for step in path:
        try:
            doc = doc[step]
        except (KeyError, IndexError, TypeError):
            return None
    return doc


def _explain(error: ValidationError, doc: Any) -> list[tuple[Path, str]]:
    """(path, message a CRM manager understands) for one schema error."""
    path: Path = tuple(error.absolute_path)
    kind, value, instance = error.validator, error.validator_value, error.instance
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if kind == "additionalProperties":
        known = schema.get("properties", {})
        return [((*path, k), f"unknown field{hint(k, known)}") for k in instance if k not in known]
    if kind == "required":
        return [((*path, k), "is required but missing") for k in value if k not in instance]
    if kind == "dependentRequired":
        return [(path, error.message.replace("is a dependency of", "is needed with"))]
    if "propertyNames" in error.schema_path:
        path = (*path, instance)
        if kind == "enum":
            parent = _at(doc, path[:-1])
            kind_of = parent.get("type", "event") if isinstance(parent, Mapping) else None
            what = f"{kind_of} triggers" if kind_of else "here"
            return [(path, f"does not apply to {what} (they take: {', '.join(value)})")]
    if "x-problem" in schema:
        return [(path, schema["x-problem"].format(value=json.dumps(instance)))]
    if kind == "enum":
        choices = [str(c) for c in value]
        return [(path, f"{instance!r} is not one of {', '.join(choices)}{hint(instance, choices)}")]
    if kind == "type":
        return [(path, f"must be {_TYPE_WORDS.get(str(value), value)}, got {json.dumps(instance)}")]
    if kind in ("minimum", "maximum", "exclusiveMinimum"):
        word = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "more than"}[kind]
        return [(path, f"must be {word} {value}, got {instance}")]
    if kind == "minItems":
        return [(path, "must list at least one")]
    if kind == "uniqueItems":
        seen = [x for i, x in enumerate(instance) if x in instance[:i]]
        return [(path, f"lists {seen[0]!r} more than once")]
    if kind == "minLength":
        return [(path, "must not be empty")]
    if kind in ("oneOf", "anyOf") and error.context:
        return _explain(best_match(error.context), doc)
    return [(path, error.message)]


_TYPE_WORDS = {
    "object": "a mapping of fields",
    "array": "a list",
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
}


def _schema_errors(doc: Any) -> dict[Path, str]:
    """Every JSON Schema violation, the first (most specific) message per field."""
    found: dict[Path, str] = {}
    for error in _validator().iter_errors(doc):
        for path, message in _explain(error, doc):
            found.setdefault(path, message)
    return found


# --- compile_ruleset --------------------------------------------------------------------

Found = list[tuple[Path, str]]


def _compile_error(exc: RulesetError, index: int | None = None) -> tuple[Path, str]:
    """A RulesetError's place and message; ``index`` re-homes ``rules[0]`` of a one-rule compile."""
    path = parse_path(exc.path)
    if index is not None and path[:2] == ("rules", 0):
        path = ("rules", index, *path[2:])
    return path, exc.message


def _duplicate_ids(rules: list, lines: LineMap) -> Found:
    first: dict[str, int] = {}
    found = []
    for i, rule in enumerate(rules):
        rule_id = rule.get("id") if isinstance(rule, Mapping) else None
        if not isinstance(rule_id, str):
            continue
        if rule_id not in first:
            first[rule_id] = i
            continue
        line = line_of(("rules", first[rule_id]), lines)
        at = f"the rule at line {line}" if line else f"rule #{first[rule_id] + 1}"
        found.append((("rules", i, "id"), f"{rule_id!r} is already the id of {at}"))
    return found


def _semantic_errors(doc: Mapping, lines: LineMap, skip: set[int]) -> Found:
    """What the compiler finds, rule by rule so that one broken rule hides no other."""
    frame = {k: v for k, v in doc.items() if k != "rules"}
    try:
        compile_ruleset({**frame, "rules": []})
    except RulesetError as exc:  # promos or levels: every rule would fail the same way
        return [_compile_error(exc)]
    found = _duplicate_ids(doc["rules"], lines)
    for i, rule in enumerate(doc["rules"]):
        if i in skip:
            continue
        try:
            compile_ruleset({**frame, "rules": [rule]}, whole=False)
        except RulesetError as exc:
            found.append(_compile_error(exc, i))
    if not found and not skip:  # whatever only the whole document shows
        try:
            compile_ruleset(runnable_document(doc))
        except RulesetError as exc:
            found.append(_compile_error(exc))
    return found


def check_document(
    doc: Any,
    source_name: str,
    line_map: LineMap | None = None,
    policies: Policies | None = None,
) -> list[RuleProblem]:
    """Every problem in a parsed ruleset document, errors and warnings, in file order.

    Semantic and policy checks run on every rule the schema passed, unless the schema found
    problems outside the rules (a broken promo would make every rule fail the same way).
    Disabled rules are checked too: they are meant to be switched back on. ``policies``
    defaults to this deployment's (``PITBOSS_JURISDICTIONS``).
    """
    lines = line_map or {}
    found: list[tuple[Path, str, Severity]] = [
        (path, message, "error") for path, message in _schema_errors(doc).items()
    ]
    outside_rules = any(len(path) < 2 or path[0] != "rules" for path, _, _ in found)
    if not outside_rules:
        broken = {path[1] for path, _, _ in found}
        found += [
            (path, message, "error") for path, message in _semantic_errors(doc, lines, broken)
        ]
        found += policy_findings(
            doc, policies if policies is not None else default_policies(), frozenset(broken)
        )
    problems = [
        problem_at(doc, source_name, lines, path, message, severity=severity)
        for path, message, severity in found
    ]
    return sorted(problems, key=_line)


def validate_document(
    doc: Any,
    source_name: str,
    line_map: LineMap | None = None,
    policies: Policies | None = None,
) -> list[RuleProblem]:
    """Every error in a parsed ruleset document, in file order; empty means valid."""
    return [
        p for p in check_document(doc, source_name, line_map, policies) if p.severity == "error"
    ]


def _line(problem: RuleProblem) -> int:
    return problem.line or 0


def read_ruleset_file(
    path: str | FilePath, policies: Policies | None = None
) -> tuple[dict, list[RuleProblem]]:
    """(validated document in ``path``, its warnings); raises RulesFileError listing every
    error (and the warnings, so that nothing is learnt one push at a time)."""
    source = str(path)
    try:
        text = FilePath(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesFileError(
            source, [RuleProblem(source, None, None, "", exc.strerror or str(exc))]
        ) from exc
    except UnicodeDecodeError as exc:
        why = f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"
        raise RulesFileError(source, [RuleProblem(source, None, None, "", why)]) from exc
    doc, lines, problems = parse_ruleset_text(text, source)
    if doc is not None:
        problems = sorted([*problems, *check_document(doc, source, lines, policies)], key=_line)
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    if errors:
        raise RulesFileError(source, errors, warnings)
    return doc, warnings


def load_ruleset_file(path: str | FilePath, policies: Policies | None = None) -> dict:
    """The validated document in ``path``; raises RulesFileError listing every problem."""
    return read_ruleset_file(path, policies)[0]


def runnable_document(doc: Mapping[str, Any]) -> dict[str, Any]:
    """``doc`` without its disabled rules: what a worker compiles and runs.

    Disabled rules stay in the file and on the topic (so their version history and the
    manager's work survive), but nothing evaluates them.
    """
    rules = [
        r
        for r in doc.get("rules") or ()
        if not (isinstance(r, Mapping) and r.get("enabled") is False)
    ]
    return {**doc, "rules": rules}
