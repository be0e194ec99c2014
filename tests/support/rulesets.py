"""Rulesets for core tests, compiled from YAML text exactly as a published one would be."""

from __future__ import annotations

import textwrap

import yaml

from app.core import Decisions, Engine, PlayerState
from app.core.compile import compile_ruleset
from app.core.rules import Ruleset
from app.core.samples import SAMPLE_PROFILE
from app.rules import default_document


def ruleset(text: str) -> Ruleset:
    return compile_ruleset(yaml.safe_load(textwrap.dedent(text)))


def default_engine(tz: str = "UTC") -> Engine:
    return Engine(compile_ruleset(default_document()), tz)


#: A player who consents to casino marketing, in the operator's time zone.
PLAYER = {**SAMPLE_PROFILE, "time_zone": None}
_UNSET = object()


def run(engine: Engine, events, profile=_UNSET, state=None, now_ms=1):
    """Decide ``events`` for one player (``PLAYER`` unless a profile, or None, is given)."""
    profile = PLAYER if profile is _UNSET else profile
    out = Decisions()
    state = engine.decide(state or PlayerState(), list(events), profile, now_ms, out)
    return state, out


def of_rule(records, rule_id: str) -> list[dict]:
    return [r for r in records if r["rule_id"] == rule_id]
