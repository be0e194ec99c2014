"""Rulesets as data: the YAML format, validation, versioning and publishing."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.core.compile import compile_ruleset
from app.core.rules import Ruleset
from app.rules.loader import load_ruleset_file, runnable_document

DEFAULT_RULESET_PATH = Path(__file__).with_name("default.yaml")


def compile_document(doc: Mapping[str, Any]) -> Ruleset:
    """What a worker runs for a document (a file's, or the latest on ``crm-rules``):
    its enabled rules, compiled. Disabled rules stay in the document but never run."""
    return compile_ruleset(runnable_document(doc))


def default_document() -> dict:
    """The shipped ruleset document, validated, as the YAML file has it (no versions yet)."""
    return load_ruleset_file(DEFAULT_RULESET_PATH)


def default_ruleset() -> Ruleset:
    """What a worker runs until a ruleset is published to ``crm-rules``."""
    return compile_document(default_document())
