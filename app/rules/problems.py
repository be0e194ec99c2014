"""What validation reports: one problem per mistake, naming file, line, rule and field.

The YAML, schema and compile steps all report through these, so every problem a CRM
manager sees reads the same way whichever step found it; paths are the compiler's
(``rules[1].trigger.length``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

#: A location in the document: ``("rules", 1, "trigger", "length")``.
Path = tuple[str | int, ...]
#: The 1-based line of each path the file has.
LineMap = dict[Path, int]
#: An error refuses the file; a warning is shown but the file stays valid.
Severity = Literal["error", "warning"]
_STEP = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def parse_path(text: str) -> Path:
    """``rules[1].trigger.length`` -> ``("rules", 1, "trigger", "length")``."""
    if text == "(top)":
        return ()
    return tuple(int(i) if i else name for i, name in _STEP.findall(text))


def format_path(path: Sequence[str | int]) -> str:
    """The inverse of ``parse_path``; ``()`` is ``(top)``."""
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out or "(top)"


def hint(name: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'amount'?)`` when a choice is close to ``name``, else nothing."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True)
class RuleProblem:
    """One mistake in a ruleset file.

    ``field`` is relative to the rule when ``rule_id`` is set (``trigger.length``), else to
    the document (``promos.lightning-weekend.until``). A ``warning`` does not make the file
    invalid: it is something the manager should know (a reward some countries withhold).
    """

    source: str
    line: int | None
    rule_id: str | None
    field: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        parts = [where, f"rule {self.rule_id}" if self.rule_id else "", self.field, self.message]
        return ": ".join(p for p in parts if p)


def line_of(path: Path, lines: LineMap) -> int | None:
    """The line of ``path``, or of its nearest ancestor that the file has."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def problem_at(
    doc: Any,
    source: str,
    lines: LineMap | None,
    path: Path,
    message: str,
    line: int | None = None,
    severity: Severity = "error",
) -> RuleProblem:
    """A problem at ``path``, phrased relative to its rule when it is inside one."""
    if line is None and lines:
        line = line_of(path, lines)
    if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
        rules = doc.get("rules") if isinstance(doc, Mapping) else None
        rule = rules[path[1]] if isinstance(rules, list) and path[1] < len(rules) else None
        rule_id = rule.get("id") if isinstance(rule, Mapping) else None
        if not isinstance(rule_id, str) or not rule_id:
            rule_id = f"#{path[1] + 1}"
        field = format_path(path[2:]) if path[2:] else "(rule)"
        return RuleProblem(source, line, rule_id, field, message, severity)
    return RuleProblem(source, line, None, format_path(path), message, severity)


class RulesFileError(ValueError):
    """A ruleset file that does not validate; carries every problem found, not just one.

    ``warnings`` are what the file would also have been told had it been valid.
    """

    def __init__(
        self,
        source: str,
        problems: Sequence[RuleProblem],
        warnings: Sequence[RuleProblem] = (),
    ) -> None:
        self.source, self.problems, self.warnings = source, list(problems), list(warnings)
        count = f"{len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}"
        super().__init__(f"{source}: {count}\n" + "\n".join(str(p) for p in self.problems))
